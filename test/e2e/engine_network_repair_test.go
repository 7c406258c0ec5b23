package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestEngineNetworkStaleLease: an address leased to a container whose
// network namespace is gone without a teardown (a crash, a store deleted
// from under the engine) is found by system check, in any store, and
// released by --repair.
func TestEngineNetworkStaleLease(t *testing.T) {
	a := containerStore(t)
	a.must(t, "run", "-d", "--name", "lost", "bb", "sleep", "1000")
	in := a.waitStatus(t, "lost", "running")
	ip := a.netInspect(t, "lost").NetworkSettings.IPAddress
	if ip == "" {
		t.Fatal("the container has no address on the default network")
	}
	leases := "/run/ocisuite/networks/leases/podman0.json"
	if b, _ := os.ReadFile(leases); !strings.Contains(string(b), ip) {
		t.Fatalf("%s does not lease %s: %s", leases, ip, b)
	}
	// Monitor and process killed, the namespace gone, the store deleted:
	// nothing will ever tear this container down.
	killUnderneath(t, in)
	netns := filepath.Join(a.runroot, "engine", "netns", in.ID)
	if out, err := exec.Command("umount", netns).CombinedOutput(); err != nil {
		t.Fatalf("umount %s: %v: %s", netns, err, out)
	}
	os.Remove(netns)

	b := containerStore(t)
	res := b.run(t, "system", "check")
	if res.Code == 0 || !strings.Contains(res.Stdout, "network "+in.ID) || !strings.Contains(res.Stdout, ip) {
		t.Fatalf("system check in another store: exit %d, %q", res.Code, res.Stdout)
	}
	b.must(t, "system", "check", "--repair")
	if got, _ := os.ReadFile(leases); strings.Contains(string(got), `"`+ip+`":`) {
		t.Fatalf("after --repair %s still leases %s: %s", leases, ip, got)
	}
	if res := b.run(t, "system", "check"); res.Code != 0 {
		t.Fatalf("check after repair: exit %d %q", res.Code, res.Stdout)
	}
	// The first store's own record is repaired as before.
	a.must(t, "system", "check", "--repair")
}
