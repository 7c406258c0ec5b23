package container

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/containers/storage"
	"github.com/containers/storage/pkg/lockfile"

	"github.com/ocisuite/suite/config"
	"github.com/ocisuite/suite/engine/monitor"
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

// socketDir is kept short: a unix socket path has at most 107 bytes.
func (e *Engine) socketDir() string { return filepath.Join(e.Dir, "s") }

func (e *Engine) bundle(id string) (string, error) { return e.Store.ContainerRunDirectory(id) }

func (e *Engine) stateFile(id string) (string, error) {
	d, err := e.Store.ContainerDirectory(id)
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "engine-state.json"), nil
}

// lock takes the container's own lock; nothing else is locked with it.
func (e *Engine) lock(id string) (func(), error) {
	d, err := e.Store.ContainerDirectory(id)
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

// acquire takes the container's lock and reads its current record; the
// caller releases the lock with the returned function.
func (e *Engine) acquire(id string) (*Container, func(), error) {
	unlock, err := e.lock(id)
	if err != nil {
		return nil, nil, err
	}
	c, err := e.Lookup(id)
	if err != nil {
		unlock()
		return nil, nil, err
	}
	return c, unlock, nil
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

// writeState replaces the state file atomically.
func (e *Engine) writeState(id string, st State) error {
	p, err := e.stateFile(id)
	if err != nil {
		return err
	}
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, p)
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
