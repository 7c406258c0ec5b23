package e2e

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/ocisuite/suite/test/bin"
	"github.com/ocisuite/suite/test/fixture"
	"github.com/ocisuite/suite/test/registry"
)

type tagList struct {
	Repository string
	Tags       []string
}

func listTags(t *testing.T, args ...string) tagList {
	t.Helper()
	res := transport(t, append([]string{"list-tags"}, args...)...)
	var out tagList
	if err := json.Unmarshal([]byte(res.Stdout), &out); err != nil {
		t.Fatalf("list-tags output is not JSON: %v\n%s", err, res.Stdout)
	}
	sort.Strings(out.Tags)
	return out
}

func TestListTags(t *testing.T) {
	img := fixture.Busybox(t)
	reg := registry.Start(t, registry.Options{Flavour: registry.TLSAuth})
	for _, tag := range []string{"a", "b", "c"} {
		fixture.Push(t, img, reg.Ref("tags:"+tag), reg.SystemContext())
	}
	fixture.Push(t, img, reg.Ref("other:x"), reg.SystemContext())
	flags := reg.Flags("")

	out := listTags(t, append(flags, reg.Ref("tags"))...)
	if out.Repository != reg.Addr+"/tags" || strings.Join(out.Tags, ",") != "a,b,c" {
		t.Fatalf("list-tags: %+v", out)
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{append(flags, reg.Ref("tags:a")), "without a tag"},
		{append(flags, "oci:"+img.Dir), "only docker://REPOSITORY and docker-archive:PATH"},
		{[]string{"--cert-dir", reg.CertDir, reg.Ref("tags")}, "authentication required"},
		{append(flags, reg.Ref("never")), "never"},
	} {
		res := bin.Run(t, nil, "transport", append([]string{"list-tags"}, c.args...)...)
		if res.Code == 0 {
			t.Fatalf("list-tags %v succeeded: %s", c.args, res.Stdout)
		}
		assertOneLine(t, res.Stderr, c.want)
	}
}

// TestListTagsArchive: a docker-archive lists its references, without a
// Repository, like skopeo.
func TestListTagsArchive(t *testing.T) {
	p := fixture.DockerArchive(t, fixture.Busybox(t), "example.com/team/bb:1.0")
	res := transport(t, "list-tags", "docker-archive:"+p)
	var raw map[string]any
	if err := json.Unmarshal([]byte(res.Stdout), &raw); err != nil {
		t.Fatal(err)
	}
	if _, ok := raw["Repository"]; ok {
		t.Fatalf("archive listing has a Repository: %s", res.Stdout)
	}
	if out := listTags(t, "docker-archive:"+p); strings.Join(out.Tags, ",") != "example.com/team/bb:1.0" {
		t.Fatalf("archive tags: %+v", out)
	}
	res = bin.Run(t, nil, "transport", "list-tags", "docker-archive:"+filepath.Join(t.TempDir(), "none.tar"))
	if res.Code != 1 {
		t.Fatalf("missing archive: exit %d", res.Code)
	}
	assertOneLine(t, res.Stderr, "none.tar")
}

func TestDelete(t *testing.T) {
	reg := registry.Start(t, registry.Options{Flavour: registry.TLS})
	keep, gone := fixture.Busybox(t), fixture.MultiLayer(t, 1, 1024)
	fixture.Push(t, keep, reg.Ref("del:keep"), reg.SystemContext())
	fixture.Push(t, gone, reg.Ref("del:gone"), reg.SystemContext())
	fixture.Push(t, gone, reg.Ref("bydigest:1"), reg.SystemContext())
	flags := reg.Flags("")

	res := transport(t, append(append([]string{"delete"}, flags...), reg.Ref("del:gone"))...)
	if res.Stdout != "" {
		t.Fatalf("delete printed %q", res.Stdout)
	}
	if s := reg.ManifestStatus("del", "gone"); s != http.StatusNotFound {
		t.Fatalf("after delete: manifest status %d, want 404", s)
	}
	if s := reg.ManifestStatus("del", "keep"); s != http.StatusOK {
		t.Fatalf("the other tag's manifest: status %d, want 200", s)
	}
	if out := listTags(t, append(flags, reg.Ref("del"))...); strings.Join(out.Tags, ",") != "keep" {
		t.Fatalf("tags after delete: %v", out.Tags)
	}
	res = bin.Run(t, nil, "transport", append(append([]string{"inspect"}, flags...), reg.Ref("del:gone"))...)
	if res.Code != 2 {
		t.Fatalf("inspect after delete: exit %d, want 2", res.Code)
	}

	// By digest.
	transport(t, append(append([]string{"delete"}, flags...), reg.Ref("bydigest@"+gone.Digest.String()))...)
	if s := reg.ManifestStatus("bydigest", gone.Digest.String()); s != http.StatusNotFound {
		t.Fatalf("after delete by digest: status %d, want 404", s)
	}

	// A missing image is a one-line error.
	res = bin.Run(t, nil, "transport", append(append([]string{"delete"}, flags...), reg.Ref("del:never"))...)
	if res.Code == 0 {
		t.Fatal("deleting a missing image succeeded")
	}
	assertOneLine(t, res.Stderr, "del:never", "may not exist")
}

// TestDeleteRefused: a registry that does not allow deletion (405
// UNSUPPORTED) gives a clear error and keeps the image.
func TestDeleteRefused(t *testing.T) {
	// docker-registry reads configuration overrides from its environment.
	t.Setenv("REGISTRY_STORAGE_DELETE_ENABLED", "false")
	reg := registry.Start(t, registry.Options{})
	fixture.Push(t, fixture.Busybox(t), reg.Ref("bb:1"), reg.SystemContext())
	res := bin.Run(t, nil, "transport", append(append([]string{"delete"}, reg.Flags("")...), reg.Ref("bb:1"))...)
	if res.Code != 1 {
		t.Fatalf("delete on a registry without deletion: exit %d, want 1", res.Code)
	}
	assertOneLine(t, res.Stderr, "bb:1", "does not allow deleting")
	refused := 0
	for _, q := range reg.Requests() {
		if q.Method == http.MethodDelete && q.Status == http.StatusMethodNotAllowed {
			refused++
		}
	}
	if refused != 1 {
		t.Fatalf("%d DELETE requests refused with 405, want 1 (not retried)", refused)
	}
	if s := reg.ManifestStatus("bb", "1"); s != http.StatusOK {
		t.Fatalf("manifest status %d after a refused delete", s)
	}
}

func TestManifestDigest(t *testing.T) {
	for name, img := range map[string]fixture.Image{"manifest": fixture.Busybox(t), "index": fixture.MultiArch(t)} {
		b, err := os.ReadFile(filepath.Join(img.Dir, "blobs", "sha256", img.Digest.Encoded()))
		if err != nil {
			t.Fatal(err)
		}
		p := writeFile(t, name+".json", string(b))
		res := transport(t, "manifest-digest", p)
		if want := fmt.Sprintf("sha256:%x\n", sha256.Sum256(b)); res.Stdout != want {
			t.Fatalf("manifest-digest of the %s: %q, want %q", name, res.Stdout, want)
		}
	}
	res := bin.Run(t, nil, "transport", "manifest-digest", filepath.Join(t.TempDir(), "manifest.json.missing"))
	if res.Code != 1 {
		t.Fatalf("missing file: exit %d", res.Code)
	}
	assertOneLine(t, res.Stderr, "manifest.json.missing")
}
