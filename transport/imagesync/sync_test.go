package imagesync

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/containers/image/v5/directory"
	"github.com/containers/image/v5/types"
	digest "github.com/opencontainers/go-digest"

	"github.com/ocisuite/suite/shared/image"
)

func fakeItems(t *testing.T, n int) []item {
	t.Helper()
	var items []item
	for i := 0; i < n; i++ {
		ref, err := directory.NewReference(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		items = append(items, item{src: Source{Ref: ref}, dst: ref, dstName: ref.StringWithinTransport()})
	}
	return items
}

func TestRunBoundedAndKeepGoing(t *testing.T) {
	items := fakeItems(t, 12)
	var running, peak, calls atomic.Int32
	cp := func(ctx context.Context, src, dst types.ImageReference, _ image.CopyOptions) (image.CopyResult, error) {
		n := running.Add(1)
		defer running.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
		if calls.Add(1) == 3 {
			return image.CopyResult{}, errors.New("boom")
		}
		return image.CopyResult{Digest: "sha256:x"}, nil
	}
	s := run(context.Background(), items, Options{Jobs: 3, KeepGoing: true, DestKind: "dir"}, cp)
	if p := peak.Load(); p > 3 || p < 2 {
		t.Fatalf("peak concurrency %d, want ≤3 and >1", p)
	}
	if s.Count(Copied) != 11 || s.Count(Failed) != 1 {
		t.Fatalf("keep-going: %d copied, %d failed", s.Count(Copied), s.Count(Failed))
	}
	var out strings.Builder
	if err := WriteSummary(&out, s); err != nil || !strings.Contains(out.String(), "FAILED") || !strings.Contains(out.String(), "boom") {
		t.Fatalf("summary: %q", out.String())
	}

	calls.Store(0)
	s = run(context.Background(), fakeItems(t, 12), Options{Jobs: 1, DestKind: "dir"}, cp)
	if s.Count(Failed) != 1 || s.Count(Copied) != 2 || s.Count(NotStarted) != 9 {
		t.Fatalf("stop at first failure: %d copied, %d failed, %d not started", s.Count(Copied), s.Count(Failed), s.Count(NotStarted))
	}
}

func TestParseYAML(t *testing.T) {
	p := t.TempDir() + "/s.yaml"
	if err := writeFile(p, `
reg.example:
  images:
    app: [v1, "sha256:0000000000000000000000000000000000000000000000000000000000000000"]
  images-by-tag-regex:
    app: '^v1\.'
  images-by-semver:
    app: '>= 1.2.0, < 2'
  credentials: {username: u, password: p}
  tls-verify: false
`); err != nil {
		t.Fatal(err)
	}
	cfg, err := ParseYAML(p)
	if err != nil {
		t.Fatal(err)
	}
	tags := []string{"v1.0", "v1.1", "1.0.0", "1.2.3", "2.0.0", "latest"}
	list := func(context.Context, *types.SystemContext, types.ImageReference) ([]string, error) { return tags, nil }
	srcs, err := YAMLSources(context.Background(), cfg, nil, list)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range srcs {
		got = append(got, s.Suffix)
		if s.Sys.DockerAuthConfig == nil || s.Sys.DockerAuthConfig.Username != "u" || s.Sys.DockerInsecureSkipTLSVerify != types.OptionalBoolTrue {
			t.Fatalf("registry settings not applied: %+v", s.Sys)
		}
	}
	want := "reg.example/app:v1,reg.example/app@sha256:0000000000000000000000000000000000000000000000000000000000000000,reg.example/app:v1.0,reg.example/app:v1.1,reg.example/app:1.2.3"
	if strings.Join(got, ",") != want {
		t.Fatalf("sources:\n%s\nwant\n%s", strings.Join(got, ","), want)
	}
	if err := writeFile(p, "reg.example:\n  imagez: {}\n"); err != nil {
		t.Fatal(err)
	}
	if _, err := ParseYAML(p); err == nil || !strings.Contains(err.Error(), "imagez") {
		t.Fatalf("unknown key: %v", err)
	}
}

func TestRunGroupsTagsOfOneImage(t *testing.T) {
	items := fakeItems(t, 6)
	for i := range items {
		items[i].repo = "reg/app"
	}
	var copies, retags atomic.Int32
	e := engine{
		copy: func(context.Context, types.ImageReference, types.ImageReference, image.CopyOptions) (image.CopyResult, error) {
			copies.Add(1)
			return image.CopyResult{Manifest: []byte("{}"), Digest: "sha256:m"}, nil
		},
		probe: func(_ context.Context, it item, _ Options) (digest.Digest, bool) {
			for i := range items {
				if items[i].dstName == it.dstName {
					// Items 0-3 are one image, 4-5 another; item 5 is present.
					if i < 4 {
						return "sha256:a", false
					}
					return "sha256:b", i == 5
				}
			}
			return "", false
		},
		retag: func(context.Context, item, Options, []byte) error { retags.Add(1); return nil },
	}
	s := e.run(context.Background(), items, Options{Jobs: 4, DestKind: "docker"})
	if copies.Load() != 2 || retags.Load() != 3 || s.Count(Copied) != 5 || s.Count(Skipped) != 1 {
		t.Fatalf("%d copies, %d retags, %d copied, %d skipped; want 2, 3, 5, 1", copies.Load(), retags.Load(), s.Count(Copied), s.Count(Skipped))
	}
}
