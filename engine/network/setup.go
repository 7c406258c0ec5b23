package network

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// Default paths of Debian's netavark and aardvark-dns packages.
var (
	NetavarkPath = "/usr/lib/podman/netavark"
	AardvarkPath = "/usr/lib/podman/aardvark-dns"
)

// PortMapping is one published port (netavark's format).
type PortMapping struct {
	HostIP        string `json:"host_ip"`
	ContainerPort uint16 `json:"container_port"`
	HostPort      uint16 `json:"host_port"`
	Range         uint16 `json:"range"`
	Protocol      string `json:"protocol"`
}

// String is podman port's form: "80/tcp -> 127.0.0.1:8080".
func (p PortMapping) String() string {
	ip := p.HostIP
	if ip == "" {
		ip = "0.0.0.0"
	}
	return fmt.Sprintf("%d/%s -> %s", p.ContainerPort, p.Protocol, net.JoinHostPort(ip, strconv.Itoa(int(p.HostPort))))
}

// Attachment is what a container got on one network.
type Attachment struct {
	Network    string   `json:"network"`
	ID         string   `json:"networkID"`
	Bridge     string   `json:"bridge"`
	Interface  string   `json:"interface"`
	IP         string   `json:"ip"`
	PrefixLen  int      `json:"prefixLen"`
	Gateway    string   `json:"gateway"`
	MacAddress string   `json:"mac,omitempty"`
	Aliases    []string `json:"aliases,omitempty"`
	// IPv6, IPv6PrefixLen and IPv6Gateway are the address on the
	// network's IPv6 subnet, if it has one.
	IPv6          string `json:"ipv6,omitempty"`
	IPv6PrefixLen int    `json:"ipv6PrefixLen,omitempty"`
	IPv6Gateway   string `json:"ipv6Gateway,omitempty"`
	// DNSServers are the network's aardvark-dns servers, which are in
	// the container's resolv.conf while it is attached.
	DNSServers []string `json:"dnsServers,omitempty"`
}

// IPs are the attachment's addresses, IPv4 first.
func (a Attachment) IPs() []string {
	var out []string
	for _, ip := range []string{a.IP, a.IPv6} {
		if ip != "" {
			out = append(out, ip)
		}
	}
	return out
}

// setAddresses records the addresses netavark gave the interface.
func (a *Attachment) setAddresses(r netavarkInterface) {
	a.MacAddress = r.MacAddress
	for _, sn := range r.Subnets {
		ip, ipn, err := net.ParseCIDR(sn.IPNet)
		if err != nil {
			continue
		}
		ones, _ := ipn.Mask.Size()
		if ip.To4() != nil {
			a.IP, a.PrefixLen, a.Gateway = ip.String(), ones, sn.Gateway
		} else {
			a.IPv6, a.IPv6PrefixLen, a.IPv6Gateway = ip.String(), ones, sn.Gateway
		}
	}
}

// Status is a container's network state for one run.
type Status struct {
	NetNS       string        `json:"netns"`
	Attachments []Attachment  `json:"attachments"`
	Ports       []PortMapping `json:"ports,omitempty"`
	// DNSServers and DNSSearch are aardvark-dns's, for resolv.conf.
	DNSServers []string `json:"dnsServers,omitempty"`
	DNSSearch  []string `json:"dnsSearch,omitempty"`
	// Slirp is the slirp4netns of a slirp4netns container (SetupSlirp).
	Slirp *Slirp `json:"slirp,omitempty"`
	// Rootless is set for a rootless user's bridge container, whose
	// networks are in the rootless network namespace.
	Rootless *RootlessStatus `json:"rootless,omitempty"`
}

// Options are a container's settings on one network (--network
// NAME:ip=…,mac=…,alias=…).
type Options struct {
	IP      string   `json:"ip,omitempty"`
	IP6     string   `json:"ip6,omitempty"`
	MAC     string   `json:"mac,omitempty"`
	Aliases []string `json:"aliases,omitempty"`
}

// Request is what Setup needs about a container.
type Request struct {
	ContainerID   string
	ContainerName string
	Networks      []string
	Options       map[string]Options
	Ports         []PortMapping
	// NetNS is the path where the network namespace is created.
	NetNS string
}

type perNetwork struct {
	InterfaceName string   `json:"interface_name"`
	StaticIPs     []string `json:"static_ips,omitempty"`
	Aliases       []string `json:"aliases,omitempty"`
	StaticMAC     string   `json:"static_mac,omitempty"`
}

type netavarkOptions struct {
	ContainerID   string                `json:"container_id"`
	ContainerName string                `json:"container_name"`
	PortMappings  []PortMapping         `json:"port_mappings,omitempty"`
	Networks      map[string]perNetwork `json:"networks"`
	NetworkInfo   map[string]*Network   `json:"network_info"`
}

type netavarkResult map[string]struct {
	DNSServerIPs     []string                     `json:"dns_server_ips"`
	DNSSearchDomains []string                     `json:"dns_search_domains"`
	Interfaces       map[string]netavarkInterface `json:"interfaces"`
}

type netavarkInterface struct {
	MacAddress string `json:"mac_address"`
	Subnets    []struct {
		IPNet   string `json:"ipnet"`
		Gateway string `json:"gateway"`
	} `json:"subnets"`
}

// Setup creates the container's network namespace, leases its addresses
// and has netavark configure its interfaces, firewall and DNS. On error
// nothing is left behind.
func (s Store) Setup(ctx context.Context, r Request) (*Status, error) {
	p, err := s.Prepare(ctx, r)
	if err != nil {
		return nil, err
	}
	return p.Apply(ctx)
}

// Pending is a Setup half done: the addresses are leased and the empty
// network namespace exists, so a runtime can already create a container
// in it while netavark configures it (Apply). The store's network lock is
// held until Apply or Abort, as podman holds it across netavark.
type Pending struct {
	s       Store
	r       Request
	opts    netavarkOptions
	leased  []string
	bridges []string
	unlock  func()
}

// Prepare leases the container's addresses and creates its network
// namespace. The caller must call Apply or Abort.
func (s Store) Prepare(ctx context.Context, r Request) (_ *Pending, err error) {
	if err := checkPorts(r.Ports); err != nil {
		return nil, err
	}
	p := &Pending{s: s, r: r, opts: netavarkOptions{
		ContainerID: r.ContainerID, ContainerName: r.ContainerName, PortMappings: s.netavarkPorts(r.Ports),
		Networks: map[string]perNetwork{}, NetworkInfo: map[string]*Network{},
	}}
	// The lock is held throughout, as podman does: netavark runs that
	// create or delete the same bridge and chains must not interleave.
	if p.unlock, err = s.lock(); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			p.release()
		}
	}()
	if err := s.ensureDefault(); err != nil {
		return nil, err
	}
	if s.Rootless != nil {
		if err := s.ensureRootless(ctx); err != nil {
			return nil, err
		}
	}
	for i, name := range r.Networks {
		n, err := s.get(name)
		if err != nil {
			return nil, err
		}
		o := r.Options[n.Name]
		p.bridges = append(p.bridges, n.NetworkInterface)
		ips, err := s.leaseAll(n, r.ContainerID, o)
		if err != nil {
			return nil, err
		}
		p.leased = append(p.leased, n.Name)
		pn := perNetwork{InterfaceName: fmt.Sprintf("eth%d", i), StaticIPs: ips, StaticMAC: o.MAC}
		if n.DNSEnabled {
			pn.Aliases = append([]string{r.ContainerName, r.ContainerID[:12]}, o.Aliases...)
		}
		p.opts.Networks[n.Name] = pn
		p.opts.NetworkInfo[n.Name] = n
	}
	if err := NewNS(r.NetNS); err != nil {
		return nil, err
	}
	if err := s.writeOwner(r.ContainerID, r.NetNS); err != nil {
		_ = RemoveNS(r.NetNS)
		return nil, err
	}
	return p, nil
}

// Namespace is what is known before Apply: the namespace and the ports.
func (p *Pending) Namespace() *Status {
	st := &Status{NetNS: p.r.NetNS, Ports: p.r.Ports}
	if p.s.Rootless != nil {
		st.Rootless = p.s.rootlessStatus()
	}
	return st
}

// Abort undoes Prepare.
func (p *Pending) Abort() {
	_ = RemoveNS(p.r.NetNS)
	p.release()
}

// release gives back the leases and the lock (Prepare failed, or Apply,
// or Abort).
func (p *Pending) release() {
	defer p.unlock()
	p.s.releaseAll(p.r.ContainerID, p.bridges)
	if p.s.Rootless != nil {
		os.Remove(p.s.ownerPath(p.r.ContainerID))
		if err := p.s.cleanupRootless(); err != nil {
			logrus.Warnf("removing the rootless network namespace: %v", err)
		}
	}
}

// Apply has netavark configure the namespace Prepare made, and returns
// the container's network status. On error nothing is left behind.
func (p *Pending) Apply(ctx context.Context) (*Status, error) {
	s, r, opts := p.s, p.r, p.opts
	var res netavarkResult
	out, err := s.netavark(ctx, "setup", r.NetNS, opts)
	if err == nil {
		err = json.Unmarshal(out, &res)
		if err != nil {
			err = fmt.Errorf("netavark's answer: %w", err)
		}
	}
	if err == nil {
		err = s.isolateAll(opts, false)
	}
	if err == nil && s.Rootless != nil {
		err = s.forwardRootlessPorts(ctx, r.ContainerID, r.Ports)
	}
	if err != nil {
		_, _ = s.netavark(context.WithoutCancel(ctx), "teardown", r.NetNS, opts)
		p.Abort()
		return nil, err
	}
	defer p.unlock()
	st := p.Namespace()
	for _, name := range p.leased {
		n := opts.NetworkInfo[name]
		pn := opts.Networks[n.Name]
		a := Attachment{Network: n.Name, ID: n.ID, Bridge: n.NetworkInterface, Interface: pn.InterfaceName, Aliases: r.Options[n.Name].Aliases}
		a.DNSServers = res[n.Name].DNSServerIPs
		if iface, ok := res[n.Name].Interfaces[pn.InterfaceName]; ok {
			a.setAddresses(iface)
		}
		st.Attachments = append(st.Attachments, a)
		for _, d := range res[n.Name].DNSServerIPs {
			if !slices.Contains(st.DNSServers, d) {
				st.DNSServers = append(st.DNSServers, d)
			}
		}
		for _, d := range res[n.Name].DNSSearchDomains {
			if !slices.Contains(st.DNSSearch, d) {
				st.DNSSearch = append(st.DNSSearch, d)
			}
		}
	}
	return st, nil
}

// Teardown undoes Setup: netavark removes the interfaces and firewall
// rules, the namespace goes, the leases are released. It goes on past
// errors and reports them together.
func (s Store) Teardown(ctx context.Context, containerID, containerName string, st *Status) error {
	if st == nil {
		return nil
	}
	opts := netavarkOptions{
		ContainerID: containerID, ContainerName: containerName, PortMappings: s.netavarkPorts(st.Ports),
		Networks: map[string]perNetwork{}, NetworkInfo: map[string]*Network{},
	}
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	var errs []error
	if s.Rootless != nil {
		if err := s.unforwardRootlessPorts(ctx, containerID, st.Ports); err != nil {
			errs = append(errs, err)
		}
	}
	var bridges []string
	for _, a := range st.Attachments {
		bridges = append(bridges, a.Bridge)
		n, err := s.get(a.Network)
		if err != nil {
			continue // removed with -f: its bridge is gone with its last container
		}
		opts.Networks[n.Name] = perNetwork{InterfaceName: a.Interface, StaticIPs: a.IPs()}
		opts.NetworkInfo[n.Name] = n
	}
	// Without the rootless namespace, its bridges and rules are gone.
	inNS := s.Rootless == nil || isNamespace(s.Rootless.NetNS)
	if _, err := os.Stat(st.NetNS); err == nil && len(opts.Networks) > 0 && inNS {
		if _, err := s.netavark(ctx, "teardown", st.NetNS, opts); err != nil {
			errs = append(errs, err)
		}
	}
	if err := RemoveNS(st.NetNS); err != nil {
		errs = append(errs, err)
	}
	s.releaseAll(containerID, bridges)
	os.Remove(s.ownerPath(containerID))
	if s.Rootless != nil {
		if err := s.cleanupRootless(); err != nil {
			errs = append(errs, fmt.Errorf("removing the rootless network namespace: %w", err))
		}
	}
	return errors.Join(errs...)
}

func (s Store) netavark(ctx context.Context, verb, netns string, opts netavarkOptions) ([]byte, error) {
	in, err := json.Marshal(opts)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(NetavarkPath); err != nil {
		return nil, fmt.Errorf("bridge networking needs netavark at %s (install the netavark and aardvark-dns packages): %w", NetavarkPath, err)
	}
	cfgDir := filepath.Join(s.RunDir, "netavark")
	if err := os.MkdirAll(cfgDir, 0o700); err != nil {
		return nil, err
	}
	rootless := strconv.FormatBool(s.Rootless != nil)
	cmd := exec.CommandContext(ctx, NetavarkPath, "--config", cfgDir, "--rootless", rootless, "--aardvark-binary", AardvarkPath, verb, netns)
	cmd.Stdin = bytes.NewReader(in)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// A rootless store's netavark works in the rootless namespace. Its PID
	// is kept while it runs, for the lock's next holder should this
	// command be killed meanwhile (awaitOrphanNetavark).
	run := func() error {
		if err := cmd.Start(); err != nil {
			return err
		}
		pidFile := s.netavarkPidFile()
		_ = os.WriteFile(pidFile, []byte(strconv.Itoa(cmd.Process.Pid)), 0o600)
		err := cmd.Wait()
		_ = os.Remove(pidFile)
		return err
	}
	if err := s.do(run); err != nil {
		msg := strings.TrimSpace(stderr.String())
		var ne struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(stdout.Bytes(), &ne) == nil && ne.Error != "" {
			msg = ne.Error
		}
		return nil, fmt.Errorf("netavark %s: %s: %w", verb, msg, err)
	}
	return stdout.Bytes(), nil
}

// netavarkPorts are the port mappings netavark gets for ports: in the
// rootless namespace, rootlessPorts.
func (s Store) netavarkPorts(ports []PortMapping) []PortMapping {
	if s.Rootless != nil {
		return rootlessPorts(ports)
	}
	return ports
}

// isolateAll keeps each bridge of opts apart from the others (lock held).
// A bridge whose rules were set up since boot is skipped (a marker in
// RunDir; iptables is slow to ask), unless force (network reload).
func (s Store) isolateAll(opts netavarkOptions, force bool) error {
	for _, n := range opts.NetworkInfo {
		tools := map[firewall]string{"iptables": "isolated"}
		if n.IPv6Enabled {
			tools["ip6tables"] = "isolated6"
		}
		for tool, dir := range tools {
			marker := filepath.Join(s.RunDir, dir, n.NetworkInterface)
			if s.Rootless != nil {
				marker = filepath.Join(s.Rootless.Dir, dir, n.NetworkInterface)
			}
			if _, err := os.Stat(marker); err == nil && !force {
				continue
			}
			if err := s.do(func() error { return isolate(tool, n.NetworkInterface) }); err != nil {
				return fmt.Errorf("isolating network %s: %w", n.Name, err)
			}
			if err := os.MkdirAll(filepath.Dir(marker), 0o700); err == nil {
				_ = os.WriteFile(marker, nil, 0o600)
			}
		}
	}
	return nil
}

// checkPorts makes sure every host port is free now, so that a taken port
// is a clear error before anything is created.
func checkPorts(ports []PortMapping) error {
	for _, p := range ports {
		ip := p.HostIP
		if ip == "" {
			ip = "0.0.0.0"
		}
		for i := uint16(0); i < max(p.Range, 1); i++ {
			addr := net.JoinHostPort(ip, strconv.Itoa(int(p.HostPort+i)))
			if p.Protocol == "udp" {
				c, err := net.ListenPacket("udp", addr)
				if err != nil {
					return fmt.Errorf("cannot publish port %d/udp on %s: %w", p.HostPort+i, addr, err)
				}
				c.Close()
				continue
			}
			l, err := net.Listen("tcp", addr)
			if err != nil {
				return fmt.Errorf("cannot publish port %d/tcp on %s: %w", p.HostPort+i, addr, errors.Unwrap(errors.Unwrap(err)))
			}
			l.Close()
		}
	}
	return nil
}

// NewNS creates a network namespace with loopback up and keeps it by
// bind-mounting it at path.
func NewNS(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	// A namespace left by a command killed during setup is the same
	// container's (the path is its ID): replace it.
	if err := RemoveNS(path); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_RDONLY, 0o444)
	if err != nil {
		return fmt.Errorf("creating the network namespace file: %w", err)
	}
	f.Close()
	errc := make(chan error, 1)
	go func() {
		// The thread changes namespace and is never unlocked: the Go
		// runtime ends it with the goroutine.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("creating a network namespace: %w", err)
			return
		}
		src := fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid())
		if err := unix.Mount(src, path, "none", unix.MS_BIND, ""); err != nil {
			errc <- fmt.Errorf("keeping the network namespace at %s: %w", path, err)
			return
		}
		errc <- loopbackUp()
	}()
	if err := <-errc; err != nil {
		_ = RemoveNS(path)
		return err
	}
	return nil
}

func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("reading lo's flags: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bringing lo up: %w", err)
	}
	return nil
}

// RemoveNS unmounts and removes a namespace made by NewNS (a missing one
// is no error).
func RemoveNS(path string) error {
	if path == "" {
		return nil
	}
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("unmounting network namespace %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
		return err
	}
	return nil
}

// FreeHostPorts picks a host port from which p's range is free now.
func FreeHostPorts(p PortMapping) (uint16, error) {
	p.Range = max(p.Range, 1)
	for try := 0; try < 100; try++ {
		var port int
		if p.Range == 1 {
			if p.Protocol == "udp" {
				c, err := net.ListenPacket("udp", net.JoinHostPort(orAny(p.HostIP), "0"))
				if err != nil {
					return 0, err
				}
				port = c.LocalAddr().(*net.UDPAddr).Port
				c.Close()
			} else {
				l, err := net.Listen("tcp", net.JoinHostPort(orAny(p.HostIP), "0"))
				if err != nil {
					return 0, err
				}
				port = l.Addr().(*net.TCPAddr).Port
				l.Close()
			}
		} else {
			port = 32768 + mrand.IntN(60999-32768-int(p.Range))
		}
		q := p
		q.HostPort = uint16(port)
		if checkPorts([]PortMapping{q}) == nil {
			return uint16(port), nil
		}
	}
	return 0, fmt.Errorf("no free host port range of %d for %d/%s", p.Range, p.ContainerPort, p.Protocol)
}

func orAny(ip string) string {
	if ip == "" {
		return "0.0.0.0"
	}
	return ip
}
