package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ocisuite/suite/test/bin"
	"github.com/ocisuite/suite/test/fixture"
)

// containerStore is a test store holding the busybox image as "bb", with
// every container removed (and its conmon gone) when the test ends.
func containerStore(t *testing.T) *engineStore {
	t.Helper()
	e := newEngineStore(t)
	e.load(t, fixture.Busybox(t), "localhost/bb:latest")
	// Remove every container and wait for their monitors and exit
	// commands before the test's directory goes.
	t.Cleanup(func() { e.settle(t) })
	return e
}

type inspected struct {
	ID    string `json:"Id"`
	Name  string
	State struct {
		Status    string
		Running   bool
		Pid       int
		ConmonPid int
		ExitCode  int
	}
	RestartCount int
	Config       struct {
		Env        []string
		WorkingDir string
		Labels     map[string]string
	}
	HostConfig struct {
		RestartPolicy struct{ Name string }
		Memory        int64
		PidsLimit     int64
	}
	Mounts []struct{ Type, Source, Destination, Name string }
}

func (e *engineStore) inspect(t *testing.T, name string) inspected {
	t.Helper()
	var out []inspected
	res := e.must(t, "container", "inspect", name)
	if err := json.Unmarshal([]byte(res.Stdout), &out); err != nil || len(out) != 1 {
		t.Fatalf("inspect %s: %v: %s", name, err, res.Stdout)
	}
	return out[0]
}

// waitStatus polls inspect until the container reaches status.
func (e *engineStore) waitStatus(t *testing.T, name, status string) inspected {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		in := e.inspect(t, name)
		if in.State.Status == status {
			return in
		}
		if time.Now().After(deadline) {
			t.Fatalf("container %s is %s, want %s", name, in.State.Status, status)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestEngineContainerRunForeground(t *testing.T) {
	e := containerStore(t)
	res := e.must(t, "run", "--rm", "bb", "sh", "-c", "echo out; echo err >&2")
	if res.Stdout != "out\n" || !strings.Contains(res.Stderr, "err\n") {
		t.Fatalf("run printed stdout %q stderr %q", res.Stdout, res.Stderr)
	}
	if res := e.run(t, "run", "--rm", "bb", "sh", "-c", "exit 42"); res.Code != 42 {
		t.Fatalf("exit 42: got %d", res.Code)
	}
	// A process that ends at once, started again and again: its exit code
	// and output arrive every time (the start must not take an init that
	// already ran for one that never started).
	for i := range 10 {
		if res := e.run(t, "run", "--rm", "bb", "sh", "-c", "echo quick; exit 3"); res.Code != 3 || res.Stdout != "quick\n" {
			t.Fatalf("quick run %d: exit %d, %q %q", i, res.Code, res.Stdout, res.Stderr)
		}
	}
	res = e.run(t, "run", "--rm", "bb", "no-such-command")
	if res.Code != 127 {
		t.Fatalf("missing command: exit %d, want 127", res.Code)
	}
	assertOneLine(t, res.Stderr, "no-such-command")
	if res := e.run(t, "run", "--rm", "no-such-image"); res.Code != 125 {
		t.Fatalf("unknown image: exit %d, want 125", res.Code)
	}
	// --rm leaves nothing behind, as soon as run returns: the CLI cleans
	// up itself (conmon's exit command stands back while it lives).
	if out := e.must(t, "ps", "-aq").Stdout; out != "" {
		t.Fatalf("--rm left containers: %q", out)
	}
	for _, d := range []string{"engine/runc", "engine/exits", "engine/attached", "overlay-containers"} {
		if left, _ := os.ReadDir(filepath.Join(e.runroot, d)); len(left) != 0 {
			t.Fatalf("--rm left %s/%s", d, left[0].Name())
		}
	}
	// Without --rm the CLI records the exit and unmounts at once.
	e.must(t, "run", "--name", "kept", "bb", "true")
	in := e.inspect(t, "kept")
	if in.State.Status != "exited" || in.State.Pid != 0 {
		t.Fatalf("after a foreground run: %+v", in.State)
	}
	if left, _ := os.ReadDir(filepath.Join(e.runroot, "engine/runc")); len(left) != 0 {
		t.Fatalf("the runtime still holds %s", left[0].Name())
	}
	if cgroups, _ := filepath.Glob("/sys/fs/cgroup/*/ocisuite/" + in.ID); len(cgroups) != 0 {
		t.Fatalf("the cgroups of kept are left: %v", cgroups)
	}
	mounts, _ := os.ReadFile("/proc/self/mounts")
	for _, l := range strings.Split(string(mounts), "\n") {
		if strings.Contains(l, e.root+"/overlay/") && strings.Contains(l, "/merged ") {
			t.Fatalf("a root filesystem is still mounted after the foreground run: %s", l)
		}
	}
	e.must(t, "rm", "kept")
	// A foreground run --rm whose CLI is killed: conmon's exit command
	// removes the container when it ends.
	cmd := bin.Cmd(t, "engine", e.args([]string{"run", "--rm", "--name", "orphan", "bb", "sleep", "1"})...)
	cmd.Env = append(os.Environ(), e.env...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(15 * time.Second); e.run(t, "ps", "-q", "--filter", "name=orphan", "--filter", "status=running").Stdout == ""; {
		if time.Now().After(deadline) {
			t.Fatal("the container orphan did not start")
		}
		time.Sleep(50 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	deadline := time.Now().Add(15 * time.Second)
	for e.must(t, "ps", "-aq").Stdout != "" {
		if time.Now().After(deadline) {
			t.Fatalf("the exit command did not remove the --rm container of a killed CLI: %s", e.must(t, "ps", "-a").Stdout)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// stdin with -i.
	res = e.stdin(t, []byte("hello stdin\n"), "run", "--rm", "-i", "bb", "cat")
	if res.Code != 0 || res.Stdout != "hello stdin\n" {
		t.Fatalf("run -i cat: exit %d, %q", res.Code, res.Stdout)
	}
}

func TestEngineContainerLifecycle(t *testing.T) {
	e := containerStore(t)
	id := strings.TrimSpace(e.must(t, "run", "-d", "--name", "web", "-l", "app=web", "-e", "FOO=bar", "-w", "/tmp", "bb", "sh", "-c", "echo started; exec sleep 1000").Stdout)
	if len(id) != 64 {
		t.Fatalf("run -d printed %q, want an ID", id)
	}
	in := e.waitStatus(t, "web", "running")
	if in.ID != id || in.State.Pid == 0 || in.State.ConmonPid == 0 || in.Config.WorkingDir != "/tmp" || in.Config.Labels["app"] != "web" {
		t.Fatalf("inspect: %+v", in)
	}
	// The container's parent is conmon, not the CLI.
	ppid := parentPid(t, in.State.Pid)
	if comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", ppid)); strings.TrimSpace(string(comm)) != "conmon" {
		t.Fatalf("parent of the container is %q, want conmon", comm)
	}
	// conmon has its own cgroup (podman's "/libpod_parent/conmon" under
	// cgroupfs), the container its own.
	checkCgroups(t, map[int]string{ppid: "/ocisuite/conmon", in.State.Pid: "/ocisuite/" + id})
	// On ext4 the store's per-container directories are tops of directory
	// hierarchies (chattr +T), so that each container's files go in a
	// block group of ext4's choosing.
	for _, d := range []string{filepath.Join(e.root, "overlay-containers"), filepath.Join(e.root, "overlay")} {
		var st unix.Statfs_t
		if err := unix.Statfs(d, &st); err != nil || st.Type != unix.EXT4_SUPER_MAGIC {
			continue
		}
		if out, err := exec.Command("lsattr", "-d", d).Output(); err != nil || !strings.Contains(strings.Fields(string(out))[0], "T") {
			t.Errorf("lsattr -d %s: %q %v, want the T flag", d, out, err)
		}
	}
	ps := e.must(t, "ps", "--format", "{{.Names}} {{.Status}}").Stdout
	if !strings.HasPrefix(ps, "web Up") {
		t.Fatalf("ps: %q", ps)
	}
	if out := e.must(t, "ps", "--filter", "label=app=web", "-q").Stdout; strings.TrimSpace(out) != id[:12] {
		t.Fatalf("ps --filter label: %q", out)
	}
	if out := e.must(t, "exec", "web", "sh", "-c", "echo $FOO; pwd").Stdout; out != "bar\n/tmp\n" {
		t.Fatalf("exec: %q", out)
	}
	envFile := filepath.Join(t.TempDir(), "env")
	os.WriteFile(envFile, []byte("# comment\nFROMFILE=yes\n"), 0o644)
	if out := e.must(t, "exec", "--env-file", envFile, "-e", "X=1", "web", "sh", "-c", "echo $FROMFILE$X").Stdout; out != "yes1\n" {
		t.Fatalf("exec --env-file -e: %q", out)
	}
	if res := e.run(t, "exec", "web", "sh", "-c", "exit 7"); res.Code != 7 {
		t.Fatalf("exec exit code %d, want 7", res.Code)
	}
	if res := e.run(t, "exec", "web", "nope"); res.Code != 127 {
		t.Fatalf("exec of a missing command: exit %d, want 127", res.Code)
	}
	if out := e.must(t, "exec", "-u", "nobody", "web", "id", "-u").Stdout; out != "65534\n" {
		t.Fatalf("exec -u nobody: %q", out)
	}
	waitFor(t, func() bool { return strings.Contains(e.must(t, "logs", "web").Stdout, "started") })
	// A name in use is refused with one line and nothing created: run
	// starts the container's conmon before the storage is made, and must
	// take it and the directories made for it back.
	dirs := func() int {
		n := 0
		for _, root := range []string{e.root, e.runroot} {
			entries, _ := os.ReadDir(filepath.Join(root, "overlay-containers"))
			for _, en := range entries {
				if en.IsDir() {
					n++
				}
			}
		}
		return n
	}
	dirsBefore, conmonsBefore := dirs(), conmonsOf(e.root)
	for _, args := range [][]string{{"run", "-d", "--name", "web", "bb", "true"}, {"run", "--rm", "--name", "web", "bb", "true"}} {
		res := e.run(t, args...)
		if res.Code != 125 {
			t.Fatalf("%v with a name in use: exit %d", args, res.Code)
		}
		assertOneLine(t, res.Stderr, "already in use")
	}
	if d, c := dirs(), conmonsOf(e.root); d != dirsBefore || c != conmonsBefore {
		t.Fatalf("after runs refused for their name: %d container directories (%d before), %d conmons (%d before)", d, dirsBefore, c, conmonsBefore)
	}
	e.must(t, "pause", "web")
	e.waitStatus(t, "web", "paused")
	e.must(t, "unpause", "web")
	e.waitStatus(t, "web", "running")
	if res := e.run(t, "rm", "web"); res.Code != 125 {
		t.Fatalf("rm of a running container: exit %d, want 125", res.Code)
	}
	e.must(t, "rename", "web", "web2")
	e.must(t, "stop", "-t", "1", "web2")
	in = e.inspect(t, "web2")
	if in.State.Status != "exited" || in.State.ExitCode != 137 {
		t.Fatalf("after stop: %+v", in.State)
	}
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", in.State.Pid)); in.State.Pid != 0 || err == nil && in.State.Pid != 0 {
		t.Fatalf("pid %d still recorded after stop", in.State.Pid)
	}
	// A stopped container starts again.
	e.must(t, "start", "web2")
	e.waitStatus(t, "web2", "running")
	e.must(t, "kill", "-s", "TERM", "web2") // sleep ignores TERM as PID 1
	e.must(t, "kill", "web2")
	if out := strings.TrimSpace(e.must(t, "wait", "web2").Stdout); out != "137" {
		t.Fatalf("wait printed %q, want 137", out)
	}
	e.must(t, "rm", "web2")
	if res := e.run(t, "container", "exists", "web2"); res.Code != 1 {
		t.Fatalf("exists after rm: exit %d", res.Code)
	}
}

func TestEngineContainerCreateStartWait(t *testing.T) {
	e := containerStore(t)
	e.must(t, "create", "--name", "c1", "bb", "sh", "-c", "echo from-c1; exit 3")
	if in := e.inspect(t, "c1"); in.State.Status != "created" {
		t.Fatalf("after create: %s", in.State.Status)
	}
	res := e.run(t, "start", "-a", "c1")
	if res.Code != 3 || res.Stdout != "from-c1\n" {
		t.Fatalf("start -a: exit %d, %q", res.Code, res.Stdout)
	}
	// A conmon started with the container (not ahead of it, as run's) is
	// in its cgroup too.
	e.must(t, "create", "--name", "c2", "bb", "sleep", "1000")
	e.must(t, "start", "c2")
	c2 := e.inspect(t, "c2")
	checkCgroups(t, map[int]string{c2.State.ConmonPid: "/ocisuite/conmon", c2.State.Pid: "/ocisuite/" + c2.ID})
	e.must(t, "rm", "-f", "c2")
	if out := e.must(t, "ps", "-a", "--filter", "exited=3", "--format", "{{.Names}}").Stdout; out != "c1\n" {
		t.Fatalf("ps --filter exited=3: %q", out)
	}
	if out := e.must(t, "logs", "c1").Stdout; out != "from-c1\n" {
		t.Fatalf("logs: %q", out)
	}
	// podman's JSON shape: the full ID, a list (not null) for no mounts,
	// the default network's name, null for no ports.
	var rows []map[string]any
	if err := json.Unmarshal([]byte(e.must(t, "ps", "-a", "--format", "json").Stdout), &rows); err != nil || len(rows) != 1 || rows[0]["ExitCode"].(float64) != 3 ||
		rows[0]["Id"] != e.inspect(t, "c1").ID || fmt.Sprint(rows[0]["Mounts"]) != "[]" || fmt.Sprint(rows[0]["Networks"]) != "[podman]" || rows[0]["Ports"] != nil {
		t.Fatalf("ps --format json: %v %v", err, rows)
	}
	if id := strings.TrimSpace(e.must(t, "ps", "-aq").Stdout); len(id) != 12 || !strings.HasPrefix(e.inspect(t, "c1").ID, id) {
		t.Fatalf("ps -aq: %q", id)
	}
	e.must(t, "container", "prune", "-f")
	if out := e.must(t, "ps", "-aq").Stdout; out != "" {
		t.Fatalf("prune left %q", out)
	}
}

func TestEngineContainerRestartPolicy(t *testing.T) {
	e := containerStore(t)
	e.must(t, "run", "-d", "--name", "flaky", "--restart", "on-failure:2", "bb", "sh", "-c", "exit 1")
	waitFor(t, func() bool {
		in := e.inspect(t, "flaky")
		return in.RestartCount == 2 && in.State.Status == "exited"
	})
	time.Sleep(time.Second)
	if in := e.inspect(t, "flaky"); in.RestartCount != 2 || in.State.Status != "exited" {
		t.Fatalf("on-failure:2 went on: %+v", in)
	}
	e.must(t, "run", "-d", "--name", "always", "--restart", "always", "bb", "sh", "-c", "sleep 0.2")
	waitFor(t, func() bool { return e.inspect(t, "always").RestartCount >= 2 })
	e.must(t, "stop", "-t", "0", "always")
	in := e.inspect(t, "always")
	time.Sleep(time.Second)
	if after := e.inspect(t, "always"); after.State.Status != "exited" || after.RestartCount != in.RestartCount {
		t.Fatalf("a stopped --restart always container came back: %+v", after)
	}
}

func TestEngineContainerSecurityDefaults(t *testing.T) {
	e := containerStore(t)
	status := e.must(t, "run", "--rm", "bb", "cat", "/proc/self/status").Stdout
	if !strings.Contains(status, "Seccomp:\t2") {
		t.Errorf("no seccomp filter by default:\n%s", status)
	}
	capEff := field(status, "CapEff")
	if capEff == "000001ffffffffff" || capEff == "" {
		t.Errorf("default capabilities not dropped: CapEff %s", capEff)
	}
	dropped := field(e.must(t, "run", "--rm", "--cap-drop", "ALL", "bb", "cat", "/proc/self/status").Stdout, "CapEff")
	if dropped != "0000000000000000" {
		t.Errorf("--cap-drop ALL: CapEff %s", dropped)
	}
	nnp := e.must(t, "run", "--rm", "--security-opt", "no-new-privileges", "bb", "cat", "/proc/self/status").Stdout
	if field(nnp, "NoNewPrivs") != "1" {
		t.Errorf("no-new-privileges not set")
	}
	if field(e.must(t, "run", "--rm", "--security-opt", "seccomp=unconfined", "bb", "cat", "/proc/self/status").Stdout, "Seccomp") != "0" {
		t.Errorf("seccomp=unconfined still filtered")
	}
	// Masked and read-only /proc paths.
	if out := e.must(t, "run", "--rm", "bb", "sh", "-c", "wc -c < /proc/timer_list").Stdout; strings.TrimSpace(out) != "0" {
		t.Errorf("/proc/timer_list not masked: %q", out)
	}
	if res := e.run(t, "run", "--rm", "bb", "sh", "-c", "echo 1 > /proc/sys/vm/drop_caches"); res.Code == 0 {
		t.Errorf("/proc/sys writable")
	}
	if res := e.run(t, "run", "--rm", "--read-only", "bb", "touch", "/x"); res.Code == 0 {
		t.Errorf("--read-only: root writable")
	}
	if res := e.run(t, "run", "--rm", "--read-only", "bb", "touch", "/tmp/x"); res.Code != 0 {
		t.Errorf("--read-only: /tmp not writable: %s", res.Stderr)
	}
	// The caller's rlimits by default; a hard limit above the caller's is refused.
	var soft, hard string
	if out := e.must(t, "run", "--rm", "bb", "sh", "-c", "ulimit -n; ulimit -Hn").Stdout; true {
		f := strings.Fields(out)
		if len(f) == 2 {
			soft, hard = f[0], f[1]
		}
	}
	if hard == "" || soft == "" {
		t.Fatalf("ulimit output")
	}
	h, _ := strconv.Atoi(hard)
	res := e.run(t, "run", "--rm", "--ulimit", fmt.Sprintf("nofile=10:%d", h+1), "bb", "true")
	if res.Code != 125 {
		t.Errorf("--ulimit above the hard limit: exit %d", res.Code)
	}
	assertOneLine(t, res.Stderr, "hard limit")
	if out := e.must(t, "run", "--rm", "--ulimit", "nofile=100:200", "bb", "sh", "-c", "ulimit -n; ulimit -Hn").Stdout; out != "100\n200\n" {
		t.Errorf("--ulimit nofile=100:200: %q", out)
	}
	// --init runs catatonit as PID 1.
	if out := e.must(t, "run", "--rm", "--init", "bb", "cat", "/proc/1/cmdline").Stdout; !strings.Contains(out, "engine-init") {
		t.Errorf("--init: PID 1 is %q", out)
	}
	// --pids-limit and --memory reach the cgroup.
	e.must(t, "run", "-d", "--name", "lim", "--memory", "64m", "--pids-limit", "50", "bb", "sleep", "100")
	in := e.waitStatus(t, "lim", "running")
	if in.HostConfig.Memory != 64<<20 || in.HostConfig.PidsLimit != 50 {
		t.Errorf("inspect limits: %+v", in.HostConfig)
	}
	if out := e.must(t, "exec", "lim", "cat", "/sys/fs/cgroup/pids/pids.max").Stdout; strings.TrimSpace(out) != "50" {
		t.Errorf("pids.max inside: %q", out)
	}
}

func TestEngineContainerMounts(t *testing.T) {
	e := containerStore(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "f"), []byte("host file\n"), 0o644)
	if out := e.must(t, "run", "--rm", "-v", dir+":/data:ro", "bb", "cat", "/data/f").Stdout; out != "host file\n" {
		t.Fatalf("bind mount: %q", out)
	}
	if res := e.run(t, "run", "--rm", "-v", dir+":/data:ro", "bb", "touch", "/data/g"); res.Code == 0 {
		t.Fatalf(":ro bind mount is writable")
	}
	e.must(t, "run", "--rm", "-v", dir+":/data", "bb", "sh", "-c", "echo from-container > /data/g")
	if b, _ := os.ReadFile(filepath.Join(dir, "g")); string(b) != "from-container\n" {
		t.Fatalf("write through bind mount: %q", b)
	}
	res := e.run(t, "run", "--rm", "-v", "/no/such/dir:/x", "bb", "true")
	if res.Code != 125 {
		t.Fatalf("missing bind source: exit %d", res.Code)
	}
	assertOneLine(t, res.Stderr, "/no/such/dir")
	if out := e.must(t, "ps", "-aq").Stdout; out != "" {
		t.Fatalf("a refused run left a container: %q", out)
	}
	// A named volume keeps data across containers.
	e.must(t, "run", "--rm", "-v", "vol1:/v", "bb", "sh", "-c", "echo kept > /v/file")
	if out := e.must(t, "run", "--rm", "-v", "vol1:/v", "bb", "cat", "/v/file").Stdout; out != "kept\n" {
		t.Fatalf("named volume: %q", out)
	}
	if out := e.must(t, "run", "--rm", "--tmpfs", "/scratch:size=1m", "bb", "sh", "-c", "grep ' /scratch ' /proc/mounts").Stdout; !strings.Contains(out, "tmpfs") {
		t.Fatalf("--tmpfs: %q", out)
	}
	// inspect, as podman's: the mounts as the spec makes them, the
	// layer's directories (a file written inside is in UpperDir), the
	// bundle's files, and an empty health for no healthcheck.
	e.must(t, "run", "-d", "--name", "m", "-v", dir+":/data:ro", "-v", "vol1:/v", "bb", "sh", "-c", "echo up > /up; exec sleep 60")
	waitFor(t, func() bool { return e.run(t, "exec", "m", "cat", "/up").Stdout == "up\n" })
	var in []struct {
		Mounts []struct {
			Type, Name, Source, Destination, Driver, Propagation string
			Options                                              []string
			RW                                                   bool
		}
		GraphDriver struct {
			Name string
			Data map[string]string
		}
		HostsPath, ResolvConfPath, OCIConfigPath string
		State                                    struct{ Health *struct{ Status string } }
	}
	if err := json.Unmarshal([]byte(e.must(t, "inspect", "m").Stdout), &in); err != nil || len(in) != 1 || len(in[0].Mounts) != 2 {
		t.Fatalf("inspect: %v %+v", err, in)
	}
	b, v := in[0].Mounts[0], in[0].Mounts[1]
	if b.Type != "bind" || b.Source != dir || b.RW || b.Propagation != "rprivate" || !slices.Equal(b.Options, []string{"rbind"}) ||
		v.Type != "volume" || v.Name != "vol1" || v.Driver != "local" || !v.RW || !strings.HasSuffix(v.Source, "/volumes/vol1/_data") {
		t.Fatalf("inspect Mounts: %+v", in[0].Mounts)
	}
	if up, err := os.ReadFile(filepath.Join(in[0].GraphDriver.Data["UpperDir"], "up")); err != nil || string(up) != "up\n" || in[0].GraphDriver.Name != "overlay" {
		t.Fatalf("inspect GraphDriver %+v: %q %v", in[0].GraphDriver, up, err)
	}
	if h, err := os.ReadFile(in[0].HostsPath); err != nil || !strings.Contains(string(h), "localhost") || in[0].OCIConfigPath == "" {
		t.Fatalf("inspect HostsPath %q: %q %v", in[0].HostsPath, h, err)
	}
	if h := in[0].State.Health; h == nil || h.Status != "" {
		t.Fatalf("inspect State.Health: %+v", h)
	}
	if out := e.must(t, "inspect", "--format", "[{{.State.Health.Status}}]", "m").Stdout; out != "[]\n" {
		t.Fatalf("inspect --format State.Health.Status: %q", out)
	}
}

func TestEngineContainerParallel(t *testing.T) {
	e := containerStore(t)
	const n = 50
	var wg sync.WaitGroup
	errs := make(chan string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if res := e.run(t, "run", "-d", "--name", fmt.Sprintf("p%d", i), "bb", "sleep", "1000"); res.Code != 0 {
				errs <- res.Stderr
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("parallel run: %s", err)
	}
	if out := strings.Fields(e.must(t, "ps", "-q").Stdout); len(out) != n {
		t.Fatalf("%d running after %d parallel runs", len(out), n)
	}
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.must(t, "rm", "-f", fmt.Sprintf("p%d", i))
		}()
	}
	wg.Wait()
	if out := e.must(t, "ps", "-aq").Stdout; out != "" {
		t.Fatalf("parallel rm -f left %q", out)
	}
	mounts, _ := os.ReadFile("/proc/self/mounts")
	if strings.Contains(string(mounts), e.root+"/overlay/") && strings.Contains(string(mounts), "/merged") {
		for _, l := range strings.Split(string(mounts), "\n") {
			if strings.Contains(l, e.root) && strings.Contains(l, "merged") {
				t.Errorf("mount left behind: %s", l)
			}
		}
	}
}

func TestEngineContainerKilledProcess(t *testing.T) {
	e := containerStore(t)
	e.must(t, "run", "-d", "--name", "victim", "bb", "sleep", "1000")
	in := e.waitStatus(t, "victim", "running")
	// The container's process dies behind the engine's back: conmon's exit
	// command records it.
	if err := syscallKill(in.State.Pid); err != nil {
		t.Fatal(err)
	}
	after := e.waitStatus(t, "victim", "exited")
	if after.State.ExitCode != 137 {
		t.Fatalf("exit code %d, want 137", after.State.ExitCode)
	}
	e.must(t, "rm", "victim")
}

// checkCgroups fails unless each PID is in its cgroup in every hierarchy
// but cpuset's.
func checkCgroups(t *testing.T, want map[int]string) {
	t.Helper()
	for pid, cgroup := range want {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			parts := strings.SplitN(line, ":", 3)
			if len(parts) == 3 && parts[1] != "cpuset" && parts[2] != cgroup {
				t.Errorf("PID %d is in cgroup %q of hierarchy %q, want %q", pid, parts[2], parts[1], cgroup)
			}
		}
	}
}

func parentPid(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndex(s, ")")+2:])
	ppid, _ := strconv.Atoi(f[1])
	return ppid
}

func field(status, name string) string {
	for _, l := range strings.Split(status, "\n") {
		if v, ok := strings.CutPrefix(l, name+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 30s")
		}
		time.Sleep(200 * time.Millisecond)
	}
}
