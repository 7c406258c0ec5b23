package imagesync

import (
	"fmt"
	"io"
	"sync/atomic"

	"github.com/containers/image/v5/types"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/ocisuite/suite/shared/cli"
)

// report shows the steps of a direct copy as containers/image shows them:
// on a terminal, a progress bar per blob, which ends as "done" or
// "skipped: already exists"; elsewhere, a "Copying blob DIGEST" line per
// blob. A nil *report shows nothing.
type report struct {
	w    io.Writer
	pool *mpb.Progress // nil when w is not a terminal
}

// newReport reports to w; nil when w is nil.
func newReport(w io.Writer) *report {
	if w == nil {
		return nil
	}
	r := &report{w: w}
	if cli.IsTerminal(w) {
		r.pool = mpb.New(mpb.WithWidth(40), mpb.WithOutput(w))
	}
	return r
}

func (r *report) printf(format string, args ...any) {
	if r != nil {
		fmt.Fprintf(r.w, format, args...)
	}
}

// wait returns once the progress bars are drawn for the last time. Every
// bar must have ended (blobTracker.done) before.
func (r *report) wait() {
	if r != nil && r.pool != nil {
		r.pool.Wait()
	}
}

// blob starts the report of the copy of blob b of the given kind ("blob"
// or "config"); the caller must end it with done.
func (r *report) blob(kind string, b types.BlobInfo) *blobTracker {
	if r == nil {
		return nil
	}
	if r.pool == nil {
		r.printf("Copying %s %s\n", kind, b.Digest)
		return nil
	}
	// As containers/image: the digest shortened so that the bars align.
	prefix := fmt.Sprintf("Copying %s %s", kind, b.Digest.Encoded())
	if n := len("Copying blob ") + 12; len(prefix) > n {
		prefix = prefix[:n]
	}
	t := &blobTracker{size: b.Size}
	t.outcome.Store("done")
	name := func(s decor.Statistics) string {
		if s.Completed {
			return prefix + " " + t.outcome.Load().(string)
		}
		return prefix
	}
	t.bar = r.pool.AddBar(max(b.Size, 0),
		mpb.BarFillerClearOnComplete(),
		mpb.PrependDecorators(decor.Any(name)),
		mpb.AppendDecorators(decor.OnComplete(decor.CountersKibiByte("%.1f / %.1f"), "")),
	)
	return t
}

// blobTracker is the progress bar of one blob copy. A nil *blobTracker
// tracks nothing.
type blobTracker struct {
	bar     *mpb.Bar
	size    int64        // -1 or 0: unknown
	read    atomic.Int64 // bytes read from the source in the current attempt
	opened  atomic.Bool  // the blob was read from the source at all
	outcome atomic.Value // string shown when done
}

// reader counts what the copy reads from rc on the bar. Each call is a new
// attempt, which starts the bar again.
func (t *blobTracker) reader(rc io.ReadCloser) io.ReadCloser {
	if t == nil {
		return rc
	}
	t.opened.Store(true)
	t.read.Store(0)
	t.bar.SetCurrent(0)
	return &countingReader{rc: rc, t: t}
}

// done ends the bar: complete after a successful copy ("skipped: already
// exists" when the blob was never read from the source), aborted after a
// failure.
func (t *blobTracker) done(err error) {
	if t == nil {
		return
	}
	if err != nil {
		t.bar.Abort(false)
		return
	}
	if !t.opened.Load() {
		t.outcome.Store("skipped: already exists")
	}
	if t.size > 0 {
		t.bar.SetCurrent(t.size)
	} else {
		t.bar.SetTotal(-1, true)
	}
}

// countingReader moves a blob's bar as the blob is read, short of the end:
// only done completes a bar (an upload can still fail after the last byte
// was read, and be tried again).
type countingReader struct {
	rc io.ReadCloser
	t  *blobTracker
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.rc.Read(p)
	if n > 0 {
		cur := c.t.read.Add(int64(n))
		if c.t.size > 0 {
			cur = min(cur, c.t.size-1)
		}
		c.t.bar.SetCurrent(cur)
	}
	return n, err
}

func (c *countingReader) Close() error { return c.rc.Close() }
