package e2e

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// rewriteArchive copies the uncompressed checkpoint archive src to dst,
// passing each entry's content through edit (nil: drop the entry) and
// writing the index at the end anew, as an engine would have: the result
// is an archive that is complete and consistent, with other content.
func rewriteArchive(t *testing.T, src, dst string, edit func(name string, b []byte) []byte) {
	t.Helper()
	f, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	type entry struct {
		Name   string `json:"name"`
		Size   int64  `json:"size"`
		SHA256 string `json:"sha256"`
	}
	var index []entry
	var out bytes.Buffer
	tw := tar.NewWriter(&out)
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("reading %s: %v", src, err)
		}
		if hdr.Name == "index.json" {
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if b = edit(hdr.Name, b); b == nil {
			continue
		}
		sum := sha256.Sum256(b)
		index = append(index, entry{Name: hdr.Name, Size: int64(len(b)), SHA256: hex.EncodeToString(sum[:])})
		hdr.Size = int64(len(b))
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	ib, _ := json.Marshal(index)
	if err := tw.WriteHeader(&tar.Header{Name: "index.json", Size: int64(len(ib)), Mode: 0o600, Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write(ib); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, out.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

// editManifest returns an edit for rewriteArchive that changes
// manifest.json's fields.
func editManifest(t *testing.T, set map[string]any) func(string, []byte) []byte {
	return func(name string, b []byte) []byte {
		if name != "manifest.json" {
			return b
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("manifest.json: %v", err)
		}
		for k, v := range set {
			m[k] = v
		}
		out, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
}

// archiveEntries lists the entry names of an uncompressed archive.
func archiveEntries(t *testing.T, p string) []string {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var names []string
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return names
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, hdr.Name)
	}
}

// afterEntry is the offset in the uncompressed archive b of the data of
// the entry that follows entry name.
func afterEntry(t *testing.T, b []byte, name string) int {
	t.Helper()
	r := bytes.NewReader(b)
	tr := tar.NewReader(r)
	found := false
	for {
		hdr, err := tr.Next()
		if err != nil {
			t.Fatalf("no entry after %s: %v", name, err)
		}
		if found {
			return len(b) - r.Len()
		}
		found = hdr.Name == name
	}
}

// checkpoint --include-image: a target in a network namespace of its own,
// where the registry the base image came from cannot be reached, and
// without the image. Without the image in the archive the restore fails in
// one line naming the image and leaves nothing; with it the target loads
// the image from the archive (the ID the checkpoint pins) and the counter
// goes on, also through migrate --include-image. An archive whose image is
// another one than the pinned ID is refused in one line, nothing created
// and no image loaded.
func TestEngineCheckpointIncludeImage(t *testing.T) {
	reg, src, _ := registryStores(t)
	base := reg.Host() + "/app/bb:1"
	src.must(t, "push", "localhost/bb:latest", "docker://"+base)
	src.must(t, "pull", base)
	baseID := src.id(t, base)
	src.must(t, "run", "-d", "--name", "loop", base, counterLoop[0], counterLoop[1], counterLoop[2])
	src.waitCounter(t, "loop", 20)

	// The target's registries.conf names the registry, but from its
	// namespace the registry (on the host's loopback) is out of reach.
	dst := newNSEngine(t, src.env...)
	if out, err := dst.ns.run(t, "curl", "-sS", "-m", "2", "http://"+reg.Host()+"/v2/"); err == nil {
		t.Fatalf("the registry answers in the target's namespace: %s", out)
	}

	dir := t.TempDir()
	without := filepath.Join(dir, "without.tar")
	src.must(t, "container", "checkpoint", "-R", "--compress", "none", "-e", without, "loop")
	with := filepath.Join(dir, "with.tar")
	src.must(t, "container", "checkpoint", "--compress", "none", "--include-image", "-e", with, "loop")
	at := src.fileCounter(t, "loop")
	names := archiveEntries(t, with)
	if len(names) < 2 || names[1] != "image/docker-archive.tar" {
		t.Fatalf("--include-image archive entries %v, want the image right after the manifest", names)
	}
	for _, n := range archiveEntries(t, without) {
		if strings.HasPrefix(n, "image/") {
			t.Fatalf("an archive without --include-image has %s", n)
		}
	}

	// Without the image: one line naming it, nothing left.
	res := dst.run(t, "container", "restore", "-i", without)
	if res.Code != 125 {
		t.Fatalf("restore without the image: exit %d", res.Code)
	}
	assertOneLine(t, res.Stderr, base, "not in this store", "--include-image")
	if out := dst.must(t, "ps", "-aq").Stdout + dst.must(t, "images", "-q").Stdout; out != "" {
		t.Fatalf("the failed restore left %q", out)
	}

	// restore --check says where the image will come from.
	if out := dst.must(t, "container", "restore", "--check", "-i", with).Stdout; !strings.Contains(out, "loads it from the archive") {
		t.Fatalf("restore --check of an archive with its image:\n%s", out)
	}

	// Another image in the archive's place: refused before loading.
	other := newEngineStore(t)
	layer := filepath.Join(dir, "layer.tar")
	writeTar(t, layer, []string{"hello"}, []string{"hi"})
	other.must(t, "import", layer, base)
	otherArchive := filepath.Join(dir, "other-image.tar")
	other.must(t, "save", "-o", otherArchive, base)
	otherImage, err := os.ReadFile(otherArchive)
	if err != nil {
		t.Fatal(err)
	}
	swapped := filepath.Join(dir, "swapped.tar")
	rewriteArchive(t, with, swapped, func(name string, b []byte) []byte {
		if name == "image/docker-archive.tar" {
			return otherImage
		}
		return b
	})
	res = dst.run(t, "container", "restore", "-i", swapped)
	if res.Code != 125 {
		t.Fatalf("restore with another image in the archive: exit %d", res.Code)
	}
	assertOneLine(t, res.Stderr, "its image is", "not "+baseID[:12])
	if out := dst.must(t, "ps", "-aq").Stdout + dst.must(t, "images", "-q").Stdout; out != "" {
		t.Fatalf("the refused restore left %q", out)
	}

	// An image entry the manifest does not list is no part of an archive.
	unlisted := filepath.Join(dir, "unlisted.tar")
	rewriteArchive(t, with, unlisted, editManifest(t, map[string]any{"imageArchive": ""}))
	res = dst.run(t, "container", "restore", "-i", unlisted)
	if res.Code != 125 {
		t.Fatalf("restore of an archive with an unlisted image: exit %d", res.Code)
	}
	assertOneLine(t, res.Stderr, "image/docker-archive.tar", "not listed")

	// Cut short after the image, in CRIU's first image: the image loaded
	// meanwhile goes again with the container.
	wb, err := os.ReadFile(with)
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(dir, "cut.tar")
	if err := os.WriteFile(cut, wb[:afterEntry(t, wb, "image/docker-archive.tar")+1024], 0o600); err != nil {
		t.Fatal(err)
	}
	res = dst.run(t, "container", "restore", "-i", cut)
	if res.Code != 125 {
		t.Fatalf("restore of a truncated archive with its image: exit %d", res.Code)
	}
	assertOneLine(t, res.Stderr, "truncated")
	if out := dst.must(t, "ps", "-aq").Stdout + dst.must(t, "images", "-q").Stdout; out != "" {
		t.Fatalf("the truncated archive's restore left %q", out)
	}

	// With the image: loaded under its name and pinned ID, the counter
	// goes on.
	dst.must(t, "container", "restore", "-i", with, "-n", "copy")
	dst.assertResumed(t, "copy", at)
	if id := strings.TrimSpace(dst.must(t, "image", "inspect", "--format", "{{.Id}}", base).Stdout); !strings.Contains(id, baseID) {
		t.Fatalf("the target's %s is %q, want %s", base, id, baseID)
	}

	// migrate --include-image into another such target.
	src.must(t, "container", "restore", "loop")
	src.waitCounter(t, "loop", at+1)
	dst2 := newNSEngine(t, src.env...)
	res = src.run(t, "container", "migrate", "--to", dst2.targetCommand(t), "loop")
	if res.Code != 125 {
		t.Fatalf("migrate without the image to a target without it: exit %d", res.Code)
	}
	assertOneLine(t, res.Stderr, base, "runs here again")
	at = src.counter(t, "loop")
	src.must(t, "container", "migrate", "--include-image", "--to", dst2.targetCommand(t), "--name", "moved", "loop")
	dst2.assertResumed(t, "moved", at)
}
