package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocisuite/suite/test/bin"
	"github.com/ocisuite/suite/test/fixture"
	"github.com/ocisuite/suite/test/registry"
)

// TestCopyTransports moves one image through every transport and checks it
// arrives unchanged at the end.
func TestCopyTransports(t *testing.T) {
	img := fixture.Busybox(t)
	plain := registry.Start(t, registry.Options{Flavour: registry.Plain})
	tlsReg := registry.Start(t, registry.Options{Flavour: registry.TLS})
	auth := registry.Start(t, registry.Options{Flavour: registry.TLSAuth})
	tmp := t.TempDir()

	transport(t, append([]string{"copy"}, append(plain.Flags("dest-"), img.Ref(), plain.Ref("bb:1"))...)...)
	_, _, d := getManifest(t, plain, "bb", "1")
	if d != img.Digest.String() {
		t.Fatalf("plain registry digest %s, want %s", d, img.Digest)
	}
	// TLS: without the CA the copy must fail; with --dest-cert-dir it works.
	res := bin.Run(t, nil, "transport", "copy", "--src-tls-verify=false", plain.Ref("bb:1"), tlsReg.Ref("bb:1"))
	if res.Code == 0 {
		t.Fatal("copy to a TLS registry with an unknown CA succeeded")
	}
	assertOneLine(t, res.Stderr, "certificate")
	transport(t, "copy", "--src-tls-verify=false", "--dest-cert-dir", tlsReg.CertDir, plain.Ref("bb:1"), tlsReg.Ref("bb:1"))
	transport(t, append([]string{"copy", "--src-cert-dir", tlsReg.CertDir}, append(auth.Flags("dest-"), tlsReg.Ref("bb:1"), auth.Ref("bb:1"))...)...)
	if _, _, d := getManifest(t, auth, "bb", "1"); d != img.Digest.String() {
		t.Fatalf("auth registry digest %s, want %s", d, img.Digest)
	}

	dir := filepath.Join(tmp, "dir")
	ociArchive := filepath.Join(tmp, "img.oci.tar")
	dockerArchive := filepath.Join(tmp, "img.docker.tar")
	storage := "containers-storage:[vfs@" + filepath.Join(tmp, "storage") + "+" + filepath.Join(tmp, "run") + "]"
	steps := [][]string{
		append(auth.Flags("src-"), auth.Ref("bb:1"), "dir:"+dir),
		{"dir:" + dir, "oci-archive:" + ociArchive + ":bb:1"},
		{"--additional-tag", "example.test/extra:2", "oci-archive:" + ociArchive, "docker-archive:" + dockerArchive + ":bb:1"},
		append(plain.Flags("dest-"), "docker-archive:"+dockerArchive+":example.test/extra:2", plain.Ref("fromarchive:2")),
		append(plain.Flags("src-"), plain.Ref("fromarchive:2"), storage+"example.test/bb:stored"),
		{storage + "example.test/bb:stored", "oci:" + filepath.Join(tmp, "layout") + ":back"},
	}
	for _, s := range steps {
		transport(t, append([]string{"copy"}, s...)...)
	}
	// The docker-archive round trip converts to v2s2; compare the layer
	// content by the uncompressed diff IDs in the final OCI layout's config.
	cfg := ociConfig(t, filepath.Join(tmp, "layout"), "back")
	orig := ociConfig(t, img.Dir, img.Tag)
	if strings.Join(cfg.RootFS.DiffIDs, ",") != strings.Join(orig.RootFS.DiffIDs, ",") || cfg.Architecture != "amd64" {
		t.Fatalf("image changed on the way: diff IDs %v, want %v", cfg.RootFS.DiffIDs, orig.RootFS.DiffIDs)
	}
	if _, err := os.Stat(filepath.Join(dir, "manifest.json")); err != nil {
		t.Fatalf("dir: destination has no manifest.json: %v", err)
	}
}

type imageConfig struct {
	Architecture string `json:"architecture"`
	RootFS       struct {
		DiffIDs []string `json:"diff_ids"`
	} `json:"rootfs"`
}

// ociConfig reads the config of tag in an OCI layout.
func ociConfig(t *testing.T, dir, tag string) imageConfig {
	t.Helper()
	var idx struct {
		Manifests []struct {
			Digest      string            `json:"digest"`
			Annotations map[string]string `json:"annotations"`
		} `json:"manifests"`
	}
	readJSON(t, filepath.Join(dir, "index.json"), &idx)
	for _, m := range idx.Manifests {
		if m.Annotations["org.opencontainers.image.ref.name"] != tag {
			continue
		}
		var man struct {
			Config struct{ Digest string } `json:"config"`
		}
		readJSON(t, blobPath(dir, m.Digest), &man)
		var cfg imageConfig
		readJSON(t, blobPath(dir, man.Config.Digest), &cfg)
		return cfg
	}
	t.Fatalf("no tag %s in %s", tag, dir)
	return imageConfig{}
}

func blobPath(dir, digest string) string {
	alg, hex, _ := strings.Cut(digest, ":")
	return filepath.Join(dir, "blobs", alg, hex)
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func TestCopyMultiArch(t *testing.T) {
	idx := fixture.MultiArch(t)
	reg := registry.Start(t, registry.Options{})
	flags := reg.Flags("dest-")

	transport(t, append([]string{"copy", "--all"}, append(flags, idx.Ref(), reg.Ref("multi:all"))...)...)
	b, mt, d := getManifest(t, reg, "multi", "all")
	if d != idx.Digest.String() || !strings.Contains(mt, "index") {
		t.Fatalf("--all: got %s (%s), want the index %s", d, mt, idx.Digest)
	}
	var index struct {
		Manifests []struct {
			Digest   string
			Platform struct{ Architecture string }
		}
	}
	if err := json.Unmarshal(b, &index); err != nil {
		t.Fatal(err)
	}
	for _, m := range index.Manifests {
		if s := reg.ManifestStatus("multi", m.Digest); s != 200 {
			t.Fatalf("--all: %s instance %s missing (status %d)", m.Platform.Architecture, m.Digest, s)
		}
	}

	transport(t, append([]string{"copy"}, append(flags, idx.Ref(), reg.Ref("multi:system"))...)...)
	_, mt, _ = getManifest(t, reg, "multi", "system")
	if strings.Contains(mt, "index") {
		t.Fatalf("default copy wrote an index (%s), want the amd64 image only", mt)
	}

	// --multi-arch index-only copies the index and no instance.
	layout := filepath.Join(t.TempDir(), "idx")
	transport(t, "copy", "--multi-arch", "index-only", idx.Ref(), "oci:"+layout+":only")
	for _, m := range index.Manifests {
		_, err := os.Stat(blobPath(layout, m.Digest))
		if err == nil {
			t.Fatalf("index-only copied instance %s", m.Platform.Architecture)
		}
	}
	if _, err := os.Stat(blobPath(layout, idx.Digest.String())); err != nil {
		t.Fatalf("index-only did not copy the index: %v", err)
	}
}

func TestCopyFormatsAndCompression(t *testing.T) {
	img := fixture.Busybox(t)
	reg := registry.Start(t, registry.Options{})
	f := reg.Flags("dest-")
	digestFile := filepath.Join(t.TempDir(), "digest")

	transport(t, append([]string{"copy", "--format", "v2s2", "--digestfile", digestFile}, append(f, img.Ref(), reg.Ref("fmt:v2s2"))...)...)
	_, mt, d := getManifest(t, reg, "fmt", "v2s2")
	if mt != "application/vnd.docker.distribution.manifest.v2+json" {
		t.Fatalf("--format v2s2: media type %s", mt)
	}
	got, _ := os.ReadFile(digestFile)
	if string(got) != d {
		t.Fatalf("--digestfile has %q, registry says %q", got, d)
	}

	transport(t, append([]string{"copy", "--format", "oci", "--preserve-digests"}, append(f, img.Ref(), reg.Ref("fmt:oci"))...)...)
	_, mt, d = getManifest(t, reg, "fmt", "oci")
	if mt != "application/vnd.oci.image.manifest.v1+json" || d != img.Digest.String() {
		t.Fatalf("--format oci --preserve-digests: %s %s, want OCI %s", mt, d, img.Digest)
	}
	// Converting while preserving digests is refused, not done silently.
	res := bin.Run(t, nil, "transport", append([]string{"copy", "--format", "v2s2", "--preserve-digests"}, append(f, img.Ref(), reg.Ref("fmt:nope"))...)...)
	if res.Code == 0 || reg.ManifestStatus("fmt", "nope") == 200 {
		t.Fatal("--preserve-digests with a format change succeeded")
	}

	transport(t, append([]string{"copy", "--dest-compress-format", "zstd", "--force-compress-format", "-q"}, append(f, img.Ref(), reg.Ref("fmt:zstd"))...)...)
	b, _, _ := getManifest(t, reg, "fmt", "zstd")
	for _, l := range manifestLayers(t, b) {
		if !strings.HasSuffix(l, "+zstd") {
			t.Fatalf("--dest-compress-format zstd: layer media type %s", l)
		}
	}
	res = transport(t, append([]string{"copy", "--quiet"}, append(f, img.Ref(), reg.Ref("fmt:quiet"))...)...)
	if res.Stdout != "" {
		t.Fatalf("--quiet printed %q", res.Stdout)
	}
}

// TestCopyBlobReuse: a second copy sends no blob, and a copy to another
// repository of the same registry mounts blobs instead of uploading them.
func TestCopyBlobReuse(t *testing.T) {
	img := fixture.MultiLayer(t, 3, 1<<20)
	src := registry.Start(t, registry.Options{})
	dst := registry.Start(t, registry.Options{Flavour: registry.TLS})
	fixture.Push(t, img, src.Ref("big:1"), src.SystemContext())
	copyArgs := append(append([]string{"copy"}, src.Flags("src-")...), dst.Flags("dest-")...)
	tmpdir := t.TempDir()
	env := []string{"TMPDIR=" + tmpdir}
	bin.MustRun(t, env, "transport", append(copyArgs, "--tmpdir", tmpdir, src.Ref("big:1"), dst.Ref("big:1"))...)
	if n := dst.Uploads(); n < 3 {
		t.Fatalf("first copy: %d blob uploads, want at least 3 layers", n)
	}
	if entries, _ := os.ReadDir(tmpdir); len(entries) != 0 {
		t.Fatalf("registry-to-registry copy wrote %d entries into TMPDIR", len(entries))
	}
	before := dst.Uploads()
	bin.MustRun(t, nil, "transport", append(copyArgs, src.Ref("big:1"), dst.Ref("big:2"))...)
	if n := dst.Uploads() - before; n != 0 {
		t.Fatalf("repeat copy uploaded %d blobs, want 0", n)
	}
	// Same registry, other repository: every layer is mounted from the
	// first repository, none uploaded (containers/image still re-uploads the
	// small config blob).
	transport(t, "copy", "--src-cert-dir", dst.CertDir, "--dest-cert-dir", dst.CertDir, dst.Ref("big:1"), dst.Ref("other:1"))
	for _, l := range img.Layers {
		enc := strings.ReplaceAll(l.String(), ":", "%3A")
		if n := countRequests(dst, "PUT", "/v2/other/blobs/uploads/", "digest="+enc); n != 0 {
			t.Fatalf("layer %s was uploaded %d times to the second repository", l, n)
		}
		if n := countRequests(dst, "POST", "/v2/other/blobs/uploads/?from=big&mount="+enc); n != 1 {
			t.Fatalf("layer %s was mounted %d times from big, want 1", l, n)
		}
	}
}

// countRequests counts requests with method whose path contains every part.
func countRequests(reg *registry.Registry, method string, parts ...string) int {
	n := 0
next:
	for _, q := range reg.Requests() {
		if q.Method != method {
			continue
		}
		for _, p := range parts {
			if !strings.Contains(q.Path, p) {
				continue next
			}
		}
		n++
	}
	return n
}

func TestCopyErrors(t *testing.T) {
	img := fixture.Busybox(t)
	auth := registry.Start(t, registry.Options{Flavour: registry.TLSAuth})

	res := bin.Run(t, nil, "transport", "copy", "--dest-cert-dir", auth.CertDir, "--dest-creds", auth.Username+":wrong", img.Ref(), auth.Ref("bb:1"))
	if res.Code != 1 {
		t.Fatalf("wrong password: exit %d, want 1", res.Code)
	}
	assertOneLine(t, res.Stderr, "authentication required", auth.Addr)
	if s := auth.ManifestStatus("bb", "1"); s != 404 {
		t.Fatalf("after a failed copy the manifest answers %d, want 404", s)
	}

	res = bin.Run(t, nil, "transport", "copy", "--src-cert-dir", auth.CertDir, "--src-creds", auth.Username+":"+auth.Password, auth.Ref("nothing:here"), "dir:"+t.TempDir())
	if res.Code != 2 {
		t.Fatalf("missing image: exit %d, want 2 (not found)", res.Code)
	}
	assertOneLine(t, res.Stderr, "nothing")

	res = bin.Run(t, nil, "transport", "copy", "busybox", "dir:/tmp/x")
	if res.Code != 1 {
		t.Fatalf("reference without transport: exit %d, want 1", res.Code)
	}
	assertOneLine(t, res.Stderr, `"busybox"`, "transport")
	res = bin.Run(t, nil, "transport", "copy", "--multi-arch", "some", img.Ref(), "dir:/tmp/x")
	if res.Code != 1 {
		t.Fatalf("bad --multi-arch: exit %d, want 1", res.Code)
	}
	assertOneLine(t, res.Stderr, "--multi-arch")
}
