package e2e

import (
	"archive/tar"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocisuite/suite/test/bin"
	"github.com/ocisuite/suite/test/fixture"
	"github.com/ocisuite/suite/test/registry"
)

// TestBuilderRootless: as the unprivileged CI user with no storage driver
// configured, builder build announces native overlay in the user
// namespace on first use, pulls its base from a TLS registry with
// --creds, and builds RUN chown and COPY --chown steps whose files keep
// uid 1234 and gid 2345 (in builder run, in engine run on the same store
// and in the pushed layer); a rebuild takes every step from the cache;
// builder push with --creds, and after builder login, stores the image in
// the registry, where transport inspect reads its configuration.
func TestBuilderRootless(t *testing.T) {
	r := newRootlessEngine(t)
	b := *r
	b.engine = publicCopy(t, bin.Path(t, "builder"))

	reg := registry.Start(t, registry.Options{Flavour: registry.TLSAuth})
	fixture.Push(t, fixture.Busybox(t), reg.Ref("base/bb:1"), reg.SystemContext())
	certDir := filepath.Dir(publicCopy(t, reg.CAFile))
	creds := reg.Username + ":" + reg.Password

	// No driver in the user's storage.conf: the builder chooses one.
	conf := filepath.Join(r.home, ".config", "containers", "storage.conf")
	os.MkdirAll(filepath.Dir(conf), 0o755)
	if err := os.WriteFile(conf, []byte("[storage]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := filepath.Join(r.home, "ctx")
	os.RemoveAll(ctx)
	os.MkdirAll(ctx, 0o755)
	t.Cleanup(func() { os.RemoveAll(ctx) })
	containerfile := fmt.Sprintf(`FROM %s
RUN touch /f && chown 1234:2345 /f && mkdir /d && chown 1234:2345 /d
COPY --chown=1234:2345 file.txt /copied.txt
RUN echo made by $(id -u) > /d/by
LABEL built=rootless
`, reg.Addr+"/base/bb:1")
	os.WriteFile(filepath.Join(ctx, "Containerfile"), []byte(containerfile), 0o644)
	os.WriteFile(filepath.Join(ctx, "file.txt"), []byte("context file\n"), 0o644)
	if out, err := exec.Command("chown", "-R", fmt.Sprintf("%d:%d", r.uid, r.gid), filepath.Join(r.home, ".config"), ctx).CombinedOutput(); err != nil {
		t.Fatalf("chown: %v: %s", err, out)
	}

	build := []string{"build", "--creds", creds, "--cert-dir", certDir, "-t", "localhost/rl:1", ctx}
	res := b.must(build...)
	const announce = "builder: storage driver overlay (native overlay mounts work in the user namespace)\n"
	if !strings.HasPrefix(builderLines(res.Stderr), announce) {
		t.Errorf("first build: stderr does not start with the driver choice %q:\n%s", announce, res.Stderr)
	}
	id := lastLine(res.Stdout)
	if n := len(freshStep.FindAllString(res.Stdout, -1)); n != 4 {
		t.Fatalf("first build: %d steps built, want 4 (RUN, COPY, RUN, LABEL):\n%s", n, res.Stdout)
	}
	if got := b.must("info", "--format", "{{.Store.GraphDriverName}} {{.Host.Rootless}}").Stdout; got != "overlay true\n" {
		t.Errorf("builder info: driver and rootless %q, want overlay true", got)
	}

	// The layer cache works rootless: nothing is built again.
	res = b.must(build...)
	if lastLine(res.Stdout) != id || strings.Count(res.Stdout, "--> Using cache ") != 4 || freshStep.MatchString(res.Stdout) {
		t.Fatalf("rebuild: want every step from the cache and image %s:\n%s", id, res.Stdout)
	}
	if strings.Contains(res.Stderr, "storage driver") {
		t.Errorf("the driver choice is announced again: %s", res.Stderr)
	}

	// The owners are kept, as builder run and engine run see them.
	const owners = "1234 2345 /copied.txt\n1234 2345 /d\n1234 2345 /f\n"
	ls := []string{"sh", "-c", "for p in /copied.txt /d /f; do stat -c '%u %g %n' $p; done; cat /d/by"}
	ctr := strings.TrimSpace(b.must("from", "localhost/rl:1").Stdout)
	if got := b.must(append([]string{"run", ctr, "--"}, ls...)...).Stdout; got != owners+"made by 0\n" {
		t.Errorf("builder run in the built image: %q, want %q", got, owners+"made by 0\n")
	}
	b.must("rm", ctr)
	if got := r.must(append([]string{"run", "--rm", "localhost/rl:1"}, ls...)...).Stdout; got != owners+"made by 0\n" {
		t.Errorf("engine run of the built image: %q", got)
	}

	// Push with --creds; and after login, without.
	b.must("push", "--creds", creds, "--cert-dir", certDir, "localhost/rl:1", reg.Ref("user/rl:1"))
	authfile := filepath.Join(r.runtime, "containers", "auth.json")
	b.must("login", "--cert-dir", certDir, "-u", reg.Username, "-p", reg.Password, reg.Addr)
	if _, err := os.Stat(authfile); err != nil {
		t.Errorf("builder login wrote no %s: %v", authfile, err)
	}
	b.must("push", "--cert-dir", certDir, "localhost/rl:1", reg.Ref("user/rl:2"))
	b.must("logout", reg.Addr)

	for _, tag := range []string{"1", "2"} {
		out := bin.MustRun(t, nil, "transport", append([]string{"inspect", "--config"}, append(reg.Flags(""), reg.Ref("user/rl:"+tag))...)...).Stdout
		var cfg struct {
			Config struct{ Labels map[string]string } `json:"config"`
			RootFS struct {
				DiffIDs []string `json:"diff_ids"`
			} `json:"rootfs"`
		}
		if err := json.Unmarshal([]byte(out), &cfg); err != nil {
			t.Fatalf("transport inspect --config: %v\n%s", err, out)
		}
		if cfg.Config.Labels["built"] != "rootless" || len(cfg.RootFS.DiffIDs) != 4 {
			t.Fatalf("the pushed image rl:%s has labels %v and %d layers, want built=rootless and 4 (base, RUN, COPY, RUN)", tag, cfg.Config.Labels, len(cfg.RootFS.DiffIDs))
		}
	}

	// The pushed layers carry the owners.
	layout := filepath.Join(t.TempDir(), "oci")
	bin.MustRun(t, nil, "transport", append([]string{"copy"}, append(reg.Flags("src-"), reg.Ref("user/rl:1"), "oci:"+layout+":rl")...)...)
	got := layerOwners(t, layout, "f", "d/", "copied.txt")
	for _, name := range []string{"f", "d/", "copied.txt"} {
		if got[name] != "1234:2345" {
			t.Errorf("pushed layers: %s is owned by %q, want 1234:2345 (all: %v)", name, got[name], got)
		}
	}
}

// layerOwners reads the layers of the one image in an OCI layout and
// returns "uid:gid" of each named entry (the last layer's that has it).
func layerOwners(t *testing.T, layout string, names ...string) map[string]string {
	t.Helper()
	blob := func(d string) string {
		return filepath.Join(layout, "blobs", strings.Replace(d, ":", "/", 1))
	}
	readJSON := func(p string, v any) {
		b, err := os.ReadFile(p)
		if err == nil {
			err = json.Unmarshal(b, v)
		}
		if err != nil {
			t.Fatalf("reading %s: %v", p, err)
		}
	}
	var index struct{ Manifests []struct{ Digest string } }
	readJSON(filepath.Join(layout, "index.json"), &index)
	if len(index.Manifests) != 1 {
		t.Fatalf("%s: %d manifests, want 1", layout, len(index.Manifests))
	}
	var m struct {
		Layers []struct{ Digest, MediaType string }
	}
	readJSON(blob(index.Manifests[0].Digest), &m)
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	out := map[string]string{}
	for _, l := range m.Layers {
		f, err := os.Open(blob(l.Digest))
		if err != nil {
			t.Fatal(err)
		}
		var r io.Reader = f
		if strings.HasSuffix(l.MediaType, "gzip") {
			zr, err := gzip.NewReader(f)
			if err != nil {
				t.Fatalf("layer %s: %v", l.Digest, err)
			}
			r = zr
		}
		tr := tar.NewReader(r)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("layer %s: %v", l.Digest, err)
			}
			if name := strings.TrimPrefix(h.Name, "./"); want[name] {
				out[name] = fmt.Sprintf("%d:%d", h.Uid, h.Gid)
			}
		}
		f.Close()
	}
	return out
}
