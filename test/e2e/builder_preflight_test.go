package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/ocisuite/suite/test/bin"
	"github.com/ocisuite/suite/test/fixture"
)

// builderStore runs builder as root on a store of the test's own.
type builderStore struct {
	root, runroot string
	env           []string
	// noConf hides /etc/containers (in a mount namespace of the
	// command's own): no storage.conf names a driver.
	noConf bool
}

func newBuilderStore(t *testing.T, env ...string) *builderStore {
	t.Helper()
	dir := t.TempDir()
	b := &builderStore{root: filepath.Join(dir, "root"), runroot: filepath.Join(dir, "runroot"), env: env}
	t.Cleanup(func() {
		_ = exec.Command("sh", "-c", "grep -o ' "+b.root+"[^ ]*' /proc/self/mounts | xargs -r -n1 umount -l").Run()
	})
	return b
}

func (b *builderStore) run(t *testing.T, args ...string) bin.Result {
	t.Helper()
	args = append([]string{"--root", b.root, "--runroot", b.runroot}, args...)
	if !b.noConf {
		return bin.Run(t, b.env, "builder", args...)
	}
	// Absolute paths: the test may empty $PATH.
	cmd := exec.Command("/usr/bin/unshare", append([]string{"-m", "/bin/sh", "-c", `/bin/mount -t tmpfs tmpfs /etc/containers && exec "$0" "$@"`, bin.Path(t, "builder")}, args...)...)
	cmd.Env = append(os.Environ(), b.env...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := bin.Result{Stdout: stdout.String(), Stderr: stderr.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		res.Code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	t.Logf("$ (no /etc/containers) builder %s  # exit %d %s", strings.Join(args, " "), res.Code, strings.TrimSpace(res.Stderr))
	return res
}

// checkLines are the status lines of `builder info --check` by check
// name, with the fix line under each.
func checkLines(t *testing.T, res bin.Result) map[string][2]string {
	t.Helper()
	out := res.Stdout
	if out == "" {
		t.Fatalf("info --check printed no checks: exit %d: %s", res.Code, res.Stderr)
	}
	lines := map[string][2]string{}
	status := regexp.MustCompile(`^(ok|warn|FAIL) +([^:]+): `)
	last := ""
	for _, l := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		if m := status.FindStringSubmatch(l); m != nil {
			last = m[2]
			lines[last] = [2]string{l, ""}
			continue
		}
		fix, ok := strings.CutPrefix(l, "      fix: ")
		if !ok || last == "" {
			t.Fatalf("unexpected line %q in:\n%s", l, out)
		}
		lines[last] = [2]string{lines[last][0], fix}
	}
	for _, name := range []string{"subordinate IDs", "newuidmap", "user namespaces", "cgroups", "runtime"} {
		if _, ok := lines[name]; !ok {
			t.Fatalf("no %s check in:\n%s", name, out)
		}
	}
	return lines
}

// TestBuilderPreflightRoot: as root every check passes (cgroup and fuse
// at worst warn), the driver choice is named, and info's JSON parses.
func TestBuilderPreflightRoot(t *testing.T) {
	b := newBuilderStore(t)
	res := b.run(t, "info", "--check")
	if res.Code != 0 {
		t.Fatalf("info --check as root: exit %d\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
	lines := checkLines(t, res)
	for name, l := range lines {
		if strings.HasPrefix(l[0], "FAIL") {
			t.Errorf("%s failed as root: %q", name, l)
		}
	}
	if l := lines["subordinate IDs"][0]; l != "ok    subordinate IDs: root needs none" {
		t.Errorf("subordinate IDs: %q", l)
	}
	if l := lines["storage driver"][0]; !strings.HasPrefix(l, "ok    storage driver: overlay (configured in /etc/containers/storage.conf; native overlay mounts work as root)") {
		t.Errorf("storage driver: %q", l)
	}
	if l := lines["store"][0]; l != "ok    store: "+b.root+" is empty" {
		t.Errorf("store: %q", l)
	}
	if l := lines["runtime"][0]; !strings.Contains(l, "runc version") {
		t.Errorf("runtime: %q", l)
	}

	// The results as JSON, for CI scripts.
	res = b.run(t, "info", "--check", "--format", "json")
	var results []struct {
		Name string
		OK   bool
		Fix  string
	}
	if err := json.Unmarshal([]byte(res.Stdout), &results); err != nil || res.Code != 0 || len(results) != len(lines) {
		t.Fatalf("info --check --format json: exit %d, %v: %s", res.Code, err, res.Stdout)
	}

	res = b.run(t, "info", "--format", "json")
	var info struct {
		Host struct {
			Kernel     string `json:"kernel"`
			CPUs       int    `json:"cpus"`
			Rootless   bool   `json:"rootless"`
			IDMappings struct {
				UIDMap []struct {
					ContainerID, HostID, Size int
				} `json:"uidmap"`
			} `json:"IDMappings"`
			CgroupVersion string
			OCIRuntime    string
		} `json:"host"`
		Store struct {
			GraphRoot, RunRoot, GraphDriverName, GraphDriverReason string
			GraphOptions                                           []string
			ImageStore                                             struct{ Number int } `json:"ImageStore"`
		} `json:"store"`
	}
	if err := json.Unmarshal([]byte(res.Stdout), &info); err != nil || res.Code != 0 {
		t.Fatalf("info --format json: exit %d, %v: %s", res.Code, err, res.Stdout)
	}
	h, s := info.Host, info.Store
	if h.Kernel == "" || h.CPUs < 1 || h.Rootless || len(h.IDMappings.UIDMap) != 1 || h.CgroupVersion == "" || filepath.Base(h.OCIRuntime) != "runc" {
		t.Errorf("host: %+v", h)
	}
	if s.GraphRoot != b.root || s.RunRoot != b.runroot || s.GraphDriverName != "overlay" || s.ImageStore.Number != 0 ||
		s.GraphDriverReason != "configured in /etc/containers/storage.conf; native overlay mounts work as root" {
		t.Errorf("store: %+v", s)
	}
	if res.Stderr != "" {
		t.Errorf("a configured driver that works is announced: %q", res.Stderr)
	}
	res = b.run(t, "info", "--format", "{{.Store.GraphDriverName}} {{.Host.Rootless}}")
	if res.Stdout != "overlay false\n" {
		t.Errorf("info --format template: %q", res.Stdout)
	}
}

// TestBuilderPreflightDriverChoice: with no driver configured (no
// storage.conf at all) the builder probes native overlay, then
// fuse-overlayfs, then vfs, and says once, on the store's first use,
// which it took and why.
func TestBuilderPreflightDriverChoice(t *testing.T) {
	t.Run("native", func(t *testing.T) {
		b := newBuilderStore(t)
		b.noConf = true
		res := b.run(t, "info", "--format", "{{.Store.GraphDriverName}} {{.Store.GraphOptions}}")
		if res.Code != 0 || res.Stdout != "overlay []\n" {
			t.Fatalf("exit %d, %q", res.Code, res.Stdout)
		}
		if res.Stderr != "builder: storage driver overlay (native overlay mounts work as root)\n" {
			t.Errorf("first use: stderr %q", res.Stderr)
		}
		if res = b.run(t, "info", "--format", "{{.Store.GraphDriverReason}}"); res.Stderr != "" || res.Stdout != "native overlay mounts work as root\n" {
			t.Errorf("second use: stderr %q, reason %q", res.Stderr, res.Stdout)
		}
		// The check names the choice too.
		res = b.run(t, "info", "--check")
		if l := checkLines(t, res)["storage driver"][0]; l != "ok    storage driver: overlay (native overlay mounts work as root)" {
			t.Errorf("check: %q", l)
		}
	})

	// A graph root on an overlay mount, where native overlay cannot keep
	// its upper layers.
	onOverlay := func(t *testing.T) *builderStore {
		dir := t.TempDir()
		for _, d := range []string{"l", "u", "w", "m"} {
			os.Mkdir(filepath.Join(dir, d), 0o700)
		}
		m := filepath.Join(dir, "m")
		if out, err := exec.Command("mount", "-t", "overlay", "overlay", "-o", "lowerdir="+dir+"/l,upperdir="+dir+"/u,workdir="+dir+"/w", m).CombinedOutput(); err != nil {
			t.Fatalf("mount: %v: %s", err, out)
		}
		t.Cleanup(func() { exec.Command("umount", "-l", m).Run() })
		b := newBuilderStore(t)
		b.root, b.noConf = filepath.Join(m, "storage"), true
		return b
	}

	t.Run("fuse-overlayfs", func(t *testing.T) {
		fuse, err := exec.LookPath("fuse-overlayfs")
		if err != nil {
			t.Fatalf("fuse-overlayfs is not installed: %v", err)
		}
		b := onOverlay(t)
		res := b.run(t, "info", "--format", "{{.Store.GraphDriverName}} {{.Store.GraphOptions}}")
		if res.Code != 0 || res.Stdout != "overlay [overlay.mount_program="+fuse+"]\n" {
			t.Fatalf("exit %d, %q", res.Code, res.Stdout)
		}
		if !regexp.MustCompile(`^builder: storage driver overlay \(native overlay failed: [^\n]*; /dev/fuse works, using ` + fuse + `\)\n$`).MatchString(res.Stderr) {
			t.Errorf("stderr %q", res.Stderr)
		}
	})

	t.Run("vfs", func(t *testing.T) {
		b := onOverlay(t)
		// No fuse-overlayfs on $PATH.
		b.env = append(b.env, "PATH="+t.TempDir())
		res := b.run(t, "info", "--format", "{{.Store.GraphDriverName}}")
		if res.Code != 0 || res.Stdout != "vfs\n" {
			t.Fatalf("exit %d, %q", res.Code, res.Stdout)
		}
		if !regexp.MustCompile(`^builder: storage driver vfs \(no overlay: native overlay failed: [^\n]*; fuse-overlayfs: [^\n]*\)\n$`).MatchString(res.Stderr) {
			t.Errorf("stderr %q", res.Stderr)
		}
		// The store is no longer new, so the choice is not repeated.
		if res := b.run(t, "info", "--format", "{{.Store.GraphDriverName}}"); res.Stdout != "vfs\n" || res.Stderr != "" {
			t.Errorf("second use: %q %q", res.Stdout, res.Stderr)
		}
	})
}

// TestBuilderPreflightStoreDriver: a store made with vfs, used with
// --storage-driver overlay, is one line giving the command that fixes it;
// that command works.
func TestBuilderPreflightStoreDriver(t *testing.T) {
	b := newBuilderStore(t)
	archive := fixture.DockerArchive(t, fixture.Busybox(t), "localhost/bb:latest")
	bin.MustRun(t, nil, "engine", "--root", b.root, "--runroot", b.runroot, "--storage-driver", "vfs", "load", "-i", archive)

	res := b.run(t, "--storage-driver", "overlay", "info")
	if res.Code != 125 {
		t.Fatalf("overlay on a vfs store: exit %d", res.Code)
	}
	fix := fmt.Sprintf("engine --root %s --runroot %s --storage-driver vfs system reset --force", b.root, b.runroot)
	assertOneLine(t, res.Stderr, "the store at "+b.root+" holds layers made with the vfs driver, not overlay", "use --storage-driver vfs", "'"+fix+"'")
	if strings.Count(strings.TrimSpace(res.Stderr), "\n") != 0 {
		t.Errorf("more than one line: %q", res.Stderr)
	}

	res = b.run(t, "--storage-driver", "overlay", "info", "--check")
	if res.Code != 125 {
		t.Fatalf("info --check on the mismatched store: exit %d", res.Code)
	}
	if l := checkLines(t, res)["store"]; !strings.HasPrefix(l[0], "FAIL  store: the store at "+b.root+" holds layers made with the vfs driver") || !strings.Contains(l[1], fix) {
		t.Errorf("store check: %q", l)
	}
	assertOneLine(t, res.Stderr, "preflight checks failed: store")

	// Either fix works: the store's driver, or emptying the store.
	if res := b.run(t, "--storage-driver", "vfs", "info", "--format", "{{.Store.ImageStore.Number}}"); res.Code != 0 || res.Stdout != "1\n" {
		t.Fatalf("--storage-driver vfs: exit %d %q %s", res.Code, res.Stdout, res.Stderr)
	}
	bin.MustRun(t, nil, "engine", strings.Fields(fix)[1:]...)
	if res := b.run(t, "--storage-driver", "overlay", "info", "--format", "{{.Store.GraphDriverName}}"); res.Code != 0 || res.Stdout != "overlay\n" {
		t.Fatalf("overlay after the reset: exit %d %q %s", res.Code, res.Stdout, res.Stderr)
	}
}

// TestBuilderPreflightRootless: the CI user's checks pass and name the
// driver; /dev/fuse closed to users and a cgroup v1 host are warnings
// with their fixes; on first use with no driver configured the choice is
// announced.
func TestBuilderPreflightRootless(t *testing.T) {
	r := newRootlessEngine(t)
	builder := *r
	builder.engine = publicCopy(t, bin.Path(t, "builder"))

	res := builder.run("info", "--check")
	if res.Code != 0 {
		t.Fatalf("info --check as %s: exit %d\n%s%s", testUser, res.Code, res.Stdout, res.Stderr)
	}
	lines := checkLines(t, res)
	if l := lines["subordinate IDs"][0]; !strings.HasPrefix(l, "ok    subordinate IDs: "+testUser+" has ") {
		t.Errorf("subordinate IDs: %q", l)
	}
	if l := lines["newuidmap"][0]; !strings.HasPrefix(l, "ok    newuidmap: ") {
		t.Errorf("newuidmap: %q", l)
	}
	if l := lines["user namespaces"][0]; !strings.HasPrefix(l, fmt.Sprintf("ok    user namespaces: builder runs in the user namespace mapping uids 0 %d 1, 1 ", r.uid)) {
		t.Errorf("user namespaces: %q", l)
	}
	if l := lines["storage driver"][0]; l != "ok    storage driver: overlay (configured in /etc/containers/storage.conf; native overlay mounts work in the user namespace)" {
		t.Errorf("storage driver: %q", l)
	}
	st, err := os.Stat("/dev/fuse")
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm()&0o006 != 0o006 {
		// 0600 here: the user's namespace root cannot open it; native
		// overlay works, so it is a warning.
		want := [2]string{"warn  /dev/fuse: open /dev/fuse: permission denied: fuse-overlayfs is only needed when native overlay mounts fail, which they do not", "sudo chmod 0666 /dev/fuse"}
		if l := lines["/dev/fuse"]; l != want {
			t.Errorf("/dev/fuse: %q, want %q", l, want)
		}
	} else if l := lines["/dev/fuse"]; !strings.HasPrefix(l[0], "ok") {
		t.Errorf("/dev/fuse: %q", l)
	}
	var fs syscall.Statfs_t
	if syscall.Statfs("/sys/fs/cgroup", &fs) == nil && fs.Type != 0x63677270 {
		l := lines["cgroups"]
		if !strings.HasPrefix(l[0], "warn  cgroups: cgroup v1") || !strings.Contains(l[0], "RUN steps get no cgroup limits; builds still work") || !strings.Contains(l[1], "systemd.unified_cgroup_hierarchy=1") {
			t.Errorf("cgroups on a cgroup v1 host: %q", l)
		}
	}

	// No driver configured: the choice is announced on first use only.
	conf := filepath.Join(r.home, ".config", "containers", "storage.conf")
	os.MkdirAll(filepath.Dir(conf), 0o755)
	os.WriteFile(conf, []byte("[storage]\n"), 0o644)
	t.Cleanup(func() { os.Remove(conf) })
	exec.Command("chown", "-R", fmt.Sprintf("%d:%d", r.uid, r.gid), filepath.Join(r.home, ".config")).Run()
	res = builder.run("info", "--format", "{{.Store.GraphDriverName}} {{.Host.Rootless}}")
	if res.Code != 0 || res.Stdout != "overlay true\n" {
		t.Fatalf("info as %s: exit %d %q", testUser, res.Code, res.Stdout)
	}
	const announce = "builder: storage driver overlay (native overlay mounts work in the user namespace)\n"
	if builderLines(res.Stderr) != announce {
		t.Errorf("first use: stderr %q", res.Stderr)
	}
	if res := builder.run("info", "--format", "{{.Store.GraphDriverName}}"); builderLines(res.Stderr) != "" {
		t.Errorf("second use: stderr %q", res.Stderr)
	}
}

// TestBuilderPreflightNoSubIDs: a user without subordinate IDs gets FAIL
// lines and the usermod command, which fixes it.
func TestBuilderPreflightNoSubIDs(t *testing.T) {
	const name = "ocisuite-nosub"
	if _, err := user.Lookup(name); err != nil {
		if out, err := exec.Command("useradd", "--create-home", "--shell", "/bin/sh", name).CombinedOutput(); err != nil {
			t.Fatalf("useradd: %v: %s", err, out)
		}
	}
	u, _ := user.Lookup(name)
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	dropSubIDs := func() {
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
	}
	dropSubIDs()
	t.Cleanup(func() {
		stopUserProcesses(uid)
		dropSubIDs()
		os.RemoveAll(filepath.Join(u.HomeDir, ".local", "share", "containers"))
		os.RemoveAll(fmt.Sprintf("/tmp/ocisuite-%d", uid))
	})
	runtime, err := os.MkdirTemp("", "ocisuite-xdg-nosub-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(runtime) })
	os.Chown(runtime, uid, gid)
	r := &rootlessEngine{t: t, uid: uid, gid: gid, home: u.HomeDir, runtime: runtime, engine: publicCopy(t, bin.Path(t, "builder"))}

	res := r.run("info", "--check")
	if res.Code != 125 {
		t.Fatalf("no subuid range: exit %d\n%s", res.Code, res.Stdout)
	}
	lines := checkLines(t, res)
	l := lines["subordinate IDs"]
	if l[0] != "FAIL  subordinate IDs: "+name+" has no range in /etc/subuid; "+name+" has no range in /etc/subgid" {
		t.Errorf("subordinate IDs: %q", l[0])
	}
	m := regexp.MustCompile(`^sudo usermod --add-subuids (\d+)-(\d+) --add-subgids (\d+)-(\d+) ` + name + `$`).FindStringSubmatch(l[1])
	if m == nil || m[1] != m[3] || m[2] != m[4] {
		t.Fatalf("fix %q", l[1])
	}
	if l := lines["user namespaces"]; !strings.HasPrefix(l[0], "FAIL  user namespaces: builder could not enter its user namespace: rootless: user "+name+" has no range in /etc/subuid") || l[1] != "fix the failures above" {
		t.Errorf("user namespaces: %q", l)
	}
	assertOneLine(t, res.Stderr, "preflight checks failed", "subordinate IDs")

	// The fix, run as root, fixes it.
	fix := strings.Fields(l[1])
	if out, err := exec.Command(fix[1], fix[2:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v: %s", l[1], err, out)
	}
	res = r.run("info", "--check")
	if l := checkLines(t, res)["subordinate IDs"][0]; !strings.HasPrefix(l, "ok    subordinate IDs: "+name+" has 65536 UIDs from "+m[1]) {
		t.Errorf("after the fix: %q", l)
	}
	if res.Code != 0 {
		t.Errorf("after the fix: exit %d\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
}

// builderLines are the lines of stderr builder itself printed, without
// the warning containers/storage logs for a storage.conf naming no driver.
func builderLines(stderr string) string {
	var keep []string
	for _, l := range strings.SplitAfter(stderr, "\n") {
		if l != "" && !strings.Contains(l, "The storage 'driver' option should be set in") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "")
}
