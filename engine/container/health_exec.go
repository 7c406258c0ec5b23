package container

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/containers/storage/pkg/stringid"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// execCapture runs args in the running container c as its own process
// (the container's user, env and working directory) and returns its exit
// code and combined output. After timeout the process is killed and the
// error is context.DeadlineExceeded. A command that cannot be found or run
// is an *ExecError with 127 or 126.
func (e *Engine) execCapture(ctx context.Context, c *Container, args []string, timeout time.Duration) (int, string, error) {
	bundle, err := e.bundle(c.ID)
	if err != nil {
		return -1, "", err
	}
	b, err := os.ReadFile(filepath.Join(bundle, "config.json"))
	if err != nil {
		return -1, "", fmt.Errorf("reading the spec of %s: %w", c.Name, err)
	}
	var spec specs.Spec
	if err := json.Unmarshal(b, &spec); err != nil {
		return -1, "", err
	}
	proc := *spec.Process
	proc.Args = args
	proc.Terminal = false
	proc.ConsoleSize = nil
	if !strings.Contains(args[0], "/") {
		if _, err := lookPathIn(spec.Root.Path, args[0], proc.Env); err != nil {
			return -1, "", &ExecError{Code: ExitNotFound, Err: fmt.Errorf("%s: executable file not found in $PATH: no such file or directory", args[0])}
		}
	}
	pb, err := json.Marshal(proc)
	if err != nil {
		return -1, "", err
	}
	tag := stringid.GenerateRandomID()[:12]
	pfile := filepath.Join(bundle, "health-"+tag+".json")
	pidFile := filepath.Join(bundle, "health-"+tag+".pid")
	if err := os.WriteFile(pfile, pb, 0o600); err != nil {
		return -1, "", err
	}
	defer os.Remove(pfile)
	defer os.Remove(pidFile)
	cmd := exec.Command(e.Runtime.Path, append(e.Runtime.GlobalArgs(), "exec", "--process", pfile, "--pid-file", pidFile, c.ID)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return -1, "", &ExecError{Code: ExitCannotInvoke, Err: fmt.Errorf("healthcheck in %s: %w", c.Name, err)}
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	var timedOut bool
	select {
	case err = <-done:
	case <-ctx.Done():
		killPidFile(pidFile)
		err = <-done
		timedOut = true
	case <-timer.C:
		// Kill the process in the container; runc exec then returns.
		killPidFile(pidFile)
		select {
		case err = <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			err = <-done
		}
		timedOut = true
	}
	if timedOut {
		return -1, out.String(), context.DeadlineExceeded
	}
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, out.String(), nil
	case errors.As(err, &ee):
		return ee.ExitCode(), out.String(), nil
	default:
		return -1, out.String(), &ExecError{Code: ExitCannotInvoke, Err: fmt.Errorf("healthcheck in %s: %w", c.Name, err)}
	}
}

func killPidFile(path string) {
	b, err := os.ReadFile(path)
	if err != nil {
		return
	}
	if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}
