// Package inspect reads what `transport inspect` and `transport list-tags`
// show about images without pulling them: skopeo's output shapes, raw
// manifests and configs, and tag listings.
package inspect

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/containers/image/v5/docker"
	"github.com/containers/image/v5/image"
	"github.com/containers/image/v5/manifest"
	"github.com/containers/image/v5/transports"
	"github.com/containers/image/v5/types"
	"github.com/docker/distribution/registry/api/errcode"
	digest "github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/sirupsen/logrus"

	"github.com/ocisuite/suite/shared/retry"
)

// Output is skopeo's inspect JSON. Digest is the top-level manifest's (an
// index's for a multi-arch image); the fields after RepoTags describe the
// instance for the current or overridden platform.
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
	// NoTags skips listing the repository's tags (no tags/list request);
	// RepoTags is then empty.
	NoTags bool
	Retry  retry.Options
}

// Inspect returns skopeo's inspect output for ref.
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
	name := transports.ImageName(ref)
	src, err := ref.NewImageSource(ctx, sys)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	defer src.Close()
	raw, _, err := src.GetManifest(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("reading the manifest of %s: %w", name, err)
	}
	topDigest, err := manifest.Digest(raw)
	if err != nil {
		return nil, fmt.Errorf("computing the manifest digest of %s: %w", name, err)
	}
	img, err := image.FromUnparsedImage(ctx, sys, image.UnparsedInstance(src, nil))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	info, err := img.Inspect(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the image config of %s: %w", name, err)
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
	if ref.Transport().Name() == docker.Transport.Name() && !o.NoTags {
		tags, err := docker.GetRepositoryTags(ctx, sys, ref)
		switch {
		case err == nil:
			out.RepoTags = tags
		case tagListingRefused(err):
			// Some registries refuse or do not implement tags/list (ECR
			// without ecr:ListImages, public.ecr.aws); the image itself
			// is still worth showing, as skopeo does.
			logrus.Warnf("registry refuses to list the tags of %s, RepoTags left empty: %v", out.Name, err)
		default:
			return nil, fmt.Errorf("listing the tags of %s: %w", out.Name, err)
		}
	}
	return out, nil
}

// tagListingRefused reports whether err is a registry's refusal to list
// tags (denied, or no such endpoint) rather than a failure to reach it.
func tagListingRefused(err error) bool {
	var ec errcode.ErrorCoder
	if errors.As(err, &ec) && ec.ErrorCode() == errcode.ErrorCodeDenied {
		return true
	}
	var status docker.UnexpectedHTTPStatusError
	return errors.As(err, &status) && status.StatusCode == http.StatusNotFound
}

// RawManifest returns the top-level manifest (an index for a multi-arch
// image) exactly as stored.
func RawManifest(ctx context.Context, ref types.ImageReference, sys *types.SystemContext, r retry.Options) ([]byte, error) {
	var raw []byte
	err := withImageSource(ctx, ref, sys, r, func(src types.ImageSource) error {
		var err error
		raw, _, err = src.GetManifest(ctx, nil)
		if err != nil {
			return fmt.Errorf("reading the manifest of %s: %w", transports.ImageName(ref), err)
		}
		return nil
	})
	return raw, err
}

// RawConfig returns the config blob, exactly as stored, of the instance for
// the current or overridden platform.
func RawConfig(ctx context.Context, ref types.ImageReference, sys *types.SystemContext, r retry.Options) ([]byte, error) {
	var blob []byte
	err := withImage(ctx, ref, sys, r, func(img types.Image) error {
		var err error
		blob, err = img.ConfigBlob(ctx)
		if err != nil {
			return fmt.Errorf("reading the config blob of %s: %w", transports.ImageName(ref), err)
		}
		return nil
	})
	return blob, err
}

// Config returns the image config, in OCI form, of the instance for the
// current or overridden platform.
func Config(ctx context.Context, ref types.ImageReference, sys *types.SystemContext, r retry.Options) (*v1.Image, error) {
	var cfg *v1.Image
	err := withImage(ctx, ref, sys, r, func(img types.Image) error {
		var err error
		cfg, err = img.OCIConfig(ctx)
		if err != nil {
			return fmt.Errorf("reading the config of %s: %w", transports.ImageName(ref), err)
		}
		return nil
	})
	return cfg, err
}

// withImageSource opens ref, runs fn, and closes the source, retrying the
// whole as r allows.
func withImageSource(ctx context.Context, ref types.ImageReference, sys *types.SystemContext, r retry.Options, fn func(types.ImageSource) error) error {
	return retry.Do(ctx, r, func() error {
		src, err := ref.NewImageSource(ctx, sys)
		if err != nil {
			return fmt.Errorf("reading %s: %w", transports.ImageName(ref), err)
		}
		defer src.Close()
		return fn(src)
	})
}

// withImage is withImageSource for the platform's image.
func withImage(ctx context.Context, ref types.ImageReference, sys *types.SystemContext, r retry.Options, fn func(types.Image) error) error {
	return withImageSource(ctx, ref, sys, r, func(src types.ImageSource) error {
		img, err := image.FromUnparsedImage(ctx, sys, image.UnparsedInstance(src, nil))
		if err != nil {
			return fmt.Errorf("reading %s: %w", transports.ImageName(ref), err)
		}
		return fn(img)
	})
}
