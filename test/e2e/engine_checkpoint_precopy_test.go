package e2e

import (
	"os/exec"
	"strings"
	"testing"
)

// TestEngineCheckpointPreCopy: --pre-checkpoint and --with-previous need
// the kernel's memory change tracking. Where CRIU says it is missing (as
// on the test machine), both fail at once with one line saying so, and the
// container goes on running untouched.
func TestEngineCheckpointPreCopy(t *testing.T) {
	out, err := exec.Command("criu", "check", "--feature", "mem_dirty_track").CombinedOutput()
	tracking := err == nil
	e := containerStore(t)
	defer e.settle(t)
	e.must(t, "run", "-d", "--name", "loop", "bb", counterLoop[0], counterLoop[1], counterLoop[2])
	e.waitCounter(t, "loop", 5)

	res := e.run(t, "container", "checkpoint", "--pre-checkpoint", "--create-image", "localhost/x", "loop")
	if res.Code != 125 {
		t.Fatalf("--pre-checkpoint --create-image: exit %d", res.Code)
	}
	assertOneLine(t, res.Stderr, "--pre-checkpoint cannot be combined")

	if tracking {
		// A host with tracking: the pre-dump leaves the container running
		// and the final checkpoint builds on it.
		e.must(t, "container", "checkpoint", "-P", "loop")
		if st := e.inspect(t, "loop").State.Status; st != "running" {
			t.Fatalf("after --pre-checkpoint the container is %s", st)
		}
		at := e.counter(t, "loop")
		e.must(t, "container", "checkpoint", "--with-previous", "loop")
		e.must(t, "container", "restore", "loop")
		e.assertResumed(t, "loop", at)
		return
	}
	t.Logf("criu check --feature mem_dirty_track: %s", strings.TrimSpace(string(out)))
	for _, flag := range []string{"--pre-checkpoint", "--with-previous"} {
		res := e.run(t, "container", "checkpoint", flag, "loop")
		if res.Code != 125 {
			t.Fatalf("checkpoint %s without memory tracking: exit %d", flag, res.Code)
		}
		assertOneLine(t, res.Stderr, "soft-dirty", "checkpoint without them")
		if st := e.inspect(t, "loop").State.Status; st != "running" {
			t.Fatalf("after a refused %s the container is %s", flag, st)
		}
	}
	v := e.counter(t, "loop")
	e.waitCounter(t, "loop", v+2)
}
