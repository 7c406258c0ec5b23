package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	digest "github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocisuite/suite/test/bin"
	"github.com/ocisuite/suite/test/fixture"
	"github.com/ocisuite/suite/test/registry"
)

// inspectOut is skopeo's inspect JSON.
type inspectOut struct {
	Name          string
	Digest        string
	RepoTags      []string
	Created       *time.Time
	DockerVersion string
	Labels        map[string]string
	Architecture  string
	Variant       string
	Os            string
	Layers        []string
	LayersData    []struct {
		MIMEType string
		Digest   string
		Size     int64
	}
	Env []string
}

func decodeInspect(t *testing.T, res bin.Result) inspectOut {
	t.Helper()
	var out inspectOut
	if err := json.Unmarshal([]byte(res.Stdout), &out); err != nil {
		t.Fatalf("inspect output is not JSON: %v\n%s", err, res.Stdout)
	}
	return out
}

// labelledImage writes an OCI layout holding the busybox layer under a
// config with labels; it returns the image and its raw config blob.
func labelledImage(t *testing.T, labels map[string]string) (fixture.Image, []byte) {
	t.Helper()
	base := fixture.Busybox(t)
	blob := func(dir string, d digest.Digest) []byte {
		b, err := os.ReadFile(filepath.Join(dir, "blobs", d.Algorithm().String(), d.Encoded()))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	var m v1.Manifest
	if err := json.Unmarshal(blob(base.Dir, base.Digest), &m); err != nil {
		t.Fatal(err)
	}
	var cfg v1.Image
	if err := json.Unmarshal(blob(base.Dir, m.Config.Digest), &cfg); err != nil {
		t.Fatal(err)
	}
	cfg.Config.Labels = labels
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "blobs", "sha256"), 0o755); err != nil {
		t.Fatal(err)
	}
	put := func(b []byte) digest.Digest {
		d := digest.FromBytes(b)
		if err := os.WriteFile(filepath.Join(dir, "blobs", "sha256", d.Encoded()), b, 0o644); err != nil {
			t.Fatal(err)
		}
		return d
	}
	for _, l := range m.Layers {
		put(blob(base.Dir, l.Digest))
	}
	cb, _ := json.Marshal(cfg)
	m.Config.Digest, m.Config.Size = put(cb), int64(len(cb))
	mb, _ := json.Marshal(m)
	md := put(mb)
	idx := v1.Index{Manifests: []v1.Descriptor{{MediaType: v1.MediaTypeImageManifest, Digest: md, Size: int64(len(mb)),
		Annotations: map[string]string{v1.AnnotationRefName: "latest"}}}}
	idx.SchemaVersion = 2
	ib, _ := json.Marshal(idx)
	for name, b := range map[string][]byte{"index.json": ib, "oci-layout": []byte(`{"imageLayoutVersion":"1.0.0"}`)} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return fixture.Image{Dir: dir, Tag: "latest", Digest: md, Layers: base.Layers}, cb
}

// cfgCreated is the created time of a config blob.
func cfgCreated(t *testing.T, b []byte) *time.Time {
	t.Helper()
	var c v1.Image
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c.Created
}

func TestInspect(t *testing.T) {
	labels := map[string]string{"org.example.team": "infra", "version": "1.2"}
	img, rawConfig := labelledImage(t, labels)
	reg := registry.Start(t, registry.Options{Flavour: registry.TLSAuth})
	for _, tag := range []string{"1", "2", "latest"} {
		fixture.Push(t, img, reg.Ref("bb:"+tag), reg.SystemContext())
	}
	flags := reg.Flags("")
	run := func(args ...string) bin.Result {
		t.Helper()
		return transport(t, append(append([]string{"inspect"}, flags...), args...)...)
	}
	raw, _, dig := getManifest(t, reg, "bb", "1")

	tagLists := reg.Count("GET", "/tags/list")
	out := decodeInspect(t, run(reg.Ref("bb:1")))
	if reg.Count("GET", "/tags/list") == tagLists {
		t.Fatal("inspect made no tags/list request")
	}
	sort.Strings(out.RepoTags)
	if out.Name != reg.Addr+"/bb" || out.Digest != dig || strings.Join(out.RepoTags, ",") != "1,2,latest" ||
		out.Architecture != "amd64" || out.Os != "linux" || !reflect.DeepEqual(out.Labels, labels) ||
		len(out.Env) != 1 || !strings.HasPrefix(out.Env[0], "PATH=") {
		t.Fatalf("inspect: %+v (registry digest %s)", out, dig)
	}
	if out.Created == nil || cfgCreated(t, rawConfig) == nil || !out.Created.Equal(*cfgCreated(t, rawConfig)) {
		t.Fatalf("inspect: Created %v, want the config's", out.Created)
	}
	if len(out.Layers) != 1 || out.Layers[0] != img.Layers[0].String() ||
		len(out.LayersData) != 1 || out.LayersData[0].Digest != img.Layers[0].String() ||
		out.LayersData[0].MIMEType != v1.MediaTypeImageLayerGzip || out.LayersData[0].Size <= 0 {
		t.Fatalf("inspect layers: %v %+v, want %s", out.Layers, out.LayersData, img.Layers[0])
	}

	// --raw is the registry's manifest, byte for byte.
	if res := run("--raw", reg.Ref("bb:1")); res.Stdout != string(raw) {
		t.Fatalf("--raw differs from the registry's manifest bytes:\n%s\n%s", res.Stdout, raw)
	}
	// --config is the OCI config; --config --raw the blob as stored.
	var cfg v1.Image
	if err := json.Unmarshal([]byte(run("--config", reg.Ref("bb:1")).Stdout), &cfg); err != nil ||
		cfg.Architecture != "amd64" || strings.Join(cfg.Config.Cmd, " ") != "sh" || !reflect.DeepEqual(cfg.Config.Labels, labels) {
		t.Fatalf("--config: %v %+v", err, cfg)
	}
	if res := run("--config", "--raw", reg.Ref("bb:1")); res.Stdout != string(rawConfig) {
		t.Fatalf("--config --raw: %q, want %q", res.Stdout, rawConfig)
	}

	// --format and -f templates over the output, and over the config.
	if res := run("--format", "{{.Digest}} {{.Architecture}}", reg.Ref("bb:1")); res.Stdout != dig+" amd64\n" {
		t.Fatalf("--format: %q", res.Stdout)
	}
	if res := run("-f", "{{json .Labels}}", reg.Ref("bb:1")); res.Stdout != `{"org.example.team":"infra","version":"1.2"}`+"\n" {
		t.Fatalf("-f json .Labels: %q", res.Stdout)
	}
	if res := run("--config", "--format", `{{index .Config.Labels "version"}} {{.OS}}`, reg.Ref("bb:1")); res.Stdout != "1.2 linux\n" {
		t.Fatalf("--config --format: %q", res.Stdout)
	}

	// --no-tags and -n: RepoTags empty and no tags/list request at all.
	for _, flag := range []string{"--no-tags", "-n"} {
		before := reg.Count("GET", "/tags/list")
		out := decodeInspect(t, run(flag, reg.Ref("bb:1")))
		if n := reg.Count("GET", "/tags/list") - before; n != 0 {
			t.Fatalf("%s: %d tags/list requests", flag, n)
		}
		if out.RepoTags == nil || len(out.RepoTags) != 0 || out.Digest != dig {
			t.Fatalf("%s: %+v", flag, out)
		}
	}

	// --raw and --format don't mix; a bad template is a usage error.
	res := bin.Run(t, nil, "transport", append(append([]string{"inspect", "--raw", "--format", "{{.Digest}}"}, flags...), reg.Ref("bb:1"))...)
	if res.Code != 1 {
		t.Fatalf("--raw with --format: exit %d, want 1", res.Code)
	}
	assertOneLine(t, res.Stderr, "--format")
	res = bin.Run(t, nil, "transport", append(append([]string{"inspect", "--format", "{{.Digest"}, flags...), reg.Ref("bb:1"))...)
	if res.Code != 1 || res.Stdout != "" {
		t.Fatalf("bad template: exit %d, stdout %q", res.Code, res.Stdout)
	}
	assertOneLine(t, res.Stderr, "template")
}

// TestInspectMissing: an image that does not exist is exit code 2 (as in
// skopeo ≥ 1.10), with one line naming it, and is not retried; other
// failures are exit code 1.
func TestInspectMissing(t *testing.T) {
	reg := registry.Start(t, registry.Options{Flavour: registry.TLS})
	fixture.Push(t, fixture.Busybox(t), reg.Ref("bb:1"), reg.SystemContext())
	flags := reg.Flags("")

	before := reg.Count("GET", "/bb/manifests/missing")
	res := bin.Run(t, nil, "transport", append(append([]string{"inspect", "--retry-times", "3", "--retry-delay", "10ms"}, flags...), reg.Ref("bb:missing"))...)
	if res.Code != 2 || res.Stdout != "" {
		t.Fatalf("missing tag: exit %d, want 2; stdout %q", res.Code, res.Stdout)
	}
	assertOneLine(t, res.Stderr, "bb:missing", "manifest unknown")
	if n := reg.Count("GET", "/bb/manifests/missing") - before; n != 1 {
		t.Fatalf("missing tag fetched %d times, want 1 (not found is not retried)", n)
	}
	for _, ref := range []string{reg.Ref("nothere:1"), "oci:" + fixture.Busybox(t).Dir + ":nope"} {
		res = bin.Run(t, nil, "transport", append(append([]string{"inspect"}, flags...), ref)...)
		if res.Code != 2 {
			t.Fatalf("inspect %s: exit %d, want 2: %s", ref, res.Code, res.Stderr)
		}
		assertOneLine(t, res.Stderr)
	}

	// A bad reference is exit 1.
	res = bin.Run(t, nil, "transport", "inspect", "nosuchtransport:foo")
	if res.Code != 1 {
		t.Fatalf("bad reference: exit %d, want 1", res.Code)
	}
	assertOneLine(t, res.Stderr, "nosuchtransport:foo")

	// An unreachable registry is exit 1, retried --retry-times times.
	reg.Stop()
	res = bin.Run(t, nil, "transport", append(append([]string{"inspect", "--retry-times", "2", "--retry-delay", "10ms"}, flags...), reg.Ref("bb:1"))...)
	if res.Code != 1 {
		t.Fatalf("stopped registry: exit %d, want 1", res.Code)
	}
	assertOneLine(t, res.Stderr, "connection refused", "after 3 attempts")
	res = bin.Run(t, nil, "transport", append(append([]string{"inspect", "--retry-times", "0"}, flags...), reg.Ref("bb:1"))...)
	if res.Code != 1 || strings.Contains(res.Stderr, "attempts") {
		t.Fatalf("--retry-times 0: exit %d: %s", res.Code, res.Stderr)
	}
}

func TestInspectMultiArch(t *testing.T) {
	idx := fixture.MultiArch(t)
	reg := registry.Start(t, registry.Options{})
	fixture.Push(t, idx, reg.Ref("multi:1"), reg.SystemContext())
	flags := reg.Flags("")
	run := func(global []string, args ...string) bin.Result {
		t.Helper()
		return transport(t, append(append(append(global, "inspect"), flags...), args...)...)
	}

	// --raw is the index, byte for byte.
	raw, mediaType, dig := getManifest(t, reg, "multi", "1")
	if mediaType != v1.MediaTypeImageIndex {
		t.Fatalf("pushed index has media type %s", mediaType)
	}
	if res := run(nil, "--raw", reg.Ref("multi:1")); res.Stdout != string(raw) {
		t.Fatalf("--raw of a multi-arch image is not the index:\n%s", res.Stdout)
	}
	// The default is the amd64 instance, with the index's digest.
	out := decodeInspect(t, run(nil, reg.Ref("multi:1")))
	if out.Digest != dig || out.Digest != idx.Digest.String() || out.Architecture != "amd64" ||
		len(out.Layers) != 1 || out.Layers[0] != idx.Layers[0].String() {
		t.Fatalf("default inspect of an index: %+v", out)
	}
	// --override-arch picks the other instance, for the output and --config.
	out = decodeInspect(t, run([]string{"--override-arch", "arm64"}, reg.Ref("multi:1")))
	if out.Architecture != "arm64" || out.Digest != dig || len(out.Layers) != 1 || out.Layers[0] == idx.Layers[0].String() {
		t.Fatalf("--override-arch arm64: %+v", out)
	}
	if res := run([]string{"--override-arch", "arm64"}, "--config", "--format", "{{.Architecture}} {{json .Config.Cmd}}", reg.Ref("multi:1")); res.Stdout != `arm64 ["/bin/sh"]`+"\n" {
		t.Fatalf("--override-arch arm64 --config: %q", res.Stdout)
	}
	res := bin.Run(t, nil, "transport", append(append([]string{"--override-arch", "s390x", "inspect"}, flags...), reg.Ref("multi:1"))...)
	if res.Code == 0 {
		t.Fatal("inspect for a platform the index lacks succeeded")
	}
	assertOneLine(t, res.Stderr, "s390x")
}

// TestInspectLocal: layouts and archives inspect too, without a Name or
// RepoTags request.
func TestInspectLocal(t *testing.T) {
	img := fixture.Busybox(t)
	for _, ref := range []string{
		img.Ref(),
		"oci-archive:" + fixture.OCIArchive(t, img),
		"docker-archive:" + fixture.DockerArchive(t, img, "example.com/bb:1"),
		"docker-archive:" + fixture.DockerArchive(t, img, "example.com/bb:1") + ":example.com/bb:1",
	} {
		out := decodeInspect(t, transport(t, "inspect", ref))
		if out.Architecture != "amd64" || len(out.Layers) != 1 || len(out.RepoTags) != 0 {
			t.Fatalf("inspect %s: %+v", ref, out)
		}
		if strings.HasPrefix(ref, "oci:") && out.Digest != img.Digest.String() {
			t.Fatalf("inspect %s: digest %s, want %s", ref, out.Digest, img.Digest)
		}
		if strings.HasSuffix(ref, ":example.com/bb:1") && out.Name != "example.com/bb" {
			t.Fatalf("inspect %s: name %q", ref, out.Name)
		}
	}
}
