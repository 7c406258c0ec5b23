package e2e

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/ocisuite/suite/test/bin"
	"github.com/ocisuite/suite/test/fixture"
	"github.com/ocisuite/suite/test/registry"
)

type inspectOut struct {
	Name         string
	Digest       string
	RepoTags     []string
	Architecture string
	Os           string
	Layers       []string
	Env          []string
}

func TestInspect(t *testing.T) {
	img := fixture.Busybox(t)
	reg := registry.Start(t, registry.Options{Flavour: registry.TLSAuth})
	for _, tag := range []string{"1", "2", "latest"} {
		fixture.Push(t, img, reg.Ref("bb:"+tag), reg.SystemContext())
	}
	flags := reg.Flags("")
	res := transport(t, append([]string{"inspect"}, append(flags, reg.Ref("bb:1"))...)...)
	var out inspectOut
	if err := json.Unmarshal([]byte(res.Stdout), &out); err != nil {
		t.Fatalf("inspect output is not JSON: %v\n%s", err, res.Stdout)
	}
	raw, _, digest := getManifest(t, reg, "bb", "1")
	sort.Strings(out.RepoTags)
	if out.Digest != digest || out.Architecture != "amd64" || out.Os != "linux" ||
		strings.Join(out.RepoTags, ",") != "1,2,latest" || out.Name != reg.Addr+"/bb" ||
		len(out.Layers) != 1 || out.Layers[0] != img.Layers[0].String() || len(out.Env) == 0 {
		t.Fatalf("inspect: %+v (registry digest %s)", out, digest)
	}

	res = transport(t, append([]string{"inspect", "--raw"}, append(flags, reg.Ref("bb:1"))...)...)
	if res.Stdout != string(raw) {
		t.Fatal("--raw differs from the registry's manifest bytes")
	}
	res = transport(t, append([]string{"inspect", "--config"}, append(flags, reg.Ref("bb:1"))...)...)
	var cfg struct {
		Architecture string
		Config       struct{ Cmd []string }
	}
	if err := json.Unmarshal([]byte(res.Stdout), &cfg); err != nil || cfg.Architecture != "amd64" || strings.Join(cfg.Config.Cmd, " ") != "sh" {
		t.Fatalf("--config: %v %+v", err, cfg)
	}
	res = transport(t, append([]string{"inspect", "--format", "{{.Digest}} {{.Architecture}}"}, append(flags, reg.Ref("bb:1"))...)...)
	if res.Stdout != digest+" amd64\n" {
		t.Fatalf("--format: %q", res.Stdout)
	}

	before := reg.Count("GET", "/tags/list")
	res = transport(t, append([]string{"inspect", "--no-tags"}, append(flags, reg.Ref("bb:1"))...)...)
	if n := reg.Count("GET", "/tags/list") - before; n != 0 {
		t.Fatalf("--no-tags listed tags %d times", n)
	}
	if err := json.Unmarshal([]byte(res.Stdout), &out); err != nil || len(out.RepoTags) != 0 {
		t.Fatalf("--no-tags: RepoTags %v", out.RepoTags)
	}

	res = bin.Run(t, nil, "transport", append([]string{"inspect"}, append(flags, reg.Ref("bb:missing"))...)...)
	if res.Code != 2 {
		t.Fatalf("missing image: exit %d, want 2", res.Code)
	}
	assertOneLine(t, res.Stderr, "bb:missing", "manifest unknown")
	res = bin.Run(t, nil, "transport", append([]string{"inspect", "--raw", "--format", "{{.Digest}}"}, append(flags, reg.Ref("bb:1"))...)...)
	if res.Code != 1 {
		t.Fatalf("--raw with --format: exit %d, want 1", res.Code)
	}
	assertOneLine(t, res.Stderr, "--format")
}

func TestInspectMultiArch(t *testing.T) {
	idx := fixture.MultiArch(t)
	reg := registry.Start(t, registry.Options{})
	fixture.Push(t, idx, reg.Ref("multi:1"), reg.SystemContext())
	flags := reg.Flags("")
	res := transport(t, append([]string{"inspect", "--raw"}, append(flags, reg.Ref("multi:1"))...)...)
	if !strings.Contains(res.Stdout, `"manifests"`) {
		t.Fatalf("--raw of a multi-arch image is not the index: %s", res.Stdout)
	}
	var out inspectOut
	res = transport(t, append([]string{"inspect"}, append(flags, reg.Ref("multi:1"))...)...)
	if err := json.Unmarshal([]byte(res.Stdout), &out); err != nil || out.Architecture != "amd64" || out.Digest != idx.Digest.String() {
		t.Fatalf("default inspect of an index: %+v", out)
	}
	res = transport(t, append([]string{"--override-arch", "arm64", "inspect"}, append(flags, reg.Ref("multi:1"))...)...)
	if err := json.Unmarshal([]byte(res.Stdout), &out); err != nil || out.Architecture != "arm64" {
		t.Fatalf("--override-arch arm64: %+v", out)
	}
	// Local layouts and archives inspect too.
	res = transport(t, "inspect", "--format", "{{.Architecture}}", "oci-archive:"+fixture.OCIArchive(t, fixture.Busybox(t)))
	if res.Stdout != "amd64\n" {
		t.Fatalf("oci-archive inspect: %q", res.Stdout)
	}
}

func TestListTagsAndDelete(t *testing.T) {
	img := fixture.Busybox(t)
	reg := registry.Start(t, registry.Options{Flavour: registry.TLS})
	for _, tag := range []string{"a", "b", "c"} {
		fixture.Push(t, img, reg.Ref("tags:"+tag), reg.SystemContext())
	}
	flags := reg.Flags("")
	res := transport(t, append([]string{"list-tags"}, append(flags, reg.Ref("tags"))...)...)
	var out struct {
		Repository string
		Tags       []string
	}
	if err := json.Unmarshal([]byte(res.Stdout), &out); err != nil {
		t.Fatal(err)
	}
	sort.Strings(out.Tags)
	if out.Repository != reg.Addr+"/tags" || strings.Join(out.Tags, ",") != "a,b,c" {
		t.Fatalf("list-tags: %+v", out)
	}
	res = bin.Run(t, nil, "transport", append([]string{"list-tags"}, append(flags, reg.Ref("tags:a"))...)...)
	if res.Code != 1 {
		t.Fatalf("list-tags with a tag: exit %d, want 1", res.Code)
	}

	transport(t, append([]string{"delete"}, append(flags, reg.Ref("tags:b"))...)...)
	if s := reg.ManifestStatus("tags", "b"); s != 404 {
		t.Fatalf("after delete: manifest status %d, want 404", s)
	}
	res = bin.Run(t, nil, "transport", append([]string{"delete"}, append(flags, reg.Ref("tags:never"))...)...)
	if res.Code == 0 {
		t.Fatal("deleting a missing image succeeded")
	}
	assertOneLine(t, res.Stderr, "tags:never")
}

func TestManifestDigest(t *testing.T) {
	img := fixture.Busybox(t)
	b, err := os.ReadFile(filepath.Join(img.Dir, "blobs", "sha256", img.Digest.Encoded()))
	if err != nil {
		t.Fatal(err)
	}
	p := writeFile(t, "manifest.json", string(b))
	res := transport(t, "manifest-digest", p)
	if want := fmt.Sprintf("sha256:%x\n", sha256.Sum256(b)); res.Stdout != want {
		t.Fatalf("manifest-digest: %q, want %q", res.Stdout, want)
	}
	res = bin.Run(t, nil, "transport", "manifest-digest", p+".missing")
	if res.Code != 1 {
		t.Fatalf("missing file: exit %d", res.Code)
	}
	assertOneLine(t, res.Stderr, "manifest.json.missing")
}
