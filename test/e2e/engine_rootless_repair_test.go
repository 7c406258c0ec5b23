package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ocisuite/suite/test/fixture"
)

// TestEngineRootlessStaleLease: in a rootless store, an address leased on
// a rootless bridge network to a container whose monitor, process and
// network namespace are gone without a teardown is found by system check
// and released by --repair, after which the network serves new
// containers.
func TestEngineRootlessStaleLease(t *testing.T) {
	usableTun(t)
	r := newRootlessEngine(t)
	t.Cleanup(r.killNetworkHelpers)
	archive := publicCopy(t, fixture.DockerArchive(t, fixture.Busybox(t), "localhost/bb:latest"))
	r.must("load", "-i", archive)
	r.must("run", "-d", "--network", "bridge", "--name", "lost", "localhost/bb:latest", "sleep", "1000")
	var ins []struct {
		ID    string `json:"Id"`
		State struct {
			Pid, ConmonPid int
		}
		NetworkSettings struct{ SandboxKey, IPAddress string }
	}
	if err := json.Unmarshal([]byte(r.must("inspect", "lost").Stdout), &ins); err != nil || len(ins) != 1 {
		t.Fatalf("inspect lost: %v", err)
	}
	lost := ins[0]
	ip, netns := lost.NetworkSettings.IPAddress, lost.NetworkSettings.SandboxKey
	if ip == "" || netns == "" {
		t.Fatalf("lost: address %q, namespace %q", ip, netns)
	}
	// Monitor and process killed, the namespace unmounted in the user's
	// mount namespace (held by the pause process): nothing will tear this
	// container down.
	var victim inspected
	victim.State.Pid, victim.State.ConmonPid = lost.State.Pid, lost.State.ConmonPid
	killUnderneath(t, victim)
	pause := ""
	for _, p := range []string{filepath.Join(r.runtime, "ocisuite-pause.pid"), filepath.Join("/tmp", "ocisuite-"+strconv.Itoa(r.uid), "ocisuite-pause.pid")} {
		if b, err := os.ReadFile(p); err == nil {
			pause = strings.TrimSpace(string(b))
			break
		}
	}
	if pause == "" {
		t.Fatal("no pause process of the user's namespace")
	}
	if out, err := exec.Command("nsenter", "-t", pause, "-m", "sh", "-c", "umount "+netns+" && rm -f "+netns).CombinedOutput(); err != nil {
		t.Fatalf("removing %s in the user's mount namespace: %v: %s", netns, err, out)
	}

	res := r.run("system", "check")
	if res.Code == 0 || !strings.Contains(res.Stdout, "address "+ip+" ") || !strings.Contains(res.Stdout, "is leased, but the network namespace") {
		t.Fatalf("system check did not find the stale lease of %s: exit %d, %q", ip, res.Code, res.Stdout)
	}
	r.must("system", "check", "--repair")
	if res := r.run("system", "check"); res.Code != 0 {
		t.Fatalf("system check after --repair: exit %d, %q", res.Code, res.Stdout)
	}
	r.must("rm", "-f", "lost")
	if out := r.must("run", "--rm", "--network", "bridge", "localhost/bb:latest", "echo", "ok").Stdout; strings.TrimSpace(out) != "ok" {
		t.Fatalf("a container on the network after the repair: %q", out)
	}
}
