package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// ipv6Enabled reports whether the host kernel gives interfaces IPv6.
func ipv6Enabled() bool {
	b, err := os.ReadFile("/proc/sys/net/ipv6/conf/all/disable_ipv6")
	return err == nil && strings.TrimSpace(string(b)) == "0"
}

// retry runs the command in the container until it succeeds (servers
// start in the background, addresses settle) and gives its output.
func (e *engineStore) retry(t *testing.T, ctr string, cmd ...string) string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		res := e.run(t, append([]string{"exec", ctr}, cmd...)...)
		if res.Code == 0 {
			return res.Stdout
		}
		if time.Now().After(deadline) {
			t.Fatalf("%v in %s: %s", cmd, ctr, res.Combined())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

type netDef struct {
	Name        string
	IPv6Enabled bool `json:"ipv6_enabled"`
	Subnets     []struct{ Subnet, Gateway string }
}

func (e *engineStore) netDef(t *testing.T, name string) netDef {
	t.Helper()
	var nets []netDef
	if err := json.Unmarshal([]byte(e.must(t, "network", "inspect", name).Stdout), &nets); err != nil || len(nets) != 1 {
		t.Fatalf("network inspect %s: %v", name, err)
	}
	return nets[0]
}

type net6Inspect struct {
	NetworkSettings struct {
		GlobalIPv6Address   string
		GlobalIPv6PrefixLen int
		IPv6Gateway         string
		Networks            map[string]struct{ IPAddress, GlobalIPv6Address, IPv6Gateway string }
	}
}

func (e *engineStore) net6Inspect(t *testing.T, name string) net6Inspect {
	t.Helper()
	var out []net6Inspect
	if err := json.Unmarshal([]byte(e.must(t, "container", "inspect", name).Stdout), &out); err != nil || len(out) != 1 {
		t.Fatalf("inspect %s: %v", name, err)
	}
	return out[0]
}

// network create --ipv6: a dual-stack network with a unique local /64;
// two containers on it get IPv6 addresses and reach each other over IPv6;
// a static ip6= is kept; bad IPv6 subnets are one-line errors.
func TestEngineNetworkIPv6(t *testing.T) {
	e := containerStore(t)
	if !ipv6Enabled() {
		res := e.run(t, "network", "create", "--ipv6", "nt-v6")
		if res.Code != 125 {
			t.Fatalf("network create --ipv6 without kernel IPv6: exit %d", res.Code)
		}
		assertOneLine(t, res.Stderr, "IPv6")
		return
	}
	e.must(t, "network", "create", "--ipv6", "nt-v6")
	n := e.netDef(t, "nt-v6")
	if !n.IPv6Enabled || len(n.Subnets) != 2 || !strings.HasPrefix(n.Subnets[0].Subnet, "10.89.") {
		t.Fatalf("network inspect: %+v", n)
	}
	_, v6, err := net.ParseCIDR(n.Subnets[1].Subnet)
	if err != nil || v6.IP.To4() != nil || v6.IP[0] != 0xfd {
		t.Fatalf("IPv6 subnet %q: not a unique local address subnet (%v)", n.Subnets[1].Subnet, err)
	}
	if ones, _ := v6.Mask.Size(); ones != 64 || !v6.Contains(net.ParseIP(n.Subnets[1].Gateway)) {
		t.Fatalf("IPv6 subnet %s, gateway %s", n.Subnets[1].Subnet, n.Subnets[1].Gateway)
	}

	e.must(t, "run", "-d", "--name", "srv6", "--network", "nt-v6", "bb",
		"sh", "-c", "mkdir -p /www && echo over-v6 > /www/index.html && exec httpd -f -p 80 -h /www")
	e.must(t, "run", "-d", "--name", "cli6", "--network", "nt-v6", "bb", "sleep", "1000")
	srv := e.net6Inspect(t, "srv6").NetworkSettings
	addr := net.ParseIP(srv.GlobalIPv6Address)
	if addr == nil || !v6.Contains(addr) || srv.GlobalIPv6PrefixLen != 64 || srv.IPv6Gateway != n.Subnets[1].Gateway {
		t.Fatalf("srv6 inspect: %+v (subnet %s)", srv, v6)
	}
	if a := srv.Networks["nt-v6"]; a.GlobalIPv6Address != srv.GlobalIPv6Address || !strings.HasPrefix(a.IPAddress, "10.89.") {
		t.Fatalf("srv6 inspect networks: %+v", srv.Networks)
	}
	if out := e.must(t, "exec", "srv6", "ip", "-o", "-6", "addr", "show", "eth0").Stdout; !strings.Contains(out, "inet6 "+addr.String()+"/64") {
		t.Fatalf("srv6 eth0:\n%s", out)
	}
	if hosts := e.must(t, "exec", "srv6", "cat", "/etc/hosts").Stdout; !strings.Contains(hosts, addr.String()+"\t") {
		t.Fatalf("srv6 /etc/hosts has no line for %s:\n%s", addr, hosts)
	}
	cli := e.net6Inspect(t, "cli6").NetworkSettings.GlobalIPv6Address
	if cli == "" || cli == srv.GlobalIPv6Address {
		t.Fatalf("cli6's IPv6 address %q (srv6's %s)", cli, srv.GlobalIPv6Address)
	}
	if out := e.retry(t, "cli6", "timeout", "5", "wget", "-q", "-O", "-", "http://["+addr.String()+"]:80/"); out != "over-v6\n" {
		t.Fatalf("GET over IPv6: %q", out)
	}

	if out := e.retry(t, "cli6", "timeout", "5", "wget", "-q", "-O", "-", "http://srv6/"); out != "over-v6\n" {
		t.Fatalf("GET by name on the dual-stack network: %q", out)
	}
	// aardvark-dns answers on the IPv6 gateway too, with both addresses.
	if ns := nameservers(e.must(t, "exec", "cli6", "cat", "/etc/resolv.conf").Stdout); len(ns) < 2 || ns[0] != n.Subnets[0].Gateway || ns[1] != n.Subnets[1].Gateway {
		t.Fatalf("cli6's nameservers %v, want the gateways %s and %s first", ns, n.Subnets[0].Gateway, n.Subnets[1].Gateway)
	}
	if out := e.retry(t, "cli6", "nslookup", "-type=AAAA", "srv6", n.Subnets[1].Gateway); !strings.Contains(out, addr.String()) {
		t.Fatalf("AAAA of srv6 from aardvark-dns at %s:\n%s", n.Subnets[1].Gateway, out)
	}

	// A static address on the IPv6 subnet; --subnet gives the IPv6 subnet
	// and an IPv4 one is picked.
	e.must(t, "network", "create", "--ipv6", "--subnet", "fd7a:5e:1::/64", "nt-v6b")
	if n := e.netDef(t, "nt-v6b"); len(n.Subnets) != 2 || !strings.HasPrefix(n.Subnets[0].Subnet, "10.89.") || n.Subnets[1].Subnet != "fd7a:5e:1::/64" || n.Subnets[1].Gateway != "fd7a:5e:1::1" {
		t.Fatalf("network inspect nt-v6b: %+v", n)
	}
	e.must(t, "run", "-d", "--name", "fixed6", "--network", "nt-v6b:ip6=fd7a:5e:1::99", "bb", "sleep", "1000")
	if got := e.net6Inspect(t, "fixed6").NetworkSettings.GlobalIPv6Address; got != "fd7a:5e:1::99" {
		t.Fatalf("ip6=fd7a:5e:1::99: inspect shows %q", got)
	}
	// Networks are kept apart over IPv6 too.
	if res := e.run(t, "exec", "fixed6", "timeout", "3", "wget", "-q", "-O", "-", "http://["+addr.String()+"]:80/"); res.Code == 0 {
		t.Fatalf("fixed6 on nt-v6b reached srv6 on nt-v6 over IPv6: %q", res.Stdout)
	}
	// Connected to nt-v6 while it runs, fixed6 gets both addresses in its
	// /etc/hosts, both of nt-v6's servers, and reaches srv6 by name.
	e.must(t, "network", "connect", "nt-v6", "fixed6")
	a := e.net6Inspect(t, "fixed6").NetworkSettings.Networks["nt-v6"]
	hosts := e.must(t, "exec", "fixed6", "cat", "/etc/hosts").Stdout
	if a.GlobalIPv6Address == "" || !strings.Contains(hosts, a.IPAddress+"\t") || !strings.Contains(hosts, a.GlobalIPv6Address+"\t") {
		t.Fatalf("fixed6's /etc/hosts after connecting to nt-v6 (%s, %s):\n%s", a.IPAddress, a.GlobalIPv6Address, hosts)
	}
	if ns := nameservers(e.must(t, "exec", "fixed6", "cat", "/etc/resolv.conf").Stdout); len(ns) < 2 || ns[0] != n.Subnets[0].Gateway || ns[1] != n.Subnets[1].Gateway {
		t.Fatalf("fixed6's nameservers after connecting to nt-v6: %v", ns)
	}
	if out := e.retry(t, "fixed6", "timeout", "5", "wget", "-q", "-O", "-", "http://srv6/"); out != "over-v6\n" {
		t.Fatalf("GET srv6 by name after connect: %q", out)
	}
	if res := e.run(t, "run", "--rm", "--network", "nt-v6b:ip6=fd7a:5e:1::99", "bb", "true"); res.Code != 125 {
		t.Fatalf("a taken ip6=: exit %d", res.Code)
	} else {
		assertOneLine(t, res.Stderr, "fd7a:5e:1::99")
	}

	for _, bad := range [][]string{
		{"--subnet", "fd7a:5e:zz::/64", "nt-bad1"},
		{"--subnet", "fd7a:5e:2::/64", "--subnet", "fd7a:5e:3::/64", "nt-bad2"},
		{"--subnet", "fd7a:5e:1:0:8000::/80", "nt-bad3"}, // inside nt-v6b's
		{"--subnet", "fd7a:5e:4::/127", "nt-bad4"},
		{"--ipv6", "--subnet", "fd7a:5e:5::/64", "--gateway", "fd7a:5e:6::1", "nt-bad5"},
	} {
		res := e.run(t, append([]string{"network", "create"}, bad...)...)
		if res.Code != 125 {
			t.Errorf("network create %v: exit %d, want 125", bad, res.Code)
			continue
		}
		assertOneLine(t, res.Stderr)
	}
	if out := e.must(t, "network", "ls", "-q").Stdout; out != "nt-v6\nnt-v6b\npodman\n" {
		t.Fatalf("networks after refused creates: %q", out)
	}
	if res := e.run(t, "run", "--rm", "--network", "podman:ip6=fd7a:5e:1::5", "bb", "true"); res.Code != 125 {
		t.Fatalf("ip6= on an IPv4-only network: exit %d", res.Code)
	} else {
		assertOneLine(t, res.Stderr, "IPv6")
	}
	if out := e.must(t, "ps", "-a", "--format", "{{.Names}}").Stdout; strings.Count(out, "\n") != 3 {
		t.Fatalf("containers after refused runs: %q", out)
	}
}

// nameservers are the nameserver lines of a resolv.conf, in order.
func nameservers(resolv string) []string {
	var out []string
	for _, l := range strings.Split(resolv, "\n") {
		if f := strings.Fields(l); len(f) == 2 && f[0] == "nameserver" {
			out = append(out, f[1])
		}
	}
	return out
}

// network connect of a running container adds its new address to its
// /etc/hosts and the network's aardvark-dns server to its resolv.conf, so
// it resolves the network's containers by name; disconnect takes both out
// again and keeps what was written inside the container.
func TestEngineNetworkConnectEtcFiles(t *testing.T) {
	e := containerStore(t)
	e.must(t, "network", "create", "nt-dns")
	gw := e.netDef(t, "nt-dns").Subnets[0].Gateway
	e.must(t, "run", "-d", "--name", "there", "--network", "nt-dns", "bb",
		"sh", "-c", "mkdir -p /www && echo from-there > /www/index.html && exec httpd -f -p 80 -h /www")
	e.must(t, "run", "-d", "--name", "mover", "--hostname", "mv", "bb", "sleep", "1000")
	before := e.must(t, "exec", "mover", "cat", "/etc/resolv.conf").Stdout
	for _, s := range nameservers(before) {
		if s == gw {
			t.Fatalf("mover's resolv.conf has nt-dns's server %s before connect:\n%s", gw, before)
		}
	}
	e.must(t, "exec", "mover", "sh", "-c", "echo '10.1.2.3\tmine' >> /etc/hosts")

	e.must(t, "network", "connect", "nt-dns", "mover")
	ip := e.netInspect(t, "mover").NetworkSettings.Networks["nt-dns"].IPAddress
	if ip == "" {
		t.Fatal("no address on nt-dns after connect")
	}
	hosts := e.must(t, "exec", "mover", "cat", "/etc/hosts").Stdout
	if !strings.Contains(hosts, ip+"\tmv mover\n") || !strings.Contains(hosts, "10.1.2.3\tmine\n") {
		t.Fatalf("mover's /etc/hosts after connect (nt-dns address %s):\n%s", ip, hosts)
	}
	resolv := e.must(t, "exec", "mover", "cat", "/etc/resolv.conf").Stdout
	if ns := nameservers(resolv); len(ns) == 0 || ns[0] != gw {
		t.Fatalf("mover's resolv.conf after connect (want nameserver %s first):\n%s", gw, resolv)
	}
	if out := e.retry(t, "mover", "timeout", "5", "wget", "-q", "-O", "-", "http://there/"); out != "from-there\n" {
		t.Fatalf("GET http://there/ from mover: %q", out)
	}

	e.must(t, "network", "disconnect", "nt-dns", "mover")
	hosts = e.must(t, "exec", "mover", "cat", "/etc/hosts").Stdout
	if strings.Contains(hosts, ip+"\t") || !strings.Contains(hosts, "10.1.2.3\tmine\n") {
		t.Fatalf("mover's /etc/hosts after disconnect (nt-dns address %s):\n%s", ip, hosts)
	}
	if after := e.must(t, "exec", "mover", "cat", "/etc/resolv.conf").Stdout; after != before {
		t.Fatalf("mover's resolv.conf after disconnect:\n%s\nbefore connect:\n%s", after, before)
	}
	if res := e.run(t, "exec", "mover", "timeout", "5", "wget", "-q", "-O", "-", "http://there/"); res.Code == 0 {
		t.Fatalf("mover still reaches there by name after disconnect: %q", res.Stdout)
	}
}

// --network container:NAME bind-mounts the other container's /etc/hosts
// and /etc/resolv.conf: the same contents, and network connect's changes
// to the other reach it.
func TestEngineNetworkContainerModeEtcFiles(t *testing.T) {
	e := containerStore(t)
	e.must(t, "network", "create", "nt-share")
	e.must(t, "network", "create", "nt-share2")
	e.must(t, "run", "-d", "--name", "base", "--network", "nt-share", "--add-host", "extra.example:10.9.8.7", "--dns-search", "corp.example", "bb", "sleep", "1000")
	e.must(t, "run", "-d", "--name", "rider", "--network", "container:base", "bb", "sleep", "1000")
	for _, f := range []string{"/etc/hosts", "/etc/resolv.conf"} {
		want := e.must(t, "exec", "base", "cat", f).Stdout
		if got := e.must(t, "exec", "rider", "cat", f).Stdout; got != want {
			t.Fatalf("rider's %s:\n%s\nbase's:\n%s", f, got, want)
		}
	}
	if hosts := e.must(t, "exec", "rider", "cat", "/etc/hosts").Stdout; !strings.Contains(hosts, "10.9.8.7\textra.example\n") {
		t.Fatalf("rider's /etc/hosts lacks base's --add-host:\n%s", hosts)
	}
	if resolv := e.must(t, "exec", "rider", "cat", "/etc/resolv.conf").Stdout; !strings.Contains(resolv, "corp.example") {
		t.Fatalf("rider's resolv.conf lacks base's search domain:\n%s", resolv)
	}
	// The rider's own hostname stays its own.
	if got, want := strings.TrimSpace(e.must(t, "exec", "rider", "hostname").Stdout), strings.TrimSpace(e.must(t, "exec", "base", "hostname").Stdout); got == want {
		t.Fatalf("rider has base's hostname %q", got)
	}
	e.must(t, "network", "connect", "nt-share2", "base")
	ip := e.netInspect(t, "base").NetworkSettings.Networks["nt-share2"].IPAddress
	gw := e.netDef(t, "nt-share2").Subnets[0].Gateway
	if hosts := e.must(t, "exec", "rider", "cat", "/etc/hosts").Stdout; ip == "" || !strings.Contains(hosts, ip+"\t") {
		t.Fatalf("rider's /etc/hosts after base joined nt-share2 (%s):\n%s", ip, hosts)
	}
	if resolv := e.must(t, "exec", "rider", "cat", "/etc/resolv.conf").Stdout; len(nameservers(resolv)) == 0 || nameservers(resolv)[0] != gw {
		t.Fatalf("rider's resolv.conf after base joined nt-share2 (server %s):\n%s", gw, resolv)
	}
}

// portTaken reports whether the host port is held: listening on it (TCP)
// or binding it (UDP) fails with "address in use".
func portTaken(t *testing.T, proto string, port int) bool {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	var err error
	if proto == "udp" {
		var c net.PacketConn
		if c, err = net.ListenPacket("udp", addr); err == nil {
			c.Close()
		}
	} else {
		var l net.Listener
		if l, err = net.Listen("tcp", addr); err == nil {
			l.Close()
		}
	}
	if err != nil && !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("binding %s/%s: %v", addr, proto, err)
	}
	return err != nil
}

// freeLoopbackUDPPort is a UDP port nothing is bound to at 127.0.0.1.
func freeLoopbackUDPPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// While a rootful container with published ports runs, no other process
// can take its host ports (its monitor holds them, as podman's does), and
// the published port still reaches the container; stop and rm -f give
// them back at once; start and restart take them again.
func TestEngineNetworkPortsHeld(t *testing.T) {
	e := containerStore(t)
	port, uport := freeLoopbackPort(t), freeLoopbackUDPPort(t)
	e.must(t, "run", "-d", "--name", "holder", "-p", fmt.Sprintf("127.0.0.1:%d:80", port), "-p", fmt.Sprintf("127.0.0.1:%d:53/udp", uport), "bb",
		"sh", "-c", "mkdir -p /www && echo held > /www/index.html && exec httpd -f -p 80 -h /www")
	if got := fetch(t, fmt.Sprintf("http://127.0.0.1:%d/", port)); got != "held\n" {
		t.Fatalf("GET through the published port: %q", got)
	}
	if !portTaken(t, "tcp", port) || !portTaken(t, "udp", uport) {
		t.Fatalf("ports %d/tcp and %d/udp can be taken while holder runs", port, uport)
	}
	res := e.run(t, "run", "-d", "--name", "thief", "-p", fmt.Sprintf("127.0.0.1:%d:80", port), "bb", "sleep", "1000")
	if res.Code != 125 {
		t.Fatalf("a second container on the held port: exit %d", res.Code)
	}
	assertOneLine(t, res.Stderr, fmt.Sprint(port))

	e.must(t, "stop", "-t", "0", "holder")
	if portTaken(t, "tcp", port) || portTaken(t, "udp", uport) {
		t.Fatal("ports still taken after stop")
	}
	e.must(t, "start", "holder")
	if !portTaken(t, "tcp", port) || !portTaken(t, "udp", uport) {
		t.Fatal("ports not held after start")
	}
	e.must(t, "restart", "-t", "0", "holder")
	if !portTaken(t, "tcp", port) {
		t.Fatal("port not held after restart")
	}
	if got := fetch(t, fmt.Sprintf("http://127.0.0.1:%d/", port)); got != "held\n" {
		t.Fatalf("GET after restart: %q", got)
	}
	e.must(t, "rm", "-f", "holder")
	if portTaken(t, "tcp", port) || portTaken(t, "udp", uport) {
		t.Fatal("ports still taken after rm -f")
	}

	// A restart policy restarts the container from its monitor's exit
	// command, which must not keep the old run's hold on the port.
	e.must(t, "run", "-d", "--name", "phoenix", "--restart", "on-failure:2", "-p", fmt.Sprintf("127.0.0.1:%d:80", port), "bb",
		"sh", "-c", "test -e /again || { touch /again; exit 3; }; mkdir -p /www && echo risen > /www/index.html && exec httpd -f -p 80 -h /www")
	if got := fetch(t, fmt.Sprintf("http://127.0.0.1:%d/", port)); got != "risen\n" {
		t.Fatalf("GET after the restart policy's restart: %q", got)
	}
	if !portTaken(t, "tcp", port) {
		t.Fatal("port not held after the restart policy's restart")
	}
	var st []inspected
	if err := json.Unmarshal([]byte(e.must(t, "container", "inspect", "phoenix").Stdout), &st); err != nil || len(st) != 1 || st[0].RestartCount != 1 || !st[0].State.Running {
		t.Fatalf("phoenix after one failure: %v %+v", err, st)
	}
}
