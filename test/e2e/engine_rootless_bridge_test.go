package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ocisuite/suite/test/fixture"
)

// rootlessNetnsLinks are the network interfaces in the rootless network
// namespace at path, as `ip -o link` names them: root enters the user's
// user and mount namespaces (the pause process's), then the namespace.
func rootlessNetnsLinks(t *testing.T, r *rootlessEngine, path string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(r.runtime, "ocisuite-pause.pid"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("nsenter", "-t", strings.TrimSpace(string(b)), "-U", "-m", "--",
		"nsenter", "--net="+path, "ip", "-o", "link").CombinedOutput()
	if err != nil {
		t.Fatalf("listing the links of %s: %v: %s", path, err, out)
	}
	var links []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if f := strings.Fields(l); len(f) > 1 {
			links = append(links, strings.TrimSuffix(strings.Split(f[1], "@")[0], ":"))
		}
	}
	return links
}

// userProcesses are the processes of uid named name whose arguments
// contain substr.
func userProcesses(uid int, name, substr string) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || len(b) == 0 {
			continue
		}
		var st syscall.Stat_t
		args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		if filepath.Base(args[0]) == name && strings.Contains(strings.Join(args[1:], " "), substr) && syscall.Stat(filepath.Join("/proc", e.Name()), &st) == nil && int(st.Uid) == uid {
			out = append(out, pid)
		}
	}
	return out
}

// killNetworkHelpers kills the user's slirp4netns and aardvark-dns of
// this test's run directory, which a failed test may leave behind.
func (r *rootlessEngine) killNetworkHelpers() {
	for _, name := range []string{"slirp4netns", "aardvark-dns"} {
		for _, pid := range userProcesses(r.uid, name, r.runtime) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// TestEngineRootlessBridge: an unprivileged user's own bridge networks,
// in the rootless network namespace as podman 4 makes them: network
// create/ls/inspect/rm with podman's JSON in the user's store; containers
// on one network reach each other by name (aardvark-dns) and not from
// another network; a published port answers on the host's 127.0.0.1;
// when the last container goes, so do the namespace, its slirp4netns and
// aardvark-dns, leaving no interface behind.
func TestEngineRootlessBridge(t *testing.T) {
	usableTun(t)
	r := newRootlessEngine(t)
	t.Cleanup(r.killNetworkHelpers)
	archive := publicCopy(t, fixture.DockerArchive(t, fixture.Busybox(t), "localhost/bb:latest"))
	r.must("load", "-i", archive)

	// Definitions: podman's JSON in the user's store.
	r.must("network", "create", "rb-app")
	r.must("network", "create", "--subnet", "10.89.211.0/24", "--disable-dns", "rb-other")
	r.must("network", "create", "--internal", "rb-inside")
	if out := r.must("network", "ls", "--format", "{{.Name}}").Stdout; out != "podman\nrb-app\nrb-inside\nrb-other\n" {
		t.Fatalf("network ls: %q", out)
	}
	var stored struct {
		Name, Driver string
		DNSEnabled   bool `json:"dns_enabled"`
		Internal     bool
		Subnets      []struct{ Subnet, Gateway string }
	}
	def := filepath.Join(r.home, ".local", "share", "containers", "storage", "networks")
	for name, want := range map[string]string{"rb-app": "dns", "rb-other": "10.89.211.0/24", "rb-inside": "internal"} {
		b, err := os.ReadFile(filepath.Join(def, name+".json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &stored); err != nil {
			t.Fatalf("%s.json: %v", name, err)
		}
		ok := stored.Name == name && stored.Driver == "bridge" && len(stored.Subnets) == 1
		switch want {
		case "dns":
			ok = ok && stored.DNSEnabled && !stored.Internal
		case "internal":
			ok = ok && stored.Internal
		default:
			ok = ok && !stored.DNSEnabled && stored.Subnets[0].Subnet == want && stored.Subnets[0].Gateway == "10.89.211.1"
		}
		if !ok {
			t.Fatalf("%s.json: %s", name, b)
		}
	}
	if out := strings.TrimSpace(r.must("network", "inspect", "--format", "{{.Name}} {{.DNSEnabled}}", "rb-app").Stdout); out != "rb-app true" {
		t.Fatalf("network inspect: %q", out)
	}

	// Two servers on rb-app; web publishes its port on the host.
	port := freeLoopbackPort(t)
	serve := func(name string, extra ...string) {
		t.Helper()
		args := append([]string{"run", "-d", "--name", name, "--network", "rb-app"}, extra...)
		r.must(append(args, "bb", "sh", "-c", "mkdir /www && echo hello-from-"+name+" > /www/index.html && exec httpd -f -p 80 -h /www")...)
	}
	serve("web", "-p", fmt.Sprintf("127.0.0.1:%d:80", port))
	serve("peer")
	get := func(from, url string) string {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			res := r.run("exec", from, "timeout", "5", "wget", "-qO-", url)
			if res.Code == 0 {
				return res.Stdout
			}
			if time.Now().After(deadline) {
				t.Fatalf("wget %s from %s: exit %d: %s%s", url, from, res.Code, res.Stdout, res.Stderr)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	if out := get("web", "http://peer/"); out != "hello-from-peer\n" {
		t.Fatalf("web → peer by name: %q", out)
	}
	if out := get("peer", "http://web/"); out != "hello-from-web\n" {
		t.Fatalf("peer → web by name: %q", out)
	}
	if body := fetch(t, fmt.Sprintf("http://127.0.0.1:%d/", port)); body != "hello-from-web\n" {
		t.Fatalf("GET of the published port: %q", body)
	}
	if out := r.must("port", "web").Stdout; out != fmt.Sprintf("80/tcp -> 127.0.0.1:%d\n", port) {
		t.Fatalf("port: %q", out)
	}
	var ins []struct {
		NetworkSettings struct {
			SandboxKey string
			IPAddress  string
			Gateway    string
		}
	}
	if err := json.Unmarshal([]byte(r.must("inspect", "web").Stdout), &ins); err != nil || len(ins) != 1 {
		t.Fatalf("inspect web: %v", err)
	}
	webIP, gateway := ins[0].NetworkSettings.IPAddress, ins[0].NetworkSettings.Gateway
	netns := filepath.Join(filepath.Dir(ins[0].NetworkSettings.SandboxKey), "rootless-netns")
	if !strings.HasPrefix(webIP, "10.89.") || !strings.HasPrefix(netns, r.runtime) {
		t.Fatalf("web: address %q, namespace %q", webIP, ins[0].NetworkSettings.SandboxKey)
	}
	// The bridge and both veths are in the rootless namespace, with
	// slirp4netns's tap0; none of them is on the host.
	links := rootlessNetnsLinks(t, r, netns)
	var veths []string
	for _, l := range links {
		if strings.HasPrefix(l, "veth") {
			veths = append(veths, l)
		}
	}
	if len(veths) != 2 || !strings.Contains(strings.Join(links, " "), "tap0") {
		t.Fatalf("links in the rootless namespace: %v", links)
	}
	slirps := slirpProcesses(r.uid, netns)
	if len(slirps) != 1 {
		t.Fatalf("want one slirp4netns for %s, have %v", netns, slirps)
	}
	// The namespace tells containers apart by port number: the same port
	// on another host address is refused in one line, leaving nothing
	// running.
	res := r.run("run", "-d", "--name", "clash", "--network", "rb-app", "-p", fmt.Sprintf("127.0.0.2:%d:80", port), "bb", "sleep", "1000")
	if msg := strings.TrimSpace(res.Stderr); res.Code != 125 || strings.Contains(msg, "\n") || !strings.Contains(msg, fmt.Sprintf("127.0.0.1:%d", port)) {
		t.Fatalf("same port on another address: exit %d, %q", res.Code, res.Stderr)
	}
	if out := r.must("ps", "--format", "{{.Names}}").Stdout; strings.Contains(out, "clash") {
		t.Fatalf("clash runs: %q", out)
	}
	r.run("rm", "-f", "clash")
	// A slirp4netns that died is replaced by the next container's setup,
	// and forwards the running containers' ports again.
	syscall.Kill(slirps[0], syscall.SIGKILL)
	waitFor(t, func() bool { return len(slirpProcesses(r.uid, netns)) == 0 })
	r.must("run", "--rm", "--network", "rb-app", "bb", "true")
	if slirps := slirpProcesses(r.uid, netns); len(slirps) != 1 {
		t.Fatalf("after slirp4netns died: %v", slirps)
	}
	if body := fetch(t, fmt.Sprintf("http://127.0.0.1:%d/", port)); body != "hello-from-web\n" {
		t.Fatalf("GET of the published port after slirp4netns died: %q", body)
	}

	// Outbound: through the rootless namespace and its slirp4netns to a
	// server beyond the host (in a namespace of the test's own); the
	// host's loopback stays out of reach, as with podman's default, and
	// host.containers.internal is the host's address, not the bridge's.
	outside := outsideServer(t, "hello-from-outside\n")
	if out := get("peer", "http://"+outside+"/"); out != "hello-from-outside\n" {
		t.Fatalf("peer → outside: %q", out)
	}
	loopback := localServer(t, "hello-from-host\n")
	_, lport, _ := net.SplitHostPort(loopback)
	if res := r.run("exec", "peer", "timeout", "3", "wget", "-qO-", "http://10.0.2.2:"+lport+"/"); res.Code == 0 {
		t.Fatalf("the host's loopback reached from rb-app: %q", res.Stdout)
	}
	hosts := r.must("exec", "peer", "cat", "/etc/hosts").Stdout
	hci := ""
	for _, l := range strings.Split(hosts, "\n") {
		if f := strings.Fields(l); len(f) > 1 && f[1] == "host.containers.internal" {
			hci = f[0]
		}
	}
	if hci == "" || hci == gateway || strings.HasPrefix(hci, "127.") {
		t.Fatalf("host.containers.internal is %q (gateway %s) in:\n%s", hci, gateway, hosts)
	}

	// From another network web is out of reach, by address; its name is
	// not known there. (The probes are not PID 1, which would ignore
	// timeout's signal.)
	r.must("run", "-d", "--name", "outsider", "--network", "rb-other", "bb", "sleep", "1000")
	r.must("run", "-d", "--name", "insider", "--network", "rb-inside", "bb", "sleep", "1000")
	if res := r.run("exec", "outsider", "timeout", "3", "wget", "-qO-", "http://"+webIP+"/"); res.Code == 0 {
		t.Fatalf("web reached from rb-other: %q", res.Stdout)
	}
	if res := r.run("exec", "outsider", "timeout", "3", "wget", "-qO-", "http://web/"); res.Code == 0 || !strings.Contains(res.Stderr, "bad address") {
		t.Fatalf("web's name from rb-other: exit %d, %q", res.Code, res.Stderr)
	}
	// An internal network has no way out of its bridge.
	if res := r.run("exec", "insider", "timeout", "3", "wget", "-qO-", "http://"+webIP+"/"); res.Code == 0 {
		t.Fatalf("web reached from the internal network: %q", res.Stdout)
	}
	r.must("rm", "-f", "-t", "0", "outsider", "insider")
	if out := r.must("run", "--rm", "--network", "rb-app", "bb", "cat", "/etc/resolv.conf").Stdout; !strings.HasPrefix(out, "search dns.podman") || !strings.Contains(out, "nameserver "+gateway) || strings.Contains(out, "10.0.2.3") {
		t.Fatalf("resolv.conf on rb-app: %q", out)
	}
	// aardvark-dns forwards other names to slirp4netns's resolver first
	// (which reaches the host's, loopback ones too): it sees a resolv.conf
	// of the rootless namespace's own, which no other process sees.
	aardvark := userProcesses(r.uid, "aardvark-dns", r.runtime)
	if len(aardvark) != 1 {
		t.Fatalf("aardvark-dns processes: %v", aardvark)
	}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/root/etc/resolv.conf", aardvark[0])); err != nil || !strings.HasPrefix(string(b), "nameserver 10.0.2.3\n") {
		t.Fatalf("aardvark-dns's resolv.conf: %v %q", err, b)
	}

	// --network bridge is the default network, podman, there too.
	if out := r.must("run", "--rm", "--network", "bridge", "bb", "ip", "-o", "-4", "addr", "show", "eth0").Stdout; !strings.Contains(out, "inet 10.88.") {
		t.Fatalf("--network bridge: %q", out)
	}

	// rm -f takes web's veth out of the namespace, and its port.
	r.must("rm", "-f", "web")
	links = rootlessNetnsLinks(t, r, netns)
	veths = veths[:0]
	for _, l := range links {
		if strings.HasPrefix(l, "veth") {
			veths = append(veths, l)
		}
	}
	if len(veths) != 1 {
		t.Fatalf("after rm -f web, links in the rootless namespace: %v", links)
	}
	freePort(t, port)

	// network connect and disconnect of a running container.
	r.must("network", "connect", "rb-other", "peer")
	if out := r.must("exec", "peer", "ip", "-o", "-4", "addr", "show", "eth1").Stdout; !strings.Contains(out, "inet 10.89.211.") {
		t.Fatalf("peer on rb-other: %q", out)
	}
	r.must("network", "disconnect", "rb-other", "peer")
	if res := r.run("exec", "peer", "ip", "-o", "-4", "addr", "show", "eth1"); res.Code == 0 {
		t.Fatalf("peer still on rb-other: %q", res.Stdout)
	}

	// The last container gone, so is the namespace with what runs in it.
	r.must("rm", "-f", "peer")
	waitFor(t, func() bool { _, err := os.Stat(netns); return os.IsNotExist(err) })
	// A container killed with SIGKILL: its cleanup does it.
	r.must("run", "-d", "--name", "killed", "--network", "rb-app", "bb", "sleep", "1000")
	if _, err := os.Stat(netns); err != nil {
		t.Fatal(err)
	}
	r.must("kill", "-s", "KILL", "killed")
	waitFor(t, func() bool { _, err := os.Stat(netns); return os.IsNotExist(err) })
	r.must("rm", "killed")
	for _, n := range []string{"rb-app", "rb-other", "rb-inside"} {
		r.must("network", "rm", n)
	}
	if _, err := os.Stat(netns); !os.IsNotExist(err) {
		t.Fatalf("the rootless namespace %s is still there: %v", netns, err)
	}
	for _, name := range []string{"slirp4netns", "aardvark-dns", "conmon"} {
		if pids := userProcesses(r.uid, name, r.runtime); len(pids) > 0 {
			t.Fatalf("%s %v still runs", name, pids)
		}
	}
	runDir := filepath.Dir(filepath.Dir(netns))
	left, _ := filepath.Glob(filepath.Join(runDir, "networks", "netavark", "aardvark-dns", "*"))
	owners, _ := filepath.Glob(filepath.Join(runDir, "networks", "owners", "*"))
	if len(left)+len(owners) > 0 {
		t.Fatalf("left behind: %v %v", left, owners)
	}
	if entries, _ := os.ReadDir(def); len(entries) != 1 {
		t.Fatalf("network definitions left: %v", entries)
	}
}

// outsideServer serves body over HTTP from a network namespace of the
// test's own, joined to the host by a veth pair (203.0.113.1 on the host,
// 203.0.113.2 in the namespace: TEST-NET-3, routed nowhere else), and
// returns its address.
func outsideServer(t *testing.T, body string) string {
	t.Helper()
	ns := fmt.Sprintf("ocisuite-out-%d", os.Getpid())
	host, peer := fmt.Sprintf("orb%dh", os.Getpid()%100000), fmt.Sprintf("orb%dn", os.Getpid()%100000)
	ip := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	if out, _ := exec.Command("ip", "-o", "addr").Output(); strings.Contains(string(out), " 203.0.113.") {
		t.Fatalf("the host has an address in 203.0.113.0/24 already:\n%s", out)
	}
	exec.Command("ip", "netns", "del", ns).Run()
	ip("netns", "add", ns)
	t.Cleanup(func() {
		exec.Command("ip", "netns", "del", ns).Run()
		exec.Command("ip", "link", "del", host).Run()
	})
	ip("link", "add", host, "type", "veth", "peer", "name", peer, "netns", ns)
	ip("addr", "add", "203.0.113.1/30", "dev", host)
	ip("link", "set", host, "up")
	ip("-n", ns, "addr", "add", "203.0.113.2/30", "dev", peer)
	ip("-n", ns, "link", "set", peer, "up")
	ip("-n", ns, "link", "set", "lo", "up")
	f, err := os.Open(filepath.Join("/run/netns", ns))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	type result struct {
		l   net.Listener
		err error
	}
	ch := make(chan result, 1)
	go func() {
		// The socket is made in the namespace; the thread, left there,
		// ends with the goroutine.
		runtime.LockOSThread()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			ch <- result{err: err}
			return
		}
		l, err := net.Listen("tcp", "203.0.113.2:0")
		ch <- result{l, err}
	}()
	res := <-ch
	if res.err != nil {
		t.Fatal(res.err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, body) })}
	go srv.Serve(res.l)
	t.Cleanup(func() { srv.Close() })
	return res.l.Addr().String()
}

// localServer serves body over HTTP on the host's 127.0.0.1 and returns
// its address.
func localServer(t *testing.T, body string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, body) })}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return l.Addr().String()
}

// freePort fails unless the host's 127.0.0.1:port can be listened on.
func freePort(t *testing.T, port int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			l.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("port %d is still taken: %v", port, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
