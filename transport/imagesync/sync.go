// Package imagesync copies many images between registries and directories
// at once: several images in parallel (bounded), each blob sent once per
// destination repository, images already present (same digest) skipped with
// HEAD requests only, and a summary of what was copied, skipped and failed.
package imagesync

import (
	"context"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/containers/image/v5/directory"
	"github.com/containers/image/v5/docker"
	"github.com/containers/image/v5/docker/reference"
	"github.com/containers/image/v5/manifest"
	"github.com/containers/image/v5/types"
	digest "github.com/opencontainers/go-digest"

	"github.com/ocisuite/suite/shared/image"
)

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
	// Jobs is how many images are copied at once (default 4).
	Jobs int
	// Copy carries the per-image copy options (policy, format, retries,
	// signing, multi-arch selection); its contexts are set per image.
	Copy image.CopyOptions
	// Log receives one line per image; nil is quiet.
	Log io.Writer
}

// Status of one image.
type Status string

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
	Digest              digest.Digest
	Err                 error
}

// Summary of a sync.
type Summary struct {
	Results []Result
}

// Count returns how many images ended with status s.
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
	repo    string
}

// copyFunc copies one image (image.Copy in production).
type copyFunc func(ctx context.Context, src, dst types.ImageReference, opts image.CopyOptions) (image.CopyResult, error)

// Sync enumerates the sources, then copies them.
func Sync(ctx context.Context, o Options) (Summary, error) {
	var srcs []Source
	var err error
	switch o.SourceKind {
	case "docker":
		srcs, err = DockerSources(ctx, o.Source, o.SourceCtx, docker.GetRepositoryTags)
	case "dir":
		srcs, err = DirSources(o.Source, o.SourceCtx)
	case "yaml":
		cfg, perr := ParseYAML(o.Source)
		if perr != nil {
			return Summary{}, perr
		}
		srcs, err = YAMLSources(ctx, cfg, o.SourceCtx, docker.GetRepositoryTags)
	default:
		return Summary{}, fmt.Errorf("invalid source transport %q: want docker, dir or yaml", o.SourceKind)
	}
	if err != nil {
		return Summary{}, err
	}
	items, err := plan(srcs, o)
	if err != nil {
		return Summary{}, err
	}
	return run(ctx, items, o, image.Copy), nil
}

// plan maps each source to its destination reference.
func plan(srcs []Source, o Options) ([]item, error) {
	locks := newBlobLocks()
	var items []item
	seen := map[string]bool{}
	for _, s := range srcs {
		// The same image can be named twice (a tag list and a regex).
		if seen[s.Suffix] {
			continue
		}
		seen[s.Suffix] = true
		suffix := s.Suffix
		if !o.Scoped {
			suffix = path.Base(suffix)
		} else if host, rest, ok := strings.Cut(suffix, "/"); ok && o.DestKind == "docker" {
			// A registry port cannot be part of a repository path:
			// "host:5000/ns/app:1" is stored as "host_5000/ns/app:1".
			suffix = strings.ReplaceAll(host, ":", "_") + "/" + rest
		}
		name := path.Join(o.Destination, suffix)
		var it item
		switch o.DestKind {
		case "docker":
			named, err := reference.ParseNormalizedNamed(name)
			if err != nil {
				return nil, fmt.Errorf("destination %q: %w", name, err)
			}
			named = reference.TagNameOnly(named)
			ref, err := docker.NewReference(named)
			if err != nil {
				return nil, fmt.Errorf("destination %q: %w", name, err)
			}
			it = item{src: s, dstName: "docker://" + named.String(), repo: named.Name()}
			it.dst = lockedRef{ImageReference: ref, repo: named.Name(), locks: locks}
		case "dir":
			if o.SourceKind == "dir" {
				return nil, fmt.Errorf("sync from dir to dir is not supported")
			}
			ref, err := directory.NewReference(name)
			if err != nil {
				return nil, fmt.Errorf("destination %q: %w", name, err)
			}
			it = item{src: s, dst: ref, dstName: "dir:" + name}
		default:
			return nil, fmt.Errorf("invalid destination transport %q: want docker or dir", o.DestKind)
		}
		items = append(items, it)
	}
	return items, nil
}

// run copies the items with at most o.Jobs at once.
func run(ctx context.Context, items []item, o Options, cp copyFunc) Summary {
	jobs := o.Jobs
	if jobs <= 0 {
		jobs = 4
	}
	results := make([]Result, len(items))
	sem := make(chan struct{}, jobs)
	var stop atomic.Bool
	var wg sync.WaitGroup
	var logMu sync.Mutex
	logf := func(format string, args ...any) {
		if o.Log == nil {
			return
		}
		logMu.Lock()
		defer logMu.Unlock()
		fmt.Fprintf(o.Log, format+"\n", args...)
	}
	for i, it := range items {
		results[i] = Result{Source: transportString(it.src.Ref), Destination: it.dstName, Status: NotStarted}
	}
	for i, it := range items {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil || stop.Load() {
			break
		}
		wg.Add(1)
		go func(i int, it item) {
			defer wg.Done()
			defer func() { <-sem }()
			r := &results[i]
			if stop.Load() {
				return
			}
			if skip, d := alreadyThere(ctx, it, o); skip {
				r.Status, r.Digest = Skipped, d
				logf("skipped %s: %s has the same digest", r.Source, r.Destination)
				return
			}
			if o.DryRun {
				r.Status = DryRun
				logf("would copy %s to %s", r.Source, r.Destination)
				return
			}
			opts := o.Copy
			opts.SourceCtx, opts.DestCtx = it.src.Sys, o.DestCtx
			res, err := cp(ctx, it.src.Ref, it.dst, opts)
			if err != nil {
				r.Status, r.Err = Failed, err
				logf("failed %s: %v", r.Source, err)
				if !o.KeepGoing {
					stop.Store(true)
				}
				return
			}
			r.Status, r.Digest = Copied, res.Digest
			logf("copied %s to %s", r.Source, r.Destination)
		}(i, it)
	}
	wg.Wait()
	return Summary{Results: results}
}

// alreadyThere reports whether the destination has the source's manifest
// digest, asking both registries with HEAD requests only.
func alreadyThere(ctx context.Context, it item, o Options) (bool, digest.Digest) {
	if o.DestKind != "docker" || o.Copy.ForceManifestMIMEType != "" {
		return false, ""
	}
	var srcDigest digest.Digest
	var err error
	switch it.src.Ref.Transport().Name() {
	case "docker":
		srcDigest, err = docker.GetDigest(ctx, it.src.Sys, it.src.Ref)
	case "dir":
		srcDigest, err = dirDigest(ctx, it.src.Ref, it.src.Sys)
	default:
		return false, ""
	}
	if err != nil {
		return false, ""
	}
	dst := it.dst
	if l, ok := dst.(lockedRef); ok {
		dst = l.ImageReference
	}
	dstDigest, err := docker.GetDigest(ctx, o.DestCtx, dst)
	if err != nil || dstDigest != srcDigest {
		return false, ""
	}
	return true, srcDigest
}

func dirDigest(ctx context.Context, ref types.ImageReference, sys *types.SystemContext) (digest.Digest, error) {
	src, err := ref.NewImageSource(ctx, sys)
	if err != nil {
		return "", err
	}
	defer src.Close()
	b, _, err := src.GetManifest(ctx, nil)
	if err != nil {
		return "", err
	}
	return manifest.Digest(b)
}

func transportString(ref types.ImageReference) string {
	if ref.Transport().Name() == "docker" {
		return "docker:" + ref.StringWithinTransport()
	}
	return ref.Transport().Name() + ":" + ref.StringWithinTransport()
}

// WriteSummary prints the counts and one line per failed image.
func WriteSummary(w io.Writer, s Summary) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%-12s %d\n%-12s %d\n%-12s %d\n", "copied:", s.Count(Copied), "skipped:", s.Count(Skipped), "failed:", s.Count(Failed))
	if n := s.Count(DryRun); n > 0 {
		fmt.Fprintf(&b, "%-12s %d\n", "would copy:", n)
	}
	if n := s.Count(NotStarted); n > 0 {
		fmt.Fprintf(&b, "%-12s %d\n", "not started:", n)
	}
	var failed []Result
	for _, r := range s.Results {
		if r.Status == Failed {
			failed = append(failed, r)
		}
	}
	sort.Slice(failed, func(i, j int) bool { return failed[i].Source < failed[j].Source })
	for _, r := range failed {
		fmt.Fprintf(&b, "FAILED %s: %s\n", r.Source, strings.ReplaceAll(r.Err.Error(), "\n", " "))
	}
	_, err := io.WriteString(w, b.String())
	return err
}
