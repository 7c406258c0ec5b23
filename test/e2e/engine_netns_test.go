package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ocisuite/suite/test/bin"
	"github.com/ocisuite/suite/test/fixture"
)

var netnsSeq atomic.Int32

// netns is a network namespace made with ip netns add for one test, with
// only its loopback (up); the test's end deletes it.
type netns struct{ name string }

func newNetns(t *testing.T) *netns {
	t.Helper()
	n := &netns{name: fmt.Sprintf("e2e-%d-%d", os.Getpid(), netnsSeq.Add(1))}
	if out, err := exec.Command("ip", "netns", "add", n.name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v: %s", n.name, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "delete", n.name).CombinedOutput(); err != nil {
			t.Errorf("ip netns delete %s: %v: %s", n.name, err, out)
		}
	})
	if out, err := exec.Command("ip", "-n", n.name, "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("ip -n %s link set lo up: %v: %s", n.name, err, out)
	}
	return n
}

// prefix runs a command in the namespace. ip netns exec alone does not
// do for the engine: besides entering the network namespace it unshares
// the mount namespace and mounts a new sysfs on /sys, which hides the
// cgroup hierarchies under /sys/fs/cgroup from runc (the restore fails
// with "no cgroup mount found in mountinfo"), and whatever the command
// mounts (the container's root filesystem, the bind mount holding its
// network namespace) stays in that private mount namespace, unseen by the
// engine's next command. nsenter puts the command back into the test's
// mount namespace: only the network namespace differs.
func (n *netns) prefix() []string {
	return []string{"ip", "netns", "exec", n.name, "nsenter", "--mount=/proc/" + strconv.Itoa(os.Getpid()) + "/ns/mnt", "--"}
}

// run runs a command (not the engine) in the namespace.
func (n *netns) run(t *testing.T, name string, args ...string) (string, error) {
	t.Helper()
	out, err := exec.Command("ip", append([]string{"netns", "exec", n.name, name}, args...)...).CombinedOutput()
	return string(out), err
}

// nsEngine is an engine instance whose every command runs in a network
// namespace of its own.
type nsEngine struct {
	*engineStore
	ns *netns
}

// newNSEngine is an empty engine instance in a new network namespace
// (env as for newEngineStore). Its containers are removed, from inside
// the namespace, before the namespace goes.
func newNSEngine(t *testing.T, env ...string) *nsEngine {
	t.Helper()
	ns := newNetns(t)
	e := &nsEngine{engineStore: newEngineStore(t, env...), ns: ns}
	t.Cleanup(func() {
		e.run(t, "rm", "-af")
		e.engineStore.settle(t) // waits for the monitors
	})
	return e
}

func (e *nsEngine) command(t *testing.T) []string {
	return append(e.ns.prefix(), append([]string{bin.Path(t, "engine")}, e.args(nil)...)...)
}

// targetCommand is migrate's --to for this instance.
func (e *nsEngine) targetCommand(t *testing.T) string {
	return strings.Join(e.command(t), " ")
}

func (e *nsEngine) run(t *testing.T, args ...string) bin.Result {
	t.Helper()
	argv := append(e.command(t), args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), e.env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := bin.Result{Stdout: stdout.String(), Stderr: stderr.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		res.Code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	t.Logf("$ [netns %s] engine %s  # exit %d", e.ns.name, strings.Join(args, " "), res.Code)
	if res.Code != 0 {
		t.Logf("stderr: %s", strings.TrimSpace(res.Stderr))
	}
	return res
}

func (e *nsEngine) must(t *testing.T, args ...string) bin.Result {
	t.Helper()
	res := e.run(t, args...)
	if res.Code != 0 {
		t.Fatalf("[netns %s] engine %s: exit %d: %s", e.ns.name, strings.Join(args, " "), res.Code, res.Stderr)
	}
	return res
}

// waitCounter is engineStore.waitCounter in the namespace.
func (e *nsEngine) waitCounter(t *testing.T, name string, n int) int {
	t.Helper()
	return waitCounter(t, e, name, n)
}

// assertResumed is engineStore.assertResumed in the namespace.
func (e *nsEngine) assertResumed(t *testing.T, name string, at int) {
	t.Helper()
	assertResumed(t, e, name, at)
}

// status is the container's state as inspect shows it.
func (e *nsEngine) status(t *testing.T, name string) string {
	t.Helper()
	return strings.TrimSpace(e.must(t, "container", "inspect", "--format", "{{.State.Status}}", name).Stdout)
}

// A counter migrates into an instance in its own network namespace: the
// copy's bridge network is set up there (the gateway's address is on a
// bridge in that namespace), the counter goes on, and it migrates back
// out.
func TestEngineMigrateNetnsCounter(t *testing.T) {
	src, _ := migrateStores(t)
	dst := newNSEngine(t)
	dst.load(t, fixture.Busybox(t), "localhost/bb:latest")
	src.must(t, "run", "-d", "--name", "loop", "bb", counterLoop[0], counterLoop[1], counterLoop[2])
	src.waitCounter(t, "loop", 20)
	at := src.counter(t, "loop")
	id := strings.TrimSpace(src.must(t, "container", "migrate", "--to", dst.targetCommand(t), "loop").Stdout)
	if len(id) != 64 {
		t.Fatalf("migrate printed %q, want the copy's ID", id)
	}
	if st := dst.status(t, "loop"); st != "running" {
		t.Fatalf("the copy in the namespace is %s", st)
	}
	dst.assertResumed(t, "loop", at)
	ip := strings.TrimSpace(dst.must(t, "container", "inspect", "--format", "{{.NetworkSettings.IPAddress}}", "loop").Stdout)
	if ip == "" {
		t.Fatal("the copy has no address on its bridge network")
	}
	// The copy's network was set up in the namespace, which had only its
	// loopback: the copy's address is routed there through a bridge.
	out, err := dst.ns.run(t, "ip", "-o", "route", "get", ip)
	if err != nil || strings.Contains(out, "dev lo") || !strings.Contains(out, " src ") {
		t.Fatalf("the copy's address %s is not routed through a bridge in the namespace: %v: %s", ip, err, out)
	}

	// And back out of the namespace (the target command would run in it
	// too: nsenter puts it back into the test's).
	at = dst.waitCounter(t, "loop", 0)
	back := "nsenter --net=/proc/" + strconv.Itoa(os.Getpid()) + "/ns/net -- " + src.targetCommand(t)
	dst.must(t, "container", "migrate", "--to", back, "--name", "home", "loop")
	src.assertResumed(t, "home", at)
	if out := dst.must(t, "ps", "-aq").Stdout; out != "" {
		t.Fatalf("the namespace's instance still has %q after migrating back", out)
	}
}

// A container publishing a port migrates into an instance in its own
// network namespace: the port is held there (by the copy's monitor) and
// no longer on the host, and a server started in the copy answers on it
// inside the namespace only. (The server is started after the migration:
// CRIU cannot dump listening inet sockets on the test machine, see
// TestEngineCheckpointSockets.)
func TestEngineMigrateNetnsPublished(t *testing.T) {
	src, _ := migrateStores(t)
	dst := newNSEngine(t)
	dst.load(t, fixture.Busybox(t), "localhost/bb:latest")
	port := freeLoopbackPort(t)
	src.must(t, "run", "-d", "--name", "web", "-p", fmt.Sprintf("127.0.0.1:%d:80", port), "bb",
		"sh", "-c", "mkdir -p /www && echo served > /www/index.html && "+counterLoop[2])
	src.waitCounter(t, "web", 5)
	if !portTaken(t, "tcp", port) {
		t.Fatalf("port %d is not held on the host while the source runs", port)
	}
	at := src.counter(t, "web")
	src.must(t, "container", "migrate", "--to", dst.targetCommand(t), "web")
	dst.assertResumed(t, "web", at)
	if portTaken(t, "tcp", port) {
		t.Fatalf("port %d is still held on the host after the migration", port)
	}
	out, err := dst.ns.run(t, "ss", "-Hltn", fmt.Sprintf("sport = :%d", port))
	if err != nil || !strings.Contains(out, fmt.Sprintf("127.0.0.1:%d", port)) {
		t.Fatalf("port %d is not held in the namespace: %v: %q", port, err, out)
	}
	dst.must(t, "exec", "-d", "web", "httpd", "-p", "80", "-h", "/www")
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	deadline := time.Now().Add(15 * time.Second)
	for {
		out, err = dst.ns.run(t, "curl", "-sS", "-m", "2", url)
		if err == nil && out == "served\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s in the namespace: %v: %q", url, err, out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if out, err := exec.Command("curl", "-sS", "-m", "2", url).CombinedOutput(); err == nil {
		t.Fatalf("GET %s on the host answers %q: the copy's port leaks out of the namespace", url, out)
	}
	dst.must(t, "rm", "-f", "-t", "0", "web")
	if out, _ := dst.ns.run(t, "ss", "-Hltn", fmt.Sprintf("sport = :%d", port)); strings.TrimSpace(out) != "" {
		t.Fatalf("port %d is still held in the namespace after rm -f: %q", port, out)
	}
}
