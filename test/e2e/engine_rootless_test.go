package e2e

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/ocisuite/suite/test/bin"
	"github.com/ocisuite/suite/test/fixture"
	"github.com/ocisuite/suite/test/registry"
)

// rootlessEngine runs engine as an unprivileged user.
type rootlessEngine struct {
	t               *testing.T
	uid, gid        int
	home, runtime   string
	engine          string
	noXDGRuntimeDir bool
}

func (r *rootlessEngine) run(args ...string) bin.Result {
	r.t.Helper()
	cmd := exec.Command(r.engine, args...)
	cmd.Env = []string{"HOME=" + r.home, "USER=" + testUser, "PATH=/usr/bin:/bin:/usr/sbin:/sbin"}
	if !r.noXDGRuntimeDir {
		cmd.Env = append(cmd.Env, "XDG_RUNTIME_DIR="+r.runtime)
	}
	cmd.Dir = r.home
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(r.uid), Gid: uint32(r.gid)}}
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		r.t.Fatal(err)
	}
	r.t.Logf("$ (as uid %d) engine %s  # exit %d %s", r.uid, strings.Join(args, " "), code, strings.TrimSpace(errb.String()))
	return bin.Result{Stdout: out.String(), Stderr: errb.String(), Code: code}
}

func (r *rootlessEngine) must(args ...string) bin.Result {
	r.t.Helper()
	res := r.run(args...)
	if res.Code != 0 {
		r.t.Fatalf("engine %s as uid %d: exit %d: %s", strings.Join(args, " "), r.uid, res.Code, res.Stderr)
	}
	return res
}

// publicCopy copies a file to a directory every user can read.
func publicCopy(t *testing.T, src string) string {
	t.Helper()
	dir, err := os.MkdirTemp("/tmp", "ocisuite-public-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	dst := filepath.Join(dir, filepath.Base(src))
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	out.Close()
	return dst
}

// publicEngine copies the engine, and the full engine beside it, to a
// directory every user can read; it returns the engine's path.
func publicEngine(t *testing.T) string {
	t.Helper()
	engine := publicCopy(t, bin.Path(t, "engine"))
	copyFile(t, filepath.Join(filepath.Dir(bin.Path(t, "engine")), "engine-full"), filepath.Join(filepath.Dir(engine), "engine-full"))
	return engine
}

// stopUserProcesses ends what a rootless user's engine left running.
func stopUserProcesses(uid int) {
	exec.Command("pkill", "-9", "-U", strconv.Itoa(uid), "conmon").Run()
	exec.Command("pkill", "-9", "-U", strconv.Itoa(uid), "catatonit").Run()
}

// ensureSubIDs gives the test user ranges in /etc/subuid and /etc/subgid
// (useradd adds them on most machines, not all).
func ensureSubIDs(t *testing.T, name string) {
	t.Helper()
	for _, f := range []string{"/etc/subuid", "/etc/subgid"} {
		b, _ := os.ReadFile(f)
		if !strings.Contains(string(b), name+":") {
			if out, err := exec.Command("usermod", "--add-subuids", "200000-265535", "--add-subgids", "200000-265535", name).CombinedOutput(); err != nil {
				t.Fatalf("usermod: %v: %s", err, out)
			}
			return
		}
	}
}

func newRootlessEngine(t *testing.T) *rootlessEngine {
	t.Helper()
	uid, gid, home, runtime := unprivileged(t)
	ensureSubIDs(t, testUser)
	stopUserProcesses(uid)
	cleanStore := func() {
		stopUserProcesses(uid)
		os.RemoveAll(filepath.Join(home, ".local", "share", "containers"))
		os.RemoveAll(fmt.Sprintf("/tmp/ocisuite-%d", uid))
		os.RemoveAll(fmt.Sprintf("/tmp/containers-user-%d", uid))
	}
	cleanStore()
	r := &rootlessEngine{t: t, uid: uid, gid: gid, home: home, runtime: runtime, engine: publicEngine(t)}
	t.Cleanup(func() {
		r.run("rm", "-af")
		cleanStore()
	})
	return r
}

// TestEngineRootless: an unprivileged user pulls (loads), runs in the
// foreground and detached, execs, reads logs, stops and removes
// containers, keeps data in volumes, and uses --userns keep-id, nomap and
// auto; storage is under ~/.local/share/containers/storage.
func TestEngineRootless(t *testing.T) {
	r := newRootlessEngine(t)
	archive := publicCopy(t, fixture.DockerArchive(t, fixture.Busybox(t), "localhost/bb:latest"))
	r.must("load", "-i", archive)
	// pull from a registry the user's registries.conf marks insecure.
	reg := registry.Start(t, registry.Options{})
	fixture.Push(t, fixture.Busybox(t), reg.Ref("user/bb:1"), reg.SystemContext())
	conf := filepath.Join(r.home, ".config", "containers", "registries.conf")
	os.MkdirAll(filepath.Dir(conf), 0o755)
	os.WriteFile(conf, []byte(fmt.Sprintf("[[registry]]\nlocation = %q\ninsecure = true\n", reg.Addr)), 0o644)
	exec.Command("chown", "-R", fmt.Sprintf("%d:%d", r.uid, r.gid), filepath.Join(r.home, ".config")).Run()
	r.must("pull", "-q", reg.Addr+"/user/bb:1")
	if out := r.must("run", "--rm", reg.Addr+"/user/bb:1", "echo", "pulled").Stdout; out != "pulled\n" {
		t.Fatalf("run of the pulled image: %q", out)
	}
	if _, err := os.Stat(filepath.Join(r.home, ".local", "share", "containers", "storage", "overlay-images")); err != nil {
		t.Fatalf("the user's images are not under ~/.local/share/containers/storage: %v", err)
	}
	if out := r.must("run", "--rm", "bb", "sh", "-c", "echo hello; id -u").Stdout; out != "hello\n0\n" {
		t.Fatalf("run --rm: %q", out)
	}
	if res := r.run("run", "--rm", "bb", "sh", "-c", "exit 5"); res.Code != 5 {
		t.Fatalf("exit code %d, want 5", res.Code)
	}
	r.must("run", "-d", "--name", "svc", "bb", "sh", "-c", "echo up; exec sleep 1000")
	if out := r.must("ps", "--format", "{{.Names}} {{.State}}").Stdout; out != "svc running\n" {
		t.Fatalf("ps: %q", out)
	}
	if out := r.must("exec", "svc", "cat", "/proc/self/uid_map").Stdout; !strings.Contains(out, strconv.Itoa(r.uid)) {
		t.Fatalf("the container's root is not the user: uid_map %q", out)
	}
	waitFor(t, func() bool { return r.must("logs", "svc").Stdout == "up\n" })
	r.must("stop", "-t", "1", "svc")
	if out := r.must("ps", "-a", "--format", "{{.Names}} {{.State}}").Stdout; out != "svc exited\n" {
		t.Fatalf("ps after stop: %q", out)
	}
	r.must("rm", "svc")

	// Volumes keep data across containers.
	r.must("run", "--rm", "-v", "data:/data", "bb", "sh", "-c", "echo kept > /data/f")
	if out := r.must("run", "--rm", "-v", "data:/data", "bb", "cat", "/data/f").Stdout; out != "kept\n" {
		t.Fatalf("volume: %q", out)
	}

	// keep-id: the user's own uid inside; files written to a bind mount
	// belong to the user on the host.
	shared := filepath.Join(r.home, "shared")
	os.MkdirAll(shared, 0o755)
	os.Chown(shared, r.uid, r.gid)
	out := r.must("run", "--rm", "--userns", "keep-id", "-v", shared+":/shared", "bb", "sh", "-c", "id -u; id -g; echo x > /shared/new").Stdout
	if out != fmt.Sprintf("%d\n%d\n", r.uid, r.gid) {
		t.Fatalf("keep-id: id %q", out)
	}
	st, err := os.Stat(filepath.Join(shared, "new"))
	if err != nil || st.Sys().(*syscall.Stat_t).Uid != uint32(r.uid) {
		t.Fatalf("keep-id: file written inside is not the user's: %v", err)
	}
	// :U gives a bind mount to the container's user: uid 1000 inside is
	// subordinate ID 999 past the start of the user's range on the host.
	udir := filepath.Join(r.home, "udir")
	os.MkdirAll(udir, 0o755)
	os.Chown(udir, r.uid, r.gid)
	r.must("run", "--rm", "-u", "1000:1000", "-v", udir+":/u:U", "bb", "touch", "/u/f")
	if st, err := os.Stat(filepath.Join(udir, "f")); err != nil || int(st.Sys().(*syscall.Stat_t).Uid) != subIDStart(t, "/etc/subuid", testUser)+999 {
		t.Fatalf(":U: %v %+v", err, st)
	}
	// nomap: the user's own uid is not mapped inside.
	if out := r.must("run", "--rm", "--userns", "nomap", "bb", "cat", "/proc/self/uid_map").Stdout; strings.Fields(out)[1] != "1" {
		t.Fatalf("nomap: uid_map %q", out)
	}
	if res := r.run("run", "--rm", "--userns", "auto", "bb", "cat", "/proc/self/uid_map"); res.Code != 0 || len(strings.Fields(res.Stdout)) != 3 {
		t.Fatalf("auto: exit %d %q", res.Code, res.Stdout)
	}

	// Limits need a delegated cgroup v2: a clear error, nothing created.
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err != nil {
		res := r.run("run", "--rm", "--memory", "64m", "bb", "true")
		if res.Code != 125 {
			t.Fatalf("--memory rootless on cgroup v1: exit %d", res.Code)
		}
		assertOneLine(t, res.Stderr, "cgroup")
	}
	if out := r.must("ps", "-aq").Stdout; out != "" {
		t.Fatalf("containers left: %q", out)
	}

	// Without XDG_RUNTIME_DIR the run state goes to a per-user /tmp dir.
	r.noXDGRuntimeDir = true
	if out := r.must("run", "--rm", "bb", "echo", "no-xdg").Stdout; out != "no-xdg\n" {
		t.Fatalf("run without XDG_RUNTIME_DIR: %q", out)
	}
	if _, err := os.Stat(fmt.Sprintf("/tmp/containers-user-%d", r.uid)); err != nil {
		t.Fatalf("no per-user run dir in /tmp: %v", err)
	}
}

// TestEngineRootlessNoSubIDs: a user without subordinate IDs gets one
// line saying how to fix it.
func TestEngineRootlessNoSubIDs(t *testing.T) {
	const name = "ocisuite-nosub"
	if _, err := user.Lookup(name); err != nil {
		if out, err := exec.Command("useradd", "--create-home", "--shell", "/bin/sh", name).CombinedOutput(); err != nil {
			t.Fatalf("useradd: %v: %s", err, out)
		}
	}
	u, _ := user.Lookup(name)
	for _, f := range []string{"/etc/subuid", "/etc/subgid"} {
		b, _ := os.ReadFile(f)
		var keep []string
		for _, l := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
			if l != "" && !strings.HasPrefix(l, name+":") && !strings.HasPrefix(l, u.Uid+":") {
				keep = append(keep, l)
			}
		}
		os.WriteFile(f, []byte(strings.Join(keep, "\n")+"\n"), 0o644)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	r := &rootlessEngine{t: t, uid: uid, gid: gid, home: u.HomeDir, runtime: t.TempDir(), engine: publicEngine(t)}
	os.Chown(r.runtime, uid, gid)
	res := r.run("ps")
	if res.Code != 125 {
		t.Fatalf("no subuid range: exit %d", res.Code)
	}
	assertOneLine(t, res.Stderr, "/etc/subuid", "usermod")
}

// subIDStart is the first subordinate ID of name in file.
func subIDStart(t *testing.T, file, name string) int {
	t.Helper()
	b, _ := os.ReadFile(file)
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Split(l, ":"); len(f) == 3 && f[0] == name {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	t.Fatalf("no range for %s in %s", name, file)
	return 0
}
