package container

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ocisuite/suite/engine/monitor"
	"github.com/ocisuite/suite/shared/oci"
)

// finish tears down a container whose processes are gone (operation marker
// held): the runtime's record, the root filesystem mount, the network, and
// the final state. All of it is done when it returns, before a removal can
// delete the record: a command killed in between leaves a record through
// which the next one finds and cleans what is left.
func (e *Engine) finish(ctx context.Context, c *Container) {
	e.recordExit(c, e.settle(ctx, c))
}

// settle is finish without its record: it reports whether the container
// was running.
func (e *Engine) settle(ctx context.Context, c *Container) (wasRunning bool) {
	code, at, ok := monitor.ExitCode(e.exitDir(), c.ID)
	if !ok && c.State.ConmonPid > 0 && alive(c.State.ConmonPid) {
		// The processes are gone (the runtime says so) but conmon has not
		// written the exit code yet: give it a moment, so the record gets
		// the real code rather than none.
		wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_ = waitFor(wctx, 10*time.Millisecond, func() (bool, error) {
			code, at, ok = monitor.ExitCode(e.exitDir(), c.ID)
			return ok, nil
		})
		cancel()
	}
	// runc delete (the cgroup, the runtime's state) and the network's
	// teardown (netavark's rules and lease, or slirp4netns; it changes
	// only c.State.Net) run beside the unmount: none needs the others.
	deleted := make(chan struct{})
	go func() {
		defer close(deleted)
		if err := e.Runtime.Delete(ctx, c.ID, true); err != nil {
			logrus.Warnf("deleting container %s from the runtime: %v", c.ID, err)
		}
	}()
	tornDown := make(chan struct{})
	go func() {
		defer close(tornDown)
		e.teardownNetwork(ctx, c)
	}()
	hideRootfs(c.ID)
	// Forced: a command killed between mounting and recording the mount
	// leaves a mount the store does not count, which the removal of the
	// storage would not unmount.
	if _, err := e.Store.Unmount(c.ID, true); err != nil {
		logrus.Debugf("unmounting %s: %v", c.ID, err)
	}
	e.releaseVolumes(c)
	// ConmonPid too: observeExit has already folded an exit file into Status and Pid.
	wasRunning = c.Running() || c.State.Status == StatusCreated || c.State.Pid != 0 || c.State.ConmonPid != 0
	c.State.Status = StatusExited
	c.State.Pid = 0
	c.State.ConmonPid = 0
	c.State.Mountpoint = ""
	if ok {
		c.State.ExitCode = code
		c.State.FinishedAt = at.UTC()
	} else if c.State.FinishedAt.IsZero() {
		c.State.FinishedAt = time.Now().UTC()
	}
	if bundle, err := e.bundle(c.ID); err == nil {
		if _, err := os.Stat(filepath.Join(bundle, "oom")); err == nil {
			c.State.OOMKilled = true
		}
	}
	<-tornDown
	<-deleted
	return wasRunning
}

// recordExit writes what settle found and, for a container that was
// running, the died event.
func (e *Engine) recordExit(c *Container, wasRunning bool) {
	if err := e.writeState(c.ID, c.State); err != nil {
		logrus.Warnf("writing state of %s: %v", c.ID, err)
	}
	if wasRunning {
		e.event(c, "died")
	}
}

// exited reports whether the container's processes are gone: conmon wrote
// the exit file, or the runtime no longer has it running.
func (e *Engine) exited(ctx context.Context, c *Container) bool {
	if _, _, ok := monitor.ExitCode(e.exitDir(), c.ID); ok {
		return true
	}
	st, err := e.Runtime.State(ctx, c.ID)
	if errors.Is(err, oci.ErrNotExist) {
		return true
	}
	return err == nil && st.Status == "stopped"
}

// waitExit waits up to d for the container's processes to end.
func (e *Engine) waitExit(ctx context.Context, c *Container, d time.Duration) bool {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	return waitFor(ctx, 20*time.Millisecond, func() (bool, error) { return e.exited(context.Background(), c), nil }) == nil
}

// StopOptions are stop's options.
type StopOptions struct {
	// Timeout before SIGKILL; nil uses the container's stop timeout.
	Timeout *uint
}

// Stop sends the stop signal, then SIGKILL after the timeout, and waits for
// the container to end. Stopping a stopped container is not an error. No
// operation marker is held while it waits, so kill, rm -f and the exit
// command act at once.
func (e *Engine) Stop(ctx context.Context, id string, o StopOptions) (*Container, error) {
	c, release, err := e.acquireOp(ctx, id, "stop")
	if err != nil {
		return nil, err
	}
	// Marked first, so that a restart policy waiting in the exit command
	// does not bring the container back.
	c.State.StoppedByUser = true
	if err := e.writeState(c.ID, c.State); err != nil {
		release()
		return nil, err
	}
	switch {
	case c.Running():
	case c.State.Status == StatusCreated:
		defer release()
		e.finish(ctx, c)
		return c, nil
	default:
		defer release()
		if c.State.Pid != 0 || c.State.Mountpoint != "" {
			e.finish(ctx, c)
		}
		return c, nil
	}
	timeout := c.StopTimeout
	if o.Timeout != nil {
		timeout = *o.Timeout
	}
	sig := syscall.SIGTERM
	if c.StopSignal != 0 {
		sig = syscall.Signal(c.StopSignal)
	}
	if timeout > 0 {
		if err := e.Runtime.Kill(ctx, c.ID, sig, false); err != nil && !errors.Is(err, oci.ErrNotRunning) && !errors.Is(err, oci.ErrNotExist) {
			release()
			return nil, fmt.Errorf("stopping %s: %w", c.Name, err)
		}
		if c.State.Status == StatusPaused {
			_ = e.Runtime.Resume(ctx, c.ID)
		}
	}
	release()
	if timeout == 0 || !e.waitExit(ctx, c, time.Duration(timeout)*time.Second) {
		if timeout > 0 {
			logrus.Infof("container %s did not stop within %ds, sending SIGKILL", c.Name, timeout)
		}
		if err := e.kill9(ctx, c); err != nil {
			return nil, err
		}
	}
	// The record again, as the exit command (or rm) may have moved on.
	cur, release, err := e.acquireOp(ctx, c.ID, "stop")
	if errors.Is(err, ErrNoSuchContainer) {
		return c, nil // removed meanwhile: stopped all the same
	}
	if err != nil {
		return nil, err
	}
	defer release()
	c = cur
	if c.Running() || c.State.Status == StatusCreated || c.State.Pid != 0 || c.State.Mountpoint != "" {
		e.finish(ctx, c)
	}
	e.event(c, "stop")
	return c, nil
}

// kill9 kills every process of the container and waits for them.
func (e *Engine) kill9(ctx context.Context, c *Container) error {
	// The container has its own PID namespace: SIGKILL to its init ends
	// every process in it, with no need for the cgroup a rootless
	// container on cgroup v1 lacks (runc kill --all reads it).
	if err := e.Runtime.Kill(ctx, c.ID, syscall.SIGKILL, false); err != nil && !errors.Is(err, oci.ErrNotRunning) && !errors.Is(err, oci.ErrNotExist) {
		return fmt.Errorf("killing %s: %w", c.Name, err)
	}
	if c.State.Status == StatusPaused {
		_ = e.Runtime.Resume(ctx, c.ID)
	}
	if !e.waitExit(ctx, c, 10*time.Second) {
		return fmt.Errorf("container %s did not exit after SIGKILL", c.Name)
	}
	return nil
}

// Kill sends sig to the container's main process. It takes no lock and
// waits for no operation: a signal is never held up.
func (e *Engine) Kill(ctx context.Context, id string, sig syscall.Signal) (*Container, error) {
	c, err := e.Lookup(id)
	if err != nil {
		return nil, err
	}
	if !c.Running() {
		return nil, errNotRunning(c)
	}
	if err := e.Runtime.Kill(ctx, c.ID, sig, false); err != nil {
		if errors.Is(err, oci.ErrNotRunning) || errors.Is(err, oci.ErrNotExist) {
			return nil, errNotRunning(c)
		}
		return nil, fmt.Errorf("killing %s: %w", c.Name, err)
	}
	e.event(c, "kill")
	return c, nil
}

// Cleanup is conmon's exit command: it records the exit, tears down what
// the container used, applies the restart policy and --rm.
func (e *Engine) Cleanup(ctx context.Context, id string) error {
	c, unlock, err := e.acquireOp(ctx, id, "cleanup")
	if err != nil {
		return err
	}
	if c.State.Status != StatusExited && !e.exited(ctx, c) {
		unlock()
		return nil // still running: a stale call
	}
	e.finish(ctx, c)
	if c.AutoRemove {
		unlock()
		return e.Remove(ctx, id, RemoveOptions{Force: true, Volumes: true})
	}
	restart := shouldRestart(c)
	unlock()
	if !restart {
		return nil
	}
	// Back off (100 ms doubling, at most 5 s) without holding a marker,
	// so that stop and rm act at once.
	delay := min(100*time.Millisecond<<min(c.State.RestartCount, 6), 5*time.Second)
	time.Sleep(delay)
	c, unlock, err = e.acquireOp(ctx, id, "restart")
	if err != nil {
		return err
	}
	defer unlock()
	if c.State.Status != StatusExited || !shouldRestart(c) {
		return nil
	}
	c.State.RestartCount++
	if err := e.init(ctx, c, nil); err != nil {
		return fmt.Errorf("restarting %s: %w", c.Name, err)
	}
	if err := e.start(ctx, c); err != nil {
		return fmt.Errorf("restarting %s: %w", c.Name, err)
	}
	e.event(c, "restart")
	return nil
}

func shouldRestart(c *Container) bool {
	if c.State.StoppedByUser {
		return false
	}
	switch c.Restart.Name {
	case "always", "unless-stopped":
		return true
	case "on-failure":
		return c.State.ExitCode != 0 && (c.Restart.MaxRetries == 0 || c.State.RestartCount < c.Restart.MaxRetries)
	}
	return false
}

// RemoveOptions are rm's options.
type RemoveOptions struct {
	Force   bool // kill a running container first
	Volumes bool // remove its anonymous volumes
}

// Remove deletes a container: its runtime state, storage and record.
func (e *Engine) Remove(ctx context.Context, id string, o RemoveOptions) error {
	c, unlock, err := e.acquireOp(ctx, id, "remove")
	if err != nil {
		return err
	}
	defer unlock()
	if c.Running() {
		if !o.Force {
			return fmt.Errorf("cannot remove container %s as it is %s - running or paused containers cannot be removed without force: %w", c.Name, c.State.Status, ErrInvalidState)
		}
		c.State.StoppedByUser = true
		_ = e.writeState(c.ID, c.State)
		if err := e.kill9(ctx, c); err != nil {
			return err
		}
	}
	// The record goes: what finish would write into it is written only
	// if it stays.
	wasRunning := e.settle(ctx, c)
	if err := e.removeStorage(c.ID); err != nil {
		e.recordExit(c, wasRunning)
		return err
	}
	if wasRunning {
		e.event(c, "died")
	}
	if o.Volumes {
		for _, m := range c.Mounts {
			if m.Type == "volume" && m.Anonymous && m.Volume != "" {
				if err := e.Volumes().Remove(m.Volume); err != nil {
					logrus.Warnf("removing anonymous volume %s: %v", m.Volume, err)
				}
			}
		}
	}
	e.event(c, "remove")
	return nil
}

// WaitOptions are wait's options.
type WaitOptions struct {
	// Conditions to wait for: "stopped"/"exited" (default), "running",
	// "created", "paused".
	Conditions []string
	Interval   time.Duration
}

// Wait blocks until the container meets a condition and returns its exit
// code (-1 for conditions other than stopped).
func (e *Engine) Wait(ctx context.Context, id string, o WaitOptions) (int, error) {
	c, err := e.Lookup(id)
	if err != nil {
		return -1, err
	}
	conds := o.Conditions
	if len(conds) == 0 {
		conds = []string{"stopped"}
	}
	interval := o.Interval
	if interval == 0 {
		interval = 50 * time.Millisecond
	}
	code := -1
	err = waitFor(ctx, interval, func() (bool, error) {
		cur, err := e.Lookup(c.ID)
		if err != nil {
			return false, err
		}
		for _, cond := range conds {
			switch cond {
			case "stopped", "exited":
				if cur.State.Status == StatusExited || cur.State.Status == StatusConfigured && !cur.State.FinishedAt.IsZero() {
					code = cur.State.ExitCode
					return true, nil
				}
			case "running", "created", "paused", "configured":
				if string(cur.State.Status) == cond {
					return true, nil
				}
			default:
				return false, fmt.Errorf("invalid wait condition %q", cond)
			}
		}
		return false, nil
	})
	return code, err
}

// Pause freezes a running container.
func (e *Engine) Pause(ctx context.Context, id string) (*Container, error) {
	return e.transition(ctx, id, StatusRunning, StatusPaused, "pause", e.Runtime.Pause)
}

// Unpause thaws a paused container.
func (e *Engine) Unpause(ctx context.Context, id string) (*Container, error) {
	return e.transition(ctx, id, StatusPaused, StatusRunning, "unpause", e.Runtime.Resume)
}

func (e *Engine) transition(ctx context.Context, id string, from, to Status, verb string, op func(context.Context, string) error) (*Container, error) {
	c, unlock, err := e.acquireOp(ctx, id, verb)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if c.State.Status != from {
		return nil, fmt.Errorf("%s: container %s is %s, not %s: %w", verb, c.Name, c.State.Status, from, ErrInvalidState)
	}
	if err := op(ctx, c.ID); err != nil {
		return nil, fmt.Errorf("%s %s: %w", verb, c.Name, err)
	}
	c.State.Status = to
	if err := e.writeState(c.ID, c.State); err != nil {
		return nil, err
	}
	e.event(c, verb)
	return c, nil
}

// Rename gives a container a new name.
func (e *Engine) Rename(ctx context.Context, id, name string) error {
	c, unlock, err := e.acquireOp(ctx, id, "rename")
	if err != nil {
		return err
	}
	defer unlock()
	if err := e.Store.SetNames(c.ID, []string{name}); err != nil {
		return fmt.Errorf("renaming %s to %s: %w", c.Name, name, ErrNameInUse)
	}
	c.Name = name
	if err := e.saveConfig(c.Config); err != nil {
		return err
	}
	e.event(c, "rename")
	return nil
}

// alive reports whether pid runs (a zombie does not).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndex(s, ")")
	return i >= 0 && i+2 < len(s) && s[i+2] != 'Z'
}
