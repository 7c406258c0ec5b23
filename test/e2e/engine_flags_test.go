package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ocisuite/suite/test/bin"
)

// TestEngineContainerRunFlags passes the run options a user relies on and
// checks each where the container shows it.
func TestEngineContainerRunFlags(t *testing.T) {
	e := containerStore(t)
	envFile := filepath.Join(t.TempDir(), "env")
	os.WriteFile(envFile, []byte("FROMFILE=1\n# comment\n"), 0o644)
	t.Setenv("OCISUITE_HOSTVAR", "fromhost")
	out := e.must(t, "run", "--rm", "--env-file", envFile, "-e", "OCISUITE_HOSTVAR", "-e", "X=y", "--hostname", "box",
		"--entrypoint", "/bin/sh", "-u", "nobody", "-w", "/tmp", "bb", "-c", "echo $FROMFILE $OCISUITE_HOSTVAR $X; hostname; id -u; pwd").Stdout
	if out != "1 fromhost y\nbox\n65534\n/tmp\n" {
		t.Fatalf("env, hostname, entrypoint, user, workdir: %q", out)
	}
	if out := e.must(t, "run", "--rm", "--env-host", "bb", "sh", "-c", "echo $OCISUITE_HOSTVAR").Stdout; out != "fromhost\n" {
		t.Fatalf("--env-host: %q", out)
	}
	if out := e.must(t, "run", "--rm", "--entrypoint", `["/bin/echo","json"]`, "bb").Stdout; out != "json\n" {
		t.Fatalf("--entrypoint JSON: %q", out)
	}
	// Resources reach the cgroup (v1 here, v2 where unified).
	e.must(t, "run", "-d", "--name", "res", "--memory", "32m", "--memory-swap", "64m", "--cpus", "0.5", "--cpu-shares", "512",
		"--cpuset-cpus", "0", "--shm-size", "8m", "--stop-signal", "USR1", "--stop-timeout", "2",
		"--annotation", "org.example/a=b", "--tz", "UTC", "--log-driver", "k8s-file", "bb", "sh", "-c", "trap 'exit 7' USR1; sleep 1000 & wait")
	in := e.waitStatus(t, "res", "running")
	if in.HostConfig.Memory != 32<<20 {
		t.Errorf("memory %d", in.HostConfig.Memory)
	}
	checks := map[string]string{
		"cat /sys/fs/cgroup/memory/memory.limit_in_bytes": "33554432",
		"cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us":         "50000",
		"cat /sys/fs/cgroup/cpu/cpu.shares":               "512",
		"cat /sys/fs/cgroup/cpuset/cpuset.cpus":           "0",
		"df -k /dev/shm | tail -1 | awk '{print $2}'":     "8192",
	}
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		checks = map[string]string{"cat /sys/fs/cgroup/memory.max": "33554432", "cat /sys/fs/cgroup/cpu.max": "50000 100000"}
	}
	for cmd, want := range checks {
		if got := strings.TrimSpace(e.must(t, "exec", "res", "sh", "-c", cmd).Stdout); got != want {
			t.Errorf("%s: %q, want %q", cmd, got, want)
		}
	}
	if got := strings.TrimSpace(e.must(t, "exec", "res", "sh", "-c", "echo $TZ; date +%Z").Stdout); got != "UTC\nUTC" {
		t.Errorf("--tz UTC: %q", got)
	}
	raw := e.must(t, "container", "inspect", "--format", "{{.Config.StopSignal}} {{.Config.StopTimeout}} {{index .Config.Annotations \"org.example/a\"}}", "res").Stdout
	if raw != "10 2 b\n" {
		t.Errorf("inspect stop signal, timeout, annotation: %q", raw)
	}
	// The container's shell exits on --stop-signal USR1, so stop is quick.
	start := time.Now()
	e.must(t, "stop", "res")
	if time.Since(start) > 2*time.Second {
		t.Errorf("stop with --stop-signal USR1 waited for the timeout")
	}
	if in := e.inspect(t, "res"); in.State.ExitCode != 7 {
		t.Errorf("exit code after SIGUSR1: %d, want 7 (the trap's)", in.State.ExitCode)
	}
	// --replace, --pull never, log drivers.
	e.must(t, "create", "--name", "dup", "bb", "true")
	e.must(t, "run", "--rm", "--replace", "--name", "dup", "bb", "true")
	if res := e.run(t, "run", "--rm", "--pull", "never", "localhost/absent"); res.Code != 125 {
		t.Errorf("--pull never of a missing image: exit %d", res.Code)
	}
	e.must(t, "run", "--name", "nolog", "--log-driver", "none", "bb", "echo", "quiet")
	if res := e.run(t, "logs", "nolog"); res.Code == 0 {
		t.Errorf("logs of a --log-driver none container succeeded: %q", res.Stdout)
	}
	res := e.run(t, "run", "--rm", "--log-driver", "passthrough", "bb", "echo", "passed")
	if res.Code != 0 || !strings.Contains(res.Stdout, "passed") {
		t.Errorf("--log-driver passthrough: %d %q", res.Code, res.Stdout)
	}
	for _, bad := range [][]string{
		{"--memory", "lots"}, {"--cpus", "-1"}, {"--restart", "sometimes"}, {"--cap-add", "CAP_NOPE"},
		{"--ulimit", "nofile"}, {"--security-opt", "bogus"}, {"--network", "bridge0"}, {"--userns", "weird"},
		{"--uidmap", "0:1"}, {"--stop-signal", "SIGNOPE"}, {"--tz", "Mars/Base"}, {"--workdir", "relative"},
	} {
		res := e.run(t, append(append([]string{"run", "--rm"}, bad...), "bb", "true")...)
		if res.Code != 125 {
			t.Errorf("run %v: exit %d, want 125", bad, res.Code)
			continue
		}
		assertOneLine(t, res.Stderr)
	}
	if out := e.must(t, "ps", "-a", "--format", "{{.Names}}").Stdout; out != "nolog\nres\n" {
		t.Errorf("refused runs left containers: %q", out)
	}
}

// TestEngineContainerLogsAndPs: logs --tail, -t, --since, --until, -f;
// ps -n, -l, --no-trunc, -s, --noheading; wait --condition.
func TestEngineContainerLogsAndPs(t *testing.T) {
	e := containerStore(t)
	e.must(t, "run", "--name", "l", "bb", "sh", "-c", "for i in 1 2 3 4 5; do echo line$i; done")
	if out := e.must(t, "logs", "--tail", "2", "l").Stdout; out != "line4\nline5\n" {
		t.Errorf("--tail 2: %q", out)
	}
	ts := e.must(t, "logs", "-t", "l").Stdout
	if first := strings.SplitN(ts, " ", 2)[0]; !strings.HasPrefix(first, time.Now().UTC().Format("2006")) && !strings.Contains(first, "T") {
		t.Errorf("-t: %q", ts)
	}
	if out := e.must(t, "logs", "--since", "1h", "l").Stdout; !strings.Contains(out, "line1") {
		t.Errorf("--since 1h: %q", out)
	}
	if out := e.must(t, "logs", "--until", "1h", "l").Stdout; out != "" {
		t.Errorf("--until an hour ago: %q", out)
	}
	if out := e.must(t, "logs", "--since", fmt.Sprint(time.Now().Add(time.Minute).Unix()), "l").Stdout; out != "" {
		t.Errorf("--since the future: %q", out)
	}
	// -f follows until the container exits.
	e.must(t, "run", "-d", "--name", "f", "bb", "sh", "-c", "echo a; sleep 1; echo b")
	if out := e.must(t, "logs", "-f", "f").Stdout; out != "a\nb\n" {
		t.Errorf("logs -f: %q", out)
	}
	e.must(t, "create", "--name", "newest", "bb", "true")
	if out := e.must(t, "ps", "-l", "--format", "{{.Names}}").Stdout; out != "newest\n" {
		t.Errorf("ps -l: %q", out)
	}
	if out := strings.Fields(e.must(t, "ps", "-n", "2", "--format", "{{.Names}}").Stdout); len(out) != 2 || out[0] != "newest" {
		t.Errorf("ps -n 2: %v", out)
	}
	if out := e.must(t, "ps", "-a", "--no-trunc", "-q").Stdout; len(strings.Fields(out)[0]) != 64 {
		t.Errorf("ps --no-trunc -q: %q", out)
	}
	if out := e.must(t, "ps", "-a", "-s", "--noheading", "--format", "{{.Names}} {{.Size}}").Stdout; !strings.Contains(out, "l ") || strings.Contains(out, "SIZE") {
		t.Errorf("ps -s --noheading: %q", out)
	}
	e.must(t, "run", "-d", "--name", "w", "bb", "sleep", "1000")
	if out := e.must(t, "wait", "--condition", "running", "w").Stdout; out != "-1\n" {
		t.Errorf("wait --condition running: %q", out)
	}
	if res := e.run(t, "wait", "--condition", "sleepy", "w"); res.Code != 125 {
		t.Errorf("wait with a bad condition: exit %d", res.Code)
	}
}

// TestEngineContainerTTY runs containers on a pseudo-terminal: -t gives a
// TTY of the caller's size, -it takes input, and the detach keys leave the
// container running.
func TestEngineContainerTTY(t *testing.T) {
	e := containerStore(t)
	engine := strings.Join(append([]string{bin.Path(t, "engine")}, e.args(nil)...), " ")
	term := func(script string) string {
		t.Helper()
		b, err := exec.Command("script", "-qec", "stty cols 91 rows 27; "+script, "/dev/null").CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v: %s", script, err, b)
		}
		return strings.ReplaceAll(string(b), "\r", "")
	}
	if out := term(engine + " run --rm -t bb sh -c 'test -t 0 && stty size'"); !strings.Contains(out, "27 91") {
		t.Fatalf("run -t: the container's terminal is not the caller's size: %q", out)
	}
	if out := term("printf 'echo typed-$((6*7))\\nexit\\n' | " + engine + " run --rm -i bb sh"); !strings.Contains(out, "typed-42") {
		t.Fatalf("run -i: %q", out)
	}
	// ctrl-p ctrl-q detaches from -it; the container goes on.
	term("(sleep 1; printf '\\020\\021') | " + engine + " run -it --name det bb sh -c 'sleep 1000'")
	if in := e.inspect(t, "det"); in.State.Status != "running" {
		t.Fatalf("after the detach keys: %s", in.State.Status)
	}
	// attach --no-stdin follows the output until the container ends.
	e.must(t, "run", "-d", "--name", "att", "bb", "sh", "-c", "sleep 1; echo attached-out; exit 3")
	res := e.run(t, "attach", "--no-stdin", "att")
	if res.Code != 3 || !strings.Contains(res.Stdout, "attached-out") {
		t.Fatalf("attach: exit %d %q", res.Code, res.Stdout)
	}
}

// TestEngineContainerMountsAndSecurity: --mount, :U, mask and unmask,
// exec -d and --privileged, 126 for what cannot be executed, and signals
// proxied to a foreground container.
func TestEngineContainerMountsAndSecurity(t *testing.T) {
	e := containerStore(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "f"), []byte("m\n"), 0o644)
	out := e.must(t, "run", "--rm", "--mount", "type=bind,source="+dir+",destination=/b,ro",
		"--mount", "type=tmpfs,destination=/t,tmpfs-size=1m", "--mount", "type=volume,source=mv,target=/v",
		"bb", "sh", "-c", "cat /b/f; touch /b/x 2>/dev/null || echo ro; grep ' /t ' /proc/mounts | cut -d' ' -f3; touch /v/ok && echo vol").Stdout
	if out != "m\nro\ntmpfs\nvol\n" {
		t.Errorf("--mount: %q", out)
	}
	// :U gives the bind mount's files to the container's user.
	owned := t.TempDir()
	os.WriteFile(filepath.Join(owned, "f"), nil, 0o644)
	e.must(t, "run", "--rm", "-u", "nobody", "-v", owned+":/o:U", "bb", "touch", "/o/f")
	if st, _ := os.Stat(filepath.Join(owned, "f")); st.Sys().(*syscall.Stat_t).Uid != 65534 {
		t.Errorf(":U: owner %d, want 65534", st.Sys().(*syscall.Stat_t).Uid)
	}
	// unmask shows a masked path; mask hides another.
	if out := e.must(t, "run", "--rm", "--security-opt", "unmask=/proc/timer_list", "bb", "sh", "-c", "wc -c < /proc/timer_list").Stdout; strings.TrimSpace(out) == "0" {
		t.Errorf("unmask=/proc/timer_list: still masked")
	}
	if out := e.must(t, "run", "--rm", "--security-opt", "mask=/etc/hostname", "bb", "sh", "-c", "wc -c < /etc/hostname").Stdout; strings.TrimSpace(out) != "0" {
		t.Errorf("mask=/etc/hostname: %q", out)
	}
	if field(e.must(t, "run", "--rm", "--privileged", "bb", "cat", "/proc/self/status").Stdout, "Seccomp") != "0" {
		t.Errorf("--privileged keeps seccomp")
	}
	e.must(t, "run", "-d", "--name", "x", "--cap-drop", "ALL", "bb", "sleep", "1000")
	e.waitStatus(t, "x", "running")
	if field(e.must(t, "exec", "--privileged", "x", "cat", "/proc/self/status").Stdout, "CapEff") == "0000000000000000" {
		t.Errorf("exec --privileged: no capabilities")
	}
	start := time.Now()
	e.must(t, "exec", "-d", "x", "sh", "-c", "sleep 3; echo done > /tmp/bg")
	if time.Since(start) > 2*time.Second {
		t.Errorf("exec -d waited for the detached process")
	}
	waitFor(t, func() bool { return e.run(t, "exec", "x", "cat", "/tmp/bg").Stdout == "done\n" })
	// 126: a file that cannot be executed.
	e.must(t, "exec", "x", "sh", "-c", "echo echo > /tmp/noexec; chmod 644 /tmp/noexec")
	if res := e.run(t, "exec", "x", "/tmp/noexec"); res.Code != 126 {
		t.Errorf("exec of a non-executable file: exit %d, want 126", res.Code)
	}
	if res := e.run(t, "run", "--rm", "bb", "/etc/passwd"); res.Code != 126 {
		t.Errorf("run of a non-executable file: exit %d, want 126", res.Code)
	}
	if res := e.run(t, "exec", "nope", "true"); res.Code != 125 {
		t.Errorf("exec in an unknown container: exit %d", res.Code)
	}
	e.must(t, "stop", "-t", "0", "x")
	res := e.run(t, "exec", "x", "true")
	if res.Code != 125 {
		t.Errorf("exec in a stopped container: exit %d", res.Code)
	}
	assertOneLine(t, res.Stderr, "not running")

	// SIGTERM to a foreground run goes to the container (--sig-proxy).
	cmd := bin.Cmd(t, "engine", e.args([]string{"run", "--rm", "bb", "sh", "-c", "trap 'echo got-term; exit 9' TERM; echo ready; while :; do sleep 0.1; done"})...)
	cmd.Env = append(os.Environ(), e.env...)
	var stdout strings.Builder
	cmd.Stdout = &stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return strings.Contains(stdout.String(), "ready") })
	cmd.Process.Signal(syscall.SIGTERM)
	err := cmd.Wait()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	}
	if code != 9 || !strings.Contains(stdout.String(), "got-term") {
		t.Errorf("signal proxy: exit %d, output %q", code, stdout.String())
	}
}

// TestEngineContainerExport: export writes the container's files, changes
// included, as a tar that import turns back into a runnable image.
func TestEngineContainerExport(t *testing.T) {
	e := containerStore(t)
	e.must(t, "run", "--name", "src", "bb", "sh", "-c", "echo exported > /marker")
	out := filepath.Join(t.TempDir(), "ctr.tar")
	e.must(t, "export", "-o", out, "src")
	list, err := exec.Command("tar", "-tf", out).Output()
	if err != nil || !strings.Contains(string(list), "marker") || !strings.Contains(string(list), "bin/busybox") {
		t.Fatalf("export: %v %q", err, list)
	}
	e.must(t, "import", "--change", `CMD ["cat", "/marker"]`, out, "localhost/exported:1")
	if got := e.must(t, "run", "--rm", "localhost/exported:1").Stdout; got != "exported\n" {
		t.Fatalf("run of the imported export: %q", got)
	}
	if res := e.run(t, "export", "-o", out, "nope"); res.Code != 125 {
		t.Fatalf("export of an unknown container: exit %d", res.Code)
	}
}

// TestEngineContainerRestartExecTTY: restart gives a new run; exec -w and
// exec -t; a terminal resize reaches the container; run -d leaves no
// engine process behind.
func TestEngineContainerRestartExecTTY(t *testing.T) {
	e := containerStore(t)
	e.must(t, "run", "-d", "--name", "r", "bb", "sleep", "1000")
	first := e.waitStatus(t, "r", "running").State.Pid
	e.must(t, "restart", "-t", "0", "r")
	if in := e.waitStatus(t, "r", "running"); in.State.Pid == first || in.State.Pid == 0 {
		t.Fatalf("restart: pid %d, was %d", in.State.Pid, first)
	}
	if out := e.must(t, "exec", "-w", "/etc", "r", "pwd").Stdout; out != "/etc\n" {
		t.Fatalf("exec -w: %q", out)
	}
	// No engine process outlives run -d: only conmon holds the container.
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, _ := os.ReadFile(p)
		if strings.Contains(string(b), e.root) && strings.HasSuffix(strings.Split(string(b), "\x00")[0], "/engine") {
			t.Fatalf("an engine process is still running: %q", strings.ReplaceAll(string(b), "\x00", " "))
		}
	}
	engine := strings.Join(append([]string{bin.Path(t, "engine")}, e.args(nil)...), " ")
	script := func(cmdline string) string {
		b, err := exec.Command("script", "-qec", cmdline, "/dev/null").CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v: %s", cmdline, err, b)
		}
		return strings.ReplaceAll(string(b), "\r", "")
	}
	if out := script("stty cols 77 rows 19; " + engine + " exec -t r sh -c 'test -t 1 && stty size'"); !strings.Contains(out, "19 77") {
		t.Fatalf("exec -t: %q", out)
	}
	// A resize of the user's terminal (SIGWINCH) reaches the container's.
	cmd := exec.Command("script", "-qec", "stty cols 80 rows 24; "+engine+" run --rm -t --name tty bb sh -c 'sleep 2; stty size'", "/dev/null")
	var outb strings.Builder
	cmd.Stdout, cmd.Stderr = &outb, &outb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		res := e.run(t, "container", "inspect", "--format", "{{.State.Status}}", "tty")
		return res.Code == 0 && strings.TrimSpace(res.Stdout) == "running"
	})
	var ttyPath string
	procs, _ = filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, _ := os.ReadFile(p)
		if strings.Contains(string(b), "--name\x00tty\x00") && strings.HasSuffix(strings.Split(string(b), "\x00")[0], "/engine") {
			ttyPath, _ = os.Readlink(filepath.Join(filepath.Dir(p), "fd", "0"))
		}
	}
	if !strings.HasPrefix(ttyPath, "/dev/pts/") {
		t.Fatalf("the engine's terminal: %q", ttyPath)
	}
	f, err := os.OpenFile(ttyPath, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.IoctlSetWinsize(int(f.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 40, Col: 100}); err != nil {
		t.Fatal(err)
	}
	f.Close()
	cmd.Wait()
	if out := strings.ReplaceAll(outb.String(), "\r", ""); !strings.Contains(out, "40 100") {
		t.Fatalf("resize: %q", out)
	}
}
