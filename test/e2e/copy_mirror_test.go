package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
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

// TestMirrorFallback: a stopped mirror and a mirror without the image are
// skipped, and the copy reads from the next endpoint, logging the fallback.
func TestMirrorFallback(t *testing.T) {
	img := fixture.Busybox(t)
	primary := registry.Start(t, registry.Options{})
	dead := registry.Start(t, registry.Options{})
	empty := registry.Start(t, registry.Options{})
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
`, primary.Addr, dead.Addr, empty.Addr))
	res := bin.Run(t, env, "transport", "--log-level", "info", "copy", primary.Ref("app/bb:1"), "dir:"+t.TempDir())
	if res.Code != 0 {
		t.Fatalf("copy with failing mirrors: %s", res.Stderr)
	}
	if manifestGets(empty, "app/bb") == 0 || manifestGets(primary, "app/bb") == 0 {
		t.Fatal("the endpoints were not tried in order")
	}
	for _, addr := range []string{dead.Addr, empty.Addr, primary.Addr} {
		if !strings.Contains(res.Stderr, addr) {
			t.Fatalf("the info log does not name endpoint %s: %s", addr, res.Stderr)
		}
	}
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

// TestRegistriesInsecureAndBlocked: insecure = true allows plain HTTP
// without flags; blocked = true refuses with the config file named; an
// unknown key is warned about.
func TestRegistriesInsecureAndBlocked(t *testing.T) {
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
