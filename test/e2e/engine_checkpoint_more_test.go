package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ocisuite/suite/test/bin"
	"github.com/ocisuite/suite/test/fixture"
	"github.com/ocisuite/suite/test/registry"
)

// zombies lists the PIDs of zombie processes whose parent is ppid.
func zombies(ppid int) []int {
	var out []int
	ents, _ := os.ReadDir("/proc")
	for _, ent := range ents {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", ent.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) > 1 && f[0] == "Z" && f[1] == strconv.Itoa(ppid) {
			out = append(out, pid)
		}
	}
	return out
}

func waitZombie(t *testing.T, ppid int) []int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if z := zombies(ppid); len(z) > 0 {
			return z
		}
		if time.Now().After(deadline) {
			t.Fatalf("no zombie child of %d", ppid)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A zombie child of the container's init (sh's background sleep, never
// reaped once sh execs another sleep) is listed and goes through the
// checkpoint: CRIU dumps and restores zombies.
func TestEngineCheckpointMoreZombie(t *testing.T) {
	e := containerStore(t)
	e.must(t, "run", "-d", "--name", "z", "bb", "sh", "-c", "sleep 0.1 & exec sleep 1000")
	pid := e.inspect(t, "z").State.Pid
	z := waitZombie(t, pid)
	res := e.must(t, "container", "checkpoint", "--print-stats", "z")
	var st []struct {
		Zombies []int `json:"zombies"`
	}
	if err := json.Unmarshal([]byte(res.Stdout), &st); err != nil || len(st) != 1 {
		t.Fatalf("--print-stats: %v: %s", err, res.Stdout)
	}
	if len(st[0].Zombies) != 1 || st[0].Zombies[0] != z[0] {
		t.Fatalf("checkpoint listed zombies %v, the container had %v", st[0].Zombies, z)
	}
	if in := e.inspect(t, "z"); in.State.Status != "exited" {
		t.Fatalf("after the checkpoint the container is %s", in.State.Status)
	}
	e.must(t, "container", "restore", "z")
	in := e.inspect(t, "z")
	if in.State.Status != "running" {
		t.Fatalf("after restore the container is %s", in.State.Status)
	}
	// The zombie is back, still the restored init's child.
	if got := zombies(in.State.Pid); len(got) != 1 {
		t.Fatalf("restored init %d has zombies %v, want one", in.State.Pid, got)
	}

	// And through an archive into another instance.
	arch := filepath.Join(t.TempDir(), "z.tar")
	e.must(t, "container", "checkpoint", "-R", "-e", arch, "z")
	dst := containerStore(t)
	dst.must(t, "container", "restore", "-i", arch, "-n", "z2")
	in2 := dst.inspect(t, "z2")
	if in2.State.Status != "running" {
		t.Fatalf("the imported copy is %s", in2.State.Status)
	}
	if got := zombies(in2.State.Pid); len(got) != 1 {
		t.Fatalf("imported init %d has zombies %v, want one", in2.State.Pid, got)
	}
}

// A running exec session (not a child of the container's init, so not in
// what CRIU dumps) makes checkpoint refuse with its PID and leave the
// container running; once it is gone the checkpoint goes through.
func TestEngineCheckpointMoreExecSession(t *testing.T) {
	e := containerStore(t)
	e.must(t, "run", "-d", "--name", "x", "bb", "sleep", "1000")
	cmd := bin.Cmd(t, "engine", e.args([]string{"exec", "x", "sleep", "999"})...)
	cmd.Env = append(os.Environ(), e.env...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	pid := e.inspect(t, "x").State.Pid
	var execPid int
	deadline := time.Now().Add(10 * time.Second)
	for execPid == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the exec session did not start")
		}
		time.Sleep(50 * time.Millisecond)
		out := e.run(t, "top", "x", "pid", "comm").Stdout
		if !strings.Contains(out, "999") && strings.Count(out, "sleep") < 2 {
			continue
		}
		execPid = execSleep(pid)
	}
	res := e.run(t, "container", "checkpoint", "x")
	if res.Code != 125 {
		t.Fatalf("checkpoint with an exec session: exit %d: %s", res.Code, res.Stderr)
	}
	assertOneLine(t, res.Stderr, "exec sessions", strconv.Itoa(execPid)+" (sleep)")
	if st := e.inspect(t, "x").State.Status; st != "running" {
		t.Fatalf("a refused checkpoint left the container %s", st)
	}
	if err := syscall.Kill(execPid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	deadline = time.Now().Add(10 * time.Second)
	for execSleep(pid) != 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	e.must(t, "container", "checkpoint", "x")
	e.must(t, "container", "restore", "x")
	if st := e.inspect(t, "x").State.Status; st != "running" {
		t.Fatalf("after restore the container is %s", st)
	}
}

// execSleep finds a "sleep 999" process in init's PID namespace that is
// not init itself.
func execSleep(initPid int) int {
	ns, err := os.Readlink(filepath.Join("/proc", strconv.Itoa(initPid), "ns", "pid"))
	if err != nil {
		return 0
	}
	ents, _ := os.ReadDir("/proc")
	for _, ent := range ents {
		p, err := strconv.Atoi(ent.Name())
		if err != nil || p == initPid {
			continue
		}
		if n, _ := os.Readlink(filepath.Join("/proc", ent.Name(), "ns", "pid")); n != ns {
			continue
		}
		if b, _ := os.ReadFile(filepath.Join("/proc", ent.Name(), "cmdline")); string(b) == "sleep\x00999\x00" {
			return p
		}
	}
	return 0
}

// registryStores are two engine instances (own root and run root) whose
// registries.conf marks the test registry insecure; src has the busybox
// image as localhost/bb:latest, dst has no image.
func registryStores(t *testing.T) (*registry.Registry, *engineStore, *engineStore) {
	t.Helper()
	reg := registry.Start(t, registry.Options{})
	_, env := registriesConf(t, "[[registry]]\nlocation = \""+reg.Host()+"\"\ninsecure = true\n")
	src := newEngineStore(t, env...)
	src.load(t, fixture.Busybox(t), "localhost/bb:latest")
	dst := newEngineStore(t, env...)
	t.Cleanup(func() { src.settle(t); dst.settle(t) })
	return reg, src, dst
}

// A checkpoint image goes through a registry: --create-image, engine
// push, pull in another instance, restore IMAGE there: the counter goes
// on from the checkpoint.
func TestEngineCheckpointMoreCreateImage(t *testing.T) {
	reg, src, dst := registryStores(t)
	dst.load(t, fixture.Busybox(t), "localhost/bb:latest")
	src.must(t, "run", "-d", "--name", "loop", "bb", counterLoop[0], counterLoop[1], counterLoop[2])
	src.waitCounter(t, "loop", 20)

	ref := reg.Host() + "/ckpt/loop:1"
	src.must(t, "container", "checkpoint", "--create-image", ref, "loop")
	if st := src.inspect(t, "loop").State.Status; st != "exited" {
		t.Fatalf("after checkpoint --create-image the source is %s", st)
	}
	at := src.fileCounter(t, "loop")
	var imgs []struct {
		Labels map[string]string
	}
	if err := json.Unmarshal([]byte(src.must(t, "image", "inspect", ref).Stdout), &imgs); err != nil || len(imgs) != 1 {
		t.Fatalf("image inspect %s: %v", ref, err)
	}
	if imgs[0].Labels["io.podman.annotations.checkpoint.name"] != "loop" {
		t.Fatalf("checkpoint image labels: %v", imgs[0].Labels)
	}
	src.must(t, "push", ref)
	if reg.ManifestStatus("ckpt/loop", "1") != 200 {
		t.Fatal("the checkpoint image is not in the registry after push")
	}

	dst.must(t, "pull", ref)
	id := strings.TrimSpace(dst.must(t, "container", "restore", "--name", "moved", ref).Stdout)
	if len(id) != 64 {
		t.Fatalf("restore IMAGE printed %q, want the new ID", id)
	}
	if st := dst.inspect(t, "moved").State.Status; st != "running" {
		t.Fatalf("the container restored from the image is %s", st)
	}
	dst.assertResumed(t, "moved", at)

	// An ordinary image is no checkpoint.
	res := dst.run(t, "container", "restore", "bb")
	if res.Code != 125 {
		t.Fatalf("restore of an ordinary image: exit %d", res.Code)
	}
}

// An archive whose base image the target lacks: restore --import pulls it
// (by its digest, through registries.conf) and the copy goes on; a local
// image of that name with another ID is refused.
func TestEngineCheckpointMorePullsBaseImage(t *testing.T) {
	reg, src, dst := registryStores(t)
	base := reg.Host() + "/app/bb:1"
	src.must(t, "push", "localhost/bb:latest", "docker://"+base)
	src.must(t, "pull", base)
	src.must(t, "run", "-d", "--name", "loop", base, counterLoop[0], counterLoop[1], counterLoop[2])
	src.waitCounter(t, "loop", 20)
	arch := filepath.Join(t.TempDir(), "loop.tar")
	src.must(t, "container", "checkpoint", "-e", arch, "loop")
	at := src.fileCounter(t, "loop")

	if out := dst.must(t, "images", "-q").Stdout; out != "" {
		t.Fatalf("the target has images before the restore: %q", out)
	}
	pulls := reg.Count("GET", "/v2/app/bb/manifests/")
	dst.must(t, "container", "restore", "-i", arch, "-n", "copy")
	if reg.Count("GET", "/v2/app/bb/manifests/") <= pulls {
		t.Fatal("restore did not pull the base image from the registry")
	}
	if reg.Count("GET", "/v2/app/bb/manifests/sha256:") == 0 {
		t.Fatal("restore did not pull the base image by its recorded digest")
	}
	dst.assertResumed(t, "copy", at)

	// Another image under the base image's name: refused, nothing created.
	other := newEngineStore(t, dst.env...)
	layer := filepath.Join(t.TempDir(), "layer.tar")
	writeTar(t, layer, []string{"hello"}, []string{"hi"})
	other.must(t, "import", layer, base)
	res := other.run(t, "container", "restore", "-i", arch)
	if res.Code != 125 {
		t.Fatalf("restore over a different local image: exit %d", res.Code)
	}
	assertOneLine(t, res.Stderr, base, "not")
	if out := other.must(t, "ps", "-aq").Stdout; out != "" {
		t.Fatalf("the refused restore left %q", out)
	}
}

// Named volumes travel in the archive unless --ignore-volumes (on
// checkpoint or on restore); --ignore-rootfs leaves the root filesystem
// changes behind (on checkpoint or on restore). The process goes on in
// every case.
func TestEngineCheckpointMoreIgnoreRootfsVolumes(t *testing.T) {
	src := containerStore(t)
	dir := t.TempDir()
	src.must(t, "run", "-d", "--name", "loop", "-v", "data:/data", "bb", counterLoop[0], counterLoop[1], counterLoop[2])
	src.must(t, "exec", "loop", "sh", "-c", "echo vol > /data/f && echo root > /root/written")
	src.waitCounter(t, "loop", 10)
	full := filepath.Join(dir, "full.tar")
	src.must(t, "container", "checkpoint", "-R", "-e", full, "loop")
	bare := filepath.Join(dir, "bare.tar")
	src.must(t, "container", "checkpoint", "-R", "--ignore-rootfs", "--ignore-volumes", "-e", bare, "loop")

	has := func(e *engineStore, name, path string) bool {
		return e.run(t, "exec", name, "test", "-e", path).Code == 0
	}
	check := func(archive string, restoreFlags []string, wantRoot, wantVol bool) {
		t.Helper()
		dst := containerStore(t)
		dst.must(t, append([]string{"container", "restore", "-i", archive, "-n", "copy"}, restoreFlags...)...)
		dst.waitCounter(t, "copy", 1)
		if got := has(dst, "copy", "/root/written"); got != wantRoot {
			t.Errorf("%s %v: /root/written there: %v, want %v", filepath.Base(archive), restoreFlags, got, wantRoot)
		}
		if got := has(dst, "copy", "/data/f"); got != wantVol {
			t.Errorf("%s %v: /data/f there: %v, want %v", filepath.Base(archive), restoreFlags, got, wantVol)
		}
		if wantVol {
			if out := dst.must(t, "volume", "ls", "-q").Stdout; !strings.Contains(out, "data") {
				t.Errorf("volume data not created on the target: %q", out)
			}
		}
		dst.settle(t)
	}
	check(full, nil, true, true)
	check(bare, nil, false, false)
	check(full, []string{"--ignore-rootfs"}, false, true)
	check(full, []string{"--ignore-volumes"}, true, false)

	// In place they mean nothing: a usage error.
	res := src.run(t, "container", "restore", "--ignore-rootfs", "loop")
	if res.Code != 125 {
		t.Fatalf("restore --ignore-rootfs in place: exit %d", res.Code)
	}
	assertOneLine(t, res.Stderr, "--import")
}
