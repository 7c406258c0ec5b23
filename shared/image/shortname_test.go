package image

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containers/image/v5/types"
)

func TestCandidates(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "registries.conf")
	if err := os.WriteFile(conf, []byte(`
unqualified-search-registries = ["one.example", "two.example:5000"]
short-name-mode = "permissive"
[aliases]
"bb" = "alias.example/lib/busybox"
`), 0o644); err != nil {
		t.Fatal(err)
	}
	sys := &types.SystemContext{SystemRegistriesConfPath: conf, SystemRegistriesConfDirPath: filepath.Join(dir, "none.d")}
	for name, want := range map[string]string{
		"bb":                   "alias.example/lib/busybox:latest",
		"app":                  "one.example/app:latest,two.example:5000/app:latest",
		"ns/app:1":             "one.example/ns/app:1,two.example:5000/ns/app:1",
		"registry.example/app": "registry.example/app:latest",
		"localhost:5000/app@sha256:" + strings.Repeat("a", 64): "localhost:5000/app@sha256:" + strings.Repeat("a", 64),
	} {
		got, _, err := Candidates(sys, name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var s []string
		for _, g := range got {
			s = append(s, g.String())
		}
		if strings.Join(s, ",") != want {
			t.Errorf("%s: %v, want %s", name, s, want)
		}
	}
	if _, _, err := Candidates(sys, "UPPER"); err == nil {
		t.Fatal("invalid name resolved")
	}
}

func TestParseReference(t *testing.T) {
	for _, bad := range []string{"busybox", "nope:thing", "docker://", ""} {
		if _, err := ParseReference(bad); err == nil || !strings.Contains(err.Error(), "invalid image reference") {
			t.Errorf("%q: %v", bad, err)
		}
	}
	ref, err := ParseReference("docker://registry.example/app:1")
	if err != nil || ref.DockerReference().String() != "registry.example/app:1" {
		t.Fatalf("docker ref: %v %v", ref, err)
	}
}
