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
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ocisuite/suite/test/fixture"
)

// freeLoopbackPort is a TCP port nothing listens on at 127.0.0.1.
func freeLoopbackPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// fetch GETs url until it answers (the server starts in the background).
func fetch(t *testing.T, url string) string {
	t.Helper()
	c := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := c.Get(url)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			return string(b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %v", url, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

type netInspect struct {
	NetworkSettings struct {
		IPAddress   string
		Gateway     string
		IPPrefixLen int
		SandboxKey  string
		Ports       map[string][]struct{ HostIp, HostPort string }
		Networks    map[string]struct{ IPAddress, Gateway, NetworkID string }
	}
	HostConfig struct{ NetworkMode string }
}

func (e *engineStore) netInspect(t *testing.T, name string) netInspect {
	t.Helper()
	var out []netInspect
	res := e.must(t, "container", "inspect", name)
	if err := json.Unmarshal([]byte(res.Stdout), &out); err != nil || len(out) != 1 {
		t.Fatalf("inspect %s: %v: %s", name, err, res.Stdout)
	}
	return out[0]
}

// hostVeth is the host end of the container's eth0: its peer's index, as
// the container sees it (eth0@ifN).
func (e *engineStore) hostVeth(t *testing.T, name string) string {
	t.Helper()
	out := e.must(t, "exec", name, "ip", "-o", "link", "show", "eth0").Stdout
	_, rest, ok := strings.Cut(out, "eth0@if")
	idx, _, _ := strings.Cut(rest, ":")
	if !ok || idx == "" {
		t.Fatalf("ip link show eth0 in %s: %q", name, out)
	}
	return idx
}

// hostLinkExists reports whether the host has an interface of index idx.
func hostLinkExists(idx string) bool {
	out, _ := exec.Command("ip", "-o", "link", "show").Output()
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, idx+": ") {
			return true
		}
	}
	return false
}

// firewallRules counts the iptables rules that mention ip.
func firewallRules(t *testing.T, ip string) (rules int) {
	t.Helper()
	rs, err := exec.Command("iptables-save").Output()
	if err != nil {
		t.Fatalf("iptables-save: %v", err)
	}
	for _, l := range strings.Split(string(rs), "\n") {
		if strings.Contains(l, " "+ip+"/") || strings.Contains(l, " "+ip+":") || strings.Contains(l, " "+ip+" ") {
			rules++
		}
	}
	return rules
}

// A web server in a container on the default bridge network, published on
// 127.0.0.1, answers the host; port lists the mapping; inspect shows the
// address; stop removes its veth and firewall rules.
func TestEngineNetworkPublish(t *testing.T) {
	e := containerStore(t)
	port := freeLoopbackPort(t)
	e.must(t, "run", "-d", "--name", "web", "-p", fmt.Sprintf("127.0.0.1:%d:80", port), "bb",
		"sh", "-c", "mkdir -p /www && echo hello-from-web > /www/index.html && exec httpd -f -p 80 -h /www")
	if got := fetch(t, fmt.Sprintf("http://127.0.0.1:%d/", port)); got != "hello-from-web\n" {
		t.Fatalf("GET: %q", got)
	}
	if got, want := strings.TrimSpace(e.must(t, "port", "web").Stdout), fmt.Sprintf("80/tcp -> 127.0.0.1:%d", port); got != want {
		t.Fatalf("port: %q, want %q", got, want)
	}
	if got, want := strings.TrimSpace(e.must(t, "port", "web", "80").Stdout), fmt.Sprintf("127.0.0.1:%d", port); got != want {
		t.Fatalf("port web 80: %q, want %q", got, want)
	}
	if got, want := e.must(t, "ps", "--format", "{{.Ports}} {{.Networks}}").Stdout, fmt.Sprintf("127.0.0.1:%d->80/tcp podman\n", port); got != want {
		t.Fatalf("ps PORTS NETWORKS: %q, want %q", got, want)
	}
	// podman's JSON: the mappings as objects, the networks as a list.
	var rows []struct {
		Ports []struct {
			HostIP        string `json:"host_ip"`
			ContainerPort int    `json:"container_port"`
			HostPort      int    `json:"host_port"`
			Protocol      string `json:"protocol"`
		}
		Networks []string
	}
	if err := json.Unmarshal([]byte(e.must(t, "ps", "--format", "json").Stdout), &rows); err != nil || len(rows) != 1 ||
		len(rows[0].Ports) != 1 || rows[0].Ports[0].HostIP != "127.0.0.1" || rows[0].Ports[0].HostPort != port ||
		rows[0].Ports[0].ContainerPort != 80 || rows[0].Ports[0].Protocol != "tcp" || !slices.Equal(rows[0].Networks, []string{"podman"}) {
		t.Fatalf("ps --format json: %v %+v", err, rows)
	}
	in := e.netInspect(t, "web")
	ns := in.NetworkSettings
	if in.HostConfig.NetworkMode != "bridge" || !strings.HasPrefix(ns.IPAddress, "10.88.") || ns.Gateway != "10.88.0.1" || ns.IPPrefixLen != 16 {
		t.Fatalf("inspect: %+v", in)
	}
	if hp := ns.Ports["80/tcp"]; len(hp) != 1 || hp[0].HostIp != "127.0.0.1" || hp[0].HostPort != fmt.Sprint(port) {
		t.Fatalf("inspect ports: %+v", ns.Ports)
	}
	if got, want := e.must(t, "inspect", "--format", "{{range $p, $b := .HostConfig.PortBindings}}{{$p}} {{(index $b 0).HostIP}}:{{(index $b 0).HostPort}}{{end}}", "web").Stdout, fmt.Sprintf("80/tcp 127.0.0.1:%d\n", port); got != want {
		t.Fatalf("inspect HostConfig.PortBindings: %q, want %q", got, want)
	}
	if n, ok := ns.Networks["podman"]; !ok || n.IPAddress != ns.IPAddress {
		t.Fatalf("inspect networks: %+v", ns.Networks)
	}
	// The default network has podman's ID for it.
	if got := e.must(t, "network", "ls", "--format", "{{.ID}} {{.Name}}").Stdout; got != "2f259bab93aa podman\n" {
		t.Fatalf("network ls: %q", got)
	}
	// /etc/hosts: the container's address and name, the host's gateway.
	hosts := e.must(t, "exec", "web", "cat", "/etc/hosts").Stdout
	if !strings.Contains(hosts, ns.IPAddress+"\t") || !strings.Contains(hosts, " web\n") || !strings.Contains(hosts, "10.88.0.1\thost.containers.internal") {
		t.Fatalf("/etc/hosts:\n%s", hosts)
	}
	// The container reaches its own server on its address.
	if out := e.must(t, "exec", "web", "wget", "-q", "-O", "-", "http://"+ns.IPAddress+"/").Stdout; out != "hello-from-web\n" {
		t.Fatalf("wget in the container: %q", out)
	}
	veth := e.hostVeth(t, "web")
	if !hostLinkExists(veth) || firewallRules(t, ns.IPAddress) == 0 {
		t.Fatalf("while running: host veth %s exists %v, %d rules for %s", veth, hostLinkExists(veth), firewallRules(t, ns.IPAddress), ns.IPAddress)
	}
	e.must(t, "stop", "-t", "0", "web")
	if hostLinkExists(veth) || firewallRules(t, ns.IPAddress) != 0 {
		t.Fatalf("after stop: host veth %s exists %v, %d rules for %s", veth, hostLinkExists(veth), firewallRules(t, ns.IPAddress), ns.IPAddress)
	}
	if _, err := (&net.Dialer{Timeout: time.Second}).Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
		t.Fatal("the port still answers after stop")
	}
	if ns := e.netInspect(t, "web").NetworkSettings; ns.IPAddress != "" || ns.SandboxKey != "" {
		t.Fatalf("a stopped container keeps its address: %+v", ns)
	}
	// Started again, it serves again.
	e.must(t, "start", "web")
	if got := fetch(t, fmt.Sprintf("http://127.0.0.1:%d/", port)); got != "hello-from-web\n" {
		t.Fatalf("GET after restart: %q", got)
	}
}

// Two containers on a user network reach each other by address and by
// name (aardvark-dns); network create/ls/inspect/exists/rm work on it.
func TestEngineNetworkUserNetwork(t *testing.T) {
	e := containerStore(t)
	e.must(t, "network", "create", "--label", "team=a", "nt-app")
	if res := e.run(t, "network", "create", "nt-app"); res.Code != 125 {
		t.Fatalf("creating a network twice: exit %d", res.Code)
	}
	e.must(t, "network", "exists", "nt-app")
	if res := e.run(t, "network", "exists", "nt-nope"); res.Code != 1 {
		t.Fatalf("network exists nt-nope: exit %d", res.Code)
	}
	if out := e.must(t, "network", "ls", "-q").Stdout; out != "nt-app\npodman\n" {
		t.Fatalf("network ls -q: %q", out)
	}
	if out := e.must(t, "network", "ls", "--format", "{{.Name}} {{.Driver}}").Stdout; out != "nt-app bridge\npodman bridge\n" {
		t.Fatalf("network ls --format: %q", out)
	}
	var nets []struct {
		Name, Driver     string
		NetworkInterface string `json:"network_interface"`
		DNSEnabled       bool   `json:"dns_enabled"`
		Labels           map[string]string
		Subnets          []struct{ Subnet, Gateway string }
	}
	if err := json.Unmarshal([]byte(e.must(t, "network", "inspect", "nt-app").Stdout), &nets); err != nil || len(nets) != 1 {
		t.Fatalf("network inspect: %v", err)
	}
	n := nets[0]
	if !n.DNSEnabled || n.Labels["team"] != "a" || len(n.Subnets) != 1 || !strings.HasPrefix(n.Subnets[0].Subnet, "10.89.") || !strings.HasPrefix(n.NetworkInterface, "podman") {
		t.Fatalf("network inspect: %+v", n)
	}
	e.must(t, "run", "-d", "--name", "srv", "--network", "nt-app", "bb",
		"sh", "-c", "mkdir -p /www && echo from-srv > /www/index.html && exec httpd -f -p 80 -h /www")
	e.must(t, "run", "-d", "--name", "cli", "--network", "nt-app", "bb", "sleep", "1000")
	srv := e.netInspect(t, "srv").NetworkSettings
	if srv.Networks["nt-app"].IPAddress == "" || srv.Gateway != n.Subnets[0].Gateway {
		t.Fatalf("srv inspect: %+v (network gateway %s)", srv, n.Subnets[0].Gateway)
	}
	get := func(host string) string {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			res := e.run(t, "exec", "cli", "timeout", "5", "wget", "-q", "-O", "-", "http://"+host+"/")
			if res.Code == 0 {
				return res.Stdout
			}
			if time.Now().After(deadline) {
				t.Fatalf("wget %s from cli: %s", host, res.Combined())
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	if out := get(srv.IPAddress); out != "from-srv\n" {
		t.Fatalf("by address: %q", out)
	}
	if out := get("srv"); out != "from-srv\n" {
		t.Fatalf("by name: %q", out)
	}
	// In use: rm refuses with podman's code 2; -f removes the containers too.
	res := e.run(t, "network", "rm", "nt-app")
	if res.Code != 2 {
		t.Fatalf("network rm of a used network: exit %d: %s", res.Code, res.Stderr)
	}
	assertOneLine(t, res.Stderr, "nt-app", "srv")
	e.must(t, "network", "rm", "-f", "nt-app")
	if out := e.must(t, "ps", "-a", "--format", "{{.Names}}").Stdout; out != "" {
		t.Fatalf("network rm -f left containers: %q", out)
	}
	if res := e.run(t, "network", "exists", "nt-app"); res.Code != 1 {
		t.Fatalf("network exists after rm: exit %d", res.Code)
	}
	if res := e.run(t, "network", "rm", "podman"); res.Code == 0 {
		t.Fatal("the default network was removed")
	}
}

// A host port already taken is a clear error and leaves no container;
// --network none and host take no ports; a bad --publish is refused.
func TestEngineNetworkPortTaken(t *testing.T) {
	e := containerStore(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	res := e.run(t, "run", "-d", "--name", "clash", "-p", fmt.Sprintf("127.0.0.1:%d:80", port), "bb", "sleep", "1000")
	if res.Code != 125 {
		t.Fatalf("run with a taken port: exit %d: %s", res.Code, res.Combined())
	}
	assertOneLine(t, res.Stderr, fmt.Sprintf("127.0.0.1:%d", port), "address already in use")
	if out := e.must(t, "ps", "-a", "--format", "{{.Names}}").Stdout; out != "" {
		t.Fatalf("a failed run left containers: %q", out)
	}
	for _, bad := range [][]string{
		{"--network", "none", "-p", "8080:80"}, {"-p", "80/sctp"}, {"-p", "1-3:80-81"}, {"-p", "x:80"}, {"-p", "notanip:1:80"},
	} {
		res := e.run(t, append(append([]string{"run", "--rm"}, bad...), "bb", "true")...)
		if res.Code != 125 {
			t.Errorf("run %v: exit %d, want 125", bad, res.Code)
			continue
		}
		assertOneLine(t, res.Stderr)
	}
	// --network none: loopback only.
	out := e.must(t, "run", "--rm", "--network", "none", "bb", "sh", "-c", "ls /sys/class/net | tr '\\n' ' '").Stdout
	if out != "lo " {
		t.Fatalf("--network none interfaces: %q", out)
	}
}

// Teardown through every path: 20 start/stop cycles, a container killed
// with kill -9 (conmon's cleanup exit command), rm -f of a running one;
// each leaves no veth, firewall rule or netns behind.
func TestEngineNetworkTeardown(t *testing.T) {
	e := containerStore(t)
	port := freeLoopbackPort(t)
	e.must(t, "create", "--name", "cyc", "-p", fmt.Sprintf("127.0.0.1:%d:80", port), "bb", "sleep", "1000")
	for i := 0; i < 20; i++ {
		e.must(t, "start", "cyc")
		ip := e.netInspect(t, "cyc").NetworkSettings.IPAddress
		veth := e.hostVeth(t, "cyc")
		if ip == "" || !hostLinkExists(veth) || firewallRules(t, ip) == 0 {
			t.Fatalf("cycle %d: ip %q, veth %s exists %v", i, ip, veth, hostLinkExists(veth))
		}
		e.must(t, "stop", "-t", "0", "cyc")
		if hostLinkExists(veth) || firewallRules(t, ip) != 0 {
			t.Fatalf("cycle %d: after stop, veth %s exists %v, %d rules for %s", i, veth, hostLinkExists(veth), firewallRules(t, ip), ip)
		}
	}
	netnsDir := filepath.Join(e.runroot, "engine", "netns")
	if ents, _ := os.ReadDir(netnsDir); len(ents) != 0 {
		t.Fatalf("network namespaces left: %v", ents)
	}

	// kill -9 of the container's process: the exit command tears down.
	e.must(t, "run", "-d", "--name", "k9", "bb", "sleep", "1000")
	in := e.netInspect(t, "k9")
	ip, veth := in.NetworkSettings.IPAddress, e.hostVeth(t, "k9")
	pid := e.inspect(t, "k9").State.Pid
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	e.waitStatus(t, "k9", "exited")
	deadline := time.Now().Add(10 * time.Second)
	for hostLinkExists(veth) || firewallRules(t, ip) != 0 || e.netInspect(t, "k9").NetworkSettings.IPAddress != "" {
		if time.Now().After(deadline) {
			t.Fatalf("after kill -9: veth %s exists %v, %d rules for %s, inspect %+v", veth, hostLinkExists(veth), firewallRules(t, ip), ip, e.netInspect(t, "k9").NetworkSettings)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// rm -f of a running container.
	e.must(t, "run", "-d", "--name", "rmf", "bb", "sleep", "1000")
	ip, veth = e.netInspect(t, "rmf").NetworkSettings.IPAddress, e.hostVeth(t, "rmf")
	e.must(t, "rm", "-f", "-t", "0", "rmf")
	if hostLinkExists(veth) || firewallRules(t, ip) != 0 {
		t.Fatalf("after rm -f: veth %s exists %v, %d rules for %s", veth, hostLinkExists(veth), firewallRules(t, ip), ip)
	}
	if ents, _ := os.ReadDir(netnsDir); len(ents) != 0 {
		t.Fatalf("network namespaces left: %v", ents)
	}
}

// An --internal network gives its containers no default route; a
// --disable-dns one no aardvark-dns; --subnet and --gateway are used.
func TestEngineNetworkInternal(t *testing.T) {
	e := containerStore(t)
	e.must(t, "network", "create", "--internal", "--disable-dns", "--subnet", "10.89.200.0/24", "--gateway", "10.89.200.254", "nt-int")
	out := e.must(t, "run", "--rm", "--network", "nt-int", "bb", "sh", "-c", "ip route; echo ---; cat /etc/resolv.conf").Stdout
	routes, resolv, _ := strings.Cut(out, "---\n")
	if strings.Contains(routes, "default") || !strings.Contains(routes, "10.89.200.0/24") {
		t.Fatalf("routes in an internal network:\n%s", routes)
	}
	if strings.Contains(resolv, "10.89.200.254") || strings.Contains(resolv, "dns.podman") {
		t.Fatalf("resolv.conf with --disable-dns:\n%s", resolv)
	}
	out = e.must(t, "run", "--rm", "bb", "ip", "route").Stdout
	if !strings.Contains(out, "default via 10.88.0.1") {
		t.Fatalf("routes on the default network:\n%s", out)
	}
	e.must(t, "run", "-d", "--name", "gw", "--network", "nt-int", "bb", "sleep", "1000")
	if ns := e.netInspect(t, "gw").NetworkSettings; ns.Gateway != "10.89.200.254" || !strings.HasPrefix(ns.IPAddress, "10.89.200.") {
		t.Fatalf("inspect on nt-int: %+v", ns)
	}
	for _, bad := range [][]string{
		{"--subnet", "10.89.200.128/25", "nt-overlap"}, {"--subnet", "nonsense", "nt-bad"}, {"--gateway", "10.89.201.1", "nt-gw"},
		{"--subnet", "10.89.202.0/24", "--gateway", "10.89.203.1", "nt-gw2"}, {"bad/name"},
	} {
		res := e.run(t, append([]string{"network", "create"}, bad...)...)
		if res.Code != 125 {
			t.Errorf("network create %v: exit %d, want 125", bad, res.Code)
			continue
		}
		assertOneLine(t, res.Stderr)
	}
}

// -P publishes the image's EXPOSEd ports and -p without a host port
// publishes on a free one, both kept across restarts; --add-host,
// --no-hosts, --dns, --dns-search and --dns-option shape /etc/hosts and
// /etc/resolv.conf; network prune removes unused networks only.
func TestEngineNetworkPublishAllAndEtcFiles(t *testing.T) {
	e := containerStore(t)
	e.must(t, "create", "--name", "base", "bb", "true")
	e.must(t, "commit", "-c", "EXPOSE 80", "base", "bbweb")
	e.must(t, "run", "-d", "--name", "pa", "-P", "-p", "127.0.0.1::8000/udp", "bbweb",
		"sh", "-c", "mkdir -p /www && echo published-all > /www/index.html && exec httpd -f -p 80 -h /www")
	lines := strings.Split(strings.TrimSpace(e.must(t, "port", "pa").Stdout), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "80/tcp -> 0.0.0.0:") || !strings.HasPrefix(lines[1], "8000/udp -> 127.0.0.1:") {
		t.Fatalf("port: %q", lines)
	}
	hostPort := strings.TrimPrefix(lines[0], "80/tcp -> 0.0.0.0:")
	if got := fetch(t, "http://127.0.0.1:"+hostPort+"/"); got != "published-all\n" {
		t.Fatalf("GET on the -P port: %q", got)
	}
	e.must(t, "restart", "-t", "0", "pa")
	if again := strings.TrimSpace(e.must(t, "port", "pa", "80").Stdout); again != "0.0.0.0:"+hostPort {
		t.Fatalf("port after restart: %q, want 0.0.0.0:%s", again, hostPort)
	}

	out := e.must(t, "run", "--rm", "--add-host", "db.example:10.89.9.9", "--add-host", "gw.example:host-gateway",
		"--dns", "10.89.9.53", "--dns-search", "corp.example", "--dns-option", "ndots:3", "bb",
		"sh", "-c", "cat /etc/hosts; echo ---; cat /etc/resolv.conf").Stdout
	hosts, resolv, _ := strings.Cut(out, "---\n")
	if !strings.Contains(hosts, "10.89.9.9\tdb.example\n") || !strings.Contains(hosts, "10.88.0.1\tgw.example\n") {
		t.Fatalf("/etc/hosts with --add-host:\n%s", hosts)
	}
	if resolv != "search corp.example\nnameserver 10.89.9.53\noptions ndots:3\n" {
		t.Fatalf("/etc/resolv.conf with --dns*:\n%s", resolv)
	}
	// --no-hosts keeps the image's /etc/hosts: busybox has none.
	if out := e.must(t, "run", "--rm", "--no-hosts", "bb", "sh", "-c", "test -e /etc/hosts && echo present || echo absent").Stdout; out != "absent\n" {
		t.Fatalf("/etc/hosts with --no-hosts: %s", out)
	}
	if res := e.run(t, "run", "--rm", "--add-host", "nocolon", "bb", "true"); res.Code != 125 {
		t.Fatalf("--add-host nocolon: exit %d", res.Code)
	}

	e.must(t, "network", "create", "nt-used")
	e.must(t, "network", "create", "nt-unused")
	e.must(t, "create", "--name", "user", "--network", "nt-used", "bb", "true")
	if out := e.must(t, "network", "prune", "-f").Stdout; out != "nt-unused\n" {
		t.Fatalf("network prune: %q", out)
	}
	if out := e.must(t, "network", "ls", "-q").Stdout; out != "nt-used\npodman\n" {
		t.Fatalf("network ls after prune: %q", out)
	}
}

// --network NAME:ip=…,mac=…,alias=…: the static address and MAC are the
// container's, other containers resolve the alias; a taken address is
// refused with no container left.
func TestEngineNetworkStaticOptions(t *testing.T) {
	e := containerStore(t)
	e.must(t, "network", "create", "--subnet", "10.89.210.0/24", "nt-static")
	e.must(t, "run", "-d", "--name", "st", "--network", "nt-static:ip=10.89.210.77,mac=02:42:0a:59:d2:4d,alias=api,alias=api2", "bb",
		"sh", "-c", "mkdir -p /www && echo static > /www/index.html && exec httpd -f -p 80 -h /www")
	out := e.must(t, "exec", "st", "ip", "addr", "show", "eth0").Stdout
	if !strings.Contains(out, "inet 10.89.210.77/24") || !strings.Contains(out, "link/ether 02:42:0a:59:d2:4d") {
		t.Fatalf("eth0 of st:\n%s", out)
	}
	if ns := e.netInspect(t, "st").NetworkSettings; ns.IPAddress != "10.89.210.77" {
		t.Fatalf("inspect: %+v", ns)
	}
	e.must(t, "run", "-d", "--name", "peer", "--network", "nt-static", "bb", "sleep", "1000")
	for _, host := range []string{"api", "api2", "st"} {
		deadline := time.Now().Add(15 * time.Second)
		for {
			res := e.run(t, "exec", "peer", "timeout", "5", "wget", "-q", "-O", "-", "http://"+host+"/")
			if res.Code == 0 && res.Stdout == "static\n" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("wget %s from peer: %s", host, res.Combined())
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	res := e.run(t, "run", "-d", "--name", "dup", "--network", "nt-static:ip=10.89.210.77", "bb", "sleep", "1000")
	if res.Code != 125 {
		t.Fatalf("run with a taken address: exit %d", res.Code)
	}
	assertOneLine(t, res.Stderr, "10.89.210.77", "already in use")
	if out := e.must(t, "ps", "-a", "--format", "{{.Names}}").Stdout; out != "peer\nst\n" && out != "st\npeer\n" {
		t.Fatalf("containers after the refused run: %q", out)
	}
	for _, bad := range []string{"nt-static:ip=10.89.211.5", "nt-static:ip=nonsense", "nt-static:mac=zz", "nt-static:color=red", "nt-nope"} {
		res := e.run(t, "run", "--rm", "--network", bad, "bb", "true")
		if res.Code != 125 {
			t.Errorf("--network %s: exit %d, want 125", bad, res.Code)
			continue
		}
		assertOneLine(t, res.Stderr)
	}
}

// --network container:NAME shares another container's network namespace:
// its loopback and its address.
func TestEngineNetworkContainerMode(t *testing.T) {
	e := containerStore(t)
	e.must(t, "run", "-d", "--name", "owner", "bb", "sh", "-c", "mkdir -p /www && echo shared > /www/index.html && exec httpd -f -p 127.0.0.1:80 -h /www")
	ip := e.netInspect(t, "owner").NetworkSettings.IPAddress
	deadline := time.Now().Add(15 * time.Second)
	for {
		res := e.run(t, "run", "--rm", "--network", "container:owner", "bb", "sh", "-c", "timeout 5 wget -q -O - http://127.0.0.1/ && ip -o -4 addr show eth0")
		if res.Code == 0 {
			if !strings.HasPrefix(res.Stdout, "shared\n") || !strings.Contains(res.Stdout, "inet "+ip+"/") {
				t.Fatalf("in owner's namespace: %q (owner's address %s)", res.Stdout, ip)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("container:owner: %s", res.Combined())
		}
		time.Sleep(200 * time.Millisecond)
	}
	if res := e.run(t, "run", "--rm", "--network", "container:nobody", "bb", "true"); res.Code != 125 {
		t.Fatalf("container:nobody: exit %d", res.Code)
	}
	if res := e.run(t, "run", "--rm", "--network", "container:owner", "-p", "8080:80", "bb", "true"); res.Code != 125 {
		t.Fatalf("container: with -p: exit %d", res.Code)
	}
	e.must(t, "stop", "-t", "0", "owner")
	res := e.run(t, "run", "--rm", "--network", "container:owner", "bb", "true")
	if res.Code != 125 {
		t.Fatalf("joining a stopped container: exit %d", res.Code)
	}
	assertOneLine(t, res.Stderr, "owner", "not running")
	if out := e.must(t, "ps", "-a", "--format", "{{.Names}}").Stdout; out != "owner\n" {
		t.Fatalf("containers after refused runs: %q", out)
	}
}

// network connect/disconnect on a running container: a new interface with
// an address on the network (reachable by alias from it), then gone with
// its host veth.
func TestEngineNetworkConnect(t *testing.T) {
	e := containerStore(t)
	e.must(t, "network", "create", "--subnet", "10.89.220.0/24", "nt-conn")
	e.must(t, "run", "-d", "--name", "mover", "bb", "sh", "-c", "mkdir -p /www && echo mover > /www/index.html && exec httpd -f -p 80 -h /www")
	e.must(t, "run", "-d", "--name", "there", "--network", "nt-conn", "bb", "sleep", "1000")
	e.must(t, "network", "connect", "--ip", "10.89.220.50", "--alias", "moved", "nt-conn", "mover")
	out := e.must(t, "exec", "mover", "ip", "-o", "-4", "addr").Stdout
	if !strings.Contains(out, "eth1") || !strings.Contains(out, "inet 10.89.220.50/24") || !strings.Contains(out, "inet 10.88.") {
		t.Fatalf("addresses after connect:\n%s", out)
	}
	if n := e.netInspect(t, "mover").NetworkSettings.Networks; n["nt-conn"].IPAddress != "10.89.220.50" || n["podman"].IPAddress == "" {
		t.Fatalf("inspect after connect: %+v", n)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		res := e.run(t, "exec", "there", "timeout", "5", "wget", "-q", "-O", "-", "http://moved/")
		if res.Code == 0 && res.Stdout == "mover\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("wget moved from there: %s", res.Combined())
		}
		time.Sleep(200 * time.Millisecond)
	}
	if res := e.run(t, "network", "connect", "nt-conn", "mover"); res.Code != 125 {
		t.Fatalf("connecting twice: exit %d", res.Code)
	}
	e.must(t, "network", "disconnect", "nt-conn", "mover")
	out = e.must(t, "exec", "mover", "ip", "-o", "-4", "addr").Stdout
	if strings.Contains(out, "10.89.220.50") || strings.Contains(out, "eth1") {
		t.Fatalf("addresses after disconnect:\n%s", out)
	}
	if n := e.netInspect(t, "mover").NetworkSettings.Networks; len(n) != 1 || n["podman"].IPAddress == "" {
		t.Fatalf("inspect after disconnect: %+v", n)
	}
	if res := e.run(t, "network", "disconnect", "nt-conn", "mover"); res.Code != 125 {
		t.Fatalf("disconnecting twice: exit %d", res.Code)
	}
	// The record keeps what was connected: a stopped container connected
	// joins the network at its next start.
	e.must(t, "stop", "-t", "0", "mover")
	e.must(t, "network", "connect", "nt-conn", "mover")
	e.must(t, "start", "mover")
	if n := e.netInspect(t, "mover").NetworkSettings.Networks; !strings.HasPrefix(n["nt-conn"].IPAddress, "10.89.220.") {
		t.Fatalf("inspect after connect while stopped: %+v", n)
	}
}

// deleteRulesOf deletes the iptables rules that mention ip (only this
// test's container's), as a firewall flush would.
func deleteRulesOf(t *testing.T, ip string) int {
	t.Helper()
	rs, err := exec.Command("iptables-save").Output()
	if err != nil {
		t.Fatal(err)
	}
	table, n := "", 0
	for _, l := range strings.Split(string(rs), "\n") {
		if strings.HasPrefix(l, "*") {
			table = l[1:]
			continue
		}
		if !strings.HasPrefix(l, "-A ") || !(strings.Contains(l, " "+ip+"/") || strings.Contains(l, " "+ip+":") || strings.Contains(l, " "+ip+" ")) {
			continue
		}
		args := append([]string{"-t", table, "-D"}, strings.Fields(l)[1:]...)
		if out, err := exec.Command("iptables", args...).CombinedOutput(); err != nil {
			t.Fatalf("iptables %v: %v: %s", args, err, out)
		}
		n++
	}
	return n
}

// network reload restores a running container's firewall rules.
func TestEngineNetworkReload(t *testing.T) {
	e := containerStore(t)
	port := freeLoopbackPort(t)
	e.must(t, "run", "-d", "--name", "rl", "-p", fmt.Sprintf("127.0.0.1:%d:80", port), "bb",
		"sh", "-c", "mkdir -p /www && echo reloaded > /www/index.html && exec httpd -f -p 80 -h /www")
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	if got := fetch(t, url); got != "reloaded\n" {
		t.Fatalf("GET: %q", got)
	}
	ip := e.netInspect(t, "rl").NetworkSettings.IPAddress
	if n := deleteRulesOf(t, ip); n == 0 {
		t.Fatalf("no rules for %s", ip)
	}
	c := &http.Client{Timeout: 2 * time.Second}
	if resp, err := c.Get(url); err == nil {
		resp.Body.Close()
		t.Fatal("the port still answers without its rules")
	}
	id := strings.TrimSpace(e.must(t, "network", "reload", "rl").Stdout)
	if id != e.inspect(t, "rl").ID {
		t.Fatalf("network reload printed %q", id)
	}
	if got := fetch(t, url); got != "reloaded\n" {
		t.Fatalf("GET after reload: %q", got)
	}
	if ip2 := e.netInspect(t, "rl").NetworkSettings.IPAddress; ip2 != ip {
		t.Fatalf("address changed by reload: %s -> %s", ip, ip2)
	}
	e.must(t, "network", "reload", "--all")
	e.must(t, "stop", "-t", "0", "rl")
	if n := firewallRules(t, ip); n != 0 {
		t.Fatalf("%d rules for %s after stop", n, ip)
	}
}

// Containers on different networks cannot reach each other; on the same
// network they can.
func TestEngineNetworkIsolation(t *testing.T) {
	e := containerStore(t)
	e.must(t, "network", "create", "nt-iso-a")
	e.must(t, "network", "create", "nt-iso-b")
	e.must(t, "run", "-d", "--name", "a1", "--network", "nt-iso-a", "bb", "sh", "-c", "mkdir -p /www && echo a1 > /www/index.html && exec httpd -f -p 80 -h /www")
	e.must(t, "run", "-d", "--name", "a2", "--network", "nt-iso-a", "bb", "sleep", "1000")
	e.must(t, "run", "-d", "--name", "b1", "--network", "nt-iso-b", "bb", "sleep", "1000")
	e.must(t, "run", "-d", "--name", "d1", "bb", "sleep", "1000") // default network
	ip := e.netInspect(t, "a1").NetworkSettings.IPAddress
	deadline := time.Now().Add(15 * time.Second)
	for {
		res := e.run(t, "exec", "a2", "timeout", "5", "wget", "-q", "-O", "-", "http://"+ip+"/")
		if res.Code == 0 && res.Stdout == "a1\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("same network: %s", res.Combined())
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, from := range []string{"b1", "d1"} {
		res := e.run(t, "exec", from, "timeout", "3", "wget", "-q", "-O", "-", "http://"+ip+"/")
		if res.Code == 0 {
			t.Fatalf("%s on another network reached a1 at %s: %q", from, ip, res.Stdout)
		}
	}
}

// network create -o mtu=, --ip-range; ls --filter; unknown
// options refused.
func TestEngineNetworkCreateOptions(t *testing.T) {
	e := containerStore(t)
	e.must(t, "network", "create", "-o", "mtu=1400", "--subnet", "10.89.230.0/24", "--ip-range", "10.89.230.128/28", "--label", "tier=web", "nt-opts")
	e.must(t, "network", "create", "--label", "tier=db", "nt-other")
	out := e.must(t, "run", "--rm", "--network", "nt-opts", "bb", "sh", "-c", "cat /sys/class/net/eth0/mtu; ip -o -4 addr show eth0").Stdout
	mtu, addr, _ := strings.Cut(out, "\n")
	if mtu != "1400" {
		t.Fatalf("eth0 mtu: %q", mtu)
	}
	if !strings.Contains(addr, "inet 10.89.230.129/24") {
		t.Fatalf("address from --ip-range 10.89.230.128/28: %q", addr)
	}
	for filter, want := range map[string]string{
		"label=tier=web": "nt-opts\n", "label=tier": "nt-opts\nnt-other\n", "name=other": "nt-other\n",
		"driver=bridge": "nt-opts\nnt-other\npodman\n", "name=nothing": "",
	} {
		if out := e.must(t, "network", "ls", "-q", "--filter", filter).Stdout; out != want {
			t.Errorf("network ls --filter %s: %q, want %q", filter, out, want)
		}
	}
	for _, bad := range [][]string{
		{"-o", "mtu=big", "nt-m"}, {"-o", "color=red", "nt-c"},
		{"--subnet", "10.89.231.0/24", "--ip-range", "10.89.232.0/28", "nt-r"}, {"--ip-range", "10.89.231.0/28", "nt-r2"},
	} {
		res := e.run(t, append([]string{"network", "create"}, bad...)...)
		if res.Code != 125 {
			t.Errorf("network create %v: exit %d, want 125", bad, res.Code)
			continue
		}
		assertOneLine(t, res.Stderr)
	}
	if res := e.run(t, "network", "ls", "--filter", "colour=blue"); res.Code != 125 {
		t.Errorf("network ls --filter colour=blue: exit %d", res.Code)
	}
}

// Rootless: no bridge networking yet, said clearly; the default is none
// (loopback only); network definitions still work.
func TestEngineNetworkRootless(t *testing.T) {
	r := newRootlessEngine(t)
	archive := publicCopy(t, fixture.DockerArchive(t, fixture.Busybox(t), "localhost/bb:latest"))
	r.must("load", "-i", archive)
	if out := r.must("run", "--rm", "--network", "none", "bb", "sh", "-c", "ls /sys/class/net | tr '\\n' ' '").Stdout; out != "lo " {
		t.Fatalf("rootless --network none: %q", out)
	}
	for _, args := range [][]string{{"--network", "none", "-p", "8080:80"}} {
		res := r.run(append(append([]string{"run", "--rm"}, args...), "bb", "true")...)
		if res.Code != 125 {
			t.Fatalf("rootless run %v: exit %d", args, res.Code)
		}
		assertOneLine(t, res.Stderr)
	}
	r.must("network", "create", "nt-user")
	if out := r.must("network", "ls", "-q").Stdout; out != "nt-user\npodman\n" {
		t.Fatalf("rootless network ls: %q", out)
	}
	r.must("network", "rm", "nt-user")
}
