package imagesync

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/containers/image/v5/directory"
	"github.com/containers/image/v5/signature/signer"
	"github.com/containers/image/v5/types"
	digest "github.com/opencontainers/go-digest"

	"github.com/ocisuite/suite/shared/image"
)

// fakeItems are n items in destination repository repo ("" for none).
func fakeItems(t *testing.T, n int, repo string) []item {
	t.Helper()
	var items []item
	for i := 0; i < n; i++ {
		ref, err := directory.NewReference(filepath.Join(t.TempDir(), "img"))
		if err != nil {
			t.Fatal(err)
		}
		items = append(items, item{src: Source{Ref: ref}, dst: ref, dstName: ref.StringWithinTransport(), repo: repo})
	}
	return items
}

// index returns the position of it in items.
func index(items []item, it item) int {
	for i := range items {
		if items[i].dstName == it.dstName {
			return i
		}
	}
	panic("unknown item")
}

// fakeEngine copies with cp; each item is its own image, none present.
func fakeEngine(items []item, cp copyFunc) engine {
	return engine{
		copy: cp,
		probe: func(_ context.Context, it item, _ Options) probeResult {
			return probeResult{key: digest.FromString(it.dstName)}
		},
		retag: func(context.Context, item, Options, []byte) error { return errors.New("unexpected retag") },
	}
}

func TestParallelBoundedInOrder(t *testing.T) {
	var running, peak atomic.Int32
	var mu sync.Mutex
	var started []int
	parallel(context.Background(), 3, 20, func(i int) {
		mu.Lock()
		started = append(started, i)
		mu.Unlock()
		n := running.Add(1)
		defer running.Add(-1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		time.Sleep(5 * time.Millisecond)
	})
	if p := peak.Load(); p > 3 || p < 2 {
		t.Fatalf("peak concurrency %d, want at most 3 and more than 1", p)
	}
	if len(started) != 20 {
		t.Fatalf("%d calls, want 20", len(started))
	}
	// Calls start in order; with 3 at once, call i starts before call i+3.
	pos := map[int]int{}
	for p, i := range started {
		pos[i] = p
	}
	for i := 0; i+3 < 20; i++ {
		if pos[i] > pos[i+3] {
			t.Fatalf("call %d started after call %d: %v", i, i+3, started)
		}
	}
}

func TestParallelStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var calls atomic.Int32
	parallel(ctx, 2, 100, func(i int) {
		if calls.Add(1) == 3 {
			cancel()
		}
	})
	// The call running beside the third may already have been started.
	if n := calls.Load(); n < 3 || n > 4 {
		t.Fatalf("%d calls after cancelling at the third, want 3 or 4", n)
	}
}

func TestRunKeepGoingAndStop(t *testing.T) {
	var calls atomic.Int32
	cp := func(ctx context.Context, src, dst types.ImageReference, _ image.CopyOptions) (image.CopyResult, error) {
		if calls.Add(1) == 3 {
			return image.CopyResult{}, errors.New("boom")
		}
		return image.CopyResult{Digest: "sha256:x"}, nil
	}
	items := fakeItems(t, 12, "")
	s := fakeEngine(items, cp).run(context.Background(), items, Options{Jobs: 3, KeepGoing: true})
	if s.Count(Copied) != 11 || s.Count(Failed) != 1 {
		t.Fatalf("--keep-going: %d copied, %d failed; want 11, 1", s.Count(Copied), s.Count(Failed))
	}

	calls.Store(0)
	items = fakeItems(t, 12, "")
	s = fakeEngine(items, cp).run(context.Background(), items, Options{Jobs: 1})
	if s.Count(Copied) != 2 || s.Count(Failed) != 1 || s.Count(NotStarted) != 9 {
		t.Fatalf("stop at the first failure: %d copied, %d failed, %d not started; want 2, 1, 9", s.Count(Copied), s.Count(Failed), s.Count(NotStarted))
	}
	if s.Results[2].Status != Failed || s.Results[2].Err.Error() != "boom" {
		t.Fatalf("third image: %+v", s.Results[2])
	}
}

func TestRunCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var calls atomic.Int32
	cp := func(ctx context.Context, src, dst types.ImageReference, _ image.CopyOptions) (image.CopyResult, error) {
		if calls.Add(1) == 2 {
			cancel()
			return image.CopyResult{}, ctx.Err()
		}
		return image.CopyResult{Digest: "sha256:x"}, nil
	}
	items := fakeItems(t, 10, "")
	s := fakeEngine(items, cp).run(ctx, items, Options{Jobs: 1, KeepGoing: true})
	if calls.Load() != 2 || s.Count(Copied) != 1 || s.Count(Failed) != 1 || s.Count(NotStarted) != 8 {
		t.Fatalf("after cancel: %d copies, %d copied, %d failed, %d not started; want 2, 1, 1, 8", calls.Load(), s.Count(Copied), s.Count(Failed), s.Count(NotStarted))
	}
}

func TestRunSkipsAndDryRun(t *testing.T) {
	items := fakeItems(t, 4, "")
	var copies atomic.Int32
	e := engine{
		copy: func(context.Context, types.ImageReference, types.ImageReference, image.CopyOptions) (image.CopyResult, error) {
			copies.Add(1)
			return image.CopyResult{Digest: "sha256:new"}, nil
		},
		probe: func(_ context.Context, it item, _ Options) probeResult {
			if index(items, it)%2 == 0 {
				return probeResult{key: "sha256:a", have: "sha256:a"}
			}
			return probeResult{key: "sha256:b"}
		},
	}
	s := e.run(context.Background(), items, Options{DryRun: true})
	if copies.Load() != 0 || s.Count(Skipped) != 2 || s.Count(DryRun) != 2 {
		t.Fatalf("--dry-run: %d copies, %d skipped, %d would copy; want 0, 2, 2", copies.Load(), s.Count(Skipped), s.Count(DryRun))
	}
	var log bytes.Buffer
	s = e.run(context.Background(), items, Options{Log: &log})
	if copies.Load() != 2 || s.Count(Skipped) != 2 || s.Count(Copied) != 2 || s.Results[0].Digest != "sha256:a" || s.Results[1].Digest != "sha256:new" {
		t.Fatalf("%d copies, results %+v", copies.Load(), s.Results)
	}
	if n := strings.Count(log.String(), "\n"); n != 4 || !strings.Contains(log.String(), "skipped ") || !strings.Contains(log.String(), "copied ") {
		t.Fatalf("log, want one line per image:\n%s", log.String())
	}
}

func TestRunGroupsTagsOfOneImage(t *testing.T) {
	// Items 0-3 are one image, 4-6 another, of which 6 is present already;
	// 7 is a third image.
	items := fakeItems(t, 8, "reg/app")
	release := make(chan struct{})
	var copies, retags atomic.Int32
	var copied sync.Map
	e := engine{
		copy: func(_ context.Context, _, dst types.ImageReference, _ image.CopyOptions) (image.CopyResult, error) {
			copies.Add(1)
			i := -1
			for j := range items {
				if items[j].dst == dst {
					i = j
				}
			}
			copied.Store(i, true)
			if i == 0 {
				// The first image is still copying while the third
				// starts: the waiting tags hold no job slot.
				select {
				case <-release:
				case <-time.After(20 * time.Second):
					return image.CopyResult{}, errors.New("image 7 did not start while image 0 was copying")
				}
			}
			if i == 7 {
				close(release)
			}
			return image.CopyResult{Manifest: []byte("{}"), Digest: digest.FromString(items[i].dstName)}, nil
		},
		probe: func(_ context.Context, it item, _ Options) probeResult {
			switch i := index(items, it); {
			case i < 4:
				return probeResult{key: "sha256:a"}
			case i == 6:
				return probeResult{key: "sha256:b", have: "sha256:b"}
			case i < 7:
				return probeResult{key: "sha256:b"}
			}
			return probeResult{key: "sha256:c"}
		},
		retag: func(context.Context, item, Options, []byte) error { retags.Add(1); return nil },
	}
	s := e.run(context.Background(), items, Options{Jobs: 2})
	if copies.Load() != 3 || retags.Load() != 4 || s.Count(Copied) != 7 || s.Count(Skipped) != 1 {
		t.Fatalf("%d copies, %d retags, %d copied, %d skipped; want 3, 4, 7, 1: %+v", copies.Load(), retags.Load(), s.Count(Copied), s.Count(Skipped), s.Results)
	}
	for i := 1; i < 4; i++ {
		if s.Results[i].Digest != s.Results[0].Digest {
			t.Fatalf("tag %d has digest %s, want the first tag's %s", i, s.Results[i].Digest, s.Results[0].Digest)
		}
	}
}

func TestRunGroupFailures(t *testing.T) {
	items := fakeItems(t, 6, "reg/app")
	var copies atomic.Int32
	e := engine{
		copy: func(_ context.Context, _, dst types.ImageReference, _ image.CopyOptions) (image.CopyResult, error) {
			copies.Add(1)
			if dst == items[0].dst {
				return image.CopyResult{}, errors.New("broken image")
			}
			return image.CopyResult{Manifest: []byte("{}"), Digest: "sha256:m"}, nil
		},
		probe: func(_ context.Context, it item, _ Options) probeResult {
			if index(items, it) < 3 {
				return probeResult{key: "sha256:a"}
			}
			return probeResult{key: "sha256:b"}
		},
		// The policy rejects the retag of item 4: it is copied on its own.
		retag: func(_ context.Context, it item, _ Options, _ []byte) error {
			if index(items, it) == 4 {
				return errors.New("rejected")
			}
			return nil
		},
	}
	s := e.run(context.Background(), items, Options{Jobs: 1, KeepGoing: true})
	if s.Count(Failed) != 3 || s.Count(Copied) != 3 || copies.Load() != 3 {
		t.Fatalf("%d failed, %d copied, %d copies; want 3, 3, 3: %+v", s.Count(Failed), s.Count(Copied), copies.Load(), s.Results)
	}
	if err := s.Results[1].Err; err == nil || !strings.Contains(err.Error(), "same image as") || !strings.Contains(err.Error(), "broken image") {
		t.Fatalf("tag of a failed image: %v", err)
	}
}

func TestRunSignedCopiesAreNotGrouped(t *testing.T) {
	items := fakeItems(t, 3, "reg/app")
	var copies atomic.Int32
	e := engine{
		copy: func(context.Context, types.ImageReference, types.ImageReference, image.CopyOptions) (image.CopyResult, error) {
			copies.Add(1)
			return image.CopyResult{Digest: "sha256:m"}, nil
		},
		probe: func(context.Context, item, Options) probeResult { return probeResult{key: "sha256:a"} },
		retag: func(context.Context, item, Options, []byte) error { return errors.New("unexpected retag") },
	}
	o := Options{}
	o.Copy.Signers = make([]*signer.Signer, 1)
	if s := e.run(context.Background(), items, o); copies.Load() != 3 || s.Count(Copied) != 3 {
		t.Fatalf("%d copies, %d copied; want 3, 3", copies.Load(), s.Count(Copied))
	}
}

func TestSummaryOutputs(t *testing.T) {
	s := Summary{Results: []Result{
		{Source: "docker://a/x:1", Destination: "docker://b/x:1", Status: Copied, Digest: "sha256:1"},
		{Source: "docker://a/x:2", Destination: "docker://b/x:2", Status: Skipped, Digest: "sha256:2"},
		{Source: "docker://a/x:4", Destination: "docker://b/x:4", Status: Failed, Err: errors.New("two\nlines")},
		{Source: "docker://a/x:3", Destination: "docker://b/x:3", Status: Failed, Err: errors.New("boom")},
		{Source: "docker://a/x:5", Destination: "docker://b/x:5", Status: NotStarted},
	}}
	var b bytes.Buffer
	if err := WriteSummary(&b, s); err != nil {
		t.Fatal(err)
	}
	want := "copied:      1\nskipped:     1\nfailed:      2\nnot started: 1\nFAILED docker://a/x:3: boom\nFAILED docker://a/x:4: two lines\n"
	if b.String() != want {
		t.Fatalf("summary:\n%s\nwant\n%s", b.String(), want)
	}
	b.Reset()
	if err := WriteSummaryJSON(&b, s); err != nil {
		t.Fatal(err)
	}
	var j struct {
		Copied, Skipped, Failed, NotStarted int
		Images                              []struct{ Source, Status, Digest, Error string }
	}
	if err := json.Unmarshal(b.Bytes(), &j); err != nil {
		t.Fatalf("%v: %s", err, b.String())
	}
	if j.Copied != 1 || j.Skipped != 1 || j.Failed != 2 || j.NotStarted != 1 || len(j.Images) != 5 || j.Images[3].Error != "boom" || j.Images[0].Digest != "sha256:1" {
		t.Fatalf("json summary: %s", b.String())
	}
	p := filepath.Join(t.TempDir(), "digests")
	if err := writeDigestFile(p, s); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(p); string(got) != "sha256:1 docker://b/x:1\n" {
		t.Fatalf("digest file: %q", got)
	}
}
