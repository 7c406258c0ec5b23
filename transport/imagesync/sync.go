// Package imagesync copies many images between registries and directories
// at once: several images in parallel (bounded), each blob sent once per
// destination repository, images already present (same digest) skipped with
// HEAD requests only, and a summary of what was copied, skipped and failed.
package imagesync

import (
	"context"
	"errors"
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
	"github.com/docker/distribution/registry/api/errcode"
	v2 "github.com/docker/distribution/registry/api/v2"
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
	// Jobs is how many images are copied at once (default 8).
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

// engine runs the copies; its functions are replaceable in tests.
type engine struct {
	copy copyFunc
	// probe returns the source's manifest digest ("" when unknown) and
	// whether the destination already has it.
	probe func(ctx context.Context, it item, o Options) (digest.Digest, bool)
	// retag writes an already copied manifest under another destination tag.
	retag func(ctx context.Context, it item, o Options, manifest []byte) error
}

// run copies the items with at most o.Jobs copies at once. Images whose
// digest is already at the destination are skipped; tags of the same image
// in the same destination repository are copied once, and the other tags
// get the written manifest with a single PUT.
func run(ctx context.Context, items []item, o Options, cp copyFunc) Summary {
	tags := &destTags{lists: map[string]*tagList{}}
	return engine{copy: cp, probe: tags.probe, retag: retag}.run(ctx, items, o)
}

// destTags lists each destination repository's tags once, so that images
// whose tag is not there yet need no HEAD request at the destination.
type destTags struct {
	mu    sync.Mutex
	lists map[string]*tagList
}

type tagList struct {
	once sync.Once
	tags map[string]bool // nil: unknown, ask with HEAD
}

func (d *destTags) has(ctx context.Context, it item, o Options) (known, present bool) {
	named := unwrap(it.dst).DockerReference()
	tagged, ok := named.(reference.NamedTagged)
	if !ok {
		return false, false
	}
	d.mu.Lock()
	l, ok := d.lists[named.Name()]
	if !ok {
		l = &tagList{}
		d.lists[named.Name()] = l
	}
	d.mu.Unlock()
	l.once.Do(func() {
		tags, err := docker.GetRepositoryTags(ctx, o.DestCtx, unwrap(it.dst))
		if err != nil {
			var ec errcode.Error
			if errors.As(err, &ec) && ec.Code == v2.ErrorCodeNameUnknown {
				l.tags = map[string]bool{}
			}
			return
		}
		l.tags = map[string]bool{}
		for _, t := range tags {
			l.tags[t] = true
		}
	})
	if l.tags == nil {
		return false, false
	}
	return true, l.tags[tagged.Tag()]
}

// probe is the production probe: it skips the destination HEAD when the
// repository's tag list shows the tag is not there.
func (d *destTags) probe(ctx context.Context, it item, o Options) (digest.Digest, bool) {
	if o.DestKind == "docker" {
		if known, present := d.has(ctx, it, o); known && !present {
			src, _ := sourceDigest(ctx, it)
			return src, false
		}
	}
	return probe(ctx, it, o)
}

func (e engine) run(ctx context.Context, items []item, o Options) Summary {
	jobs := o.Jobs
	if jobs <= 0 {
		jobs = 8
	}
	results := make([]Result, len(items))
	for i, it := range items {
		results[i] = Result{Source: transportString(it.src.Ref), Destination: it.dstName, Status: NotStarted}
	}
	var logMu sync.Mutex
	logf := func(format string, args ...any) {
		if o.Log == nil {
			return
		}
		logMu.Lock()
		defer logMu.Unlock()
		fmt.Fprintf(o.Log, format+"\n", args...)
	}

	var stop atomic.Bool
	copyOne := func(i int) ([]byte, error) {
		r, it := &results[i], items[i]
		opts := o.Copy
		opts.SourceCtx, opts.DestCtx = it.src.Sys, o.DestCtx
		res, err := e.copy(ctx, it.src.Ref, it.dst, opts)
		if err != nil {
			r.Status, r.Err = Failed, err
			logf("failed %s: %v", r.Source, err)
			if !o.KeepGoing {
				stop.Store(true)
			}
			return nil, err
		}
		r.Status, r.Digest = Copied, res.Digest
		logf("copied %s to %s", r.Source, r.Destination)
		return res.Manifest, nil
	}

	// Tags of one image in one destination repository form a group: the
	// first is copied, the others wait for it and get its manifest with a
	// single PUT.
	type group struct {
		done     chan struct{}
		leader   int
		manifest []byte
		err      error
	}
	var mu sync.Mutex
	groups := map[string]*group{}

	parallel(ctx, jobs, len(items), func(i int) {
		if stop.Load() {
			return
		}
		r, it := &results[i], items[i]
		d, present := e.probe(ctx, it, o)
		if present {
			r.Status, r.Digest = Skipped, d
			logf("skipped %s: %s has the same digest", r.Source, r.Destination)
			return
		}
		if o.DryRun {
			r.Status = DryRun
			logf("would copy %s to %s", r.Source, r.Destination)
			return
		}
		if d == "" || it.repo == "" || len(o.Copy.Signers) > 0 {
			_, _ = copyOne(i)
			return
		}
		key := it.repo + "@" + d.String()
		mu.Lock()
		g, follower := groups[key]
		if !follower {
			g = &group{done: make(chan struct{}), leader: i}
			groups[key] = g
		}
		mu.Unlock()
		if !follower {
			g.manifest, g.err = copyOne(i)
			close(g.done)
			return
		}
		select {
		case <-g.done:
		case <-ctx.Done():
			return
		}
		switch {
		case g.err != nil:
			r.Status, r.Err = Failed, g.err
			logf("failed %s: %v", r.Source, g.err)
		case e.retag(ctx, it, o, g.manifest) == nil:
			r.Status, r.Digest = Copied, results[g.leader].Digest
			logf("copied %s to %s (a tag of an image already copied)", r.Source, r.Destination)
		default:
			_, _ = copyOne(i)
		}
	})
	return Summary{Results: results}
}

// parallel calls fn(0..n-1) with at most jobs calls at once, starting no
// new call once ctx is done.
func parallel(ctx context.Context, jobs, n int, fn func(int)) {
	sem := make(chan struct{}, jobs)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			fn(i)
		}(i)
	}
	wg.Wait()
}

// probe returns the source's manifest digest and whether the destination
// has it under the item's tag, with HEAD requests only.
func probe(ctx context.Context, it item, o Options) (digest.Digest, bool) {
	srcDigest, err := sourceDigest(ctx, it)
	if err != nil {
		return "", false
	}
	if o.DestKind != "docker" || o.Copy.ForceManifestMIMEType != "" {
		return srcDigest, false
	}
	dstDigest, err := docker.GetDigest(ctx, o.DestCtx, unwrap(it.dst))
	return srcDigest, err == nil && dstDigest == srcDigest
}

// sourceDigest is the source's manifest digest, by HEAD for a registry.
func sourceDigest(ctx context.Context, it item) (digest.Digest, error) {
	switch it.src.Ref.Transport().Name() {
	case "docker":
		return docker.GetDigest(ctx, it.src.Sys, it.src.Ref)
	case "dir":
		return dirDigest(ctx, it.src.Ref, it.src.Sys)
	}
	return "", fmt.Errorf("no digest for %s", transportString(it.src.Ref))
}

// retag writes manifest under the item's destination tag.
func retag(ctx context.Context, it item, o Options, manifest []byte) error {
	d, err := unwrap(it.dst).NewImageDestination(ctx, o.DestCtx)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.PutManifest(ctx, manifest, nil); err != nil {
		return err
	}
	return d.Commit(ctx, nil)
}

func unwrap(ref types.ImageReference) types.ImageReference {
	if l, ok := ref.(lockedRef); ok {
		return l.ImageReference
	}
	return ref
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
