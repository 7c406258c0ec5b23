package container

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"slices"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// Health statuses, podman's words.
const (
	HealthStarting  = "starting"
	HealthHealthy   = "healthy"
	HealthUnhealthy = "unhealthy"
)

// Healthcheck defaults, podman's.
const (
	DefaultHealthInterval = 30 * time.Second
	DefaultHealthTimeout  = 30 * time.Second
	DefaultHealthRetries  = 3
	healthLogMax          = 5
	healthOutputMax       = 4096
)

// ErrNoHealthcheck is a container without a (enabled) healthcheck.
var ErrNoHealthcheck = errors.New("no defined healthcheck")

// HealthEnabled reports whether the container has a healthcheck to run.
func (c *Container) HealthEnabled() bool {
	return c.Health != nil && len(c.Health.Test) > 0 && c.Health.Test[0] != "NONE"
}

// HealthResult is one run of a container's healthcheck.
type HealthResult struct {
	// Passed is this run's outcome; Status the container's health after it.
	Passed bool
	Status string
	Log    HealthLog
}

// healthArgs turns a Test (["CMD-SHELL", cmd], ["CMD", args...]) into argv.
func healthArgs(test []string) ([]string, error) {
	if len(test) == 0 {
		return nil, ErrNoHealthcheck
	}
	switch test[0] {
	case "CMD-SHELL":
		if len(test) < 2 {
			return nil, errors.New("healthcheck CMD-SHELL has no command")
		}
		return []string{"/bin/sh", "-c", test[1]}, nil
	case "CMD":
		if len(test) < 2 {
			return nil, errors.New("healthcheck CMD has no command")
		}
		return test[1:], nil
	case "NONE":
		return nil, ErrNoHealthcheck
	default:
		return test, nil // a bare argv, as podman accepts from JSON
	}
}

// HealthCheck runs the container's healthcheck once now, records the
// result in its state under its operation marker, and logs a health_status event.
func (e *Engine) HealthCheck(ctx context.Context, id string) (*HealthResult, error) {
	c, err := e.Lookup(id)
	if err != nil {
		return nil, err
	}
	if !c.HealthEnabled() {
		return nil, fmt.Errorf("container %s has %w", c.Name, ErrNoHealthcheck)
	}
	if c.State.Status != StatusRunning {
		return nil, fmt.Errorf("container %s is not running: %w", c.Name, ErrInvalidState)
	}
	args, err := healthArgs(c.Health.Test)
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", c.Name, err)
	}
	timeout := c.Health.Timeout
	if timeout <= 0 {
		timeout = DefaultHealthTimeout
	}
	started := c.State.StartedAt
	log := HealthLog{Start: time.Now().UTC()}
	code, out, err := e.execCapture(ctx, c, args, timeout)
	log.End = time.Now().UTC()
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		log.ExitCode, log.Output = -1, fmt.Sprintf("Health check exceeded timeout of %s", timeout)
	case err != nil:
		var ee *ExecError
		if !errors.As(err, &ee) {
			return nil, err
		}
		log.ExitCode, log.Output = ee.Code, ee.Error()
	default:
		log.ExitCode, log.Output = code, out
	}
	if len(log.Output) > healthOutputMax {
		log.Output = log.Output[:healthOutputMax]
	}
	res := &HealthResult{Passed: log.ExitCode == 0, Log: log}

	c, unlock, err := e.acquireOp(ctx, id, "healthcheck")
	if err != nil {
		return nil, err
	}
	defer unlock()
	if !c.State.StartedAt.Equal(started) || c.State.Status != StatusRunning {
		// The container stopped or started again while the check ran:
		// this result belongs to a run that is over.
		return nil, fmt.Errorf("container %s is not running: %w", c.Name, ErrInvalidState)
	}
	h := c.State.Health
	if h == nil {
		h = &Health{Status: HealthStarting}
	}
	h.Log = append(h.Log, log)
	if len(h.Log) > healthLogMax {
		h.Log = slices.Clone(h.Log[len(h.Log)-healthLogMax:])
	}
	inStartPeriod := c.Health.StartPeriod > 0 && time.Since(c.State.StartedAt) < c.Health.StartPeriod
	retries := c.Health.Retries
	if retries <= 0 {
		retries = DefaultHealthRetries
	}
	switch {
	case res.Passed:
		h.Status, h.FailingStreak = HealthHealthy, 0
	case inStartPeriod && h.Status == HealthStarting:
		// Failures in the start period do not count.
	default:
		h.FailingStreak++
		if h.FailingStreak >= retries {
			h.Status = HealthUnhealthy
		}
	}
	c.State.Health = h
	if err := e.writeState(c.ID, c.State); err != nil {
		return nil, err
	}
	res.Status = h.Status
	e.healthEvent(c, h.Status)
	return res, nil
}

// healthEvent logs podman's health_status event.
func (e *Engine) healthEvent(c *Container, status string) {
	attrs := maps.Clone(c.Labels)
	if attrs == nil {
		attrs = map[string]string{}
	}
	attrs["health_status"] = status
	ev := Event{ID: c.ID, Image: c.eventImage(), Name: c.Name, Status: "health_status", Time: time.Now().UTC(), Type: "container", Attributes: attrs}
	if err := AppendEvent(e.EventLog(), ev); err != nil {
		logrus.Warnf("writing event: %v", err)
	}
}

// HealthTimer runs the container's healthcheck every interval for as long
// as the run that was current when it began lasts: it returns when the
// container's monitor exits, or when the container stopped or started
// again (a new run has a timer of its own). When the container becomes
// unhealthy it applies --health-on-failure.
func (e *Engine) HealthTimer(ctx context.Context, id string) error {
	c, err := e.Lookup(id)
	if err != nil {
		return err
	}
	if !c.HealthEnabled() || c.Health.Interval <= 0 || !c.Running() {
		return nil
	}
	started, conmon := c.State.StartedAt, c.State.ConmonPid
	// A pidfd on conmon wakes the timer the moment the container's run
	// ends; without one (old kernels) the state is checked every second.
	pidfd := -1
	if conmon > 0 {
		if fd, err := unix.PidfdOpen(conmon, 0); err == nil {
			pidfd = fd
			defer unix.Close(fd)
		}
	}
	for {
		if ended, err := e.sleepUnlessEnded(ctx, pidfd, c.Health.Interval); err != nil || ended {
			return err
		}
		cur, err := e.Lookup(id)
		if errors.Is(err, ErrNoSuchContainer) {
			return nil
		}
		if err != nil {
			return err
		}
		if !cur.Running() || !cur.State.StartedAt.Equal(started) {
			return nil
		}
		if cur.State.Status != StatusRunning {
			continue // paused: nothing to check
		}
		res, err := e.HealthCheck(ctx, id)
		if err != nil {
			if errors.Is(err, ErrInvalidState) || errors.Is(err, ErrNoSuchContainer) {
				return nil
			}
			logrus.Warnf("healthcheck of %s: %v", cur.Name, err)
			continue
		}
		if res.Status != HealthUnhealthy {
			continue
		}
		switch cur.Health.OnFailure {
		case "kill":
			_, err = e.Kill(ctx, id, syscall.SIGKILL)
			return err
		case "stop":
			_, err = e.Stop(ctx, id, StopOptions{})
			return err
		case "restart":
			if _, err := e.Stop(ctx, id, StopOptions{}); err != nil {
				return err
			}
			_, err = e.Start(ctx, id) // the new run starts its own timer
			return err
		}
	}
}

// sleepUnlessEnded waits d; ended is true when conmon exited meanwhile.
func (e *Engine) sleepUnlessEnded(ctx context.Context, pidfd int, d time.Duration) (bool, error) {
	deadline := time.Now().Add(d)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return false, nil
		}
		if ctx.Err() != nil {
			return true, nil
		}
		if pidfd < 0 {
			time.Sleep(min(left, time.Second))
			continue
		}
		fds := []unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, int(min(left, time.Second).Milliseconds())+1)
		if err != nil && !errors.Is(err, unix.EINTR) {
			return false, err
		}
		if n > 0 {
			return true, nil
		}
	}
}

// startHealthTimer spawns "engine … healthcheck timer ID" for a container
// that just started: a process of its own session with no stdio, which
// ends with the container's run.
func (e *Engine) startHealthTimer(c *Container) {
	if !c.HealthEnabled() || c.Health.Interval <= 0 || len(e.ExitCommand) == 0 {
		return
	}
	args := append(slices.Clone(e.ExitCommand[1:]), "healthcheck", "timer", c.ID)
	cmd := exec.Command(e.ExitCommand[0], args...)
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		logrus.Warnf("starting the healthcheck timer of %s: %v", c.Name, err)
		return
	}
	defer devnull.Close()
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, devnull, devnull
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		logrus.Warnf("starting the healthcheck timer of %s: %v", c.Name, err)
		return
	}
	_ = cmd.Process.Release()
}
