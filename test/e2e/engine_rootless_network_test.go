package e2e

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/ocisuite/suite/test/fixture"
)

// usableTun makes /dev/net/tun usable by every user, as slirp4netns in a
// rootless user namespace needs (README: rootless networking).
func usableTun(t *testing.T) {
	t.Helper()
	if err := os.Chmod("/dev/net/tun", 0o666); err != nil {
		t.Fatal(err)
	}
}

// slirpProcesses are the slirp4netns processes of uid whose arguments
// contain substr (a namespace path).
func slirpProcesses(uid int, substr string) []int {
	return userProcesses(uid, "slirp4netns", substr)
}

// TestEngineRootlessNetwork: an unprivileged user's containers get
// slirp4netns networking by default: a published port answers on the
// host's 127.0.0.1, engine port lists it, allow_host_loopback lets a
// container reach a server on the host's loopback as
// host.containers.internal; a taken host port is one clear error leaving
// nothing behind, and kill and rm -f end the container's slirp4netns.
func TestEngineRootlessNetwork(t *testing.T) {
	usableTun(t)
	r := newRootlessEngine(t)
	t.Cleanup(func() {
		for _, pid := range slirpProcesses(r.uid, r.runtime) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	archive := publicCopy(t, fixture.DockerArchive(t, fixture.Busybox(t), "localhost/bb:latest"))
	r.must("load", "-i", archive)

	// The default network: slirp4netns's tap0, address and resolver.
	out := r.must("run", "--rm", "bb", "sh", "-c", "cat /etc/resolv.conf /etc/hosts; ip -4 addr show tap0").Stdout
	for _, want := range []string{"nameserver 10.0.2.3", "inet 10.0.2.100/24"} {
		if !strings.Contains(out, want) {
			t.Fatalf("default rootless network: no %q in:\n%s", want, out)
		}
	}
	// A container in a user namespace of its own joins it too.
	if out := r.must("run", "--rm", "--userns", "keep-id", "bb", "cat", "/proc/net/dev").Stdout; !strings.Contains(out, "tap0:") {
		t.Fatalf("keep-id: no tap0 in:\n%s", out)
	}
	r.must("create", "--name", "probe", "bb", "true")
	if mode := strings.TrimSpace(r.must("inspect", "--format", "{{.HostConfig.NetworkMode}}", "probe").Stdout); mode != "slirp4netns" {
		t.Fatalf("default rootless network mode %q, want slirp4netns", mode)
	}
	r.must("rm", "probe")

	// A published port answers on the host's 127.0.0.1.
	port := freeLoopbackPort(t)
	r.must("run", "-d", "--name", "web", "-p", fmt.Sprintf("127.0.0.1:%d:80", port), "bb",
		"sh", "-c", "mkdir /www && echo hello-from-slirp > /www/index.html && exec httpd -f -p 80 -h /www")
	if body := fetch(t, fmt.Sprintf("http://127.0.0.1:%d/", port)); body != "hello-from-slirp\n" {
		t.Fatalf("GET of the published port: %q", body)
	}
	if out := r.must("port", "web").Stdout; out != fmt.Sprintf("80/tcp -> 127.0.0.1:%d\n", port) {
		t.Fatalf("port: %q", out)
	}
	netns := strings.TrimSpace(r.must("inspect", "--format", "{{.NetworkSettings.SandboxKey}}", "web").Stdout)
	if !strings.HasPrefix(netns, r.runtime) || len(slirpProcesses(r.uid, netns)) != 1 {
		t.Fatalf("want one slirp4netns for the namespace %q of web, have %v", netns, slirpProcesses(r.uid, netns))
	}
	r.must("rm", "-f", "web")
	if pids := slirpProcesses(r.uid, netns); len(pids) > 0 {
		t.Fatalf("slirp4netns %v still runs after rm -f", pids)
	}
	if _, err := os.Stat(netns); !os.IsNotExist(err) {
		t.Fatalf("the namespace of web is still there after rm -f: %v", err)
	}

	// A container killed with SIGKILL: its cleanup ends slirp4netns.
	r.must("run", "-d", "--name", "killed", "bb", "sleep", "1000")
	netns = strings.TrimSpace(r.must("inspect", "--format", "{{.NetworkSettings.SandboxKey}}", "killed").Stdout)
	if len(slirpProcesses(r.uid, netns)) != 1 {
		t.Fatalf("no slirp4netns for killed's namespace %q", netns)
	}
	r.must("kill", "-s", "KILL", "killed")
	waitFor(t, func() bool { return len(slirpProcesses(r.uid, netns)) == 0 })
	r.must("rm", "killed")

	// allow_host_loopback: the host's 127.0.0.1 is host.containers.internal.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "hello-from-host\n") })}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	hostPort := l.Addr().(*net.TCPAddr).Port
	out = r.must("run", "--rm", "--network", "slirp4netns:allow_host_loopback=true", "bb", "sh", "-c",
		fmt.Sprintf("grep host.containers.internal /etc/hosts; wget -qO- http://host.containers.internal:%d/", hostPort)).Stdout
	if !strings.Contains(out, "10.0.2.2\thost.containers.internal") || !strings.HasSuffix(out, "hello-from-host\n") {
		t.Fatalf("allow_host_loopback: %q", out)
	}
	// Without it the host's loopback is out of reach.
	// (No wget -T: busybox 1.35's crashes with it.)
	if res := r.run("run", "--rm", "bb", "wget", "-qO-", fmt.Sprintf("http://10.0.2.2:%d/", hostPort)); res.Code == 0 || !strings.Contains(res.Stderr, "can't connect") {
		t.Fatalf("the host's loopback without allow_host_loopback: exit %d, %q %q", res.Code, res.Stdout, res.Stderr)
	}

	// A taken host port: one line, exit 125, nothing left running.
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	takenPort := taken.Addr().(*net.TCPAddr).Port
	res := r.run("run", "-d", "--name", "busy", "-p", fmt.Sprintf("127.0.0.1:%d:80", takenPort), "bb", "sleep", "1000")
	msg := strings.TrimSpace(res.Stderr)
	if res.Code != 125 || strings.Contains(msg, "\n") || !strings.Contains(msg, strconv.Itoa(takenPort)) || !strings.Contains(msg, "address already in use") {
		t.Fatalf("taken port: exit %d, stderr %q", res.Code, res.Stderr)
	}
	if out := r.must("ps", "--format", "{{.Names}}").Stdout; out != "" {
		t.Fatalf("running after a taken port: %q", out)
	}
	if pids := slirpProcesses(r.uid, r.runtime); len(pids) > 0 {
		t.Fatalf("slirp4netns %v left after a taken port", pids)
	}

	// /dev/net/tun unusable: one line naming the fix.
	if err := os.Chmod("/dev/net/tun", 0o600); err != nil {
		t.Fatal(err)
	}
	res = r.run("run", "--rm", "bb", "true")
	usableTun(t)
	if msg := strings.TrimSpace(res.Stderr); res.Code != 125 || strings.Contains(msg, "\n") || !strings.Contains(msg, "chmod 0666 /dev/net/tun") {
		t.Fatalf("unusable /dev/net/tun: exit %d, stderr %q", res.Code, res.Stderr)
	}
	if pids := slirpProcesses(r.uid, r.runtime); len(pids) > 0 {
		t.Fatalf("slirp4netns %v left", pids)
	}
}
