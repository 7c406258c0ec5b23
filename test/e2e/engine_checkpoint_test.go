package e2e

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ocisuite/suite/test/bin"
)

// counterLoop increments a counter held only in the shell's memory and
// writes it to /tmp/c ten times a second. Each value is written beside the
// file and renamed over it, so a checkpoint (which freezes the shell at any
// point) never leaves /tmp/c truncated and empty.
var counterLoop = []string{"sh", "-c", "i=0; while :; do i=$((i+1)); echo $i > /tmp/c.new; mv /tmp/c.new /tmp/c; sleep 0.1; done"}

// counter reads /tmp/c in a running container.
func (e *engineStore) counter(t *testing.T, name string) int {
	t.Helper()
	out := strings.TrimSpace(e.must(t, "exec", name, "cat", "/tmp/c").Stdout)
	n, err := strconv.Atoi(out)
	if err != nil {
		t.Fatalf("counter of %s: %q", name, out)
	}
	return n
}

// engineRunner runs engine commands on one instance (engineStore, or
// nsEngine in its own network namespace).
type engineRunner interface {
	run(t *testing.T, args ...string) bin.Result
}

// waitCounter waits until the counter of name reaches at least n.
func (e *engineStore) waitCounter(t *testing.T, name string, n int) int {
	t.Helper()
	return waitCounter(t, e, name, n)
}

func waitCounter(t *testing.T, e engineRunner, name string, n int) int {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		// Before the loop's first write there is no file yet.
		res := e.run(t, "exec", name, "cat", "/tmp/c")
		if v, err := strconv.Atoi(strings.TrimSpace(res.Stdout)); err == nil && v >= n {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("counter of %s did not reach %d: %q %s", name, n, res.Stdout, res.Stderr)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// fileCounter reads /tmp/c of a stopped container through cp.
func (e *engineStore) fileCounter(t *testing.T, name string) int {
	t.Helper()
	dir := t.TempDir()
	e.must(t, "cp", name+":/tmp/c", dir)
	b, err := os.ReadFile(filepath.Join(dir, "c"))
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("counter file of %s: %q", name, b)
	}
	return n
}

// assertResumed checks that a restored counter goes on from at (not from
// zero, not stuck): its first value is at least at and a little more, and
// it grows.
func (e *engineStore) assertResumed(t *testing.T, name string, at int) {
	t.Helper()
	assertResumed(t, e, name, at)
}

func assertResumed(t *testing.T, e engineRunner, name string, at int) {
	t.Helper()
	first := waitCounter(t, e, name, at)
	if first > at+50 {
		t.Fatalf("counter of %s is %d just after restore, checkpoint was at %d", name, first, at)
	}
	next := waitCounter(t, e, name, first+3)
	t.Logf("%s: checkpoint at %d, restored %d, then %d", name, at, first, next)
}

// settle removes every container of the store and waits for their
// monitors and exit commands, which open the store, to be gone before the
// test's directory is removed.
func (e *engineStore) settle(t *testing.T) {
	e.run(t, "rm", "-af")
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		busy := false
		ents, _ := os.ReadDir("/proc")
		for _, ent := range ents {
			b, err := os.ReadFile(filepath.Join("/proc", ent.Name(), "cmdline"))
			if err == nil && bytes.Contains(b, []byte(e.root)) {
				busy = true
				break
			}
		}
		if !busy {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestEngineCheckpointRestoreSameHost(t *testing.T) {
	e := containerStore(t)
	defer e.settle(t)
	e.must(t, "run", "-d", "--name", "loop", "bb", counterLoop[0], counterLoop[1], counterLoop[2])
	e.waitCounter(t, "loop", 20)

	// --leave-running: images are written, the container goes on.
	e.must(t, "container", "checkpoint", "--leave-running", "loop")
	if st := e.inspect(t, "loop").State.Status; st != "running" {
		t.Fatalf("after checkpoint --leave-running the container is %s", st)
	}
	v := e.counter(t, "loop")
	e.waitCounter(t, "loop", v+3)

	// Restoring a running container is refused.
	res := e.run(t, "container", "restore", "loop")
	if res.Code != 125 {
		t.Fatalf("restore of a running container: exit %d", res.Code)
	}
	assertOneLine(t, res.Stderr, "loop", "running")

	// A real checkpoint stops it, with CRIU's statistics on request.
	res = e.must(t, "container", "checkpoint", "--print-stats", "loop")
	var st []struct {
		ID       string `json:"Id"`
		Duration int64  `json:"runtime_checkpoint_duration"`
		CRIU     struct {
			FreezingTime *uint32 `json:"freezing_time"`
			FrozenTime   *uint32 `json:"frozen_time"`
			PagesWritten *uint64 `json:"pages_written"`
		} `json:"criu_statistics"`
	}
	if err := json.Unmarshal([]byte(res.Stdout), &st); err != nil || len(st) != 1 {
		t.Fatalf("--print-stats: %v: %s", err, res.Stdout)
	}
	if st[0].Duration <= 0 || st[0].CRIU.FrozenTime == nil || st[0].CRIU.PagesWritten == nil || *st[0].CRIU.PagesWritten == 0 {
		t.Fatalf("--print-stats gave no CRIU statistics: %s", res.Stdout)
	}
	if in := e.inspect(t, "loop"); in.State.Status != "exited" || in.State.Running {
		t.Fatalf("after checkpoint the container is %s", in.State.Status)
	}
	at := e.fileCounter(t, "loop")
	time.Sleep(500 * time.Millisecond)
	if again := e.fileCounter(t, "loop"); again != at {
		t.Fatalf("the counter went on after the checkpoint: %d then %d", at, again)
	}

	res = e.must(t, "container", "restore", "--print-stats", "loop")
	var rst []struct {
		ID   string `json:"Id"`
		CRIU struct {
			RestoreTime *uint32 `json:"restore_time"`
		} `json:"criu_statistics"`
	}
	if err := json.Unmarshal([]byte(res.Stdout), &rst); err != nil || len(rst) != 1 || rst[0].CRIU.RestoreTime == nil {
		t.Fatalf("restore --print-stats: %v: %s", err, res.Stdout)
	}
	if st := e.inspect(t, "loop").State.Status; st != "running" {
		t.Fatalf("after restore the container is %s", st)
	}
	e.assertResumed(t, "loop", at)

	// The images are gone after the restore (no --keep): a second restore
	// has nothing to restore; stop still works on the restored container.
	e.must(t, "stop", "-t", "1", "loop")
	res = e.run(t, "container", "restore", "loop")
	if res.Code != 125 {
		t.Fatalf("second restore: exit %d", res.Code)
	}
	assertOneLine(t, res.Stderr, "no checkpoint")

	// --keep keeps the images: restore twice from one checkpoint.
	e.must(t, "start", "loop")
	e.waitCounter(t, "loop", 10)
	e.must(t, "container", "checkpoint", "loop")
	at = e.fileCounter(t, "loop")
	e.must(t, "container", "restore", "--keep", "loop")
	e.assertResumed(t, "loop", at)
	e.must(t, "kill", "loop")
	e.waitStatus(t, "loop", "exited")
	e.must(t, "container", "restore", "loop")
	e.assertResumed(t, "loop", at)
}

// writeTar writes an uncompressed tar of the given entries (name → content).
func writeTar(t *testing.T, path string, names []string, contents []string) {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for i, n := range names {
		if err := tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(contents[i])), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(contents[i])); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestEngineCheckpointExportImport(t *testing.T) {
	src := containerStore(t)
	dst := containerStore(t) // a second instance: its own root and run root
	dir := t.TempDir()
	defer src.settle(t)
	defer dst.settle(t)

	src.must(t, "run", "-d", "--name", "loop", "bb", counterLoop[0], counterLoop[1], counterLoop[2])
	src.must(t, "exec", "loop", "sh", "-c", "echo kept > /root/written && rm /bin/vi")
	src.waitCounter(t, "loop", 20)

	// --leave-running --export: a gzip archive, the source goes on.
	gz := filepath.Join(dir, "running.tar.gz")
	src.must(t, "container", "checkpoint", "-R", "--compress", "gzip", "-e", gz, "loop")
	if st := src.inspect(t, "loop").State.Status; st != "running" {
		t.Fatalf("after checkpoint -R --export the source is %s", st)
	}
	if b, _ := os.ReadFile(gz); len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
		t.Fatal("--compress gzip did not write a gzip file")
	}

	// --export (zstd by default) stops the source.
	zst := filepath.Join(dir, "loop.tar.zst")
	src.must(t, "container", "checkpoint", "--export", zst, "loop")
	if st := src.inspect(t, "loop").State.Status; st != "exited" {
		t.Fatalf("after checkpoint --export the source is %s", st)
	}
	if b, _ := os.ReadFile(zst); len(b) < 4 || !bytes.Equal(b[:4], []byte{0x28, 0xb5, 0x2f, 0xfd}) {
		t.Fatal("the default --export archive is not zstd")
	}
	at := src.fileCounter(t, "loop")

	// The copy in the other instance goes on from the checkpoint, with the
	// source's file changes.
	id := strings.TrimSpace(dst.must(t, "container", "restore", "--import", zst, "--name", "copy").Stdout)
	if len(id) != 64 {
		t.Fatalf("restore --import printed %q, want the new ID", id)
	}
	if st := dst.inspect(t, "copy").State.Status; st != "running" {
		t.Fatalf("the imported copy is %s", st)
	}
	dst.assertResumed(t, "copy", at)
	if out := dst.must(t, "exec", "copy", "cat", "/root/written").Stdout; out != "kept\n" {
		t.Fatalf("file written before the checkpoint: %q", out)
	}
	if res := dst.run(t, "exec", "copy", "ls", "/bin/vi"); res.Code == 0 {
		t.Fatal("/bin/vi, deleted before the checkpoint, is back in the copy")
	}

	// A second copy from the gzip archive, independent of the first.
	dst.must(t, "container", "restore", "-i", gz, "-n", "copy2")
	c2 := dst.waitCounter(t, "copy2", 1)
	dst.must(t, "stop", "-t", "1", "copy")
	dst.waitCounter(t, "copy2", c2+3)

	// The source stayed intact: it restores in place too.
	src.must(t, "container", "restore", "loop")
	src.assertResumed(t, "loop", at)

	// Bad archives: one-line errors, exit 125, nothing created.
	before := dst.must(t, "ps", "-aq").Stdout
	b, err := os.ReadFile(zst)
	if err != nil {
		t.Fatal(err)
	}
	plain := filepath.Join(dir, "plain.tar")
	src.must(t, "container", "checkpoint", "-R", "--compress", "none", "-e", plain, "loop")
	pb, err := os.ReadFile(plain)
	if err != nil {
		t.Fatal(err)
	}
	manifest := `{"version":1,"engine":"test","image":"localhost/bb:latest","imageID":"x","config":{}}`
	bad := map[string]func(p string) string{
		"truncated": func(p string) string { _ = os.WriteFile(p, b[:len(b)/2], 0o644); return "truncated" },
		// Cut at a tar block boundary past the CRIU images: only the
		// index at the end tells.
		"truncated-plain": func(p string) string {
			_ = os.WriteFile(p, pb[:len(pb)/512/2*512], 0o644)
			return "truncated"
		},
		"escape": func(p string) string {
			writeTar(t, p, []string{"manifest.json", "../evil"}, []string{manifest, "x"})
			return "escapes"
		},
		"no-manifest": func(p string) string {
			writeTar(t, p, []string{"checkpoint/inventory.img"}, []string{"x"})
			return "manifest.json"
		},
		"version": func(p string) string {
			writeTar(t, p, []string{"manifest.json"}, []string{strings.Replace(manifest, `"version":1`, `"version":9`, 1)})
			return "version 9"
		},
	}
	for name, build := range bad {
		p := filepath.Join(dir, name+".tar")
		want := build(p)
		res := dst.run(t, "container", "restore", "--import", p, "--name", "bad-"+name)
		if res.Code != 125 {
			t.Fatalf("%s archive: exit %d, want 125", name, res.Code)
		}
		assertOneLine(t, res.Stderr, want)
		if after := dst.must(t, "ps", "-aq").Stdout; after != before {
			t.Fatalf("%s archive left a container: %q, was %q", name, after, before)
		}
		if _, err := os.Stat(filepath.Join(dir, "evil")); err == nil {
			t.Fatal("../evil was written outside the archive's root")
		}
	}

	// A store without the image: the error names it, nothing is created.
	empty := newEngineStore(t)
	res := empty.run(t, "container", "restore", "--import", zst)
	if res.Code != 125 {
		t.Fatalf("import without the image: exit %d", res.Code)
	}
	assertOneLine(t, res.Stderr, "localhost/bb:latest", "not in this store")
	if out := empty.must(t, "ps", "-aq").Stdout; out != "" {
		t.Fatalf("import without the image left %q", out)
	}
}

// The engine says which CRIU it needs when the one it finds is too old.
func TestEngineCheckpointOldCRIU(t *testing.T) {
	e := containerStore(t)
	e.must(t, "run", "-d", "--name", "loop", "bb", "sleep", "100")
	dir := t.TempDir()
	fake := "#!/bin/sh\necho 'Version: 3.17.1'\nexit 0\n"
	if err := os.WriteFile(filepath.Join(dir, "criu"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	old := *e
	old.env = append(append([]string{}, e.env...), "PATH="+dir+":"+os.Getenv("PATH"))
	res := old.run(t, "container", "checkpoint", "loop")
	if res.Code != 125 {
		t.Fatalf("checkpoint with an old criu: exit %d", res.Code)
	}
	assertOneLine(t, res.Stderr, "CRIU 4.0 or newer is needed", "found 3.17.1")
	if st := e.inspect(t, "loop").State.Status; st != "running" {
		t.Fatalf("a refused checkpoint left the container %s", st)
	}
}
