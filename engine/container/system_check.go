package container

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/containers/storage"

	"github.com/ocisuite/suite/engine/monitor"
)

// Problem is one inconsistency system check found.
type Problem struct {
	Kind    string // container, layer, image, runtime, exit-file
	ID      string
	Name    string
	Problem string
	// Repaired is set when Check was asked to repair and did.
	Repaired  bool
	RepairErr error
}

func (p Problem) String() string {
	who := p.ID
	if p.Name != "" {
		who = shortOf(p.ID) + " (" + p.Name + ")"
	}
	s := p.Kind + " " + who + ": " + p.Problem
	switch {
	case p.Repaired:
		s += ": repaired"
	case p.RepairErr != nil:
		s += ": not repaired: " + p.RepairErr.Error()
	}
	return s
}

func shortOf(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// CheckOptions are system check's options.
type CheckOptions struct {
	Repair bool
	// Force lets repair remove containers whose storage is damaged.
	Force bool
	// Quick skips the expensive storage checks (layer digests).
	Quick bool
}

// Check finds records whose storage or process is gone: containers that
// the state says are running but whose monitor is dead with no exit file,
// state files that are missing or corrupt, root filesystems left mounted,
// runtime records and exit files of removed containers; then it runs
// containers/storage's own check. With Repair each is fixed.
func (e *Engine) Check(ctx context.Context, o CheckOptions) ([]Problem, error) {
	all, err := e.Store.Containers()
	if err != nil {
		return nil, fmt.Errorf("listing containers: %w", err)
	}
	var out []Problem
	known := map[string]bool{}
	for i := range all {
		cfg, ok := decodeConfig(&all[i])
		known[all[i].ID] = true
		if !ok {
			continue
		}
		ps, err := e.checkContainer(ctx, cfg, all[i].LayerID, o)
		if err != nil {
			if errors.Is(err, ErrNoSuchContainer) {
				continue // removed meanwhile
			}
			return out, err
		}
		out = append(out, ps...)
	}
	out = append(out, e.checkLeftovers(ctx, known, o)...)
	// Leases of rootful networks, or of a rootless user's bridge networks
	// in the rootless network namespace.
	stale, err := e.Networks().StaleLeases(o.Repair)
	if err != nil {
		return out, fmt.Errorf("checking network leases: %w", err)
	}
	for _, l := range stale {
		out = append(out, Problem{Kind: "network", ID: l.Container, Problem: fmt.Sprintf("address %s on %s is leased, but the network namespace %s is gone", l.IP, l.Bridge, l.NetNS), Repaired: o.Repair})
	}

	opts := storage.CheckMost()
	if o.Quick {
		opts.LayerDigests = false
	}
	report, err := e.Store.Check(opts)
	if err != nil {
		return out, fmt.Errorf("checking the store: %w", err)
	}
	var storeProblems []Problem
	add := func(kind string, m map[string][]error) {
		for id, errs := range m {
			for _, err := range errs {
				storeProblems = append(storeProblems, Problem{Kind: kind, ID: id, Problem: err.Error()})
			}
		}
	}
	add("layer", report.Layers)
	add("layer", report.ROLayers)
	add("image", report.Images)
	add("image", report.ROImages)
	add("storage container", report.Containers)
	if o.Repair && len(storeProblems) > 0 {
		errs := e.Store.Repair(report, &storage.RepairOptions{RemoveContainers: o.Force})
		for i := range storeProblems {
			storeProblems[i].Repaired = len(errs) == 0
			if len(errs) > 0 {
				storeProblems[i].RepairErr = errors.Join(errs...)
			}
			if storeProblems[i].Kind == "storage container" && !o.Force {
				storeProblems[i].Repaired = false
				storeProblems[i].RepairErr = errors.New("removing a damaged container needs --force")
			}
		}
	}
	return append(out, storeProblems...), nil
}

// checkContainer checks one of the engine's containers under its lock, taking its operation marker for a repair that calls the runtime.
func (e *Engine) checkContainer(ctx context.Context, cfg Config, layerID string, o CheckOptions) ([]Problem, error) {
	unlock, err := e.lock(cfg.ID)
	if err != nil {
		return nil, err
	}
	locked := true
	defer func() {
		if locked {
			unlock()
		}
	}()
	// mark takes the container for a repair that calls the runtime: the
	// file lock is given up, and the record carries this check's marker.
	me := &Op{Name: "check", Pid: os.Getpid(), Start: procStart(os.Getpid())}
	mark := func(st State) error {
		st.Op = me
		if err := e.putState(cfg.ID, st); err != nil {
			return err
		}
		e.holdOp(cfg.ID, me)
		unlock()
		locked = false
		return nil
	}
	defer func() {
		if e.heldOp(cfg.ID) == me {
			e.releaseOp(cfg.ID, me)
		}
	}()
	var out []Problem
	problem := func(msg string, fix func() error) {
		p := Problem{Kind: "container", ID: cfg.ID, Name: cfg.Name, Problem: msg}
		if o.Repair && fix != nil {
			if p.RepairErr = fix(); p.RepairErr == nil {
				p.Repaired = true
			}
		}
		out = append(out, p)
	}
	p, err := e.stateFile(cfg.ID)
	if err != nil {
		return nil, err
	}
	c := &Container{Config: cfg}
	b, err := os.ReadFile(p)
	switch {
	case errors.Is(err, os.ErrNotExist) && time.Since(cfg.Created) < time.Minute:
		// Create writes the state file just after the storage: a
		// container this young may be being created right now.
		return out, nil
	case errors.Is(err, os.ErrNotExist):
		problem("state file is missing", func() error {
			// The record is whole without it: back to configured.
			if _, err := e.Store.Unmount(cfg.ID, true); err != nil && !errors.Is(err, storage.ErrLayerNotMounted) {
				return err
			}
			return e.writeState(cfg.ID, State{Status: StatusConfigured})
		})
		return out, nil
	case err != nil:
		return nil, err
	case json.Unmarshal(b, &c.State) != nil:
		problem("state file is corrupt", func() error {
			c.State = State{Status: StatusExited, ExitCode: -1, Error: "state file was corrupt (repaired by system check)"}
			if err := mark(c.State); err != nil {
				return err
			}
			e.finish(ctx, c)
			return nil
		})
		return out, nil
	}
	if c.State.Op != nil && c.State.Op.live() {
		return out, nil // another command is working on it
	}
	if op := c.State.Op; op != nil {
		problem(fmt.Sprintf("%s by PID %d was interrupted (the command was killed)", op.Name, op.Pid), func() error {
			c.State.Op = nil
			return e.putState(cfg.ID, c.State)
		})
	}
	st := c.State
	live := c.Running() || st.Status == StatusCreated
	_, _, exitFile := monitor.ExitCode(e.exitDir(), cfg.ID)
	sameBoot := st.BootID == "" || st.BootID == bootID()
	if live && sameBoot && !exitFile && !processIs(st.ConmonPid, "conmon") {
		problem(fmt.Sprintf("state is %s but its monitor (conmon PID %d) is gone and there is no exit file", st.Status, st.ConmonPid), func() error {
			_ = syscall.Kill(st.Pid, syscall.SIGKILL) // a container process left without its monitor
			c.State.Error = "monitor was gone (repaired by system check)"
			c.State.ExitCode = -1
			if err := mark(c.State); err != nil {
				return err
			}
			e.finish(ctx, c)
			return nil
		})
		return out, nil
	}
	if !live && layerID != "" {
		if n, err := e.Store.Mounted(layerID); err == nil && n > 0 {
			problem(fmt.Sprintf("state is %s but its root filesystem is still mounted", st.Status), func() error {
				_, err := e.Store.Unmount(cfg.ID, true)
				if err == nil && c.State.Mountpoint != "" {
					c.State.Mountpoint = ""
					err = e.writeState(cfg.ID, c.State)
				}
				return err
			})
		}
	}
	return out, nil
}

// processIs reports whether pid is a live process named comm.
func processIs(pid int, comm string) bool {
	if pid <= 0 {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	return err == nil && strings.TrimSpace(string(b)) == comm
}

// checkLeftovers finds runtime records and exit files of containers that
// no longer exist.
func (e *Engine) checkLeftovers(ctx context.Context, known map[string]bool, o CheckOptions) []Problem {
	var out []Problem
	leftover := func(kind, id, msg string, fix func() error) {
		p := Problem{Kind: kind, ID: id, Problem: msg}
		if o.Repair {
			if p.RepairErr = fix(); p.RepairErr == nil {
				p.Repaired = true
			}
		}
		out = append(out, p)
	}
	if entries, err := os.ReadDir(e.Runtime.Root); err == nil {
		for _, ent := range entries {
			id := ent.Name()
			if !ent.IsDir() || known[id] {
				continue
			}
			leftover("runtime", id, "runtime record of a container that no longer exists", func() error {
				if err := e.Runtime.Delete(ctx, id, true); err != nil {
					return os.RemoveAll(filepath.Join(e.Runtime.Root, id))
				}
				return nil
			})
		}
	}
	if entries, err := os.ReadDir(e.exitDir()); err == nil {
		for _, ent := range entries {
			id := ent.Name()
			if known[id] || strings.HasSuffix(id, ".tmp") {
				continue
			}
			leftover("exit-file", id, "exit file of a container that no longer exists", func() error {
				return os.Remove(filepath.Join(e.exitDir(), id))
			})
		}
	}
	return out
}
