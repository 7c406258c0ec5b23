// Package inspect reads what `transport inspect` shows about an image
// without pulling it: skopeo's output shape, raw manifests and configs.
package inspect

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/containers/image/v5/docker"
	"github.com/containers/image/v5/docker/reference"
	"github.com/containers/image/v5/image"
	"github.com/containers/image/v5/manifest"
	"github.com/containers/image/v5/types"
	digest "github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocisuite/suite/shared/retry"
)

// Output is skopeo's inspect JSON.
type Output struct {
	Name          string `json:",omitempty"`
	Digest        digest.Digest
	RepoTags      []string
	Created       *time.Time
	DockerVersion string
	Labels        map[string]string
	Architecture  string
	Variant       string `json:",omitempty"`
	Os            string
	Layers        []string
	LayersData    []types.ImageInspectLayer
	Env           []string
}

// Options control Inspect.
type Options struct {
	// NoTags skips listing the repository's tags (no tags/list request).
	NoTags bool
	Retry  retry.Options
}

// Inspect returns skopeo's inspect output for ref: Digest is the top-level
// manifest's (an index's digest for a multi-arch image), the rest describes
// the instance for the current or overridden platform.
func Inspect(ctx context.Context, ref types.ImageReference, sys *types.SystemContext, o Options) (*Output, error) {
	var out *Output
	err := retry.Do(ctx, o.Retry, func() error {
		var err error
		out, err = inspect(ctx, ref, sys, o)
		return err
	})
	return out, err
}

func inspect(ctx context.Context, ref types.ImageReference, sys *types.SystemContext, o Options) (*Output, error) {
	src, err := ref.NewImageSource(ctx, sys)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", transportName(ref), err)
	}
	defer src.Close()
	raw, _, err := src.GetManifest(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("reading the manifest of %s: %w", transportName(ref), err)
	}
	topDigest, err := manifest.Digest(raw)
	if err != nil {
		return nil, fmt.Errorf("computing the manifest digest: %w", err)
	}
	img, err := image.FromUnparsedImage(ctx, sys, image.UnparsedInstance(src, nil))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", transportName(ref), err)
	}
	info, err := img.Inspect(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the image config of %s: %w", transportName(ref), err)
	}
	out := &Output{
		Digest:        topDigest,
		RepoTags:      []string{},
		Created:       info.Created,
		DockerVersion: info.DockerVersion,
		Labels:        info.Labels,
		Architecture:  info.Architecture,
		Variant:       info.Variant,
		Os:            info.Os,
		Layers:        info.Layers,
		LayersData:    info.LayersData,
		Env:           info.Env,
	}
	if named := ref.DockerReference(); named != nil {
		out.Name = named.Name()
	}
	if ref.Transport().Name() == "docker" && !o.NoTags {
		tags, err := docker.GetRepositoryTags(ctx, sys, ref)
		if err != nil {
			return nil, fmt.Errorf("listing the tags of %s: %w", out.Name, err)
		}
		out.RepoTags = tags
	}
	return out, nil
}

// RawManifest returns the top-level manifest bytes exactly as stored.
func RawManifest(ctx context.Context, ref types.ImageReference, sys *types.SystemContext, r retry.Options) ([]byte, error) {
	var raw []byte
	err := retry.Do(ctx, r, func() error {
		src, err := ref.NewImageSource(ctx, sys)
		if err != nil {
			return fmt.Errorf("reading %s: %w", transportName(ref), err)
		}
		defer src.Close()
		raw, _, err = src.GetManifest(ctx, nil)
		if err != nil {
			return fmt.Errorf("reading the manifest of %s: %w", transportName(ref), err)
		}
		return nil
	})
	return raw, err
}

// Config returns the image config of the platform's instance: the raw blob
// when raw is set, otherwise the OCI form.
func Config(ctx context.Context, ref types.ImageReference, sys *types.SystemContext, raw bool, r retry.Options) ([]byte, error) {
	var out []byte
	err := retry.Do(ctx, r, func() error {
		src, err := ref.NewImageSource(ctx, sys)
		if err != nil {
			return fmt.Errorf("reading %s: %w", transportName(ref), err)
		}
		defer src.Close()
		img, err := image.FromUnparsedImage(ctx, sys, image.UnparsedInstance(src, nil))
		if err != nil {
			return fmt.Errorf("reading %s: %w", transportName(ref), err)
		}
		if raw {
			out, err = img.ConfigBlob(ctx)
			if err != nil {
				return fmt.Errorf("reading the config blob of %s: %w", transportName(ref), err)
			}
			return nil
		}
		var cfg *v1.Image
		cfg, err = img.OCIConfig(ctx)
		if err != nil {
			return fmt.Errorf("reading the config of %s: %w", transportName(ref), err)
		}
		out, err = json.MarshalIndent(cfg, "", "    ")
		return err
	})
	return out, err
}

// Tags lists the tags of a repository given as "docker://NAME" (no tag,
// no digest); it returns the normalized repository name and the tags.
func Tags(ctx context.Context, name string, sys *types.SystemContext, r retry.Options) (string, []string, error) {
	repo, ok := strings.CutPrefix(name, "docker://")
	if !ok {
		return "", nil, fmt.Errorf("listing tags of %q: only docker://REPOSITORY references have tags", name)
	}
	named, err := reference.ParseNormalizedNamed(repo)
	if err != nil {
		return "", nil, fmt.Errorf("listing tags of %q: %w", name, err)
	}
	if !reference.IsNameOnly(named) {
		return "", nil, fmt.Errorf("listing tags of %q: give a repository without a tag or digest", name)
	}
	ref, err := docker.NewReference(reference.TagNameOnly(named))
	if err != nil {
		return "", nil, fmt.Errorf("listing tags of %q: %w", name, err)
	}
	var tags []string
	err = retry.Do(ctx, r, func() error {
		var err error
		tags, err = docker.GetRepositoryTags(ctx, sys, ref)
		return err
	})
	if err != nil {
		return "", nil, fmt.Errorf("listing tags of %s: %w", named.Name(), err)
	}
	if tags == nil {
		tags = []string{}
	}
	return named.Name(), tags, nil
}

func transportName(ref types.ImageReference) string {
	if ref.Transport().Name() == "docker" {
		return "docker:" + ref.StringWithinTransport()
	}
	return ref.Transport().Name() + ":" + ref.StringWithinTransport()
}
