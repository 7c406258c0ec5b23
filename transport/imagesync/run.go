package imagesync

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	digest "github.com/opencontainers/go-digest"
)

// engine runs the copies; its functions are replaceable in tests.
type engine struct {
	copy copyFunc
	// probe finds the source's manifest digest and whether the destination
	// already has the image.
	probe func(ctx context.Context, it item, o Options) probeResult
	// retag writes an already copied manifest under another destination tag
	// of the same repository.
	retag func(ctx context.Context, it item, o Options, manifest []byte) error
	// tags is the destination tag lists of the production probe.
	tags *destTags
}

// probeResult is what a probe found out with HEAD requests (or the GET of
// the source manifest that a copy needs anyway).
type probeResult struct {
	// key is the source's manifest digest; "" when unknown.
	key digest.Digest
	// have is the destination's digest when it already holds the image
	// (the same digest as the source's, or the platform image a copy of a
	// list would write); "" otherwise.
	have digest.Digest
}

// group is the tags of one image in one destination repository: the first
// (leader) is copied, the others get the written manifest with one PUT.
type group struct {
	leader   int
	done     bool
	manifest []byte
	err      error
	waiting  []int // followers that arrived while the leader was copying
}

// run copies the items with at most o.Jobs copies at once. Images whose
// digest is already at the destination are skipped; tags of the same image
// in the same destination repository are copied once and the other tags
// written with a single manifest PUT. No image starts once ctx is done or,
// without o.KeepGoing, once an image has failed.
func (e engine) run(ctx context.Context, items []item, o Options) Summary {
	jobs := o.Jobs
	if jobs <= 0 {
		jobs = DefaultJobs
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
	fail := func(i int, err error) {
		r := &results[i]
		r.Status, r.Err = Failed, err
		logf("failed %s: %v", r.Source, err)
		if !o.KeepGoing {
			stop.Store(true)
		}
	}
	copyOne := func(i int) ([]byte, error) {
		r, it := &results[i], items[i]
		opts := o.Copy
		opts.SourceCtx, opts.DestCtx = it.src.Sys, o.DestCtx
		res, err := e.copy(ctx, it.src.Ref, it.dst, opts)
		if err != nil {
			fail(i, err)
			return nil, err
		}
		r.Status, r.Digest = Copied, res.Digest
		logf("copied %s to %s", r.Source, r.Destination)
		return res.Manifest, nil
	}
	follow := func(i int, g *group) {
		r, it := &results[i], items[i]
		switch {
		case g.err != nil:
			fail(i, fmt.Errorf("same image as %s: %w", results[g.leader].Source, g.err))
		case e.retag(ctx, it, o, g.manifest) == nil:
			r.Status, r.Digest = Copied, results[g.leader].Digest
			logf("copied %s to %s (the same image as %s)", r.Source, r.Destination, results[g.leader].Source)
		default:
			_, _ = copyOne(i)
		}
	}

	var mu sync.Mutex
	groups := map[string]*group{}
	parallel(ctx, jobs, len(items), func(i int) {
		if stop.Load() {
			return
		}
		r, it := &results[i], items[i]
		p := e.probe(ctx, it, o)
		if p.have != "" {
			r.Status, r.Digest = Skipped, p.have
			logf("skipped %s: %s has the same image", r.Source, r.Destination)
			return
		}
		if o.DryRun {
			r.Status = DryRun
			logf("would copy %s to %s", r.Source, r.Destination)
			return
		}
		// Signatures name the destination tag, so signed copies are made
		// one by one.
		if p.key == "" || it.repo == "" || len(o.Copy.Signers) > 0 {
			_, _ = copyOne(i)
			return
		}
		key := it.repo + "@" + p.key.String()
		mu.Lock()
		g := groups[key]
		switch {
		case g == nil:
			g = &group{leader: i}
			groups[key] = g
			mu.Unlock()
			m, err := copyOne(i)
			mu.Lock()
			g.done, g.manifest, g.err = true, m, err
			waiting := g.waiting
			g.waiting = nil
			mu.Unlock()
			// The followers that queued up while this copy ran do not
			// hold a job slot: this one finishes them.
			for _, j := range waiting {
				follow(j, g)
			}
		case !g.done:
			g.waiting = append(g.waiting, i)
			mu.Unlock()
		default:
			mu.Unlock()
			follow(i, g)
		}
	})
	return Summary{Results: results}
}

// parallel calls fn(0..n-1), in order, with at most jobs calls at once; it
// starts no new call once ctx is done.
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
