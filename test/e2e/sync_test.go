package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocisuite/suite/test/bin"
	"github.com/ocisuite/suite/test/fixture"
	"github.com/ocisuite/suite/test/registry"
)

// syncFixture pushes busybox under tags 1..5 and a two-layer image under
// big-1 and big-2 into repo "app" of src.
func syncFixture(t *testing.T, src *registry.Registry) (map[string]string, fixture.Image) {
	t.Helper()
	bb := fixture.Busybox(t)
	big := fixture.MultiLayer(t, 2, 1<<20)
	want := map[string]string{}
	for i := 1; i <= 5; i++ {
		tag := fmt.Sprint(i)
		fixture.Push(t, bb, src.Ref("ns/app:"+tag), src.SystemContext())
		want[tag] = bb.Digest.String()
	}
	for _, tag := range []string{"big-1", "big-2"} {
		fixture.Push(t, big, src.Ref("ns/app:"+tag), src.SystemContext())
		want[tag] = big.Digest.String()
	}
	return want, big
}

func TestSyncDockerToDocker(t *testing.T) {
	src := registry.Start(t, registry.Options{})
	dst := registry.Start(t, registry.Options{Flavour: registry.TLS})
	want, big := syncFixture(t, src)
	digestFile := filepath.Join(t.TempDir(), "digests")
	args := append(append([]string{"sync", "--src", "docker", "--dest", "docker", "--jobs", "4", "--digestfile", digestFile}, src.Flags("src-")...), dst.Flags("dest-")...)
	res := transport(t, append(args, src.Addr+"/ns/app", dst.Addr+"/mirror")...)
	if !strings.Contains(res.Stdout, "copied:      7") || !strings.Contains(res.Stdout, "failed:      0") {
		t.Fatalf("summary: %s", res.Stdout)
	}
	for tag, d := range want {
		if _, _, got := getManifest(t, dst, "mirror/app", tag); got != d {
			t.Fatalf("tag %s: digest %s, want %s", tag, got, d)
		}
	}
	// Every blob went up at most once, although 5 and 2 images share them.
	for _, l := range append(fixture.Busybox(t).Layers, big.Layers...) {
		enc := strings.ReplaceAll(l.String(), ":", "%3A")
		if n := countRequests(dst, "PUT", "/v2/mirror/app/blobs/uploads/", "digest="+enc); n != 1 {
			t.Fatalf("layer %s uploaded %d times, want 1", l, n)
		}
	}
	lines, _ := os.ReadFile(digestFile)
	if n := len(strings.Split(strings.TrimSpace(string(lines)), "\n")); n != 7 {
		t.Fatalf("--digestfile has %d lines, want 7:\n%s", n, lines)
	}
	for tag, d := range want {
		if !strings.Contains(string(lines), d+" docker://"+dst.Addr+"/mirror/app:"+tag+"\n") {
			t.Fatalf("--digestfile lacks %s for %s:\n%s", d, tag, lines)
		}
	}

	// Again: everything is skipped after HEAD requests only.
	uploads, puts := dst.Uploads(), dst.Count("PUT", "/manifests/")
	srcGets := src.Count("GET", "/manifests/") + src.Count("GET", "/blobs/")
	res = transport(t, append(args, src.Addr+"/ns/app", dst.Addr+"/mirror")...)
	if !strings.Contains(res.Stdout, "skipped:     7") {
		t.Fatalf("second sync summary: %s", res.Stdout)
	}
	if dst.Uploads() != uploads || dst.Count("PUT", "/manifests/") != puts {
		t.Fatal("second sync wrote to the destination")
	}
	if n := src.Count("GET", "/manifests/") + src.Count("GET", "/blobs/") - srcGets; n != 0 {
		t.Fatalf("second sync made %d GETs of manifests or blobs on the source", n)
	}

	// --scoped keeps the source path; --dry-run copies nothing.
	res = transport(t, append(append([]string{}, args...), "--dry-run", "--scoped", src.Addr+"/ns/app:1", dst.Addr+"/scoped")...)
	if !strings.Contains(res.Stdout, "would copy") || dst.ManifestStatus("scoped/"+strings.ReplaceAll(src.Addr, ":", "_")+"/ns/app", "1") == 200 {
		t.Fatalf("--dry-run: %s", res.Stdout)
	}
	transport(t, append(append([]string{}, args...), "--scoped", src.Addr+"/ns/app:1", dst.Addr+"/scoped")...)
	if s := dst.ManifestStatus("scoped/"+strings.ReplaceAll(src.Addr, ":", "_")+"/ns/app", "1"); s != 200 {
		t.Fatalf("--scoped destination missing (status %d)", s)
	}
}

func TestSyncYAML(t *testing.T) {
	plain := registry.Start(t, registry.Options{})
	auth := registry.Start(t, registry.Options{Flavour: registry.TLSAuth})
	dst := registry.Start(t, registry.Options{})
	bb := fixture.Busybox(t)
	for _, tag := range []string{"1.0.0", "1.2.3", "2.0.0", "latest", "v1.5", "v2.0"} {
		fixture.Push(t, bb, plain.Ref("lib/semver:"+tag), plain.SystemContext())
	}
	fixture.Push(t, bb, auth.Ref("private/app:a"), auth.SystemContext())
	fixture.Push(t, bb, auth.Ref("private/app:b"), auth.SystemContext())
	yaml := writeFile(t, "sync.yaml", fmt.Sprintf(`
%s:
  tls-verify: false
  images-by-semver:
    lib/semver: ">= 1.1.0, < 2"
  images-by-tag-regex:
    lib/semver: '^v1\.'
%s:
  cert-dir: %s
  credentials:
    username: %s
    password: %s
  images:
    private/app: [a]
`, plain.Addr, auth.Addr, auth.CertDir, auth.Username, auth.Password))
	res := transport(t, append([]string{"sync", "--src", "yaml", "--dest", "docker"}, append(dst.Flags("dest-"), yaml, dst.Addr+"/y")...)...)
	if !strings.Contains(res.Stdout, "copied:      3") {
		t.Fatalf("yaml sync summary: %s", res.Stdout)
	}
	tags := map[string]bool{}
	for _, tag := range []string{"1.0.0", "1.2.3", "2.0.0", "latest", "v1.5", "v2.0"} {
		tags[tag] = dst.ManifestStatus("y/semver", tag) == 200
	}
	if !tags["1.2.3"] || !tags["v1.5"] || tags["1.0.0"] || tags["2.0.0"] || tags["latest"] || tags["v2.0"] {
		t.Fatalf("semver/regex selection: %v", tags)
	}
	if dst.ManifestStatus("y/app", "a") != 200 || dst.ManifestStatus("y/app", "b") == 200 {
		t.Fatal("the tag list of the authenticated registry was not honoured")
	}
}

func TestSyncDirRoundTripAndAll(t *testing.T) {
	src := registry.Start(t, registry.Options{})
	dst := registry.Start(t, registry.Options{})
	idx := fixture.MultiArch(t)
	fixture.Push(t, idx, src.Ref("multi:1"), src.SystemContext())
	fixture.Push(t, fixture.Busybox(t), src.Ref("multi:2"), src.SystemContext())
	dir := t.TempDir()
	transport(t, append([]string{"sync", "--all", "--src", "docker", "--dest", "dir"}, append(src.Flags("src-"), src.Addr+"/multi", dir)...)...)
	var names []string
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	if strings.Join(names, ",") != "multi:1,multi:2" {
		t.Fatalf("dir destination has %v", names)
	}
	transport(t, append([]string{"sync", "--all", "--src", "dir", "--dest", "docker"}, append(dst.Flags("dest-"), dir, dst.Addr+"/back")...)...)
	if _, mt, d := getManifest(t, dst, "back/multi", "1"); d != idx.Digest.String() || !strings.Contains(mt, "index") {
		t.Fatalf("--all round trip: %s %s, want the index %s", mt, d, idx.Digest)
	}
}

func TestSyncFailures(t *testing.T) {
	src := registry.Start(t, registry.Options{})
	dst := registry.Start(t, registry.Options{})
	bb := fixture.Busybox(t)
	for _, tag := range []string{"a", "b", "c"} {
		fixture.Push(t, bb, src.Ref("f/app:"+tag), src.SystemContext())
	}
	// Break tag b: remove its layer from the source registry's storage.
	layer := bb.Layers[0].Encoded()
	if err := os.RemoveAll(filepath.Join(src.StorageDir, "docker/registry/v2/blobs/sha256", layer[:2], layer)); err != nil {
		t.Fatal(err)
	}
	// With the layer gone every busybox tag fails; a and c become two other
	// images (distinct, so that each is copied on its own, in order).
	fixture.Push(t, fixture.MultiLayer(t, 1, 64<<10), src.Ref("f/app:a"), src.SystemContext())
	fixture.Push(t, fixture.MultiLayer(t, 1, 96<<10), src.Ref("f/app:c"), src.SystemContext())
	args := append(append([]string{"sync", "--src", "docker", "--dest", "docker", "--retry-times", "0", "--jobs", "1"}, src.Flags("src-")...), dst.Flags("dest-")...)
	res := bin.Run(t, nil, "transport", append(args, "--keep-going", src.Addr+"/f/app", dst.Addr+"/k")...)
	if res.Code != 1 {
		t.Fatalf("--keep-going with a failure: exit %d, want 1", res.Code)
	}
	if !strings.Contains(res.Stdout, "copied:      2") || !strings.Contains(res.Stdout, "failed:      1") || !strings.Contains(res.Stdout, "FAILED docker://"+src.Addr+"/f/app:b") {
		t.Fatalf("--keep-going summary: %s", res.Stdout)
	}
	if dst.ManifestStatus("k/app", "a") != 200 || dst.ManifestStatus("k/app", "c") != 200 || dst.ManifestStatus("k/app", "b") == 200 {
		t.Fatal("--keep-going did not copy the good images only")
	}
	assertOneLine(t, res.Stderr, "1 of 3 images failed")

	res = bin.Run(t, nil, "transport", append(args, src.Addr+"/f/app", dst.Addr+"/s")...)
	if res.Code != 1 || !strings.Contains(res.Stdout, "not started: 1") {
		t.Fatalf("without --keep-going: exit %d, summary %s", res.Code, res.Stdout)
	}
	if dst.ManifestStatus("s/app", "c") == 200 {
		t.Fatal("sync went on after the first failure")
	}
}

// TestSyncPreserveDigests: --format converts (new digests) unless
// --preserve-digests, which refuses the conversion and copies nothing.
func TestSyncPreserveDigests(t *testing.T) {
	src := registry.Start(t, registry.Options{})
	dst := registry.Start(t, registry.Options{})
	bb := fixture.Busybox(t)
	fixture.Push(t, bb, src.Ref("pd/app:1"), src.SystemContext())
	args := append(append([]string{"sync", "--src", "docker", "--dest", "docker", "--retry-times", "0"}, src.Flags("src-")...), dst.Flags("dest-")...)

	res := bin.Run(t, nil, "transport", append(args, "--format", "v2s2", "--preserve-digests", src.Addr+"/pd/app", dst.Addr+"/kept")...)
	if res.Code != 1 || dst.ManifestStatus("kept/app", "1") != 404 {
		t.Fatalf("--preserve-digests with a format change: exit %d: %s", res.Code, res.Stdout)
	}
	transport(t, append(args, "--preserve-digests", src.Addr+"/pd/app", dst.Addr+"/kept")...)
	if _, _, d := getManifest(t, dst, "kept/app", "1"); d != bb.Digest.String() {
		t.Fatalf("--preserve-digests: digest %s, want %s", d, bb.Digest)
	}
	transport(t, append(args, "--format", "v2s2", src.Addr+"/pd/app", dst.Addr+"/conv")...)
	if _, mt, d := getManifest(t, dst, "conv/app", "1"); d == bb.Digest.String() || !strings.Contains(mt, "docker.distribution.manifest.v2") {
		t.Fatalf("--format v2s2: %s %s", mt, d)
	}
}

// TestSyncJobsBound: --jobs N copies N images at a time, never more.
func TestSyncJobsBound(t *testing.T) {
	src := registry.Start(t, registry.Options{})
	dst := registry.Start(t, registry.Options{})
	for i := 1; i <= 6; i++ {
		fixture.Push(t, fixture.MultiLayer(t, 1, int64(i)<<10), src.Ref(fmt.Sprintf("jobs/app:%d", i)), src.SystemContext())
	}
	// A front for the destination that holds each manifest PUT for a while
	// and records how many were in flight at once.
	target, _ := url.Parse(dst.URL())
	proxy := httputil.NewSingleHostReverseProxy(target)
	var mu sync.Mutex
	inFlight, most := 0, 0
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/") {
			mu.Lock()
			inFlight++
			most = max(most, inFlight)
			mu.Unlock()
			time.Sleep(300 * time.Millisecond)
			defer func() { mu.Lock(); inFlight--; mu.Unlock() }()
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	frontAddr := strings.TrimPrefix(front.URL, "http://")
	for _, jobs := range []int{1, 3} {
		mu.Lock()
		most = 0
		mu.Unlock()
		res := transport(t, "sync", "--src", "docker", "--dest", "docker", "--jobs", fmt.Sprint(jobs), "--src-tls-verify=false", "--dest-tls-verify=false",
			src.Addr+"/jobs/app", fmt.Sprintf("%s/j%d", frontAddr, jobs))
		if !strings.Contains(res.Stdout, "copied:      6") {
			t.Fatalf("--jobs %d summary: %s", jobs, res.Stdout)
		}
		mu.Lock()
		got := most
		mu.Unlock()
		if got != jobs {
			t.Fatalf("--jobs %d: %d manifest uploads at once at most, want %d", jobs, got, jobs)
		}
	}
}

// TestSyncRetryAfter: a registry that answers a blob upload and a manifest
// PUT with 429 Too Many Requests and Retry-After: 1 is waited for (not the
// 10 ms --retry-delay) and the sync completes, with every image in place.
func TestSyncRetryAfter(t *testing.T) {
	src, dst, img, front := retryAfterSetup(t)
	start := time.Now()
	res := bin.Run(t, nil, "transport", "sync", "--src", "docker", "--dest", "docker", "--retry-times", "2", "--retry-delay", "10ms",
		"--src-tls-verify=false", "--dest-tls-verify=false", src.Addr+"/ra/app", front.Addr+"/m")
	if res.Code != 0 || !strings.Contains(res.Stdout, "copied:      1") {
		t.Fatalf("sync through 429s: exit %d: %s%s", res.Code, res.Stdout, res.Stderr)
	}
	assertRetriedAfter(t, dst, front, start, img, "m/app", "1")
}

// TestCopyRetryAfter: copy between registries follows the same rule as
// sync: a 429 with Retry-After: 1 on a blob upload and on the manifest PUT
// is waited for, and the copy completes with the source's digest.
func TestCopyRetryAfter(t *testing.T) {
	src, dst, img, front := retryAfterSetup(t)
	digestFile := filepath.Join(t.TempDir(), "digest")
	start := time.Now()
	res := bin.Run(t, nil, "transport", "copy", "--retry-times", "2", "--retry-delay", "10ms", "--digestfile", digestFile,
		"--src-tls-verify=false", "--dest-tls-verify=false", "docker://"+src.Addr+"/ra/app:1", "docker://"+front.Addr+"/c/app:1")
	if res.Code != 0 {
		t.Fatalf("copy through 429s: exit %d: %s%s", res.Code, res.Stdout, res.Stderr)
	}
	if b, err := os.ReadFile(digestFile); err != nil || string(b) != img.Digest.String() {
		t.Fatalf("digest file: %q, %v; want %s", b, err, img.Digest)
	}
	assertRetriedAfter(t, dst, front, start, img, "c/app", "1")
}

// assertRetriedAfter checks a copy of img to repo:tag of dst through front,
// which answered the first upload PUT and the first manifest PUT with a
// 429 and Retry-After: 1: the image is there with its digest, and both
// requests were made again at least about a second later.
func assertRetriedAfter(t *testing.T, dst *registry.Registry, front *faultFront, start time.Time, img fixture.Image, repo, tag string) {
	t.Helper()
	if _, _, d := getManifest(t, dst, repo, tag); d != img.Digest.String() {
		t.Fatalf("digest %s, want %s", d, img.Digest)
	}
	assertWaitedRetryAfter(t, front, start, len(img.Layers)+1, 1)
}

// assertWaitedRetryAfter checks the requests that front, which answered
// the first upload PUT and the first manifest PUT with a 429 and
// Retry-After: 1, saw from a copy of blobs blobs and manifests manifests:
// each was sent once more, the one answered 429 at least about a second
// later.
func assertWaitedRetryAfter(t *testing.T, front *faultFront, start time.Time, blobs, manifests int) {
	t.Helper()
	puts := front.times("PUT manifest")
	if len(puts) != manifests+1 || puts[1].Sub(puts[0]) < 900*time.Millisecond {
		t.Fatalf("manifest PUTs at %v after the start: want %d, the second at least 1s after the 429", since(start, puts), manifests+1)
	}
	// The upload answered 429 starts again (POST, PUT) after Retry-After.
	uploads, posts := front.times("PUT upload"), front.times("POST upload")
	if len(uploads) != blobs+1 || posts[len(posts)-1].Sub(uploads[0]) < 900*time.Millisecond {
		t.Fatalf("upload PUTs at %v, POSTs at %v after the start: want %d, the blob answered 429 sent again at least 1s later",
			since(start, uploads), since(start, posts), blobs+1)
	}
}

// TestCopyRetryAfterLibraryPaths: the copies that containers/image makes
// (from an OCI layout, of a whole index with --all, with a format
// conversion) follow the same rule: a 429 with Retry-After: 1 on a blob
// upload and on a manifest PUT is waited for, and the copy completes.
// (containers/image alone neither retries those requests nor reports the
// header.)
func TestCopyRetryAfterLibraryPaths(t *testing.T) {
	layered, index := fixture.MultiLayer(t, 2, 64<<10), fixture.MultiArch(t)
	for _, c := range []struct {
		name              string
		img               fixture.Image
		args              []string
		blobs, manifests  int
		digest, mediaType string // of the copy's manifest at the destination
	}{
		{"oci layout", layered, nil, len(layered.Layers) + 1, 1, layered.Digest.String(), v1.MediaTypeImageManifest},
		// The index, then each image: the arm64 image has one layer.
		{"index --all", index, []string{"--all"}, len(index.Layers) + 3, 3, index.Digest.String(), v1.MediaTypeImageIndex},
		{"format v2s2", layered, []string{"--format", "v2s2"}, len(layered.Layers) + 1, 1, "", "application/vnd.docker.distribution.manifest.v2+json"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dst := registry.Start(t, registry.Options{})
			front := startFaultFront(t, dst, map[string][]int{
				"PUT upload":   {http.StatusTooManyRequests},
				"PUT manifest": {http.StatusTooManyRequests},
			})
			start := time.Now()
			args := append([]string{"copy", "--retry-times", "2", "--retry-delay", "10ms", "--dest-tls-verify=false"}, c.args...)
			res := bin.Run(t, nil, "transport", append(args, c.img.Ref(), "docker://"+front.Addr+"/l/app:1")...)
			if res.Code != 0 {
				t.Fatalf("copy through 429s: exit %d: %s%s", res.Code, res.Stdout, res.Stderr)
			}
			_, mediaType, d := getManifest(t, dst, "l/app", "1")
			if mediaType != c.mediaType || (c.digest != "" && d != c.digest) {
				t.Fatalf("manifest %s %s, want %s %s", mediaType, d, c.mediaType, c.digest)
			}
			assertWaitedRetryAfter(t, front, start, c.blobs, c.manifests)
		})
	}
}

// retryAfterSetup pushes a two-layer image to src as ra/app:1 and puts a
// front before dst that answers the first blob upload PUT and the first
// manifest PUT with 429 Too Many Requests and Retry-After: 1.
func retryAfterSetup(t *testing.T) (src, dst *registry.Registry, img fixture.Image, front *faultFront) {
	t.Helper()
	src = registry.Start(t, registry.Options{})
	dst = registry.Start(t, registry.Options{})
	img = fixture.MultiLayer(t, 2, 64<<10)
	fixture.Push(t, img, src.Ref("ra/app:1"), src.SystemContext())
	front = startFaultFront(t, dst, map[string][]int{
		"PUT upload":   {http.StatusTooManyRequests},
		"PUT manifest": {http.StatusTooManyRequests},
	})
	return src, dst, img, front
}

// since lists times as durations after start.
func since(start time.Time, times []time.Time) []time.Duration {
	out := make([]time.Duration, len(times))
	for i, t := range times {
		out[i] = t.Sub(start).Round(time.Millisecond)
	}
	return out
}

// TestSyncSignaturesAndPolicy: sync applies the trust policy to every image
// and copies signatures: with an accept-anything policy a signed and an
// unsigned image are both copied, the signature with the signed one; a
// policy requiring the signing key copies the signed image and refuses the
// unsigned one; a policy rejecting the source writes nothing.
func TestSyncSignaturesAndPolicy(t *testing.T) {
	keys := newSignKeyring(t)
	src := registry.Start(t, registry.Options{})
	dst := registry.Start(t, registry.Options{})
	regD, lookaside := t.TempDir(), filepath.Join(t.TempDir(), "sigstore")
	conf := fmt.Sprintf("docker:\n  %s:\n    lookaside: file://%s\n  %s:\n    lookaside: file://%s\n", src.Addr, lookaside, dst.Addr, lookaside)
	if err := os.WriteFile(filepath.Join(regD, "test.yaml"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	signed, unsigned := fixture.Busybox(t), fixture.MultiLayer(t, 1, 32<<10)
	signRequireOK(t, signCopy(t, keys.env(), src, []string{"--insecure-policy", "--registries.d", regD}, "--sign-by", keys.Plain, signed.Ref(), src.Ref("s/app:signed")), "push signed")
	signRequireOK(t, signCopy(t, keys.env(), src, []string{"--insecure-policy", "--registries.d", regD}, unsigned.Ref(), src.Ref("s/app:unsigned")), "push unsigned")
	sync := func(policy, dest string) bin.Result {
		return bin.Run(t, keys.env(), "transport", "--policy", policy, "--registries.d", regD, "sync", "--src", "docker", "--dest", "docker", "--keep-going",
			"--src-tls-verify=false", "--dest-tls-verify=false", src.Addr+"/s/app", dst.Addr+"/"+dest)
	}
	sigOf := func(repo string, d string) string {
		return filepath.Join(lookaside, repo+"@"+strings.Replace(d, ":", "=", 1), "signature-1")
	}

	res := sync(signPolicy(t, []map[string]any{signAcceptAnything()}, ""), "any")
	if res.Code != 0 || !strings.Contains(res.Stdout, "copied:      2") {
		t.Fatalf("accept-anything: exit %d: %s%s", res.Code, res.Stdout, res.Stderr)
	}
	if !signFileExists(t, sigOf("any/app", signed.Digest.String())) {
		t.Fatal("the signature of the signed image was not copied")
	}
	if signFileExists(t, sigOf("any/app", unsigned.Digest.String())) {
		t.Fatal("the unsigned image has a signature at the destination")
	}

	res = sync(signPolicy(t, []map[string]any{signRejectAll()}, src.Addr, signSignedBy(keys.PlainPub)), "key")
	if res.Code != 1 || !strings.Contains(res.Stdout, "copied:      1") || !strings.Contains(res.Stdout, "FAILED docker://"+src.Addr+"/s/app:unsigned") {
		t.Fatalf("signedBy: exit %d: %s%s", res.Code, res.Stdout, res.Stderr)
	}
	if dst.ManifestStatus("key/app", "signed") != 200 || dst.ManifestStatus("key/app", "unsigned") == 200 {
		t.Fatal("signedBy: want the signed image copied and the unsigned one refused")
	}

	before := len(dst.Requests())
	res = sync(signPolicy(t, []map[string]any{signAcceptAnything()}, src.Addr+"/s", signRejectAll()), "none")
	if res.Code != 1 || !strings.Contains(res.Stdout, "failed:      2") || !strings.Contains(res.Stdout, "rejected") {
		t.Fatalf("reject: exit %d: %s%s", res.Code, res.Stdout, res.Stderr)
	}
	signRequireNothingWritten(t, dst, before, "none/app")
}
