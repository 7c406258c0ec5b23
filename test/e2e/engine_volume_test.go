package e2e

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type volInspect struct {
	Name, Driver, Mountpoint, CreatedAt, Scope string
	Labels, Options                            map[string]string
}

func (e *engineStore) volume(t *testing.T, name string) volInspect {
	t.Helper()
	var out []volInspect
	if err := json.Unmarshal([]byte(e.must(t, "volume", "inspect", name).Stdout), &out); err != nil || len(out) != 1 {
		t.Fatalf("volume inspect %s: %v", name, err)
	}
	return out[0]
}

// tarOf is an uncompressed tar of name → content files.
func tarOf(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for n, c := range files {
		if err := tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(c)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(c))
	}
	tw.Close()
	return buf.Bytes()
}

// untarFiles reads the regular files of a tar stream.
func untarFiles(t *testing.T, b []byte) map[string]string {
	t.Helper()
	out := map[string]string{}
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("reading tar: %v", err)
		}
		if h.Typeflag == tar.TypeReg {
			c, _ := io.ReadAll(tr)
			out[strings.TrimPrefix(h.Name, "./")] = string(c)
		}
	}
}

// TestEngineVolumeLifecycle: create (labels, --ignore, a generated name),
// ls (filters, formats, -q), inspect, exists, rm (refused in use with exit
// 2, -f removes the users, 1 for a missing volume), export, import, prune.
func TestEngineVolumeLifecycle(t *testing.T) {
	e := containerStore(t)
	if out := e.must(t, "volume", "create", "-l", "app=x", "--label", "tier=db", "v1").Stdout; out != "v1\n" {
		t.Fatalf("volume create printed %q", out)
	}
	res := e.run(t, "volume", "create", "v1")
	if res.Code != 125 {
		t.Fatalf("second create: exit %d", res.Code)
	}
	assertOneLine(t, res.Stderr, "v1", "already exists")
	if out := e.must(t, "volume", "create", "--ignore", "v1").Stdout; out != "v1\n" {
		t.Fatalf("create --ignore: %q", out)
	}
	if res := e.run(t, "volume", "create", "--driver", "nfs", "v9"); res.Code != 125 {
		t.Fatalf("--driver nfs: exit %d", res.Code)
	}
	gen := strings.TrimSpace(e.must(t, "volume", "create", "--driver", "local").Stdout)
	if !fullID.MatchString(gen) {
		t.Fatalf("unnamed volume create printed %q", gen)
	}
	v := e.volume(t, "v1")
	if v.Name != "v1" || v.Driver != "local" || v.Scope != "local" || v.Labels["app"] != "x" || v.Labels["tier"] != "db" ||
		v.CreatedAt == "" || v.Options == nil || v.Mountpoint != filepath.Join(e.root, "volumes", "v1", "_data") {
		t.Fatalf("volume inspect: %+v", v)
	}
	if st, err := os.Stat(v.Mountpoint); err != nil || !st.IsDir() {
		t.Fatalf("mount point: %v", err)
	}
	if out := e.must(t, "volume", "inspect", "--format", "{{.Name}}:{{.Driver}}", "v1").Stdout; out != "v1:local\n" {
		t.Fatalf("inspect --format: %q", out)
	}
	if res := e.run(t, "volume", "inspect", "nope"); res.Code != 125 {
		t.Fatalf("inspect of a missing volume: exit %d", res.Code)
	}
	if out := e.must(t, "volume", "ls", "-q").Stdout; out != gen+"\nv1\n" {
		t.Fatalf("ls -q: %q", out)
	}
	if out := e.must(t, "volume", "ls", "-q", "--filter", "label=app=x").Stdout; out != "v1\n" {
		t.Fatalf("ls --filter label=app=x: %q", out)
	}
	if out := e.must(t, "volume", "ls", "-q", "--filter", "label=app=y").Stdout; out != "" {
		t.Fatalf("ls --filter label=app=y: %q", out)
	}
	if out := e.must(t, "volume", "ls", "-q", "--filter", "name=v1").Stdout; out != "v1\n" {
		t.Fatalf("ls --filter name=v1: %q", out)
	}
	ls := e.must(t, "volume", "ls").Stdout
	if lines := strings.Split(strings.TrimSpace(ls), "\n"); len(lines) != 3 || !strings.HasPrefix(lines[0], "DRIVER") || !strings.Contains(lines[0], "VOLUME NAME") || !strings.Contains(lines[2], "v1") {
		t.Fatalf("ls table:\n%s", ls)
	}
	var rows []volInspect
	if err := json.Unmarshal([]byte(e.must(t, "volume", "ls", "--format", "json").Stdout), &rows); err != nil || len(rows) != 2 || rows[1].Labels["app"] != "x" {
		t.Fatalf("ls --format json: %v %+v", err, rows)
	}
	if out := e.must(t, "volume", "ls", "--format", "{{.Name}} {{.Driver}}", "--filter", "name=v1").Stdout; out != "v1 local\n" {
		t.Fatalf("ls --format template: %q", out)
	}
	if res := e.run(t, "volume", "exists", "v1"); res.Code != 0 {
		t.Fatalf("exists v1: exit %d", res.Code)
	}
	if res := e.run(t, "volume", "exists", "nope"); res.Code != 1 {
		t.Fatalf("exists nope: exit %d", res.Code)
	}

	// A container uses v1: not dangling, and rm refuses it.
	e.must(t, "run", "--name", "user1", "-v", "v1:/v", "bb", "sh", "-c", "echo data > /v/f")
	if out := e.must(t, "volume", "ls", "-q", "--filter", "dangling=false").Stdout; out != "v1\n" {
		t.Fatalf("ls --filter dangling=false: %q", out)
	}
	if out := e.must(t, "volume", "ls", "-q", "--filter", "dangling=true").Stdout; out != gen+"\n" {
		t.Fatalf("ls --filter dangling=true: %q", out)
	}
	res = e.run(t, "volume", "rm", "v1")
	if res.Code != 2 {
		t.Fatalf("rm of a volume in use: exit %d", res.Code)
	}
	assertOneLine(t, res.Stderr, "v1", "being used")

	// export: stdout and -o; import: a file and stdin.
	exp := e.must(t, "volume", "export", "v1").Stdout
	if files := untarFiles(t, []byte(exp)); files["f"] != "data\n" {
		t.Fatalf("volume export: %v", files)
	}
	out := filepath.Join(t.TempDir(), "v1.tar")
	e.must(t, "volume", "export", "-o", out, "v1")
	e.must(t, "volume", "create", "v2")
	e.must(t, "volume", "import", "v2", out)
	if res := e.stdin(t, tarOf(t, map[string]string{"g": "from stdin\n"}), "volume", "import", "v2", "-"); res.Code != 0 {
		t.Fatalf("import from stdin: %d %s", res.Code, res.Stderr)
	}
	if got := e.must(t, "run", "--rm", "-v", "v2:/w", "bb", "cat", "/w/f", "/w/g").Stdout; got != "data\nfrom stdin\n" {
		t.Fatalf("imported volume holds %q", got)
	}

	// prune removes the unused volumes only, after asking without -f.
	if res := e.stdin(t, []byte("n\n"), "volume", "prune"); res.Code != 0 || res.Stdout != "" {
		t.Fatalf("prune answered no: %d %q", res.Code, res.Stdout)
	}
	if out := e.must(t, "volume", "prune", "-f").Stdout; out != gen+"\nv2\n" {
		t.Fatalf("prune -f printed %q", out)
	}
	if out := e.must(t, "volume", "ls", "-q").Stdout; out != "v1\n" {
		t.Fatalf("after prune: %q", out)
	}
	// rm -f removes the container using the volume.
	e.must(t, "volume", "rm", "-f", "v1")
	if res := e.run(t, "container", "exists", "user1"); res.Code != 1 {
		t.Fatalf("the container using v1 survived rm -f: exit %d", res.Code)
	}
	if _, err := os.Stat(v.Mountpoint); !os.IsNotExist(err) {
		t.Fatalf("volume data left: %v", err)
	}
	res = e.run(t, "volume", "rm", "v1")
	if res.Code != 1 {
		t.Fatalf("rm of a missing volume: exit %d", res.Code)
	}
	assertOneLine(t, res.Stderr, "v1", "no such volume")
}

// TestEngineVolumeOptions: -o type=tmpfs mounts a tmpfs with o= options
// into the container; type=bind,device= binds a host directory, left in
// place by volume rm; unknown options are refused.
func TestEngineVolumeOptions(t *testing.T) {
	e := containerStore(t)
	e.must(t, "volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", "-o", "o=size=2m,mode=0700", "tv")
	if v := e.volume(t, "tv"); v.Options["type"] != "tmpfs" || v.Options["o"] != "size=2m,mode=0700" {
		t.Fatalf("inspect options: %+v", v.Options)
	}
	got := e.must(t, "run", "--rm", "-v", "tv:/t", "bb", "sh", "-c", "grep ' /t ' /proc/mounts").Stdout
	if !strings.HasPrefix(got, "tmpfs /t tmpfs") || !strings.Contains(got, "size=2048k") || !strings.Contains(got, "mode=700") {
		t.Fatalf("tmpfs volume in the container: %q", got)
	}
	// Mounted on the host while a container uses it, as podman does, and
	// unmounted when the last user stops (its content goes with it).
	mp := e.volume(t, "tv").Mountpoint
	if hostMounted(mp) {
		t.Fatalf("tmpfs volume %s is still mounted after its only container ended", mp)
	}
	e.must(t, "run", "-d", "--network", "none", "--name", "u1", "-v", "tv:/t", "bb", "sh", "-c", "echo kept > /t/f; sleep 1000")
	e.must(t, "run", "-d", "--network", "none", "--name", "u2", "-v", "tv:/t", "bb", "sleep", "1000")
	if !hostMounted(mp) {
		t.Fatalf("tmpfs volume %s is not mounted while containers use it", mp)
	}
	e.must(t, "rm", "-f", "-t", "0", "u1")
	if !hostMounted(mp) {
		t.Fatalf("tmpfs volume %s was unmounted while u2 still uses it", mp)
	}
	if got := e.must(t, "exec", "u2", "cat", "/t/f").Stdout; got != "kept\n" {
		t.Fatalf("u2 reads %q from the shared tmpfs volume", got)
	}
	e.must(t, "rm", "-f", "-t", "0", "u2")
	if hostMounted(mp) {
		t.Fatalf("tmpfs volume %s is still mounted after its last container ended", mp)
	}
	e.must(t, "volume", "rm", "tv")

	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "host"), []byte("from host\n"), 0o644)
	e.must(t, "volume", "create", "-o", "type=bind", "-o", "device="+dir, "bv")
	if got := e.must(t, "run", "--rm", "-v", "bv:/b", "bb", "sh", "-c", "cat /b/host; echo from ctr > /b/ctr").Stdout; got != "from host\n" {
		t.Fatalf("bind volume read: %q", got)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "ctr")); string(b) != "from ctr\n" {
		t.Fatalf("bind volume write: %q", b)
	}
	e.must(t, "volume", "rm", "bv")
	if _, err := os.Stat(filepath.Join(dir, "ctr")); err != nil {
		t.Fatalf("volume rm removed the bind volume's host directory: %v", err)
	}

	res := e.run(t, "volume", "create", "-o", "color=blue", "bad")
	if res.Code != 125 {
		t.Fatalf("unknown option: exit %d", res.Code)
	}
	assertOneLine(t, res.Stderr, "color")
	res = e.run(t, "volume", "create", "-o", "type=bind", "-o", "device=/no/such/dir", "bad")
	if res.Code != 125 {
		t.Fatalf("bind to a missing dir: exit %d", res.Code)
	}
	assertOneLine(t, res.Stderr, "/no/such/dir")
	if res := e.run(t, "volume", "exists", "bad"); res.Code != 1 {
		t.Fatalf("a refused create left the volume")
	}
}

// hostMounted reports whether something is mounted at dir on the host.
func hostMounted(dir string) bool {
	b, _ := os.ReadFile("/proc/self/mountinfo")
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 4 && f[4] == dir {
			return true
		}
	}
	return false
}
