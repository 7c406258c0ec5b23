// Package monitor starts and talks to conmon, the per-container monitor
// that is a running container's parent: it holds the container's stdio,
// writes its log and exit code, keeps an attach socket, and runs the exit
// command (engine container cleanup) when the container ends.
package monitor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
)

// Options describe one conmon invocation for a container.
type Options struct {
	Conmon      string   // path of conmon
	Runtime     string   // path of the OCI runtime
	RuntimeArgs []string // global runtime arguments (e.g. --root)
	ID          string
	Name        string
	Bundle      string // holds config.json; conmon's files go here too
	ExitDir     string // conmon writes ExitDir/ID with the exit code
	SocketDir   string // short directory for the attach socket
	LogDriver   string // "k8s-file", "none" or "passthrough"
	LogPath     string // for k8s-file
	LogLevel    string
	// NoSyncLog spares conmon its fsync of the log when the container
	// exits: for a container removed on exit, whose log goes with it.
	NoSyncLog bool
	Terminal  bool
	Stdin     bool
	// ExitCommand runs when the container exits (args[0] is the program).
	ExitCommand []string
	// ExtraFiles are kept open by conmon for the container's life (the
	// sockets holding its published ports), at descriptors 5 and up; the
	// caller still owns and closes them.
	ExtraFiles []*os.File
	// Cgroup, when set, is the cgroup (under each hierarchy's root) conmon
	// is moved into before it runs the runtime.
	Cgroup string
	// Restore starts the container from this checkpoint directory.
	Restore     string
	RuntimeOpts []string // extra arguments of runc restore
}

// PidFile is where conmon writes the container's PID.
func PidFile(bundle string) string { return filepath.Join(bundle, "pidfile") }

// ConmonPidFile is where conmon writes its own PID.
func ConmonPidFile(bundle string) string { return filepath.Join(bundle, "conmon.pid") }

// AttachSocket is the attach socket's path for a container.
func AttachSocket(socketDir, id string) string {
	return filepath.Join(socketDir, shortID(id), "attach")
}

// CtlFile is the control FIFO (terminal resize) in the bundle.
func CtlFile(bundle string) string { return filepath.Join(bundle, "ctl") }

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

func (o Options) args() []string {
	args := []string{
		"--api-version", "1",
		"-c", o.ID, "-u", shortID(o.ID), "-n", o.Name,
		"-r", o.Runtime, "-b", o.Bundle,
		"-p", PidFile(o.Bundle), "-P", ConmonPidFile(o.Bundle),
		"--exit-dir", o.ExitDir,
		"--socket-dir-path", o.SocketDir,
	}
	for _, a := range o.RuntimeArgs {
		args = append(args, "--runtime-arg", a)
	}
	switch o.LogDriver {
	case "none":
		args = append(args, "-l", "none:")
	case "passthrough":
		args = append(args, "-l", "passthrough:")
	default:
		args = append(args, "-l", "k8s-file:"+o.LogPath)
	}
	if o.LogLevel != "" {
		args = append(args, "--log-level", o.LogLevel)
	}
	if o.NoSyncLog {
		args = append(args, "--no-sync-log")
	}
	if o.Terminal {
		args = append(args, "-t")
	}
	if o.Stdin {
		args = append(args, "-i")
	}
	if len(o.ExitCommand) > 0 {
		args = append(args, "--exit-command", o.ExitCommand[0])
		for _, a := range o.ExitCommand[1:] {
			args = append(args, "--exit-command-arg", a)
		}
	}
	if o.Restore != "" {
		args = append(args, "--restore", o.Restore)
		for _, a := range o.RuntimeOpts {
			args = append(args, "--runtime-opt", a)
		}
	}
	return args
}

// syncMessage is what conmon writes on its sync pipe (API version 1).
type syncMessage struct {
	Data    int    `json:"data"`
	Message string `json:"message,omitempty"`
}

// Started is a container created under its monitor.
type Started struct {
	Pid       int // the container's init process
	ConmonPid int
}

// Start runs conmon, which runs the runtime's create (or restore) and stays
// as the container's parent; it returns once the container exists. stdio
// are given to conmon only for the passthrough log driver.
func Start(ctx context.Context, o Options, stdio [3]*os.File) (*Started, error) {
	l, err := Launch(o, stdio)
	if err != nil {
		return nil, err
	}
	return l.Go(ctx)
}

// Launched is a conmon that has started, loaded its libraries and opened
// the container's log, and waits on its start pipe before it runs the
// runtime. Launching it before the bundle is ready lets its start-up run
// beside the caller's own work (mounting, writing the spec).
type Launched struct {
	o       Options
	cmd     *exec.Cmd
	syncR   *os.File
	startW  *os.File
	waitErr chan error
	done    bool
	moved   chan struct{} // closed once conmon's move into o.Cgroup is over
	exited  chan struct{} // closed once the first conmon process is reaped
	mu      sync.Mutex
	went    bool // conmon was told to go
}

// Launch starts conmon for o. The bundle's config.json need not exist yet:
// conmon reads it only after Go. The caller must call Go or Abort. conmon
// gets SIGKILL if the caller dies before either: an end of file on its
// start pipe would let it go on.
func Launch(o Options, stdio [3]*os.File) (*Launched, error) {
	for _, d := range []string{o.SocketDir, o.ExitDir, o.Bundle} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
	}
	os.Remove(filepath.Join(o.ExitDir, o.ID))
	syncR, syncW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	startR, startW, err := os.Pipe()
	if err != nil {
		syncR.Close()
		syncW.Close()
		return nil, err
	}
	files := []*os.File{syncW, startR}
	env := append(os.Environ(), "_OCI_SYNCPIPE=3", "_OCI_STARTPIPE=4")
	cmd := exec.Command(o.Conmon, o.args()...)
	logrus.Debugf("monitor: %s %s", o.Conmon, strings.Join(cmd.Args[1:], " "))
	cmd.Env = env
	cmd.Dir = o.Bundle
	cmd.ExtraFiles = append(slices.Clone(files), o.ExtraFiles...)
	if o.LogDriver == "passthrough" {
		cmd.Stdin, cmd.Stdout, cmd.Stderr = stdio[0], stdio[1], stdio[2]
	}
	// conmon must outlive this process and its signals; only the first
	// conmon process, which waits on the start pipe, dies with it.
	cmd.SysProcAttr = detachAttr()
	l := &Launched{o: o, cmd: cmd, syncR: syncR, startW: startW, waitErr: make(chan error, 1),
		moved: make(chan struct{}), exited: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		// The parent-death signal follows the thread that forked, not the
		// process: that thread stays this goroutine's until the first
		// conmon process has exited, so that no other goroutine can end it
		// (a goroutine that exits locked to its thread ends the thread).
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		err := cmd.Start()
		started <- err
		if err == nil {
			// conmon forks its long-lived self and the first process exits.
			awaitExit(cmd.Process.Pid)
			l.waitErr <- cmd.Wait()
			close(l.exited)
		}
	}()
	err = <-started
	for _, f := range files {
		f.Close()
	}
	if err != nil {
		syncR.Close()
		startW.Close()
		return nil, fmt.Errorf("starting conmon: %w", err)
	}
	go l.move()
	return l, nil
}

// move puts conmon into its cgroup while the caller goes on: the first
// write waits for the kernel (see moveToCgroup), and Go does not wait for
// it. conmon forks its long-lived process when told to go: if that came
// before the move was over, the long-lived process may have been forked
// in the caller's cgroup, and it is moved too (quickly, the kernel's wait
// being over).
func (l *Launched) move() {
	defer close(l.moved)
	if l.o.Cgroup == "" {
		return
	}
	if err := moveToCgroup(l.o.Cgroup, l.cmd.Process.Pid); err != nil {
		logrus.Debugf("monitor: %v", err)
	}
	l.mu.Lock()
	went := l.went
	l.mu.Unlock()
	if !went {
		return // what conmon forks from now on is born in the cgroup
	}
	// The first process writes the long-lived one's PID, then exits.
	<-l.exited
	b, err := os.ReadFile(ConmonPidFile(l.o.Bundle))
	if err != nil {
		return // it failed before forking
	}
	if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
		if err := moveToCgroup(l.o.Cgroup, pid); err != nil {
			logrus.Debugf("monitor: %v", err)
		}
	}
}

// Serves reports whether this conmon was launched with o's command line
// and cgroup and holds no extra files, so that it can stand for a Launch(o).
func (l *Launched) Serves(o Options) bool {
	return !l.done && l.o.Conmon == o.Conmon && l.o.Cgroup == o.Cgroup && len(l.o.ExtraFiles) == 0 && len(o.ExtraFiles) == 0 &&
		slices.Equal(l.o.args(), o.args())
}

// Go lets conmon run the runtime and returns once the container exists.
func (l *Launched) Go(ctx context.Context) (*Started, error) {
	if l.done {
		return nil, errors.New("conmon was already told to go")
	}
	l.done = true
	defer l.syncR.Close()
	// Its move into its cgroup is over before this returns.
	defer func() { <-l.moved }()
	// Let conmon go on, without waiting for its move (see move). The
	// attach socket exists once conmon reports the container created.
	l.mu.Lock()
	l.went = true
	l.mu.Unlock()
	_, err := l.startW.Write([]byte{0})
	l.startW.Close()
	if err != nil {
		return nil, fmt.Errorf("signalling conmon: %w", err)
	}
	msg, err := readSync(ctx, l.syncR)
	if err != nil {
		select {
		case werr := <-l.waitErr:
			if werr != nil {
				return nil, fmt.Errorf("conmon failed: %w", werr)
			}
		case <-time.After(100 * time.Millisecond):
		}
		return nil, fmt.Errorf("reading conmon's sync pipe: %w", err)
	}
	if msg.Data < 0 {
		return nil, errors.New(cleanRuntimeMessage(msg.Message))
	}
	st := &Started{Pid: msg.Data}
	if b, err := os.ReadFile(ConmonPidFile(l.o.Bundle)); err == nil {
		st.ConmonPid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	}
	return st, nil
}

// Abort stops a conmon not yet told to go: it is killed while it waits,
// before it has run anything. After Go it does nothing.
func (l *Launched) Abort() {
	if l.done {
		return
	}
	l.done = true
	_ = l.cmd.Process.Kill()
	<-l.waitErr
	l.startW.Close()
	l.syncR.Close()
}

func readSync(ctx context.Context, r *os.File) (syncMessage, error) {
	type result struct {
		m   syncMessage
		err error
	}
	ch := make(chan result, 1)
	go func() {
		var m syncMessage
		err := json.NewDecoder(r).Decode(&m)
		if errors.Is(err, io.EOF) {
			err = errors.New("conmon exited before reporting")
		}
		ch <- result{m, err}
	}()
	select {
	case res := <-ch:
		return res.m, res.err
	case <-ctx.Done():
		return syncMessage{}, ctx.Err()
	}
}

// cleanRuntimeMessage turns what conmon relays from runc into one line.
func cleanRuntimeMessage(m string) string {
	m = strings.TrimSpace(m)
	for _, l := range strings.Split(m, "\n") {
		if i := strings.Index(l, `msg="`); i >= 0 {
			if s, err := strconv.Unquote(l[i+4:]); err == nil {
				m = s
			}
		}
	}
	if m == "" {
		return "the OCI runtime failed to create the container"
	}
	return m
}

// ExitCode reads the exit file conmon wrote; ok is false while it has not.
func ExitCode(exitDir, id string) (code int, at time.Time, ok bool) {
	p := filepath.Join(exitDir, id)
	b, err := os.ReadFile(p)
	if err != nil || len(strings.TrimSpace(string(b))) == 0 {
		return 0, time.Time{}, false
	}
	code, err = strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, time.Time{}, false
	}
	if st, err := os.Stat(p); err == nil {
		at = st.ModTime()
	}
	return code, at, true
}
