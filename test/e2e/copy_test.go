package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
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
	storage := overlayStore(t)
	steps := [][]string{
		append(auth.Flags("src-"), auth.Ref("bb:1"), "dir:"+dir),
		{"dir:" + dir, "oci-archive:" + ociArchive + ":bb:1"},
		{"--additional-tag", "example.test/extra:2", "oci-archive:" + ociArchive, "docker-archive:" + dockerArchive + ":bb:1"},
		// Read back through the additional tag.
		append(plain.Flags("dest-"), "docker-archive:"+dockerArchive+":example.test/extra:2", plain.Ref("fromarchive:2")),
		append(plain.Flags("src-"), plain.Ref("fromarchive:2"), storage+"example.test/bb:stored"),
		append(plain.Flags("dest-"), storage+"example.test/bb:stored", plain.Ref("fromstorage:1")),
		{storage + "example.test/bb:stored", "oci:" + filepath.Join(tmp, "layout") + ":back"},
	}
	for _, s := range steps {
		transport(t, append([]string{"copy"}, s...)...)
	}
	if s := plain.ManifestStatus("fromstorage", "1"); s != 200 {
		t.Fatalf("containers-storage -> registry: manifest status %d", s)
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

// overlayStore returns a "containers-storage:[overlay@ROOT+RUNROOT]"
// prefix for a store in a temp dir, unmounted when the test ends.
func overlayStore(t *testing.T) string {
	t.Helper()
	tmp := t.TempDir()
	t.Cleanup(func() { unmountUnder(t, tmp) })
	return "containers-storage:[overlay@" + filepath.Join(tmp, "root") + "+" + filepath.Join(tmp, "run") + "]"
}

// unmountUnder detaches every mount below dir (containers/storage keeps
// the overlay home bind-mounted after the process exits), deepest first.
func unmountUnder(t *testing.T, dir string) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Error(err)
		return
	}
	var points []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && strings.HasPrefix(f[4], dir+"/") {
			points = append(points, f[4])
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(points)))
	for _, p := range points {
		if err := syscall.Unmount(p, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmounting %s: %v", p, err)
		}
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

// TestCopyMultiArch: --all (-a) copies the index and every instance, the
// default copies the machine's instance only, --override-arch picks
// another, and --multi-arch index-only copies the index alone.
func TestCopyMultiArch(t *testing.T) {
	idx := fixture.MultiArch(t)
	reg := registry.Start(t, registry.Options{})
	flags := reg.Flags("dest-")

	transport(t, append([]string{"copy", "-a"}, append(flags, idx.Ref(), reg.Ref("multi:all"))...)...)
	b, mt, d := getManifest(t, reg, "multi", "all")
	if d != idx.Digest.String() || mt != "application/vnd.oci.image.index.v1+json" {
		t.Fatalf("-a: got %s (%s), want the index %s", d, mt, idx.Digest)
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
	instance := map[string]string{}
	for _, m := range index.Manifests {
		instance[m.Platform.Architecture] = m.Digest
		if s := reg.ManifestStatus("multi", m.Digest); s != 200 {
			t.Fatalf("-a: %s instance %s missing (status %d)", m.Platform.Architecture, m.Digest, s)
		}
	}
	if len(instance) != 2 || instance["amd64"] == "" || instance["arm64"] == "" {
		t.Fatalf("index platforms %v, want amd64 and arm64", instance)
	}

	reg2 := registry.Start(t, registry.Options{})
	transport(t, append([]string{"copy"}, append(flags, idx.Ref(), reg2.Ref("multi:system"))...)...)
	_, mt, d = getManifest(t, reg2, "multi", "system")
	if d != instance["amd64"] || strings.Contains(mt, "index") {
		t.Fatalf("default copy wrote %s (%s), want the amd64 image %s", d, mt, instance["amd64"])
	}
	if s := reg2.ManifestStatus("multi", instance["arm64"]); s != 404 {
		t.Fatalf("default copy also copied the arm64 image (status %d)", s)
	}
	transport(t, append([]string{"--override-arch", "arm64", "copy"}, append(flags, idx.Ref(), reg2.Ref("multi:arm"))...)...)
	if _, _, d := getManifest(t, reg2, "multi", "arm"); d != instance["arm64"] {
		t.Fatalf("--override-arch arm64 wrote %s, want %s", d, instance["arm64"])
	}

	// --multi-arch index-only copies the index and no instance.
	layout := filepath.Join(t.TempDir(), "idx")
	transport(t, "copy", "--multi-arch", "index-only", idx.Ref(), "oci:"+layout+":only")
	for arch, dg := range instance {
		if _, err := os.Stat(blobPath(layout, dg)); err == nil {
			t.Fatalf("index-only copied the %s instance", arch)
		}
	}
	if _, err := os.Stat(blobPath(layout, idx.Digest.String())); err != nil {
		t.Fatalf("index-only did not copy the index: %v", err)
	}
	// --multi-arch all is --all.
	allLayout := filepath.Join(t.TempDir(), "all")
	transport(t, "copy", "--multi-arch", "all", idx.Ref(), "oci:"+allLayout+":all")
	for _, dg := range append([]string{idx.Digest.String()}, instance["amd64"], instance["arm64"]) {
		if _, err := os.Stat(blobPath(allLayout, dg)); err != nil {
			t.Fatalf("--multi-arch all did not copy %s: %v", dg, err)
		}
	}
	res := bin.Run(t, nil, "transport", "copy", "--all", "--multi-arch", "system", idx.Ref(), "oci:"+layout+":x")
	if res.Code != 1 {
		t.Fatalf("--all with --multi-arch system: exit %d, want 1", res.Code)
	}
	assertOneLine(t, res.Stderr, "--all", "--multi-arch")
}

// TestCopyFormatsAndCompression: --format (-f) sets the manifest type,
// --digestfile holds what the registry reports, --preserve-digests keeps
// the digest (and refuses a conversion), --dest-compress-format zstd
// recompresses the layers, --dest-precompute-digests compresses before
// the upload.
func TestCopyFormatsAndCompression(t *testing.T) {
	img := fixture.Busybox(t)
	reg := registry.Start(t, registry.Options{})
	f := reg.Flags("dest-")
	digestFile := filepath.Join(t.TempDir(), "digest")

	transport(t, append([]string{"copy", "-f", "v2s2", "--digestfile", digestFile}, append(f, img.Ref(), reg.Ref("fmt:v2s2"))...)...)
	_, mt, d := getManifest(t, reg, "fmt", "v2s2")
	if mt != "application/vnd.docker.distribution.manifest.v2+json" {
		t.Fatalf("--format v2s2: media type %s", mt)
	}
	got, _ := os.ReadFile(digestFile)
	if string(got) != d || d == img.Digest.String() {
		t.Fatalf("--digestfile has %q, registry says %q (source %s)", got, d, img.Digest)
	}

	transport(t, append([]string{"copy", "--format", "oci", "--preserve-digests", "--digestfile", digestFile}, append(f, img.Ref(), reg.Ref("fmt:oci"))...)...)
	_, mt, d = getManifest(t, reg, "fmt", "oci")
	if mt != "application/vnd.oci.image.manifest.v1+json" || d != img.Digest.String() {
		t.Fatalf("--format oci --preserve-digests: %s %s, want OCI %s", mt, d, img.Digest)
	}
	if got, _ := os.ReadFile(digestFile); string(got) != d {
		t.Fatalf("--digestfile has %q, registry says %q", got, d)
	}
	// Converting while preserving digests is refused, not done silently.
	res := bin.Run(t, nil, "transport", append([]string{"copy", "--format", "v2s2", "--preserve-digests"}, append(f, img.Ref(), reg.Ref("fmt:nope"))...)...)
	if res.Code != 1 || reg.ManifestStatus("fmt", "nope") != 404 {
		t.Fatalf("--preserve-digests with a format change: exit %d", res.Code)
	}
	assertOneLine(t, res.Stderr, "preserving digests")

	transport(t, append([]string{"copy", "--dest-compress-format", "zstd", "--dest-compress-level", "3", "--force-compress-format"}, append(f, img.Ref(), reg.Ref("fmt:zstd"))...)...)
	b, _, _ := getManifest(t, reg, "fmt", "zstd")
	layers := manifestLayers(t, b)
	if len(layers) == 0 {
		t.Fatal("no layers")
	}
	for _, l := range layers {
		if l != "application/vnd.oci.image.layer.v1.tar+zstd" {
			t.Fatalf("--dest-compress-format zstd: layer media type %s", l)
		}
	}
	// Uncompressed layers pushed with --dest-precompute-digests arrive
	// compressed under the digest computed before the upload.
	plain := filepath.Join(t.TempDir(), "plain")
	transport(t, "copy", "--dest-decompress", img.Ref(), "dir:"+plain)
	transport(t, append([]string{"copy", "--dest-precompute-digests", "--tmpdir", t.TempDir()}, append(f, "dir:"+plain, reg.Ref("fmt:pre"))...)...)
	b, _, _ = getManifest(t, reg, "fmt", "pre")
	if l := manifestLayers(t, b); len(l) != 1 || !strings.HasSuffix(l[0], "gzip") {
		t.Fatalf("--dest-precompute-digests: layers %v", l)
	}
	res = bin.Run(t, nil, "transport", append([]string{"copy", "--dest-compress-format", "lzma"}, append(f, img.Ref(), reg.Ref("fmt:bad"))...)...)
	if res.Code != 1 {
		t.Fatalf("unknown compression: exit %d", res.Code)
	}
	assertOneLine(t, res.Stderr, "lzma")
}

// TestCopyProgress: on a terminal the copy shows its progress, --quiet
// (-q) shows nothing; when stdout is not a terminal nothing is printed,
// and --log-level info logs the steps instead.
func TestCopyProgress(t *testing.T) {
	img := fixture.Busybox(t)
	out := t.TempDir()
	tty := runOnTerminal(t, "copy", img.Ref(), "dir:"+filepath.Join(out, "tty"))
	if !strings.Contains(tty, "Copying blob") || !strings.Contains(tty, "Writing manifest") {
		t.Fatalf("no progress on a terminal: %q", tty)
	}
	for _, q := range []string{"--quiet", "-q"} {
		if tty := runOnTerminal(t, "copy", q, img.Ref(), "dir:"+filepath.Join(out, q)); tty != "" {
			t.Fatalf("%s printed %q on a terminal", q, tty)
		}
	}
	res := transport(t, "copy", img.Ref(), "dir:"+filepath.Join(out, "pipe"))
	if res.Stdout != "" || res.Stderr != "" {
		t.Fatalf("copy to a pipe printed %q / %q", res.Stdout, res.Stderr)
	}
	res = transport(t, "--log-level", "info", "copy", img.Ref(), "dir:"+filepath.Join(out, "info"))
	if res.Stdout != "" || !strings.Contains(res.Stderr, "Copying blob") || !strings.Contains(res.Stderr, img.Layers[0].String()) {
		t.Fatalf("--log-level info: stdout %q, stderr %q", res.Stdout, res.Stderr)
	}
}

// runOnTerminal runs transport on a pseudo-terminal (script(1), sized by
// stty) and returns what it wrote there.
func runOnTerminal(t *testing.T, args ...string) string {
	t.Helper()
	cmdline := "stty cols 120 rows 40; exec " + bin.Path(t, "transport")
	for _, a := range args {
		cmdline += " '" + a + "'"
	}
	out, err := exec.Command("script", "-qec", cmdline, "/dev/null").CombinedOutput()
	if err != nil {
		t.Fatalf("transport %s on a terminal: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
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
	before, heads := dst.Uploads(), countRequests(dst, "HEAD", "/v2/big/blobs/")
	bin.MustRun(t, nil, "transport", append(copyArgs, src.Ref("big:1"), dst.Ref("big:2"))...)
	if n := dst.Uploads() - before; n != 0 {
		t.Fatalf("repeat copy uploaded %d blobs, want 0", n)
	}
	if n := countRequests(dst, "HEAD", "/v2/big/blobs/") - heads; n < len(img.Layers) {
		t.Fatalf("repeat copy checked %d blobs with HEAD, want at least the %d layers", n, len(img.Layers))
	}
	if _, _, d := getManifest(t, dst, "big", "2"); d != img.Digest.String() {
		t.Fatalf("repeat copy wrote %s, want %s", d, img.Digest)
	}
	// Same registry, other repository: every layer is mounted from the
	// first repository, none uploaded (containers/image still re-uploads the
	// small config blob).
	transport(t, "copy", "--src-cert-dir", dst.CertDir, "--dest-cert-dir", dst.CertDir, dst.Ref("big:1"), dst.Ref("other:1"))
	if n := countRequests(dst, "PATCH", "/v2/other/blobs/uploads/"); n > 1 {
		t.Fatalf("%d blobs were uploaded to the second repository, want the config at most", n)
	}
	assertMounted(t, dst, img, "other", "big")
}

// TestCopyRepeatSkips: copying an image again to a registry that already
// holds it under that tag writes nothing and reads no blob; the trust
// policy is still enforced, and options that change the image (a format
// conversion) still copy.
func TestCopyRepeatSkips(t *testing.T) {
	img := fixture.MultiLayer(t, 2, 256<<10)
	src := registry.Start(t, registry.Options{})
	dst := registry.Start(t, registry.Options{Flavour: registry.TLS})
	fixture.Push(t, img, src.Ref("app:1"), src.SystemContext())
	args := append(append([]string{"copy"}, src.Flags("src-")...), dst.Flags("dest-")...)
	transport(t, append(args, src.Ref("app:1"), dst.Ref("app:1"))...)

	srcBefore, dstBefore := len(src.Requests()), len(dst.Requests())
	digestFile := filepath.Join(t.TempDir(), "digest")
	transport(t, append(args, "--digestfile", digestFile, src.Ref("app:1"), dst.Ref("app:1"))...)
	if got, _ := os.ReadFile(digestFile); string(got) != img.Digest.String() {
		t.Fatalf("--digestfile of a skipped copy: %q, want %s", got, img.Digest)
	}
	for _, q := range dst.Requests()[dstBefore:] {
		if q.Method != "GET" && q.Method != "HEAD" {
			t.Fatalf("repeat copy wrote to the destination: %s %s", q.Method, q.Path)
		}
	}
	if n := len(dst.Requests()) - dstBefore; n > 3 {
		t.Fatalf("repeat copy made %d requests at the destination, want at most 3 (pings and the manifest)", n)
	}
	for _, q := range src.Requests()[srcBefore:] {
		if strings.Contains(q.Path, "/blobs/") {
			t.Fatalf("repeat copy read a blob from the source: %s %s", q.Method, q.Path)
		}
	}

	// A policy rejecting the source still stops the copy.
	policy := writeFile(t, "policy.json", fmt.Sprintf(`{"default":[{"type":"insecureAcceptAnything"}],"transports":{"docker":{%q:[{"type":"reject"}]}}}`, src.Addr))
	res := bin.Run(t, nil, "transport", append([]string{"--policy", policy}, append(args, src.Ref("app:1"), dst.Ref("app:1"))...)...)
	if res.Code != 1 {
		t.Fatalf("repeat copy of a rejected image: exit %d, want 1", res.Code)
	}
	assertOneLine(t, res.Stderr, "rejected")

	// A conversion is a copy, although the destination holds the original.
	transport(t, append(args, "--format", "v2s2", src.Ref("app:1"), dst.Ref("app:1"))...)
	if _, mt, _ := getManifest(t, dst, "app", "1"); mt != "application/vnd.docker.distribution.manifest.v2+json" {
		t.Fatalf("--format v2s2 over an existing OCI image: media type %s", mt)
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

// TestCopyAuth: --authfile serves both sides, --src-authfile and
// --dest-authfile win over it, REGISTRY_AUTH_FILE is the default,
// --dest-username/--dest-password work, and --src-no-creds ignores the
// stored credentials.
func TestCopyAuth(t *testing.T) {
	img := fixture.Busybox(t)
	reg := registry.Start(t, registry.Options{Flavour: registry.TLSAuth})
	authJSON := func(user, pass string) string {
		enc := base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
		return writeFile(t, "auth.json", fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, reg.Addr, enc))
	}
	good, bad := authJSON(reg.Username, reg.Password), authJSON(reg.Username, "wrong")
	certs := []string{"--src-cert-dir", reg.CertDir, "--dest-cert-dir", reg.CertDir}
	run := func(env []string, args ...string) bin.Result {
		return bin.Run(t, env, "transport", append(append([]string{"copy"}, certs...), args...)...)
	}
	mustRun := func(env []string, args ...string) {
		t.Helper()
		if res := run(env, args...); res.Code != 0 {
			t.Fatalf("copy %v: %s", args, res.Stderr)
		}
	}

	mustRun(nil, "--authfile", good, img.Ref(), reg.Ref("auth:1"))
	mustRun(nil, "--authfile", good, reg.Ref("auth:1"), reg.Ref("auth:2")) // both sides
	mustRun(nil, "--authfile", bad, "--src-authfile", good, reg.Ref("auth:1"), "dir:"+t.TempDir())
	mustRun(nil, "--authfile", bad, "--dest-authfile", good, img.Ref(), reg.Ref("auth:3"))
	mustRun([]string{"REGISTRY_AUTH_FILE=" + good}, reg.Ref("auth:1"), reg.Ref("auth:4"))
	mustRun(nil, "--dest-username", reg.Username, "--dest-password", reg.Password, img.Ref(), reg.Ref("auth:5"))
	for _, tag := range []string{"2", "3", "4", "5"} {
		if s := reg.ManifestStatus("auth", tag); s != 200 {
			t.Fatalf("auth:%s: manifest status %d", tag, s)
		}
	}

	for _, c := range []struct {
		name string
		args []string
	}{
		{"--authfile with a wrong password", []string{"--authfile", bad}},
		{"--src-no-creds", []string{"--src-no-creds"}},
	} {
		res := run([]string{"REGISTRY_AUTH_FILE=" + good}, append(c.args, reg.Ref("auth:1"), "dir:"+t.TempDir())...)
		if res.Code != 1 {
			t.Fatalf("%s: exit %d, want 1", c.name, res.Code)
		}
		assertOneLine(t, res.Stderr, "authentication required", reg.Addr)
	}
	res := run(nil, "--dest-username", reg.Username, img.Ref(), reg.Ref("auth:6"))
	if res.Code != 1 {
		t.Fatalf("--dest-username without --dest-password: exit %d", res.Code)
	}
	assertOneLine(t, res.Stderr, "--password")
}

// TestCopyLocalOptions covers the flags that shape local destinations:
// --dest-decompress, --dest-compress (with a format and level),
// --dest-oci-accept-uncompressed-layers, --src/--dest-shared-blob-dir,
// --remove-signatures, --image-parallel-copies, --src-daemon-host.
func TestCopyLocalOptions(t *testing.T) {
	img := fixture.Busybox(t)
	tmp := t.TempDir()
	path := func(name string) string { return filepath.Join(tmp, name) }
	layer := img.Layers[0].Encoded()

	// dir: layers as stored, decompressed, recompressed.
	transport(t, "copy", img.Ref(), "dir:"+path("asis"))
	assertMagic(t, filepath.Join(path("asis"), layer), gzipMagic)
	transport(t, "copy", "--dest-decompress", img.Ref(), "dir:"+path("plain"))
	plainLayer := onlyLayer(t, path("plain"))
	if b := readFile(t, plainLayer); len(b) < 262 || string(b[257:262]) != "ustar" {
		t.Fatalf("--dest-decompress: %s is not a tar", plainLayer)
	}
	transport(t, "copy", "--dest-compress", "dir:"+path("plain"), "dir:"+path("gzip"))
	assertMagic(t, onlyLayer(t, path("gzip")), gzipMagic)
	transport(t, "copy", "--dest-compress", "--dest-compress-format", "zstd", "--dest-compress-level", "5", "dir:"+path("plain"), "dir:"+path("zstd"))
	assertMagic(t, onlyLayer(t, path("zstd")), zstdMagic)

	// oci: compresses uncompressed layers unless told not to.
	transport(t, "copy", "dir:"+path("plain"), "oci:"+path("oci-gz")+":x")
	transport(t, "copy", "--dest-oci-accept-uncompressed-layers", "dir:"+path("plain"), "oci:"+path("oci-tar")+":x")
	for dir, want := range map[string]string{"oci-gz": "application/vnd.oci.image.layer.v1.tar+gzip", "oci-tar": "application/vnd.oci.image.layer.v1.tar"} {
		if got := ociLayerTypes(t, path(dir), "x"); len(got) != 1 || got[0] != want {
			t.Fatalf("%s: layer types %v, want %s", dir, got, want)
		}
	}

	// Shared blob directory: the blobs go there, not into the layout.
	transport(t, "copy", "--dest-shared-blob-dir", path("shared"), img.Ref(), "oci:"+path("slim")+":x")
	if _, err := os.Stat(filepath.Join(path("shared"), "sha256", layer)); err != nil {
		t.Fatalf("--dest-shared-blob-dir: layer not in the shared directory: %v", err)
	}
	if _, err := os.Stat(blobPath(path("slim"), img.Layers[0].String())); err == nil {
		t.Fatal("--dest-shared-blob-dir: the layer was also written into the layout")
	}
	transport(t, "copy", "--src-shared-blob-dir", path("shared"), "oci:"+path("slim")+":x", "dir:"+path("fromshared"))
	assertMagic(t, filepath.Join(path("fromshared"), layer), gzipMagic)

	// Signatures travel with the image unless --remove-signatures.
	sig := append([]byte{0xa3}, "opaque simple-signing payload"...)
	if err := os.WriteFile(filepath.Join(path("asis"), "signature-1"), sig, 0o644); err != nil {
		t.Fatal(err)
	}
	transport(t, "copy", "dir:"+path("asis"), "dir:"+path("signed"))
	if got, err := os.ReadFile(filepath.Join(path("signed"), "signature-1")); err != nil || !bytes.Equal(got, sig) {
		t.Fatalf("signature not copied: %v", err)
	}
	transport(t, "copy", "--remove-signatures", "dir:"+path("asis"), "dir:"+path("unsigned"))
	if _, err := os.Stat(filepath.Join(path("unsigned"), "signature-1")); err == nil {
		t.Fatal("--remove-signatures copied the signature")
	}

	many := fixture.MultiLayer(t, 3, 64<<10)
	transport(t, "copy", "--image-parallel-copies", "1", many.Ref(), "oci:"+path("serial")+":x")
	for _, l := range many.Layers {
		if _, err := os.Stat(blobPath(path("serial"), l.String())); err != nil {
			t.Fatalf("--image-parallel-copies 1: layer %s missing", l)
		}
	}

	sock := path("no-docker.sock")
	res := bin.Run(t, nil, "transport", "copy", "--src-daemon-host", "unix://"+sock, "docker-daemon:busybox:latest", "dir:"+path("daemon"))
	if res.Code != 1 {
		t.Fatalf("--src-daemon-host to nothing: exit %d", res.Code)
	}
	assertOneLine(t, res.Stderr, sock)
}

var (
	gzipMagic = []byte{0x1f, 0x8b}
	zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func assertMagic(t *testing.T, p string, magic []byte) {
	t.Helper()
	if b := readFile(t, p); !bytes.HasPrefix(b, magic) {
		t.Fatalf("%s starts with %x, want %x", p, b[:min(len(b), 4)], magic)
	}
}

// onlyLayer returns the path of the single layer in a dir: image.
func onlyLayer(t *testing.T, dir string) string {
	t.Helper()
	var m struct {
		Layers []struct{ Digest string }
	}
	readJSON(t, filepath.Join(dir, "manifest.json"), &m)
	if len(m.Layers) != 1 {
		t.Fatalf("%s: %d layers, want 1", dir, len(m.Layers))
	}
	_, hex, _ := strings.Cut(m.Layers[0].Digest, ":")
	return filepath.Join(dir, hex)
}

// ociLayerTypes returns the layer media types of tag in an OCI layout.
func ociLayerTypes(t *testing.T, dir, tag string) []string {
	t.Helper()
	var idx struct {
		Manifests []struct {
			Digest      string
			Annotations map[string]string
		}
	}
	readJSON(t, filepath.Join(dir, "index.json"), &idx)
	for _, m := range idx.Manifests {
		if m.Annotations["org.opencontainers.image.ref.name"] == tag {
			return manifestLayers(t, readFile(t, blobPath(dir, m.Digest)))
		}
	}
	t.Fatalf("no tag %s in %s", tag, dir)
	return nil
}

// assertMounted checks that each layer of img reached repo of reg by one
// cross-repository mount from from, and was never uploaded there.
func assertMounted(t *testing.T, reg *registry.Registry, img fixture.Image, repo, from string) {
	t.Helper()
	for _, l := range img.Layers {
		enc := strings.ReplaceAll(l.String(), ":", "%3A")
		if n := countRequests(reg, "PUT", "/v2/"+repo+"/blobs/uploads/", "digest="+enc); n != 0 {
			t.Fatalf("layer %s was uploaded %d times to %s", l, n, repo)
		}
		if n := countRequests(reg, "POST", "/v2/"+repo+"/blobs/uploads/?from="+from+"&mount="+enc); n != 1 {
			t.Fatalf("layer %s was mounted %d times from %s into %s, want 1", l, n, from, repo)
		}
	}
}
