package e2e

import (
	"fmt"
	"testing"
)

// TestEngineCheckpointPortsHeld: a restored container's published ports
// are held by its monitor as a started one's are, and given back when it
// is removed.
func TestEngineCheckpointPortsHeld(t *testing.T) {
	e := containerStore(t)
	defer e.settle(t)
	port := freeLoopbackPort(t)
	e.must(t, "run", "-d", "--name", "loop", "-p", fmt.Sprintf("127.0.0.1:%d:80", port), "bb", counterLoop[0], counterLoop[1], counterLoop[2])
	e.waitCounter(t, "loop", 3)
	at := e.counter(t, "loop")
	e.must(t, "container", "checkpoint", "loop")
	if portTaken(t, "tcp", port) {
		t.Fatalf("port %d is held while the container is checkpointed (stopped)", port)
	}
	e.must(t, "container", "restore", "loop")
	e.assertResumed(t, "loop", at)
	if !portTaken(t, "tcp", port) {
		t.Fatalf("port %d can be taken while the restored container runs", port)
	}
	e.must(t, "rm", "-f", "-t", "0", "loop")
	if portTaken(t, "tcp", port) {
		t.Fatalf("port %d is still held after rm -f", port)
	}
}
