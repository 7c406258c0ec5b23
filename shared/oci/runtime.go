package oci

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/ocisuite/suite/shared/atomicfile"
)

// ErrNotExist is returned when the runtime does not know the container.
var ErrNotExist = errors.New("container does not exist in the OCI runtime")

// ErrNotRunning is returned when an operation needs a running container.
var ErrNotRunning = errors.New("container is not running")

// RuntimeError is a failed runtime invocation, with what it printed.
type RuntimeError struct {
	Op       string
	ID       string
	ExitCode int
	Message  string
	sentinel error
}

func (e *RuntimeError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = fmt.Sprintf("exit status %d", e.ExitCode)
	}
	return fmt.Sprintf("runtime %s %s: %s", e.Op, e.ID, msg)
}

// Unwrap lets errors.Is match ErrNotExist and ErrNotRunning.
func (e *RuntimeError) Unwrap() error { return e.sentinel }

// Runtime runs one OCI runtime binary (runc) with its own state directory.
type Runtime struct {
	// Path of the runtime binary.
	Path string
	// Root is the runtime's state directory (runc --root); "" uses its
	// default. Separate engine instances use separate roots.
	Root string
}

// Find returns the runtime binary for nameOrPath: a path is used as it is,
// a name is looked up in candidates (containers.conf's [engine.runtimes])
// and then in $PATH.
func Find(nameOrPath string, candidates map[string][]string) (string, error) {
	if strings.Contains(nameOrPath, "/") {
		if _, err := os.Stat(nameOrPath); err != nil {
			return "", fmt.Errorf("OCI runtime %s: %w", nameOrPath, err)
		}
		return nameOrPath, nil
	}
	for _, p := range candidates[nameOrPath] {
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	if p, err := exec.LookPath(nameOrPath); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("OCI runtime %q not found (install the %s package)", nameOrPath, nameOrPath)
}

// GlobalArgs are the arguments that go before the subcommand.
func (r *Runtime) GlobalArgs() []string {
	var args []string
	if r.Root != "" {
		args = append(args, "--root", r.Root)
	}
	return args
}

func (r *Runtime) command(ctx context.Context, args ...string) *exec.Cmd {
	full := append(r.GlobalArgs(), args...)
	logrus.Debugf("runtime: %s %s", r.Path, strings.Join(full, " "))
	cmd := exec.CommandContext(ctx, r.Path, full...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	return cmd
}

// run runs a runtime subcommand and classifies its failure.
func (r *Runtime) run(ctx context.Context, stdin io.Reader, op, id string, args ...string) ([]byte, error) {
	cmd := r.command(ctx, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), r.errorFor(op, id, err, stderr.String())
	}
	return stdout.Bytes(), nil
}

func (r *Runtime) errorFor(op, id string, err error, stderr string) error {
	re := &RuntimeError{Op: op, ID: id, ExitCode: -1, Message: lastLine(stderr)}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		re.ExitCode = ee.ExitCode()
	} else if re.Message == "" {
		re.Message = err.Error()
	}
	// runc says so in words only; this is the one place that reads them.
	low := strings.ToLower(stderr)
	switch {
	case strings.Contains(low, "does not exist") || strings.Contains(low, "container not found"):
		re.sentinel = ErrNotExist
	case strings.Contains(low, "not running") || strings.Contains(low, "container is stopped"):
		re.sentinel = ErrNotRunning
	}
	return re
}

// lastLine is the last non-empty line of runc's output, without its
// logrus decoration.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		l := strings.TrimSpace(lines[i])
		if l == "" {
			continue
		}
		if j := strings.Index(l, `msg="`); j >= 0 {
			if m, err := strconv.Unquote(l[j+4:]); err == nil {
				return m
			}
			if k := strings.LastIndex(l, `"`); k > j+5 {
				return l[j+5 : k]
			}
		}
		var js struct {
			Msg string `json:"msg"`
		}
		if json.Unmarshal([]byte(l), &js) == nil && js.Msg != "" {
			return js.Msg
		}
		return l
	}
	return ""
}

// WriteBundle writes spec as BUNDLE/config.json.
func WriteBundle(bundle string, spec *specs.Spec) error {
	if err := os.MkdirAll(bundle, 0o700); err != nil {
		return err
	}
	b, err := json.Marshal(spec)
	if err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(bundle, "config.json"), b, 0o600)
}

// IO is the standard streams of a foreground process.
type IO struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
}

// Run runs the container in the foreground (runc run) and returns its exit
// code; the container is deleted when it ends, also on failure. It is what
// the builder's RUN steps use: no monitor, nothing left behind.
func (r *Runtime) Run(ctx context.Context, id, bundle string, stdio IO) (int, error) {
	cmd := r.command(context.WithoutCancel(ctx), "run", "--bundle", bundle, id)
	cmd.Stdin, cmd.Stdout = stdio.Stdin, stdio.Stdout
	var stderr bytes.Buffer
	if stdio.Stderr != nil {
		cmd.Stderr = io.MultiWriter(stdio.Stderr, &stderr)
	} else {
		cmd.Stderr = &stderr
	}
	if err := cmd.Start(); err != nil {
		return -1, fmt.Errorf("starting %s: %w", r.Path, err)
	}
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			// Cancelled: kill the container's processes, then runc run
			// ends. A container runc is still creating cannot be killed
			// yet: try again until runc run has ended.
			for {
				_ = r.Kill(context.Background(), id, syscall.SIGKILL, true)
				select {
				case <-done:
					return
				case <-time.After(50 * time.Millisecond):
				}
			}
		case <-done:
		}
	}()
	err := cmd.Wait()
	close(done)
	// runc run removes the container when its process ends; its state is
	// left only when runc itself was stopped or failed. A delete costs a
	// runc start, so with a known state directory it runs only then.
	if r.Root == "" || !stateGone(filepath.Join(r.Root, id)) {
		_ = r.Delete(context.Background(), id, true)
	}
	if ctx.Err() != nil {
		return -1, ctx.Err()
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		// runc run exits with the container's code; a code with no process
		// started is a runtime failure, told by its message.
		if strings.Contains(stderr.String(), "level=error") {
			return ee.ExitCode(), r.errorFor("run", id, err, stderr.String())
		}
		return ee.ExitCode(), nil
	}
	if err != nil {
		return -1, r.errorFor("run", id, err, stderr.String())
	}
	return 0, nil
}

// Start starts a created container.
func (r *Runtime) Start(ctx context.Context, id string) error {
	if done, err := r.startByFifo(ctx, id); done {
		return err
	}
	_, err := r.run(ctx, nil, "start", id, "start", id)
	return err
}

// startByFifo does what `runc start` does, without a runc process: runc's
// init waits, blocked opening exec.fifo in the container's state directory
// for writing, until a reader opens it; it then writes a byte and execs the
// container's process. done is false when the runtime keeps no such FIFO
// (not runc, or a layout this does not know), and runc start is used.
func (r *Runtime) startByFifo(ctx context.Context, id string) (done bool, err error) {
	if filepath.Base(r.Path) != "runc" {
		return false, nil
	}
	dir := filepath.Join(r.stateRoot(), id)
	fifo := filepath.Join(dir, "exec.fifo")
	if st, err := os.Stat(fifo); err != nil || st.Mode()&os.ModeNamedPipe == 0 {
		return false, nil
	}
	var state struct {
		InitPid int `json:"init_process_pid"`
	}
	if b, err := os.ReadFile(filepath.Join(dir, "state.json")); err != nil || json.Unmarshal(b, &state) != nil || state.InitPid <= 0 {
		return false, nil
	}
	logrus.Debugf("runtime: starting %s through %s", id, fifo)
	// Non-blocking, so that an init that died never leaves this blocked;
	// the open still lets the writer's open complete.
	fd, err := syscall.Open(fifo, syscall.O_RDONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		return false, nil
	}
	f := os.NewFile(uintptr(fd), fifo)
	defer f.Close()
	var got int
	buf := make([]byte, 16)
	for {
		n, rerr := syscall.Read(fd, buf)
		switch {
		case n > 0:
			got += n
			continue
		case n == 0 && got > 0:
			// The writer wrote and closed its end when it exec'd.
			os.Remove(fifo)
			return true, nil
		case rerr != nil && rerr != syscall.EAGAIN && rerr != syscall.EINTR:
			return true, &RuntimeError{Op: "start", ID: id, ExitCode: -1, Message: rerr.Error()}
		}
		// Nothing yet (EAGAIN), or EOF before the writer came: wait for it.
		if syscall.Kill(state.InitPid, 0) != nil || zombie(state.InitPid) {
			// It may have written, exec'd and ended since the read above:
			// what it wrote is still in the FIFO.
			for {
				n, _ := syscall.Read(fd, buf)
				if n <= 0 {
					break
				}
				got += n
			}
			if got > 0 {
				os.Remove(fifo)
				return true, nil
			}
			return true, &RuntimeError{Op: "start", ID: id, ExitCode: -1, Message: "container process is already dead", sentinel: ErrNotRunning}
		}
		if err := ctx.Err(); err != nil {
			return true, err
		}
		_, _ = unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, 20)
	}
}

// deleteStopped does what `runc delete` does for a container whose
// processes are all gone, without a runc process: remove its cgroups and
// its state directory. It reports false, having changed nothing that runc
// delete would not do next, when that is not certain: another runtime, a
// process that may be alive, processes that may outlive the container's
// init (no PID namespace of its own), poststop hooks, Intel RDT, or a
// cgroup still busy.
func (r *Runtime) deleteStopped(id string) bool {
	if filepath.Base(r.Path) != "runc" || id == "" || strings.ContainsAny(id, "/") || id[0] == '.' {
		return false
	}
	dir := filepath.Join(r.stateRoot(), id)
	b, err := os.ReadFile(filepath.Join(dir, "state.json"))
	if err != nil {
		return false
	}
	var state struct {
		InitPid     int               `json:"init_process_pid"`
		InitStart   uint64            `json:"init_process_start"`
		CgroupPaths map[string]string `json:"cgroup_paths"`
		IntelRdt    string            `json:"intel_rdt_path"`
		Config      struct {
			Namespaces []struct {
				Type string `json:"type"`
				Path string `json:"path"`
			} `json:"namespaces"`
			Hooks map[string][]json.RawMessage `json:"Hooks"`
		} `json:"config"`
	}
	if json.Unmarshal(b, &state) != nil || state.InitPid <= 0 || state.IntelRdt != "" || len(state.Config.Hooks["poststop"]) > 0 {
		return false
	}
	ownPid := false
	for _, ns := range state.Config.Namespaces {
		if ns.Type == "NEWPID" && ns.Path == "" {
			ownPid = true
		}
	}
	if !ownPid || processAlive(state.InitPid, state.InitStart) {
		return false
	}
	for _, p := range state.CgroupPaths {
		if !strings.HasPrefix(p, "/sys/fs/cgroup/") {
			return false
		}
	}
	// The kernel ends the other processes of the PID namespace with its
	// init; a cgroup can stay busy for a moment while they are reaped.
	for _, p := range state.CgroupPaths {
		if !removeCgroup(p) {
			return false
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		return false
	}
	logrus.Debugf("runtime: deleted stopped container %s (cgroups and %s)", id, dir)
	return true
}

// processAlive reports whether pid is still the process that started at
// start, zombie or not.
func processAlive(pid int, start uint64) bool {
	_, st, ok := procStat(pid)
	return ok && (st == 0 || st == start)
}

// removeCgroup removes a cgroup directory and the cgroups below it,
// retrying briefly while one is busy; false if it could not.
func removeCgroup(p string) bool {
	var rm func(string) error
	rm = func(d string) error {
		entries, err := os.ReadDir(d)
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		for _, e := range entries {
			if e.IsDir() {
				if err := rm(filepath.Join(d, e.Name())); err != nil {
					return err
				}
			}
		}
		if err := unix.Rmdir(d); err != nil && !errors.Is(err, unix.ENOENT) {
			return err
		}
		return nil
	}
	for i := 0; ; i++ {
		err := rm(p)
		if err == nil {
			return true
		}
		if !errors.Is(err, unix.EBUSY) || i == 10 {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// stateRoot is the runtime's state directory.
func (r *Runtime) stateRoot() string {
	if r.Root == "" {
		return "/run/runc"
	}
	return r.Root
}

// zombie reports whether pid has exited (reaped or not).
func zombie(pid int) bool {
	state, _, ok := procStat(pid)
	return !ok || state == 'Z' || state == 'X'
}

// procStat reads the state (field 3) and the start time (field 22, in
// clock ticks) of /proc/PID/stat; ok is false when there is no such
// process.
func procStat(pid int) (state byte, start uint64, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, true
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return 0, 0, true
	}
	start, _ = strconv.ParseUint(f[19], 10, 64)
	return f[0][0], start, true
}

// State is what the runtime reports of a container.
type State struct {
	ID      string    `json:"id"`
	Pid     int       `json:"pid"`
	Status  string    `json:"status"` // created, running, paused, stopped
	Bundle  string    `json:"bundle"`
	Created time.Time `json:"created"`
}

// State queries the runtime.
func (r *Runtime) State(ctx context.Context, id string) (*State, error) {
	out, err := r.run(ctx, nil, "state", id, "state", id)
	if err != nil {
		return nil, err
	}
	var st State
	if err := json.Unmarshal(out, &st); err != nil {
		return nil, fmt.Errorf("runtime state %s: %w", id, err)
	}
	return &st, nil
}

// Kill sends sig to the container's init process (all: to every process).
func (r *Runtime) Kill(ctx context.Context, id string, sig syscall.Signal, all bool) error {
	args := []string{"kill"}
	if all {
		args = append(args, "--all")
	}
	_, err := r.run(ctx, nil, "kill", id, append(args, id, strconv.Itoa(int(sig)))...)
	return err
}

// stateGone reports whether a container's state directory is known not
// to exist.
func stateGone(dir string) bool {
	_, err := os.Lstat(dir)
	return errors.Is(err, os.ErrNotExist)
}

// Delete removes the runtime's state of the container; force kills it first.
// A container the runtime does not know is not an error.
func (r *Runtime) Delete(ctx context.Context, id string, force bool) error {
	if r.deleteStopped(id) {
		return nil
	}
	args := []string{"delete"}
	if force {
		args = append(args, "--force")
	}
	_, err := r.run(ctx, nil, "delete", id, append(args, id)...)
	if errors.Is(err, ErrNotExist) {
		return nil
	}
	return err
}

// Known reports whether the runtime holds state for id, without running
// it: runc keeps one directory per container under its root.
func (r *Runtime) Known(id string) bool {
	_, err := os.Stat(filepath.Join(r.stateRoot(), id))
	return err == nil
}

// Pause freezes every process of the container.
func (r *Runtime) Pause(ctx context.Context, id string) error {
	_, err := r.run(ctx, nil, "pause", id, "pause", id)
	return err
}

// Resume thaws a paused container.
func (r *Runtime) Resume(ctx context.Context, id string) error {
	_, err := r.run(ctx, nil, "resume", id, "resume", id)
	return err
}

// Update changes the resources of a running container.
func (r *Runtime) Update(ctx context.Context, id string, res *specs.LinuxResources) error {
	b, err := json.Marshal(res)
	if err != nil {
		return err
	}
	_, err = r.run(ctx, bytes.NewReader(b), "update", id, "update", "--resources", "-", id)
	return err
}

// Pids lists the host PIDs of the container's processes.
func (r *Runtime) Pids(ctx context.Context, id string) ([]int, error) {
	out, err := r.run(ctx, nil, "ps", id, "ps", "--format", "json", id)
	if err != nil {
		return nil, err
	}
	var pids []int
	if err := json.Unmarshal(out, &pids); err != nil {
		return nil, fmt.Errorf("runtime ps %s: %w", id, err)
	}
	return pids, nil
}

// Version is the runtime's first line of --version.
func (r *Runtime) Version(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, r.Path, "--version").Output()
	if err != nil {
		return "", fmt.Errorf("%s --version: %w", r.Path, err)
	}
	line, _, _ := strings.Cut(string(out), "\n")
	return strings.TrimSpace(line), nil
}
