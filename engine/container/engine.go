package container

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/containers/storage"
	"github.com/containers/storage/pkg/lockfile"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/ocisuite/suite/config"
	"github.com/ocisuite/suite/engine/monitor"
	"github.com/ocisuite/suite/shared/atomicfile"
	shnames "github.com/ocisuite/suite/shared/names"
	"github.com/ocisuite/suite/shared/oci"
	"github.com/ocisuite/suite/shared/userns"
)

// Errors a caller decides on with errors.Is.
var (
	ErrNoSuchContainer = errors.New("no such container")
	ErrNameInUse       = errors.New("name is already in use")
	ErrInvalidState    = errors.New("container state improper")
)

// Engine is the container manager of one store: everything a command
// needs, built once per CLI call.
type Engine struct {
	Store    storage.Store
	Runtime  *oci.Runtime
	Conmon   string
	Settings config.Engine
	// Dir holds the engine's run-time files: exit files, attach sockets,
	// the runtime's state, the event log.
	Dir string
	// ExitCommand is the program and global arguments conmon runs when a
	// container exits; "container cleanup ID" is appended.
	ExitCommand []string
	LogLevel    string
	// Rootless is set for an unprivileged user's engine, which runs in the
	// user's namespace (shared/userns) with no cgroup of its own.
	Rootless bool

	heldMu sync.Mutex
	held   map[string]*Op // operation markers this process holds, by container ID

	dirsMu sync.Mutex
	dirs   map[string]string // container directories by full ID (containerDirectory)

	launchMu sync.Mutex
	launched map[string]*monitor.Launched // conmons launched by Create for their start, by container ID
}

// Options build an Engine.
type Options struct {
	Store       storage.Store
	Runtime     string // name or path; "" = settings' runtime
	Conmon      string // path; "" = settings' conmon_path
	Settings    config.Engine
	ExitCommand []string
	LogLevel    string
}

// New prepares the engine's run-time directory next to the store's run root.
func New(o Options) (*Engine, error) {
	name := o.Runtime
	if name == "" {
		name = o.Settings.Runtime
	}
	rt, err := oci.Find(name, o.Settings.Runtimes)
	if err != nil {
		return nil, err
	}
	conmon := o.Conmon
	if conmon == "" {
		for _, p := range o.Settings.ConmonPath {
			if _, err := os.Stat(p); err == nil {
				conmon = p
				break
			}
		}
		if conmon == "" {
			return nil, errors.New("conmon not found in containers.conf's conmon_path (install the conmon package)")
		}
	}
	dir := filepath.Join(o.Store.RunRoot(), "engine")
	for _, d := range []string{dir, filepath.Join(dir, "exits"), filepath.Join(dir, "runc")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
	}
	return &Engine{
		Store:       o.Store,
		Runtime:     &oci.Runtime{Path: rt, Root: filepath.Join(dir, "runc")},
		Conmon:      conmon,
		Settings:    o.Settings,
		Dir:         dir,
		ExitCommand: o.ExitCommand,
		LogLevel:    o.LogLevel,
		Rootless:    userns.Rootless(),
	}, nil
}

func (e *Engine) exitDir() string { return filepath.Join(e.Dir, "exits") }

// TakeCleanup makes this process the one that cleans up after container
// id exits (a foreground run); conmon's exit command then leaves it alone
// while this process lives. Call the returned function when done, or when
// leaving the container running.
func (e *Engine) TakeCleanup(id string) (release func()) {
	return monitor.TakeCleanup(e.Dir, id)
}

// socketDir is kept short: a unix socket path has at most 107 bytes.
func (e *Engine) socketDir() string { return filepath.Join(e.Dir, "s") }

func (e *Engine) bundle(id string) (string, error) { return e.Store.ContainerRunDirectory(id) }

func (e *Engine) stateFile(id string) (string, error) {
	d, err := e.containerDirectory(id)
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "engine-state.json"), nil
}

// containerDirectory is the store's directory of container id, asked of
// the store once per container and process: a container's directory does
// not move, and goes only with its record (forgetDirectory).
func (e *Engine) containerDirectory(id string) (string, error) {
	e.dirsMu.Lock()
	d, ok := e.dirs[id]
	e.dirsMu.Unlock()
	if ok {
		return d, nil
	}
	d, err := e.Store.ContainerDirectory(id)
	if err != nil {
		return "", err
	}
	if isFullID(id) {
		e.dirsMu.Lock()
		if e.dirs == nil {
			e.dirs = map[string]string{}
		}
		e.dirs[id] = d
		e.dirsMu.Unlock()
	}
	return d, nil
}

// forgetDirectory drops what containerDirectory learnt of a container
// whose record is removed.
func (e *Engine) forgetDirectory(id string) {
	e.dirsMu.Lock()
	delete(e.dirs, id)
	e.dirsMu.Unlock()
}

// isFullID reports whether s has the form of a full container ID.
func isFullID(s string) bool { return len(s) == 64 && shnames.Hex(s) }

// lock takes the container's own file lock. It guards read-modify-write
// of the container's record only and is never held across a runtime
// call: operations that call the runtime take the record's operation
// marker instead (acquire).
func (e *Engine) lock(id string) (func(), error) {
	d, err := e.containerDirectory(id)
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", id, ErrNoSuchContainer)
	}
	l, err := lockfile.GetLockFile(filepath.Join(d, "engine.lock"))
	if err != nil {
		return nil, fmt.Errorf("locking container %s: %w", id, err)
	}
	l.Lock()
	return l.Unlock, nil
}

// acquireOp starts operation op on a container, reading its record; the
// caller ends the operation with the returned function. The container's file lock
// is held only while its record is read and the operation's marker (op,
// PID of this process) is written into it; the runtime calls that follow
// run with no lock held. Another operation waits for a marker whose owner
// is alive and takes over one whose owner is gone (a killed command), so
// the next command can always use the container. Readers (ps, inspect,
// logs) and kill never wait. The returned function removes the marker.
func (e *Engine) acquireOp(ctx context.Context, id, op string) (*Container, func(), error) {
	me := &Op{Name: op, Pid: os.Getpid(), Start: procStart(os.Getpid())}
	var w *recordWatch
	defer func() { w.close() }()
	for {
		c, busy, err := e.tryAcquire(id, me)
		if err != nil {
			return nil, nil, err
		}
		if busy == nil {
			e.holdOp(c.ID, me)
			return c, func() { e.releaseOp(c.ID, me) }, nil
		}
		if w == nil {
			logrus.Debugf("container %s: waiting for %s by PID %d to finish", c.Name, busy.Name, busy.Pid)
			// Watch first, then look again: a change between the two
			// is not missed.
			w = e.watchRecord(c.ID)
			continue
		}
		if err := w.wait(ctx, busy.Pid); err != nil {
			return nil, nil, fmt.Errorf("container %s: waiting for %s by PID %d: %w", c.Name, busy.Name, busy.Pid, err)
		}
	}
}

// recordWatch wakes a waiting operation when a container's record changes
// (inotify on its directory) or when the owner of the marker in its way
// exits (a pidfd), with a polling fallback where either is missing.
type recordWatch struct {
	ino int // inotify fd, -1 if none
}

func (e *Engine) watchRecord(id string) *recordWatch {
	w := &recordWatch{ino: -1}
	d, err := e.Store.ContainerDirectory(id)
	if err != nil {
		return w
	}
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return w
	}
	if _, err := unix.InotifyAddWatch(fd, d, unix.IN_MOVED_TO|unix.IN_CLOSE_WRITE|unix.IN_DELETE_SELF|unix.IN_DELETE); err != nil {
		unix.Close(fd)
		return w
	}
	w.ino = fd
	return w
}

func (w *recordWatch) close() {
	if w != nil && w.ino >= 0 {
		unix.Close(w.ino)
	}
}

// wait returns after a change of the record, the exit of pid, 100 ms, or
// the end of ctx (its error).
func (w *recordWatch) wait(ctx context.Context, pid int) error {
	fds := make([]unix.PollFd, 0, 2)
	if w.ino >= 0 {
		fds = append(fds, unix.PollFd{Fd: int32(w.ino), Events: unix.POLLIN})
	}
	if pfd, err := unix.PidfdOpen(pid, 0); err == nil {
		defer unix.Close(pfd)
		fds = append(fds, unix.PollFd{Fd: int32(pfd), Events: unix.POLLIN})
	}
	deadline := time.Now().Add(100 * time.Millisecond)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		left := time.Until(deadline)
		if left <= 0 {
			return nil
		}
		n, err := unix.Poll(fds, int(min(left, 20*time.Millisecond)/time.Millisecond)+1)
		if err != nil && err != unix.EINTR {
			return nil // fall back to looking again
		}
		if n > 0 {
			if w.ino >= 0 {
				drain(w.ino)
			}
			return nil
		}
	}
}

// drain empties a non-blocking inotify fd.
func drain(fd int) {
	var buf [4096]byte
	for {
		if n, err := unix.Read(fd, buf[:]); n <= 0 || err != nil {
			return
		}
	}
}

// tryAcquire is one attempt of acquireOp, under the file lock: it returns
// the live operation in the way, or marks me in the record.
func (e *Engine) tryAcquire(id string, me *Op) (*Container, *Op, error) {
	// A name or a short ID is resolved first; a full ID is the lock's.
	if !isFullID(id) {
		c, err := e.Lookup(id)
		if err != nil {
			return nil, nil, err
		}
		id = c.ID
	}
	unlock, err := e.lock(id)
	if err != nil {
		return nil, nil, err
	}
	defer unlock()
	c, err := e.Lookup(id) // the record as of the lock
	if err != nil {
		return nil, nil, err
	}
	if cur := c.State.Op; cur != nil {
		if cur.live() && !cur.same(me) {
			return c, cur, nil
		}
		if !cur.same(me) {
			logrus.Infof("container %s: %s by PID %d was interrupted, taking over its record", c.Name, cur.Name, cur.Pid)
		}
	}
	// The marker goes onto the record as stored; what Lookup folded in
	// (an exit conmon recorded) is the operation's to write.
	raw, err := e.readState(c.ID)
	if err != nil {
		return nil, nil, err
	}
	raw.Op = me
	if err := e.putState(c.ID, raw); err != nil {
		return nil, nil, err
	}
	c.State.Op = me
	return c, nil, nil
}

// releaseOp removes me's marker from the record, if the container still
// exists and the marker is still me.
func (e *Engine) releaseOp(id string, me *Op) {
	e.heldMu.Lock()
	held := e.held[id] == me
	delete(e.held, id)
	e.heldMu.Unlock()
	if !held {
		return // given up with the last state written (writeReleased)
	}
	unlock, err := e.lock(id)
	if err != nil {
		return // removed by the operation
	}
	defer unlock()
	st, err := e.readState(id)
	if err != nil || st.Op == nil || !st.Op.same(me) {
		return
	}
	st.Op = nil
	if err := e.putState(id, st); err != nil {
		logrus.Warnf("container %s: ending %s: %v", id, me.Name, err)
	}
}

func (e *Engine) holdOp(id string, op *Op) {
	e.heldMu.Lock()
	defer e.heldMu.Unlock()
	if e.held == nil {
		e.held = map[string]*Op{}
	}
	e.held[id] = op
}

// heldOp is the marker this process holds on a container, if any.
func (e *Engine) heldOp(id string) *Op {
	e.heldMu.Lock()
	defer e.heldMu.Unlock()
	return e.held[id]
}

// live reports whether the operation's process still runs: the same PID
// with the same start time (a reused PID is not the owner).
func (o *Op) live() bool {
	return o.Pid > 0 && alive(o.Pid) && procStart(o.Pid) == o.Start
}

func (o *Op) same(p *Op) bool { return o.Pid == p.Pid && o.Start == p.Start && o.Name == p.Name }

// procStart is a process's start time in clock ticks since boot (field 22
// of /proc/PID/stat); 0 when it cannot be read.
func procStart(pid int) uint64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	i := strings.LastIndex(s, ")")
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return 0
	}
	n, _ := strconv.ParseUint(f[19], 10, 64)
	return n
}

// decodeConfig reads the engine's record from a storage container; ok is
// false for containers that are not the engine's (buildah's, podman's).
func decodeConfig(c *storage.Container) (Config, bool) {
	var cfg Config
	if c.Metadata == "" || json.Unmarshal([]byte(c.Metadata), &cfg) != nil || cfg.Version != recordVersion {
		return cfg, false
	}
	cfg.ID = c.ID
	if len(c.Names) > 0 {
		cfg.Name = c.Names[0]
	}
	return cfg, true
}

// readState reads the state file; a missing one is the configured state.
func (e *Engine) readState(id string) (State, error) {
	p, err := e.stateFile(id)
	if err != nil {
		return State{}, err
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return State{Status: StatusConfigured}, nil
	}
	if err != nil {
		return State{}, err
	}
	var st State
	if err := json.Unmarshal(b, &st); err != nil {
		return State{}, fmt.Errorf("container %s: corrupt state file %s: %w", id, p, err)
	}
	return st, nil
}

// writeState replaces the state file atomically. The operation marker is
// not the caller's to change: it is the one this process holds, else the
// one on disk.
func (e *Engine) writeState(id string, st State) error {
	if op := e.heldOp(id); op != nil {
		st.Op = op
	} else if cur, err := e.readState(id); err == nil {
		st.Op = cur.Op
	}
	return e.putState(id, st)
}

// writeReleased writes st as the last state of this process's operation
// on container id, without its marker: the operation's release then has
// nothing left to write.
func (e *Engine) writeReleased(id string, st State) error {
	st.Op = nil
	if err := e.putState(id, st); err != nil {
		return err
	}
	e.heldMu.Lock()
	delete(e.held, id)
	e.heldMu.Unlock()
	return nil
}

// putState writes st as it is.
func (e *Engine) putState(id string, st State) error {
	p, err := e.stateFile(id)
	if err != nil {
		return err
	}
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return atomicfile.Write(p, b, 0o600)
}

// Lookup finds a container by full ID, unique ID prefix or name.
func (e *Engine) Lookup(nameOrID string) (*Container, error) {
	if nameOrID == "" {
		return nil, fmt.Errorf("empty container name: %w", ErrNoSuchContainer)
	}
	c, err := e.Store.Container(nameOrID)
	if err != nil {
		if errors.Is(err, storage.ErrContainerUnknown) {
			return nil, fmt.Errorf("%s: %w", nameOrID, ErrNoSuchContainer)
		}
		return nil, fmt.Errorf("looking up container %s: %w", nameOrID, err)
	}
	cfg, ok := decodeConfig(c)
	if !ok {
		return nil, fmt.Errorf("%s is not a container of this engine (made by another tool?): %w", nameOrID, ErrNoSuchContainer)
	}
	return e.load(cfg)
}

func (e *Engine) load(cfg Config) (*Container, error) {
	st, err := e.readState(cfg.ID)
	if err != nil {
		return nil, err
	}
	ctr := &Container{Config: cfg, State: st}
	e.observeExit(ctr)
	return ctr, nil
}

// observeExit folds what the record cannot know yet into the in-memory
// state, without a runtime call: an exit file conmon wrote (cleanup may not
// have run yet), or a reboot since the container ran.
func (e *Engine) observeExit(c *Container) {
	if !c.Running() && c.State.Status != StatusCreated {
		return
	}
	if code, at, ok := monitor.ExitCode(e.exitDir(), c.ID); ok {
		c.State.Status = StatusExited
		c.State.ExitCode = code
		c.State.FinishedAt = at
		c.State.Pid = 0
		return
	}
	if c.State.BootID != "" && c.State.BootID != bootID() {
		c.State.Status = StatusExited
		c.State.Pid = 0
	}
}

// List returns the engine's containers.
func (e *Engine) List() ([]*Container, error) {
	all, err := e.Store.Containers()
	if err != nil {
		return nil, fmt.Errorf("listing containers: %w", err)
	}
	var out []*Container
	for i := range all {
		cfg, ok := decodeConfig(&all[i])
		if !ok {
			continue
		}
		c, err := e.load(cfg)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) || errors.Is(err, storage.ErrContainerUnknown) {
				continue // removed while we listed
			}
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// Resolve looks up several containers, reporting each unknown one.
func (e *Engine) Resolve(names []string) ([]*Container, error) {
	out := make([]*Container, 0, len(names))
	for _, n := range names {
		c, err := e.Lookup(n)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

func bootID() string {
	b, _ := os.ReadFile("/proc/sys/kernel/random/boot_id")
	return strings.TrimSpace(string(b))
}

// waitFor polls cond until it holds or ctx ends.
func waitFor(ctx context.Context, interval time.Duration, cond func() (bool, error)) error {
	for {
		ok, err := cond()
		if err != nil || ok {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(interval):
		}
	}
}
