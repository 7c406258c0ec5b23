package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/ocisuite/suite/engine/container"
)

// healthFlags are create's and run's healthcheck flags (podman's names).
type healthFlags struct {
	cmd, interval, timeout, startPeriod, onFailure string
	retries                                        uint
	none                                           bool
	fs                                             *pflag.FlagSet
}

func addHealthFlags(fs *pflag.FlagSet) *healthFlags {
	h := &healthFlags{fs: fs}
	fs.StringVar(&h.cmd, "health-cmd", "", "healthcheck `command` run in the container (a shell command or JSON array; \"none\" disables the image's)")
	fs.StringVar(&h.interval, "health-interval", "30s", "`interval` between healthchecks (\"disable\": only 'healthcheck run')")
	fs.UintVar(&h.retries, "health-retries", container.DefaultHealthRetries, "consecutive `failures` that make the container unhealthy")
	fs.StringVar(&h.timeout, "health-timeout", "30s", "`time` a healthcheck may take before it counts as failed")
	fs.StringVar(&h.startPeriod, "health-start-period", "0s", "`time` after start during which failures do not count")
	fs.StringVar(&h.onFailure, "health-on-failure", "none", "`action` when the container becomes unhealthy: none, kill, restart, stop")
	fs.BoolVar(&h.none, "no-healthcheck", false, "disable any healthcheck, the image's included")
	return h
}

// healthcheck returns the container's healthcheck: nil when no flag was
// given (the image's applies), a NONE test to disable the image's, or the
// given check. Durations the user did not set are left 0 so that, with no
// --health-cmd, only what was set overrides the image's healthcheck.
func (h *healthFlags) healthcheck() (*container.Healthcheck, error) {
	changed := func(names ...string) bool {
		for _, n := range names {
			if h.fs.Changed(n) {
				return true
			}
		}
		return false
	}
	tuning := changed("health-interval", "health-retries", "health-timeout", "health-start-period", "health-on-failure")
	if h.none {
		if changed("health-cmd") || tuning {
			return nil, errors.New("--no-healthcheck conflicts with the other --health-* flags")
		}
		return &container.Healthcheck{Test: []string{"NONE"}}, nil
	}
	if !changed("health-cmd") && !tuning {
		return nil, nil
	}
	hc := &container.Healthcheck{}
	if changed("health-cmd") {
		switch cmd := strings.TrimSpace(h.cmd); {
		case cmd == "":
			return nil, errors.New("--health-cmd: empty command")
		case strings.EqualFold(cmd, "none"):
			return &container.Healthcheck{Test: []string{"NONE"}}, nil
		case strings.HasPrefix(cmd, "["):
			var argv []string
			if err := jsonUnmarshal([]byte(cmd), &argv); err != nil || len(argv) == 0 {
				return nil, fmt.Errorf("--health-cmd %q: invalid JSON array", h.cmd)
			}
			if argv[0] == "CMD" || argv[0] == "CMD-SHELL" {
				hc.Test = argv
			} else {
				hc.Test = append([]string{"CMD"}, argv...)
			}
		default:
			hc.Test = []string{"CMD-SHELL", h.cmd}
		}
	}
	if changed("health-interval") {
		if h.interval == "disable" {
			hc.Interval = container.HealthIntervalDisabled
		} else {
			d, err := time.ParseDuration(h.interval)
			if err != nil || d < time.Second {
				return nil, fmt.Errorf("invalid --health-interval %q: want a duration of at least 1s, or disable", h.interval)
			}
			hc.Interval = d
		}
	}
	if changed("health-timeout") {
		d, err := time.ParseDuration(h.timeout)
		if err != nil || d < time.Second {
			return nil, fmt.Errorf("invalid --health-timeout %q: want a duration of at least 1s", h.timeout)
		}
		hc.Timeout = d
	}
	if changed("health-start-period") {
		d, err := time.ParseDuration(h.startPeriod)
		if err != nil || d < 0 {
			return nil, fmt.Errorf("invalid --health-start-period %q: want a duration of 0 or more", h.startPeriod)
		}
		hc.StartPeriod = d
	}
	if changed("health-retries") {
		if h.retries < 1 {
			return nil, errors.New("invalid --health-retries 0: want 1 or more")
		}
		hc.Retries = int(h.retries)
	}
	switch h.onFailure {
	case "none", "kill", "restart", "stop":
		if h.onFailure != "none" {
			hc.OnFailure = h.onFailure
		}
	default:
		return nil, fmt.Errorf("invalid --health-on-failure %q: want none, kill, restart or stop", h.onFailure)
	}
	return hc, nil
}
