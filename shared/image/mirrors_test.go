package image

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containers/image/v5/pkg/sysregistriesv2"
	"github.com/containers/image/v5/transports"
	"github.com/containers/image/v5/types"
)

// confSys writes a registries.conf and returns a SystemContext reading only it.
func confSys(t *testing.T, content string) *types.SystemContext {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "registries.conf")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return &types.SystemContext{SystemRegistriesConfPath: p, SystemRegistriesConfDirPath: filepath.Join(dir, "none.d")}
}

func TestMirrorFallbacks(t *testing.T) {
	sys := confSys(t, `
credential-helpers = ["containers-auth.json"]
[[registry]]
prefix = "primary.test/app"
location = "primary.test:5000/app"
insecure = true
[[registry.mirror]]
location = "m1.test"
insecure = true
[[registry.mirror]]
location = "primary.test:5000/mirror"
[[registry.mirror]]
location = "m3.test"
pull-from-mirror = "digest-only"
`)
	src, err := ParseReference("docker://primary.test/app/bb:1")
	if err != nil {
		t.Fatal(err)
	}
	fb, err := mirrorFallbacks(src, sys)
	if err != nil || fb == nil {
		t.Fatalf("mirrorFallbacks: %v, %v", fb, err)
	}
	var got []string
	for _, e := range fb.endpoints {
		got = append(got, e.desc+" "+transports.ImageName(e.probe))
	}
	want := []string{
		"mirror m1.test docker://m1.test/bb:1",
		"mirror primary.test:5000/mirror docker://primary.test:5000/mirror/bb:1",
		"registry primary.test:5000/app docker://primary.test/app/bb:1",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("endpoints:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Each endpoint's configuration reads the original reference from that
	// endpoint first.
	for i, wantFirst := range []string{"m1.test/bb:1", "primary.test:5000/mirror/bb:1", "primary.test:5000/app/bb:1"} {
		reg, err := sysregistriesv2.FindRegistry(fb.endpoints[i].sys, "primary.test/app/bb:1")
		if err != nil || reg == nil {
			t.Fatalf("endpoint %d: %v %v", i, reg, err)
		}
		ps, err := reg.PullSourcesFromReference(src.DockerReference())
		if err != nil {
			t.Fatal(err)
		}
		wantN := 2 // the mirror, then the registry
		if i == 2 {
			wantN = 1
		}
		if ps[0].Reference.String() != wantFirst || len(ps) != wantN {
			t.Errorf("endpoint %d reads first from %s (%d sources), want %s", i, ps[0].Reference, len(ps), wantFirst)
		}
		if i < 2 && ps[0].Endpoint.Insecure != (i == 0) {
			t.Errorf("endpoint %d: mirror insecure %v", i, ps[0].Endpoint.Insecure)
		}
		helpers, err := sysregistriesv2.CredentialHelpers(fb.endpoints[i].sys)
		if err != nil || strings.Join(helpers, ",") != "containers-auth.json" {
			t.Errorf("endpoint %d: credential helpers %v, %v", i, helpers, err)
		}
	}
	// In the probe configuration every endpoint is reached directly.
	for _, c := range []struct {
		ref, prefix, location string
		insecure              bool
	}{
		{"primary.test/app/bb:1", "primary.test/app", "primary.test:5000/app", true},
		{"m1.test/bb:1", "m1.test", "m1.test", true},
		{"primary.test:5000/mirror/bb:1", "primary.test:5000/mirror", "primary.test:5000/mirror", false},
	} {
		reg, err := sysregistriesv2.FindRegistry(fb.probeSys, c.ref)
		if err != nil || reg == nil {
			t.Fatalf("%s: %v %v", c.ref, reg, err)
		}
		if reg.Prefix != c.prefix || reg.Location != c.location || len(reg.Mirrors) != 0 || reg.Insecure != c.insecure {
			t.Errorf("%s resolves to %+v, want prefix %s location %s insecure %v and no mirrors", c.ref, *reg, c.prefix, c.location, c.insecure)
		}
	}
	dir := filepath.Dir(fb.probeSys.SystemRegistriesConfPath)
	fb.cleanup()
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("cleanup left %s: %v", dir, err)
	}

	// A digest reference also uses the digest-only mirror.
	src, _ = ParseReference("docker://primary.test/app/bb@sha256:" + strings.Repeat("a", 64))
	fb, err = mirrorFallbacks(src, sys)
	if err != nil || fb == nil || len(fb.endpoints) != 4 || fb.endpoints[2].desc != "mirror m3.test" {
		t.Fatalf("digest reference: %+v, %v", fb, err)
	}
	fb.cleanup()
}

func TestMirrorFallbacksNone(t *testing.T) {
	sys := confSys(t, `
[[registry]]
location = "plain.test"
[[registry]]
location = "digests.test"
mirror-by-digest-only = true
[[registry.mirror]]
location = "m.test"
`)
	for _, s := range []string{"docker://plain.test/bb:1", "docker://other.test/bb:1", "docker://digests.test/bb:1", "dir:/tmp/x"} {
		ref, err := ParseReference(s)
		if err != nil {
			t.Fatal(err)
		}
		if fb, err := mirrorFallbacks(ref, sys); fb != nil || err != nil {
			t.Errorf("%s: fallbacks %+v, %v; want none", s, fb, err)
		}
	}
}
