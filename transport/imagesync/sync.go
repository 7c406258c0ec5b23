// Package imagesync copies many images between registries and directories
// at once: several images in parallel (bounded), each blob sent once per
// destination repository, images already present (same digest) skipped with
// HEAD requests only, and a summary of what was copied, skipped and failed.
package imagesync

import (
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"github.com/containers/image/v5/directory"
	"github.com/containers/image/v5/docker"
	"github.com/containers/image/v5/docker/reference"
	"github.com/containers/image/v5/types"
	digest "github.com/opencontainers/go-digest"
	"github.com/sirupsen/logrus"

	"github.com/ocisuite/suite/shared/image"
)

// DefaultJobs is how many images are copied at once when Options.Jobs is 0.
const DefaultJobs = 4

// Options control Sync.
type Options struct {
	// SourceKind is "docker", "dir" or "yaml"; DestKind "docker" or "dir".
	SourceKind, DestKind string
	Source, Destination  string
	SourceCtx, DestCtx   *types.SystemContext
	// Scoped keeps the full source path under the destination.
	Scoped bool
	DryRun bool
	// KeepGoing continues after a failed image; otherwise no new image is
	// started after the first failure.
	KeepGoing bool
	// Jobs is how many images are copied at once (0: DefaultJobs).
	Jobs int
	// Copy carries the per-image copy options (policy, format, retries,
	// signing, multi-arch selection); its contexts are set per image.
	Copy image.CopyOptions
	// DigestFile, if set, receives one line per copied image:
	// "DIGEST DESTINATION".
	DigestFile string
	// Log receives one line per image; nil is quiet.
	Log io.Writer
}

// Status of one image.
type Status string

// The statuses an image can end with.
const (
	Copied     Status = "copied"
	Skipped    Status = "skipped"
	Failed     Status = "failed"
	DryRun     Status = "would copy"
	NotStarted Status = "not started"
)

// Result is what happened to one image.
type Result struct {
	Source, Destination string
	Status              Status
	// Digest is the manifest digest at the destination (copied, skipped).
	Digest digest.Digest
	Err    error
}

// Summary of a sync.
type Summary struct {
	Results []Result
}

// Count returns how many images ended with status st.
func (s Summary) Count(st Status) int {
	n := 0
	for _, r := range s.Results {
		if r.Status == st {
			n++
		}
	}
	return n
}

// item is one planned copy.
type item struct {
	src     Source
	dst     types.ImageReference
	dstName string
	repo    string // destination repository, for registry destinations
}

// copyFunc copies one image (image.Copy in production).
type copyFunc func(ctx context.Context, src, dst types.ImageReference, opts image.CopyOptions) (image.CopyResult, error)

// Sync enumerates the sources, copies them, and writes o.DigestFile. The
// error is about the sync as a whole (a source that cannot be listed, an
// unwritable digest file); what happened to each image is in the Summary.
// Plain registry-to-registry images are copied over one registry client
// per registry for the whole sync (see direct), the others with
// containers/image.
func Sync(ctx context.Context, o Options) (Summary, error) {
	e, list := newEngine(), docker.GetRepositoryTags
	if canCopyDirectly(o) {
		d := newDirect(o, e.tags)
		defer d.close()
		e.copy, e.probe, e.retag = d.copyRefs, d.probe, d.retag
		list = d.listTags
	}
	srcs, err := sources(ctx, o.SourceKind, o.Source, o.SourceCtx, list)
	if err != nil {
		return Summary{}, err
	}
	items, err := plan(srcs, o)
	if err != nil {
		return Summary{}, err
	}
	s := e.run(ctx, items, o)
	if o.DigestFile != "" && !o.DryRun {
		if err := writeDigestFile(o.DigestFile, s); err != nil {
			return s, err
		}
	}
	return s, nil
}

// Sources enumerates the images of a sync source of the given kind.
func Sources(ctx context.Context, kind, source string, sys *types.SystemContext) ([]Source, error) {
	return sources(ctx, kind, source, sys, docker.GetRepositoryTags)
}

func sources(ctx context.Context, kind, source string, sys *types.SystemContext, list tagLister) ([]Source, error) {
	switch kind {
	case "docker":
		return DockerSources(ctx, source, sys, list)
	case "dir":
		return DirSources(source, sys)
	case "yaml":
		cfg, err := ParseYAML(source)
		if err != nil {
			return nil, err
		}
		return YAMLSources(ctx, cfg, sys, list)
	}
	return nil, fmt.Errorf("invalid source transport %q: want docker, dir or yaml", kind)
}

// plan maps each source to its destination reference.
func plan(srcs []Source, o Options) ([]item, error) {
	switch o.DestKind {
	case "docker":
	case "dir":
		if o.SourceKind == "dir" {
			return nil, fmt.Errorf("sync from dir to dir is not supported: copy the directory")
		}
	default:
		return nil, fmt.Errorf("invalid destination transport %q: want docker or dir", o.DestKind)
	}
	up := newUploads()
	var items []item
	seen := map[string]Source{}
	for _, s := range srcs {
		name := destName(o, s.Suffix)
		if prev, ok := seen[name]; ok {
			// The same image can be named twice (a tag list and a regex).
			if prev.Suffix == s.Suffix {
				continue
			}
			return nil, fmt.Errorf("%s and %s would both be copied to %s (use --scoped)", transportString(prev.Ref), transportString(s.Ref), name)
		}
		seen[name] = s
		if o.DestKind == "dir" {
			ref, err := directory.NewReference(name)
			if err != nil {
				return nil, fmt.Errorf("destination %q: %w", name, err)
			}
			items = append(items, item{src: s, dst: ref, dstName: "dir:" + name})
			continue
		}
		named, err := reference.ParseNormalizedNamed(name)
		if err != nil {
			return nil, fmt.Errorf("destination %q: %w", name, err)
		}
		named = reference.TagNameOnly(named)
		ref, err := docker.NewReference(named)
		if err != nil {
			return nil, fmt.Errorf("destination %q: %w", name, err)
		}
		items = append(items, item{
			src:     s,
			dst:     newSharedRef(ref, named.Name(), up),
			dstName: "docker://" + named.String(),
			repo:    named.Name(),
		})
	}
	return items, nil
}

// destName is where an image with the source suffix goes: the last path
// element under the destination, or with Scoped the whole suffix.
func destName(o Options, suffix string) string {
	if !o.Scoped {
		return path.Join(o.Destination, path.Base(suffix))
	}
	if host, rest, ok := strings.Cut(suffix, "/"); ok && o.DestKind == "docker" {
		// A registry port cannot be part of a repository path:
		// "host:5000/ns/app:1" is stored as "host_5000/ns/app:1".
		suffix = strings.ReplaceAll(host, ":", "_") + "/" + rest
	}
	return path.Join(o.Destination, suffix)
}

// newEngine is the production engine: image.Copy, with one more attempt
// without upload sharing for a copy that failed at its signatures.
func newEngine() engine {
	tags := &destTags{}
	return engine{copy: copyShared, probe: tags.probe, retag: retag, tags: tags}
}

// copyShared is image.Copy. A copy to a shared destination that failed
// after writing its manifest failed at the signatures, which the wrapped
// destination can only store in the "simple signing" format; it is repeated
// with the plain destination, which finds its blobs already there.
func copyShared(ctx context.Context, src, dst types.ImageReference, opts image.CopyOptions) (image.CopyResult, error) {
	res, err := image.Copy(ctx, src, dst, opts)
	if s, ok := dst.(sharedRef); ok && err != nil && ctx.Err() == nil && s.failedAfterManifest() {
		logrus.Infof("copying %s again without upload sharing, to store its signatures: %v", dst.StringWithinTransport(), err)
		return image.Copy(ctx, src, s.ImageReference, opts)
	}
	return res, err
}

func transportString(ref types.ImageReference) string {
	if ref.Transport().Name() == "docker" {
		return "docker:" + ref.StringWithinTransport()
	}
	return ref.Transport().Name() + ":" + ref.StringWithinTransport()
}

// writeDigestFile writes one line per copied image: "DIGEST DESTINATION".
func writeDigestFile(p string, s Summary) error {
	var b strings.Builder
	for _, r := range s.Results {
		if r.Status == Copied {
			fmt.Fprintf(&b, "%s %s\n", r.Digest, r.Destination)
		}
	}
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("writing digest file: %w", err)
	}
	return nil
}
