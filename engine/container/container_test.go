//go:build !thin

package container

import (
	"strings"
	"syscall"
	"testing"
)

func TestParseSignal(t *testing.T) {
	for in, want := range map[string]syscall.Signal{"TERM": syscall.SIGTERM, "sigkill": syscall.SIGKILL, "9": syscall.SIGKILL, "SIGUSR1": syscall.SIGUSR1} {
		if got, err := ParseSignal(in); err != nil || got != want {
			t.Errorf("ParseSignal(%q) = %v, %v", in, got, err)
		}
	}
	for _, bad := range []string{"NOPE", "0", "99"} {
		if _, err := ParseSignal(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestParseLogLine(t *testing.T) {
	l, ok := parseLogLine("2026-11-30T01:02:03.123456789+00:00 stderr P partial text")
	if !ok || l.Stream != "stderr" || !l.Partial || l.Text != "partial text" {
		t.Fatalf("%+v %v", l, ok)
	}
	if _, ok := parseLogLine("garbage"); ok {
		t.Error("garbage parsed")
	}
}

func TestDetachKeys(t *testing.T) {
	k, err := ParseDetachKeys("ctrl-p,ctrl-q")
	if err != nil || string(k) != "\x10\x11" {
		t.Fatalf("%q %v", k, err)
	}
	if _, err := ParseDetachKeys("ctrl-1"); err == nil {
		t.Error("ctrl-1 accepted")
	}
}

func TestShouldRestart(t *testing.T) {
	c := &Container{}
	c.Restart = RestartPolicy{Name: "on-failure", MaxRetries: 2}
	c.State.ExitCode = 1
	if !shouldRestart(c) {
		t.Error("on-failure:2 after the first failure")
	}
	c.State.RestartCount = 2
	if shouldRestart(c) {
		t.Error("on-failure:2 after two restarts")
	}
	c.Restart = RestartPolicy{Name: "always"}
	if !shouldRestart(c) {
		t.Error("always")
	}
	c.State.StoppedByUser = true
	if shouldRestart(c) {
		t.Error("always after a user's stop")
	}
}

func TestCompareHosts(t *testing.T) {
	src := HostFacts{Arch: "amd64", Kernel: "6.1.0", CRIU: "CRIU 4.1.1", Runtime: "runc 1.1.5", Cgroups: "v2"}
	if err := mismatch(src, src); err != nil {
		t.Fatalf("same host: %v", err)
	}
	dst := src
	dst.Kernel, dst.Cgroups = "6.18.0", "hybrid"
	if err := mismatch(src, dst); err != nil {
		t.Fatalf("another kernel is a warning, not an error: %v", err)
	}
	if n := len(compareHosts(src, dst)); n != 3 {
		t.Fatalf("compareHosts lists %d entries, want architecture, kernel and cgroups", n)
	}
	dst.Arch = "arm64"
	err := mismatch(src, dst)
	if err == nil || !strings.Contains(err.Error(), "checkpointed on amd64, this host is arm64") {
		t.Fatalf("another architecture: %v", err)
	}
	if c := compareHosts(HostFacts{}, dst); len(c) != 1 || !c[0].Warning {
		t.Fatalf("an archive without host facts: %+v", c)
	}
}
