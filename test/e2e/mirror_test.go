package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ocisuite/suite/test/bin"
	"github.com/ocisuite/suite/test/fixture"
	"github.com/ocisuite/suite/test/registry"
)

// registriesConf writes a registries.conf and returns the environment that
// makes the binaries read it (and no drop-ins from the host).
func registriesConf(t *testing.T, content string) (string, []string) {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "registries.conf")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p, []string{"CONTAINERS_REGISTRIES_CONF=" + p}
}

func manifestGets(reg *registry.Registry, repo string) int {
	return countRequests(reg, "GET", "/v2/"+repo+"/manifests/") + countRequests(reg, "HEAD", "/v2/"+repo+"/manifests/")
}

func blobGets(reg *registry.Registry, repo string) int {
	return countRequests(reg, "GET", "/v2/"+repo+"/blobs/")
}

// TestMirrorReadsFromMirror: a copy from a registry with a mirror reads
// manifest and blobs from the mirror only.
func TestMirrorReadsFromMirror(t *testing.T) {
	img := fixture.Busybox(t)
	primary := registry.Start(t, registry.Options{})
	mirror := registry.Start(t, registry.Options{})
	fixture.Push(t, img, primary.Ref("app/bb:1"), primary.SystemContext())
	fixture.Push(t, img, mirror.Ref("app/bb:1"), mirror.SystemContext())
	_, env := registriesConf(t, fmt.Sprintf(`
[[registry]]
location = %q
insecure = true
[[registry.mirror]]
location = %q
insecure = true
`, primary.Addr, mirror.Addr))
	res := bin.Run(t, env, "transport", "--log-level", "info", "copy", primary.Ref("app/bb:1"), "dir:"+t.TempDir())
	if res.Code != 0 {
		t.Fatalf("copy through mirror: %s", res.Stderr)
	}
	if n := manifestGets(mirror, "app/bb"); n == 0 {
		t.Fatal("the mirror got no manifest request")
	}
	if n := blobGets(mirror, "app/bb"); n < 2 {
		t.Fatalf("the mirror served %d blobs, want config and layer", n)
	}
	if n := manifestGets(primary, "app/bb") + blobGets(primary, "app/bb"); n != 0 {
		t.Fatalf("the primary registry was read %d times, want 0", n)
	}
	if !strings.Contains(res.Stderr, mirror.Addr) {
		t.Fatalf("--log-level info does not say which endpoint was used: %s", res.Stderr)
	}
}

// TestMirrorFallback: a stopped mirror, a mirror answering 500 and a
// mirror without the image are skipped, and the copy reads from the next
// endpoint, logging each endpoint it tries.
func TestMirrorFallback(t *testing.T) {
	img := fixture.Busybox(t)
	primary := registry.Start(t, registry.Options{})
	dead := registry.Start(t, registry.Options{})
	empty := registry.Start(t, registry.Options{})
	var broken atomic.Int32
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		broken.Add(1)
		http.Error(w, "internal error", http.StatusInternalServerError)
	}))
	t.Cleanup(failing.Close)
	failingAddr := strings.TrimPrefix(failing.URL, "http://")
	fixture.Push(t, img, primary.Ref("app/bb:1"), primary.SystemContext())
	dead.Kill()
	_, env := registriesConf(t, fmt.Sprintf(`
[[registry]]
location = %q
insecure = true
[[registry.mirror]]
location = %q
insecure = true
[[registry.mirror]]
location = %q
insecure = true
[[registry.mirror]]
location = %q
insecure = true
`, primary.Addr, dead.Addr, failingAddr, empty.Addr))
	out := t.TempDir()
	res := bin.Run(t, env, "transport", "--log-level", "info", "copy", primary.Ref("app/bb:1"), "dir:"+out)
	if res.Code != 0 {
		t.Fatalf("copy with failing mirrors: %s", res.Stderr)
	}
	if broken.Load() == 0 || manifestGets(empty, "app/bb") == 0 || manifestGets(primary, "app/bb") == 0 {
		t.Fatal("the endpoints were not tried in order")
	}
	for _, addr := range []string{dead.Addr, failingAddr, empty.Addr, primary.Addr} {
		if !strings.Contains(res.Stderr, addr) {
			t.Fatalf("the info log does not name endpoint %s: %s", addr, res.Stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(out, img.Layers[0].Encoded())); err != nil {
		t.Fatalf("the layer did not arrive: %v", err)
	}
}

// TestMirrorBlobServerErrorFallback: a mirror that serves the manifest but
// answers 500 for blobs is retried (--retry-times), then replaced by the
// next mirror (the failing one is not tried again); the fallback is logged
// with the endpoint and the error, and the trust policy still judges the
// image by its own name, not the mirror's.
func TestMirrorBlobServerErrorFallback(t *testing.T) {
	img := fixture.Busybox(t)
	primary := registry.Start(t, registry.Options{})
	mirror := registry.Start(t, registry.Options{})
	second := registry.Start(t, registry.Options{})
	for _, r := range []*registry.Registry{primary, mirror, second} {
		fixture.Push(t, img, r.Ref("app/bb:1"), r.SystemContext())
	}
	target, _ := url.Parse(mirror.URL())
	proxy := httputil.NewSingleHostReverseProxy(target)
	var layerErrors atomic.Int32
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/blobs/sha256:") && r.Method == http.MethodGet {
			if strings.HasSuffix(r.URL.Path, img.Layers[0].String()) {
				layerErrors.Add(1)
			}
			http.Error(w, "storage backend down", http.StatusInternalServerError)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	frontAddr := strings.TrimPrefix(front.URL, "http://")
	_, env := registriesConf(t, fmt.Sprintf(`
[[registry]]
location = %q
insecure = true
[[registry.mirror]]
location = %q
insecure = true
[[registry.mirror]]
location = %q
insecure = true
`, primary.Addr, frontAddr, second.Addr))
	// Only images named after the primary registry are accepted.
	policy := writeFile(t, "policy.json", fmt.Sprintf(`{"default":[{"type":"reject"}],"transports":{"docker":{%q:[{"type":"insecureAcceptAnything"}]},"dir":{"":[{"type":"insecureAcceptAnything"}]}}}`, primary.Addr))
	out := t.TempDir()
	res := bin.Run(t, env, "transport", "--log-level", "info", "--policy", policy, "copy", "--retry-times", "1", "--retry-delay", "10ms", primary.Ref("app/bb:1"), "dir:"+out)
	if res.Code != 0 {
		t.Fatalf("copy with a mirror failing on blobs: %s", res.Stderr)
	}
	// Two attempts (--retry-times 1) on the mirror, none after the fallback.
	if manifestGets(mirror, "app/bb") == 0 || layerErrors.Load() != 2 {
		t.Fatalf("the mirror was asked %d times for the layer, want 2 (one attempt and one retry)", layerErrors.Load())
	}
	if !strings.Contains(res.Stderr, "retrying") || !strings.Contains(res.Stderr, "falling back to mirror "+second.Addr) || !strings.Contains(res.Stderr, "500") {
		t.Fatalf("retry and fallback not logged at info level: %s", res.Stderr)
	}
	if countRequests(second, "GET", "/v2/app/bb/blobs/"+img.Layers[0].String()) != 1 || blobGets(primary, "app/bb")+manifestGets(primary, "app/bb") != 0 {
		t.Fatal("the layer was not read from the second mirror alone")
	}
	if _, err := os.Stat(filepath.Join(out, img.Layers[0].Encoded())); err != nil {
		t.Fatalf("the layer did not arrive: %v", err)
	}
	// The same image named after the mirror is rejected by that policy.
	res = bin.Run(t, nil, "transport", "--policy", policy, "copy", "--src-tls-verify=false", second.Ref("app/bb:1"), "dir:"+t.TempDir())
	if res.Code != 1 {
		t.Fatalf("copy named after the mirror: exit %d, want 1 (policy rejection)", res.Code)
	}
	assertOneLine(t, res.Stderr, "rejected")
}

// TestMirrorBlobErrorFallback: a mirror that has the manifest but loses a
// blob is replaced by the registry itself.
func TestMirrorBlobErrorFallback(t *testing.T) {
	img := fixture.Busybox(t)
	primary := registry.Start(t, registry.Options{})
	mirror := registry.Start(t, registry.Options{})
	fixture.Push(t, img, primary.Ref("app/bb:1"), primary.SystemContext())
	fixture.Push(t, img, mirror.Ref("app/bb:1"), mirror.SystemContext())
	// Remove the layer's data from the mirror's storage.
	layer := img.Layers[0].Encoded()
	if err := os.RemoveAll(filepath.Join(mirror.StorageDir, "docker/registry/v2/blobs/sha256", layer[:2], layer)); err != nil {
		t.Fatal(err)
	}
	_, env := registriesConf(t, fmt.Sprintf(`
[[registry]]
location = %q
insecure = true
[[registry.mirror]]
location = %q
insecure = true
`, primary.Addr, mirror.Addr))
	out := t.TempDir()
	res := bin.Run(t, env, "transport", "--log-level", "info", "copy", primary.Ref("app/bb:1"), "dir:"+out)
	if res.Code != 0 {
		t.Fatalf("copy with a broken mirror blob: %s", res.Stderr)
	}
	if !strings.Contains(res.Stderr, "falling back to") {
		t.Fatalf("no fallback logged at info level: %s", res.Stderr)
	}
	if countRequests(primary, "GET", "/v2/app/bb/blobs/"+img.Layers[0].String()) == 0 {
		t.Fatal("the layer was not read from the registry after the mirror failed")
	}
	if _, err := os.Stat(filepath.Join(out, layer)); err != nil {
		t.Fatalf("the layer did not arrive: %v", err)
	}
}

// TestMirrorDigestOnly: pull-from-mirror = "digest-only" uses the mirror
// for digest references and skips it for tags.
func TestMirrorDigestOnly(t *testing.T) {
	img := fixture.Busybox(t)
	primary := registry.Start(t, registry.Options{})
	mirror := registry.Start(t, registry.Options{})
	fixture.Push(t, img, primary.Ref("app/bb:1"), primary.SystemContext())
	fixture.Push(t, img, mirror.Ref("app/bb:1"), mirror.SystemContext())
	_, env := registriesConf(t, fmt.Sprintf(`
[[registry]]
location = %q
insecure = true
[[registry.mirror]]
location = %q
insecure = true
pull-from-mirror = "digest-only"
`, primary.Addr, mirror.Addr))
	bin.MustRun(t, env, "transport", "copy", primary.Ref("app/bb:1"), "dir:"+t.TempDir())
	if n := manifestGets(mirror, "app/bb"); n != 0 {
		t.Fatalf("a tag copy read the digest-only mirror %d times", n)
	}
	bin.MustRun(t, env, "transport", "copy", primary.Ref("app/bb@"+img.Digest.String()), "dir:"+t.TempDir())
	if n := manifestGets(mirror, "app/bb"); n == 0 {
		t.Fatal("a digest copy did not use the digest-only mirror")
	}
}

// TestMirrorTagOnly: pull-from-mirror = "tag-only" uses the mirror for
// tags and skips it for digest references.
func TestMirrorTagOnly(t *testing.T) {
	img := fixture.Busybox(t)
	primary := registry.Start(t, registry.Options{})
	mirror := registry.Start(t, registry.Options{})
	fixture.Push(t, img, primary.Ref("app/bb:1"), primary.SystemContext())
	fixture.Push(t, img, mirror.Ref("app/bb:1"), mirror.SystemContext())
	_, env := registriesConf(t, fmt.Sprintf(`
[[registry]]
location = %q
insecure = true
[[registry.mirror]]
location = %q
insecure = true
pull-from-mirror = "tag-only"
`, primary.Addr, mirror.Addr))
	bin.MustRun(t, env, "transport", "copy", primary.Ref("app/bb@"+img.Digest.String()), "dir:"+t.TempDir())
	if n := manifestGets(mirror, "app/bb"); n != 0 {
		t.Fatalf("a digest copy read the tag-only mirror %d times", n)
	}
	if n := manifestGets(primary, "app/bb"); n == 0 {
		t.Fatal("a digest copy did not read the registry itself")
	}
	primaryReads := manifestGets(primary, "app/bb")
	bin.MustRun(t, env, "transport", "copy", primary.Ref("app/bb:1"), "dir:"+t.TempDir())
	if n := manifestGets(mirror, "app/bb"); n == 0 {
		t.Fatal("a tag copy did not use the tag-only mirror")
	}
	if n := manifestGets(primary, "app/bb") - primaryReads; n != 0 {
		t.Fatalf("a tag copy read the registry %d times although the mirror has the image", n)
	}
}

// TestMirrorInsecure: each mirror's own insecure setting decides whether it
// may be reached over plain HTTP; a plain-HTTP mirror not marked insecure is
// skipped (TLS fails) and the next endpoint used.
func TestMirrorInsecure(t *testing.T) {
	img := fixture.Busybox(t)
	primary := registry.Start(t, registry.Options{})
	mirror := registry.Start(t, registry.Options{})
	fixture.Push(t, img, primary.Ref("app/bb:1"), primary.SystemContext())
	fixture.Push(t, img, mirror.Ref("app/bb:1"), mirror.SystemContext())
	conf := func(mirrorInsecure bool) []string {
		_, env := registriesConf(t, fmt.Sprintf(`
[[registry]]
location = %q
insecure = true
[[registry.mirror]]
location = %q
insecure = %v
`, primary.Addr, mirror.Addr, mirrorInsecure))
		return env
	}
	res := bin.MustRun(t, conf(false), "transport", "--log-level", "info", "copy", primary.Ref("app/bb:1"), "dir:"+t.TempDir())
	if n := manifestGets(mirror, "app/bb") + blobGets(mirror, "app/bb"); n != 0 {
		t.Fatalf("a mirror not marked insecure was read %d times over plain HTTP", n)
	}
	if manifestGets(primary, "app/bb") == 0 || !strings.Contains(res.Stderr, mirror.Addr) {
		t.Fatalf("no fallback from the TLS-only mirror to the registry: %s", res.Stderr)
	}
	primaryReads := manifestGets(primary, "app/bb")
	bin.MustRun(t, conf(true), "transport", "copy", primary.Ref("app/bb:1"), "dir:"+t.TempDir())
	if manifestGets(mirror, "app/bb") == 0 || manifestGets(primary, "app/bb") != primaryReads {
		t.Fatal("the insecure mirror was not used")
	}
}

// TestCopyRegistriesConf: insecure = true allows plain HTTP without flags;
// blocked = true refuses with the config file named; an unknown key is
// warned about, one line naming the file and the key.
func TestCopyRegistriesConf(t *testing.T) {
	img := fixture.Busybox(t)
	reg := registry.Start(t, registry.Options{})
	blocked := registry.Start(t, registry.Options{})

	res := bin.Run(t, nil, "transport", "copy", img.Ref(), reg.Ref("bb:1"))
	if res.Code == 0 {
		t.Fatal("plain HTTP registry reached without being marked insecure")
	}
	assertOneLine(t, res.Stderr, reg.Addr)

	conf, env := registriesConf(t, fmt.Sprintf(`
[[registry]]
location = %q
insecure = true

[[registry]]
location = %q
blocked = true
`, reg.Addr, blocked.Addr))
	bin.MustRun(t, env, "transport", "copy", img.Ref(), reg.Ref("bb:1"))
	if s := reg.ManifestStatus("bb", "1"); s != 200 {
		t.Fatalf("copy to the insecure registry: manifest status %d", s)
	}
	res = bin.Run(t, env, "transport", "copy", "--dest-tls-verify=false", img.Ref(), blocked.Ref("bb:1"))
	if res.Code != 1 {
		t.Fatalf("copy to a blocked registry: exit %d, want 1", res.Code)
	}
	assertOneLine(t, res.Stderr, "blocked", blocked.Addr, conf)
	if len(blocked.Requests()) > 1 { // the readiness probe only
		t.Fatalf("the blocked registry was contacted: %v", blocked.Requests())
	}

	conf, env = registriesConf(t, fmt.Sprintf(`
[[registry]]
location = %q
insecure = true
mirrors = ["nowhere"]
`, reg.Addr))
	res = bin.MustRun(t, env, "transport", "copy", img.Ref(), reg.Ref("bb:2"))
	if !strings.Contains(res.Stderr, conf) || !strings.Contains(res.Stderr, "mirrors") {
		t.Fatalf("no warning naming %s and the unknown key: %q", conf, res.Stderr)
	}
}
