package monitor

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// launchOptions are conmon options whose runtime is a script that only
// leaves a mark: these tests check that it never runs.
func launchOptions(t *testing.T) (Options, string) {
	t.Helper()
	conmon, err := exec.LookPath("conmon")
	if err != nil {
		t.Fatalf("conmon is needed (the Debian package): %v", err)
	}
	dir := t.TempDir()
	mark := filepath.Join(dir, "runtime-ran")
	runtime := filepath.Join(dir, "runtime")
	script := "#!/bin/sh\ntouch " + mark + "\nexit 1\n"
	if err := os.WriteFile(runtime, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return testOptions(conmon, runtime, dir), mark
}

// testOptions are the options of a conmon launched by these tests, its
// files under dir.
func testOptions(conmon, runtime, dir string) Options {
	return Options{
		Conmon:    conmon,
		Runtime:   runtime,
		ID:        "0123456789abcdef0123456789abcdef",
		Name:      "launch-test",
		Bundle:    filepath.Join(dir, "bundle"),
		ExitDir:   filepath.Join(dir, "exits"),
		SocketDir: filepath.Join(dir, "s"),
		LogDriver: "k8s-file",
		LogPath:   filepath.Join(dir, "ctr.log"),
	}
}

// gone waits for pid to end (or to be a zombie nobody reaps).
func gone(pid int) bool {
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			return true
		}
		if f := strings.Fields(string(b)); len(f) > 2 && f[2] == "Z" {
			return true
		}
	}
	return false
}

// ranAfterAWhile reports whether the runtime ran within half a second.
func ranAfterAWhile(mark string) bool {
	time.Sleep(500 * time.Millisecond)
	_, err := os.Stat(mark)
	return err == nil
}

// TestArgsNoSyncLog: conmon skips its fsync of the log only when asked
// (a container removed on exit).
func TestArgsNoSyncLog(t *testing.T) {
	o := Options{ID: "abc", LogDriver: "k8s-file", LogPath: "/l"}
	if slices.Contains(o.args(), "--no-sync-log") {
		t.Fatalf("--no-sync-log without NoSyncLog: %v", o.args())
	}
	o.NoSyncLog = true
	if !slices.Contains(o.args(), "--no-sync-log") {
		t.Fatalf("no --no-sync-log with NoSyncLog: %v", o.args())
	}
}

func TestLaunchWaitsThenAbort(t *testing.T) {
	o, mark := launchOptions(t)
	l, err := Launch(o, [3]*os.File{})
	if err != nil {
		t.Fatal(err)
	}
	pid := l.cmd.Process.Pid
	if ranAfterAWhile(mark) {
		t.Fatal("conmon ran the runtime before it was told to go")
	}
	if b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); err != nil || strings.Fields(string(b))[2] == "Z" {
		t.Fatalf("conmon %d is not waiting on its start pipe", pid)
	}
	l.Abort()
	if !gone(pid) {
		t.Fatalf("conmon %d still runs after Abort", pid)
	}
	if ranAfterAWhile(mark) {
		t.Fatal("an aborted conmon ran the runtime")
	}
	l.Abort() // twice is harmless
	if _, err := l.Go(t.Context()); err == nil {
		t.Fatal("Go after Abort succeeded")
	}
}

func TestLaunchGoReportsRuntimeFailure(t *testing.T) {
	o, mark := launchOptions(t)
	l, err := Launch(o, [3]*os.File{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Abort()
	_, err = l.Go(t.Context())
	if err == nil {
		t.Fatal("Go succeeded with a runtime that fails")
	}
	if _, serr := os.Stat(mark); serr != nil {
		t.Fatalf("the runtime did not run after Go (error %v): %v", err, serr)
	}
}

// TestLaunchCallerKilled kills a process that launched conmon and never
// told it to go: conmon must die with it rather than run the runtime on
// whatever the bundle holds.
func TestLaunchCallerKilled(t *testing.T) {
	if os.Getenv("MONITOR_TEST_LAUNCHER") != "" {
		return // the helper's own run (TestMain)
	}
	o, mark := launchOptions(t)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "MONITOR_TEST_LAUNCHER=1",
		"MONITOR_TEST_CONMON="+o.Conmon, "MONITOR_TEST_RUNTIME="+o.Runtime,
		"MONITOR_TEST_DIR="+filepath.Dir(o.Bundle))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("reading the launcher's conmon PID: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatalf("launcher said %q", line)
	}
	cmd.Process.Kill()
	cmd.Wait()
	if !gone(pid) {
		syscall.Kill(pid, syscall.SIGKILL)
		t.Fatalf("conmon %d outlived the process that launched it", pid)
	}
	if ranAfterAWhile(mark) {
		t.Fatal("the orphaned conmon ran the runtime")
	}
}

func TestMain(m *testing.M) {
	if os.Getenv("MONITOR_TEST_LAUNCHER") != "" {
		os.Exit(launcher())
	}
	os.Exit(m.Run())
}

// launcher launches conmon, prints its PID and waits to be killed.
func launcher() int {
	o := testOptions(os.Getenv("MONITOR_TEST_CONMON"), os.Getenv("MONITOR_TEST_RUNTIME"), os.Getenv("MONITOR_TEST_DIR"))
	l, err := Launch(o, [3]*os.File{})
	if err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		return 1
	}
	os.Stdout.WriteString(strconv.Itoa(l.cmd.Process.Pid) + "\n")
	time.Sleep(time.Minute)
	return 1 // not killed
}

func TestLaunchedServes(t *testing.T) {
	o := Options{Conmon: "/usr/bin/conmon", ID: "abc", Name: "n", Bundle: "/b", LogDriver: "k8s-file", LogPath: "/l"}
	l := &Launched{o: o}
	if !l.Serves(o) {
		t.Fatal("a conmon does not serve the options it was launched with")
	}
	other := o
	other.LogPath = "/elsewhere"
	if l.Serves(other) {
		t.Fatal("a conmon serves options with another log path")
	}
	held := o
	held.ExtraFiles = []*os.File{os.Stdin}
	if l.Serves(held) {
		t.Fatal("a conmon launched without held files serves options with some")
	}
	l.done = true
	if l.Serves(o) {
		t.Fatal("a conmon already told to go (or aborted) serves again")
	}
}
