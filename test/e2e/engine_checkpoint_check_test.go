package e2e

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// TestEngineCheckpointCheck: --check on checkpoint and restore is a
// preflight that checks without doing, and the archive carries the
// source host's facts.
func TestEngineCheckpointCheck(t *testing.T) {
	e := containerStore(t)
	defer e.settle(t)
	e.must(t, "run", "-d", "--network", "none", "--name", "loop", "bb", counterLoop[0], counterLoop[1], counterLoop[2])
	e.waitCounter(t, "loop", 3)

	out := e.must(t, "container", "checkpoint", "--check", "loop").Stdout
	for _, want := range []string{"ok    criu", "CRIU 4.", "ok    runtime", "ok    kernel", "ok    storage", "ok    processes", "ok    network", "ok    volumes"} {
		if !strings.Contains(out, want) {
			t.Errorf("checkpoint --check lacks %q:\n%s", want, out)
		}
	}
	// The check checkpointed nothing.
	if st := e.inspect(t, "loop").State.Status; st != "running" {
		t.Fatalf("after checkpoint --check the container is %s", st)
	}
	// A stopped container fails the check with a fix.
	e.must(t, "create", "--name", "idle", "bb", "true")
	res := e.run(t, "container", "checkpoint", "--check", "idle")
	if res.Code != 125 || !strings.Contains(res.Stdout, "FAIL  container") || !strings.Contains(res.Stdout, "fix: engine start idle") {
		t.Fatalf("checkpoint --check of a created container: exit %d\n%s%s", res.Code, res.Stdout, res.Stderr)
	}
	assertOneLine(t, res.Stderr, "preflight failed: container")

	archive := filepath.Join(t.TempDir(), "loop.tar.zst")
	e.must(t, "container", "checkpoint", "--export", archive, "--leave-running", "loop")

	var checks []struct {
		Name, Detail string
		OK           bool
	}
	js := e.must(t, "container", "restore", "--check", "--check-json", "--import", archive).Stdout
	if err := json.Unmarshal([]byte(js), &checks); err != nil {
		t.Fatalf("restore --check --check-json: %v\n%s", err, js)
	}
	names := map[string]bool{}
	for _, c := range checks {
		names[c.Name] = c.OK
	}
	for _, n := range []string{"criu", "runtime", "architecture", "image", "network", "volumes"} {
		if !names[n] {
			t.Errorf("restore --check: %s missing or failed in %s", n, js)
		}
	}
	// The same host: no source difference is reported.
	if strings.Contains(js, "(source)") {
		t.Errorf("restore --check on the source host reports differences: %s", js)
	}
	// The check restored nothing: only loop and idle exist.
	if n := len(strings.Fields(e.must(t, "ps", "-a", "-q").Stdout)); n != 2 {
		t.Fatalf("restore --check created a container: %d containers", n)
	}
}
