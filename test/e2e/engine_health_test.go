package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type healthInspect struct {
	State struct {
		Status string
		Health *struct {
			Status        string
			FailingStreak int
			Log           []struct {
				ExitCode int
				Output   string
			}
		}
	}
	Config struct {
		Healthcheck *struct {
			Test     []string
			Interval time.Duration
			Retries  int
		}
	}
}

func (e *engineStore) health(t *testing.T, name string) healthInspect {
	t.Helper()
	var out []healthInspect
	res := e.must(t, "container", "inspect", name)
	if err := json.Unmarshal([]byte(res.Stdout), &out); err != nil || len(out) != 1 {
		t.Fatalf("inspect %s: %v: %s", name, err, res.Stdout)
	}
	return out[0]
}

// timerProcs are the PIDs of "engine … healthcheck timer ID" processes.
func timerProcs(t *testing.T, id string) []string {
	t.Helper()
	want := []byte("healthcheck\x00timer\x00" + id)
	var pids []string
	matches, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, m := range matches {
		b, err := os.ReadFile(m)
		if err == nil && bytes.Contains(b, want) {
			pids = append(pids, filepath.Base(filepath.Dir(m)))
		}
	}
	return pids
}

func TestEngineHealthTimerAndRun(t *testing.T) {
	e := containerStore(t)
	id := strings.TrimSpace(e.must(t, "run", "-d", "--name", "h", "--health-cmd", "test -e /tmp/ok", "--health-interval", "1s", "--health-retries", "1", "bb", "sleep", "1000").Stdout)
	hc := e.health(t, "h").Config.Healthcheck
	if hc == nil || strings.Join(hc.Test, " ") != "CMD-SHELL test -e /tmp/ok" || hc.Interval != time.Second || hc.Retries != 1 {
		t.Fatalf("inspect Config.Healthcheck: %+v", hc)
	}
	// The timer alone makes it unhealthy: no "healthcheck run" here.
	waitFor(t, func() bool {
		return strings.Contains(e.must(t, "ps", "--format", "{{.Status}}").Stdout, "(unhealthy)")
	})
	h := e.health(t, "h").State.Health
	if h == nil || h.Status != "unhealthy" || h.FailingStreak < 1 || len(h.Log) == 0 || h.Log[len(h.Log)-1].ExitCode != 1 {
		t.Fatalf("inspect State.Health: %+v", h)
	}
	if pids := timerProcs(t, id); len(pids) != 1 {
		t.Fatalf("want one healthcheck timer for the container, found %v", pids)
	}
	res := e.run(t, "healthcheck", "run", "h")
	if res.Code != 1 || strings.TrimSpace(res.Stdout) != "unhealthy" {
		t.Fatalf("healthcheck run of a failing check: exit %d, %q", res.Code, res.Stdout)
	}
	// Fixing the container makes it healthy at the next tick.
	e.must(t, "exec", "h", "touch", "/tmp/ok")
	waitFor(t, func() bool {
		return strings.TrimSpace(e.must(t, "ps", "--filter", "health=healthy", "--format", "{{.Names}}").Stdout) == "h"
	})
	if res := e.run(t, "healthcheck", "run", "h"); res.Code != 0 || res.Stdout != "" {
		t.Fatalf("healthcheck run of a passing check: exit %d, %q", res.Code, res.Stdout)
	}
	if h := e.health(t, "h").State.Health; h.Status != "healthy" || h.FailingStreak != 0 || len(h.Log) > 5 {
		t.Fatalf("after passing: %+v", h)
	}
	// Each run is a health_status event.
	evs := e.must(t, "events", "--stream=false", "--filter", "event=health_status", "--filter", "container=h", "--format", "json").Stdout
	if !strings.Contains(evs, `"HealthStatus":"unhealthy"`) || !strings.Contains(evs, `"HealthStatus":"healthy"`) {
		t.Fatalf("health_status events: %s", evs)
	}
	// The timer lives exactly as long as the container.
	e.must(t, "rm", "-f", "h")
	waitFor(t, func() bool { return len(timerProcs(t, id)) == 0 })

	// Errors: no healthcheck, not running, unknown container.
	e.must(t, "run", "-d", "--name", "plain", "bb", "sleep", "1000")
	res = e.run(t, "healthcheck", "run", "plain")
	if res.Code != 125 {
		t.Fatalf("healthcheck run without a healthcheck: exit %d", res.Code)
	}
	assertOneLine(t, res.Stderr, "no defined healthcheck")
	e.must(t, "create", "--name", "stopped", "--health-cmd", "true", "bb", "sleep", "1000")
	if res := e.run(t, "healthcheck", "run", "stopped"); res.Code != 125 {
		t.Fatalf("healthcheck run of a container not running: exit %d", res.Code)
	} else {
		assertOneLine(t, res.Stderr, "not running")
	}
	if res := e.run(t, "healthcheck", "run", "nope"); res.Code != 125 {
		t.Fatalf("healthcheck run of an unknown container: exit %d", res.Code)
	}
}

func TestEngineHealthOnFailure(t *testing.T) {
	e := containerStore(t)
	e.must(t, "run", "-d", "--name", "k", "--health-cmd", "false", "--health-interval", "1s", "--health-retries", "1", "--health-on-failure", "kill", "bb", "sleep", "1000")
	e.must(t, "run", "-d", "--name", "s", "--health-cmd", "false", "--health-interval", "1s", "--health-retries", "2", "--health-on-failure", "stop", "--stop-timeout", "1", "bb", "sleep", "1000")
	if in := e.waitStatus(t, "k", "exited"); in.State.ExitCode != 137 {
		t.Fatalf("on-failure kill: exit code %d, want 137", in.State.ExitCode)
	}
	e.waitStatus(t, "s", "exited")
	// The stop event follows the exit once the stop command has torn
	// the container down: wait for it.
	var evs string
	waitFor(t, func() bool {
		evs = e.must(t, "events", "--stream=false", "--filter", "container=s", "--format", "{{.Status}}").Stdout
		return strings.Contains(evs, "stop")
	})
	if !strings.Contains(evs, "health_status\nhealth_status\n") {
		t.Fatalf("on-failure stop after 2 retries: events %q", evs)
	}
	// restart: stopped and started again by the timer, with a new timer.
	id := strings.TrimSpace(e.must(t, "run", "-d", "--name", "r", "--health-cmd", "false", "--health-interval", "1s", "--health-retries", "1", "--health-on-failure", "restart", "--stop-timeout", "1", "bb", "sleep", "1000").Stdout)
	waitFor(t, func() bool {
		out := e.must(t, "events", "--stream=false", "--filter", "container=r", "--filter", "event=start", "--format", "{{.Status}}").Stdout
		return strings.Count(out, "start") >= 2
	})
	e.waitStatus(t, "r", "running")
	e.must(t, "rm", "-f", "r")
	waitFor(t, func() bool { return len(timerProcs(t, id)) == 0 })
}

func TestEngineHealthFlags(t *testing.T) {
	e := containerStore(t)
	// The start period: failures do not count, the status stays starting.
	e.must(t, "run", "-d", "--name", "sp", "--health-cmd", "false", "--health-interval", "disable", "--health-start-period", "1h", "--health-retries", "1", "bb", "sleep", "1000")
	for range 2 {
		if res := e.run(t, "healthcheck", "run", "sp"); res.Code != 1 {
			t.Fatalf("failing check in the start period: exit %d", res.Code)
		}
	}
	if h := e.health(t, "sp").State.Health; h.Status != "starting" || h.FailingStreak != 0 || len(h.Log) != 2 {
		t.Fatalf("in the start period: %+v", h)
	}
	if out := e.must(t, "ps", "--format", "{{.Status}}", "--filter", "name=sp").Stdout; !strings.Contains(out, "(starting)") {
		t.Fatalf("ps status %q", out)
	}
	// --health-interval disable: no timer.
	id := e.inspect(t, "sp").ID
	time.Sleep(500 * time.Millisecond)
	if pids := timerProcs(t, id); len(pids) != 0 {
		t.Fatalf("--health-interval disable started a timer: %v", pids)
	}
	// --health-timeout: a check that hangs fails after the timeout.
	e.must(t, "run", "-d", "--name", "slow", "--health-cmd", "sleep 30", "--health-timeout", "1s", "--health-interval", "disable", "bb", "sleep", "1000")
	start := time.Now()
	if res := e.run(t, "healthcheck", "run", "slow"); res.Code != 1 {
		t.Fatalf("timed-out check: exit %d", res.Code)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("timed-out check took %s", d)
	}
	if h := e.health(t, "slow").State.Health; len(h.Log) != 1 || !strings.Contains(h.Log[0].Output, "timeout") {
		t.Fatalf("timed-out check's log: %+v", h)
	}
	// A check's output is recorded.
	e.must(t, "run", "-d", "--name", "out", "--health-cmd", `["echo", "all good"]`, "--health-interval", "disable", "bb", "sleep", "1000")
	e.must(t, "healthcheck", "run", "out")
	if h := e.health(t, "out").State.Health; h.Status != "healthy" || h.Log[0].Output != "all good\n" {
		t.Fatalf("exec-form check: %+v", h)
	}
	// none and --no-healthcheck disable it.
	for _, args := range [][]string{{"--health-cmd", "none"}, {"--no-healthcheck"}} {
		e.must(t, append(append([]string{"create", "--name", "off"}, args...), "bb", "true")...)
		if hc := e.health(t, "off").Config.Healthcheck; hc == nil || len(hc.Test) != 1 || hc.Test[0] != "NONE" {
			t.Fatalf("%v: Config.Healthcheck %+v", args, hc)
		}
		e.must(t, "rm", "off")
	}
	// Bad values: one line, exit 125, nothing created.
	for _, args := range [][]string{
		{"--health-cmd", "true", "--health-interval", "10ms"},
		{"--health-cmd", "true", "--health-timeout", "soon"},
		{"--health-cmd", "true", "--health-on-failure", "explode"},
		{"--health-cmd", "true", "--health-retries", "0"},
		{"--health-cmd", "true", "--health-start-period", "-1s"},
		{"--no-healthcheck", "--health-cmd", "true"},
	} {
		// Not a name of hex digits, which could match an ID's prefix.
		res := e.run(t, append(append([]string{"create", "--name", "bad-health"}, args...), "bb", "true")...)
		if res.Code != 125 {
			t.Fatalf("%v: exit %d", args, res.Code)
		}
		assertOneLine(t, res.Stderr, "health")
		if res := e.run(t, "container", "exists", "bad-health"); res.Code != 1 {
			t.Fatalf("%v created a container", args)
		}
	}
}

// TestEngineHealthFromImage: a container takes its image's HEALTHCHECK
// (docker format; the OCI config has none), with the user's flags over
// it; --no-healthcheck drops it.
func TestEngineHealthFromImage(t *testing.T) {
	e := containerStore(t)
	ctx := buildContext(t, map[string]string{"Containerfile": "FROM bb\nHEALTHCHECK --interval=7s --retries=2 CMD test -d /tmp\n"})
	e.buildOK(t, "--format", "docker", "-t", "checked", ctx)

	e.must(t, "create", "--name", "img", "checked", "true")
	hc := e.health(t, "img").Config.Healthcheck
	if hc == nil || strings.Join(hc.Test, " ") != "CMD-SHELL test -d /tmp" || hc.Interval != 7*time.Second || hc.Retries != 2 {
		t.Fatalf("the image's healthcheck in the container: %+v", hc)
	}
	e.must(t, "create", "--name", "over", "--health-retries", "5", "checked", "true")
	hc = e.health(t, "over").Config.Healthcheck
	if hc == nil || strings.Join(hc.Test, " ") != "CMD-SHELL test -d /tmp" || hc.Interval != 7*time.Second || hc.Retries != 5 {
		t.Fatalf("--health-retries over the image's healthcheck: %+v", hc)
	}
	e.must(t, "create", "--name", "none", "--no-healthcheck", "checked", "true")
	if hc := e.health(t, "none").Config.Healthcheck; hc == nil || strings.Join(hc.Test, " ") != "NONE" {
		t.Fatalf("--no-healthcheck on an image with one: %+v", hc)
	}
}
