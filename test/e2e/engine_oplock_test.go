package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ocisuite/suite/test/bin"
)

// heldRuntime writes a runc wrapper that stays inside "runc kill ID 15"
// (the stop signal) for as long as the file hold exists, after creating
// hold+".in": a runtime call that hangs on demand.
func heldRuntime(t *testing.T) (wrapper, hold string) {
	t.Helper()
	runc, err := exec.LookPath("runc")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	hold = filepath.Join(dir, "hold")
	wrapper = filepath.Join(dir, "held-runc")
	script := "#!/bin/sh\n" +
		"case \" $* \" in *\" kill \"*\" 15 \") touch " + hold + ".in; while [ -e " + hold + " ]; do sleep 0.05; done;; esac\n" +
		"exec " + runc + " \"$@\"\n"
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return wrapper, hold
}

// startHeldStop starts "engine stop" of name through the wrapper, touching
// hold first, and returns once stop is inside its runtime call.
func (e *engineStore) startHeldStop(t *testing.T, wrapper, hold, name string) (*exec.Cmd, <-chan error) {
	t.Helper()
	if err := os.WriteFile(hold, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	stop := bin.Cmd(t, "engine", e.args([]string{"--runtime", wrapper, "stop", "-t", "60", name})...)
	stop.Env = append(os.Environ(), e.env...)
	stop.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := stop.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- stop.Wait() }()
	t.Cleanup(func() {
		os.Remove(hold)
		_ = syscall.Kill(-stop.Process.Pid, syscall.SIGKILL)
	})
	waitFor(t, func() bool {
		_, err := os.Stat(hold + ".in")
		return err == nil
	})
	return stop, done
}

// TestEngineNoLockAcrossRuntimeCall: while stop is inside a runtime call
// that does not return, kill, wait, inspect, ps and logs of the same
// container answer; nothing waits for a lock the stop holds.
func TestEngineNoLockAcrossRuntimeCall(t *testing.T) {
	e := containerStore(t)
	wrapper, hold := heldRuntime(t)
	e.must(t, "--runtime", wrapper, "run", "-d", "--name", "svc", "bb", "sh", "-c", "echo up; exec sleep 1000")
	e.waitStatus(t, "svc", "running")
	_, done := e.startHeldStop(t, wrapper, hold, "svc")

	stillStopping := func(what string) {
		t.Helper()
		select {
		case err := <-done:
			t.Fatalf("stop returned (%v) before %s, while its runtime call was held: the test proves nothing", err, what)
		default:
		}
	}
	if out := e.must(t, "inspect", "--format", "{{.State.Status}}", "svc").Stdout; strings.TrimSpace(out) != "running" {
		t.Fatalf("inspect during stop: %q", out)
	}
	if out := e.must(t, "ps", "--format", "{{.Names}}").Stdout; !strings.Contains(out, "svc") {
		t.Fatalf("ps during stop: %q", out)
	}
	if out := e.must(t, "logs", "svc").Stdout; !strings.Contains(out, "up") {
		t.Fatalf("logs during stop: %q", out)
	}
	stillStopping("inspect, ps and logs")
	// kill acts at once, through the same runtime.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if res := bin.RunCtx(ctx, t, e.env, "engine", e.args([]string{"--runtime", wrapper, "kill", "-s", "KILL", "svc"})...); res.Code != 0 {
		t.Fatalf("kill during stop's runtime call: exit %d (killed after 20s if it waited for stop): %s", res.Code, res.Stderr)
	}
	if code := strings.TrimSpace(e.must(t, "wait", "svc").Stdout); code != "137" {
		t.Fatalf("wait after kill -s KILL: %q, want 137", code)
	}
	stillStopping("kill and wait")

	// Let the runtime call return: stop finishes cleanly and the record is
	// whole.
	os.Remove(hold)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("stop: %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("stop did not finish after its runtime call returned")
	}
	in := e.waitStatus(t, "svc", "exited")
	if in.State.ExitCode != 137 {
		t.Fatalf("exit code %d, want 137", in.State.ExitCode)
	}
	e.must(t, "start", "svc")
	e.waitStatus(t, "svc", "running")
	e.must(t, "rm", "-f", "svc")
	if out := e.must(t, "ps", "-aq").Stdout; out != "" {
		t.Fatalf("rm -f left %q", out)
	}
}

// TestEngineKilledOperationTakenOver: a stop killed inside its runtime
// call leaves a marker of its operation on the record; the next command
// takes over (the owner is gone), system check names it, and rm -f
// removes the container.
func TestEngineKilledOperationTakenOver(t *testing.T) {
	e := containerStore(t)
	wrapper, hold := heldRuntime(t)
	e.must(t, "--runtime", wrapper, "run", "-d", "--name", "svc", "bb", "sleep", "1000")
	e.waitStatus(t, "svc", "running")
	stop, done := e.startHeldStop(t, wrapper, hold, "svc")
	pid := stop.Process.Pid
	if err := syscall.Kill(-pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-done
	os.Remove(hold)

	var st struct {
		Op *struct {
			Name string `json:"name"`
			Pid  int    `json:"pid"`
		} `json:"op"`
	}
	id := strings.TrimSpace(e.must(t, "inspect", "--format", "{{.Id}}", "svc").Stdout)
	b, err := os.ReadFile(filepath.Join(e.root, "overlay-containers", id, "userdata", "engine-state.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &st); err != nil || st.Op == nil || st.Op.Name != "stop" || st.Op.Pid != pid {
		t.Fatalf("record after the killed stop (PID %d): %s", pid, b)
	}
	res := e.run(t, "system", "check")
	if res.Code == 0 || !strings.Contains(res.Stdout+res.Stderr, "stop by PID") {
		t.Fatalf("system check did not report the interrupted stop: exit %d: %s", res.Code, res.Stdout+res.Stderr)
	}
	// The container still runs (the stop signal never went out) and the
	// next command is not held up by the dead owner.
	e.waitStatus(t, "svc", "running")
	e.must(t, "rm", "-f", "svc")
	if out := e.must(t, "ps", "-aq").Stdout; out != "" {
		t.Fatalf("rm -f left %q", out)
	}
}
