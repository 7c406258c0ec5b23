// Package network holds the engine's bridge networks: definitions in
// netavark's (and podman's) JSON format, IP leases, container network
// namespaces, and setup/teardown through netavark and aardvark-dns.
//
// Definitions live in GRAPHROOT/networks/NAME.json rather than podman's
// /etc/containers/networks, so that each store (and each test instance) has
// its own networks; the files are the same format, so netavark and podman
// read them. Leases and netavark's run-time files (aardvark-dns) live under
// RUNROOT/engine/networks, which a reboot clears with the containers.
package network

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/ocisuite/suite/shared/atomicfile"
	"github.com/ocisuite/suite/shared/names"
)

// Errors a caller decides on with errors.Is.
var (
	ErrNoSuchNetwork = errors.New("network not found")
	ErrExists        = errors.New("network already exists")
	ErrInUse         = errors.New("network is being used")
)

// Network is a network definition, netavark's format.
type Network struct {
	Name             string            `json:"name"`
	ID               string            `json:"id"`
	Driver           string            `json:"driver"`
	NetworkInterface string            `json:"network_interface,omitempty"`
	Created          time.Time         `json:"created,omitempty"`
	Subnets          []Subnet          `json:"subnets,omitempty"`
	IPv6Enabled      bool              `json:"ipv6_enabled"`
	Internal         bool              `json:"internal"`
	DNSEnabled       bool              `json:"dns_enabled"`
	Labels           map[string]string `json:"labels,omitempty"`
	Options          map[string]string `json:"options,omitempty"`
	IPAMOptions      map[string]string `json:"ipam_options,omitempty"`
}

// Subnet is one subnet of a network.
type Subnet struct {
	Subnet     string      `json:"subnet"`
	Gateway    string      `json:"gateway,omitempty"`
	LeaseRange *LeaseRange `json:"lease_range,omitempty"`
}

// LeaseRange is --ip-range: the first and last addresses leased.
type LeaseRange struct {
	StartIP string `json:"start_ip,omitempty"`
	EndIP   string `json:"end_ip,omitempty"`
}

// Store is the networks of one engine.
type Store struct {
	// Dir holds the definitions (GRAPHROOT/networks).
	Dir string
	// RunDir holds the lock, the leases and netavark's config directory
	// (aardvark-dns's records). A bridge is a host-wide resource that
	// several stores may share (podman0 for every store's default
	// network), so RunDir is host-wide too: HostRunDir for a rootful
	// engine.
	RunDir string
	// DefaultName and DefaultSubnet describe the default network
	// (containers.conf's default_network and default_subnet).
	DefaultName   string
	DefaultSubnet string
	// Rootless, set for a rootless user's store, is the rootless network
	// namespace where the bridges are made.
	Rootless *Rootless
}

// HostRunDir is the rootful engine's RunDir.
const HostRunDir = "/run/ocisuite/networks"

func (s Store) path(name string) string { return filepath.Join(s.Dir, name+".json") }

// lock takes the store-wide lock that serializes definitions and leases.
func (s Store) lock() (func(), error) {
	if err := os.MkdirAll(s.RunDir, 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(s.RunDir, "lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	s.awaitOrphanNetavark()
	return func() { f.Close() }, nil
}

// netavarkPidFile holds the PID of the netavark the lock's holder runs.
func (s Store) netavarkPidFile() string { return filepath.Join(s.RunDir, "netavark.pid") }

// awaitOrphanNetavark waits, the lock held, for a netavark whose command
// was killed while it ran: the kill released the lock but not netavark,
// and netavark runs that create or delete the same bridge and chains
// must not interleave (one failed to add a rule to a chain the other had
// just deleted). It waits at most 30 seconds.
func (s Store) awaitOrphanNetavark() {
	p := s.netavarkPidFile()
	b, err := os.ReadFile(p)
	if err != nil {
		return
	}
	defer os.Remove(p)
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return
	}
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return // gone
	}
	defer unix.Close(fd)
	if comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); err != nil || strings.TrimSpace(string(comm)) != "netavark" {
		return // the PID is another process's now
	}
	logrus.Debugf("network: waiting for netavark (PID %d), left running by a killed command", pid)
	_, _ = unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, 30_000)
}

// CreateOptions are network create's options.
type CreateOptions struct {
	Name string
	// Subnets are CIDRs, at most one IPv4 and one IPv6 subnet. None picks
	// a free 10.89.N.0/24, and with IPv6 a random unique local fdXX::/64
	// too; with IPv6 and a subnet of one family only, the other family's
	// is picked. An IPv6 subnet enables IPv6.
	Subnets []string
	// Gateway is the gateway of the subnet holding it; "" is each
	// subnet's first address.
	Gateway string
	// IPv6 gives the network an IPv6 subnet as well (dual stack).
	IPv6       bool
	Internal   bool
	DisableDNS bool
	Labels     map[string]string
	Options    map[string]string
	// IPRange limits the addresses given to containers (CIDR inside
	// Subnet), netavark's lease_range.
	IPRange string
}

// Create writes a new bridge network definition.
func (s Store) Create(o CreateOptions) (*Network, error) {
	unlock, err := s.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	if err := s.ensureDefault(); err != nil {
		return nil, err
	}
	return s.create(o)
}

func (s Store) create(o CreateOptions) (*Network, error) {
	for k, v := range o.Options {
		switch k {
		case "mtu":
			if n, err := strconv.Atoi(v); err != nil || n < 68 || n > 65535 {
				return nil, fmt.Errorf("-o mtu=%s: want a number from 68 to 65535", v)
			}
		case "vlan":
			if n, err := strconv.Atoi(v); err != nil || n < 0 || n > 4094 {
				return nil, fmt.Errorf("-o vlan=%s: want a number from 0 to 4094", v)
			}
		default:
			return nil, fmt.Errorf("unsupported bridge option %q (want mtu or vlan)", k)
		}
	}
	if !names.Valid(o.Name) {
		return nil, fmt.Errorf("network name %q is invalid: use letters, digits, _ . and -, starting with a letter or digit", o.Name)
	}
	if o.Name == "none" || o.Name == "host" || o.Name == "bridge" || o.Name == "private" || o.Name == "slirp4netns" || o.Name == "pasta" {
		return nil, fmt.Errorf("network name %q is reserved", o.Name)
	}
	existing, err := s.list()
	if err != nil {
		return nil, err
	}
	for _, n := range existing {
		if n.Name == o.Name {
			return nil, fmt.Errorf("network %s: %w", o.Name, ErrExists)
		}
	}
	claims, err := s.readClaims()
	if err != nil {
		return nil, err
	}
	// Other stores' bridges and the host's own interfaces are taken too.
	existing = append(existing, claims.others(s.Dir)...)
	existing = append(existing, hostInterfaces()...)
	subnets, err := chooseSubnets(o, existing)
	if err != nil {
		return nil, err
	}
	if o.Gateway != "" {
		gw := net.ParseIP(o.Gateway)
		i := slices.IndexFunc(subnets, func(sn Subnet) bool {
			_, ipn, _ := net.ParseCIDR(sn.Subnet)
			return gw != nil && ipn.Contains(gw)
		})
		if i < 0 {
			return nil, fmt.Errorf("--gateway %s is not an address in subnet %s", o.Gateway, subnetList(subnets))
		}
		_, ipn, _ := net.ParseCIDR(subnets[i].Subnet)
		if gw.Equal(ipn.IP) {
			return nil, fmt.Errorf("--gateway %s is the address of subnet %s itself", o.Gateway, ipn)
		}
		subnets[i].Gateway = gw.String()
	}
	if o.IPRange != "" {
		i := slices.IndexFunc(subnets, func(sn Subnet) bool { return isIPv4Subnet(sn.Subnet) })
		if i < 0 {
			return nil, fmt.Errorf("--ip-range %s needs an IPv4 subnet", o.IPRange)
		}
		_, subnet, _ := net.ParseCIDR(subnets[i].Subnet)
		_, r, err := net.ParseCIDR(o.IPRange)
		if err != nil || !subnet.Contains(r.IP) {
			return nil, fmt.Errorf("--ip-range %s is not a CIDR range inside subnet %s", o.IPRange, subnet)
		}
		ones, bits := r.Mask.Size()
		if sOnes, _ := subnet.Mask.Size(); ones < sOnes || ones > 30 {
			return nil, fmt.Errorf("--ip-range %s must be inside subnet %s and hold at least two addresses", o.IPRange, subnet)
		}
		subnets[i].LeaseRange = &LeaseRange{StartIP: nthIP(r, 1).String(), EndIP: nthIP(r, uint32(1)<<uint(bits-ones)-2).String()}
	}
	n := &Network{
		Name:             o.Name,
		ID:               randomID(),
		Driver:           "bridge",
		NetworkInterface: freeInterface(existing),
		Created:          time.Now(),
		Subnets:          subnets,
		IPv6Enabled:      slices.ContainsFunc(subnets, func(sn Subnet) bool { return !isIPv4Subnet(sn.Subnet) }),
		Internal:         o.Internal,
		DNSEnabled:       !o.DisableDNS,
		Labels:           o.Labels,
		Options:          o.Options,
		IPAMOptions:      map[string]string{"driver": "host-local"},
	}
	if err := s.write(n); err != nil {
		return nil, err
	}
	cl := claim{Store: s.Dir, Name: n.Name, Subnet: n.Subnets[0].Subnet}
	for _, sn := range n.Subnets[1:] {
		cl.More = append(cl.More, sn.Subnet)
	}
	claims[n.NetworkInterface] = cl
	if err := s.writeClaims(claims); err != nil {
		return nil, err
	}
	return n, nil
}

// claim records which store's network a bridge interface belongs to, so
// that stores sharing the host do not give two networks the same bridge
// or subnet.
type claim struct {
	Store  string `json:"store"`
	Name   string `json:"name"`
	Subnet string `json:"subnet"`
	// More are the network's other subnets (its IPv6 one).
	More []string `json:"more,omitempty"`
}

type claims map[string]claim

func (s Store) readClaims() (claims, error) {
	c := claims{}
	b, err := os.ReadFile(filepath.Join(s.RunDir, "bridges.json"))
	if os.IsNotExist(err) {
		return c, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("bridges.json: %w", err)
	}
	// A store removed without removing its networks leaves stale claims.
	for iface, cl := range c {
		if _, err := os.Stat(filepath.Join(cl.Store, cl.Name+".json")); os.IsNotExist(err) {
			delete(c, iface)
		}
	}
	return c, nil
}

func (s Store) writeClaims(c claims) error {
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(s.RunDir, "bridges.json"), b, 0o600)
}

// others are the bridges other stores claimed, as networks.
func (c claims) others(dir string) []*Network {
	var out []*Network
	for iface, cl := range c {
		if cl.Store != dir {
			n := &Network{NetworkInterface: iface, Subnets: []Subnet{{Subnet: cl.Subnet}}}
			for _, sn := range cl.More {
				n.Subnets = append(n.Subnets, Subnet{Subnet: sn})
			}
			out = append(out, n)
		}
	}
	return out
}

// hostInterfaces are the host's interfaces and their subnets, as networks.
func hostInterfaces() []*Network {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil
	}
	var out []*Network
	for _, i := range ifs {
		n := &Network{NetworkInterface: i.Name}
		addrs, _ := i.Addrs()
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && !ipn.IP.IsLoopback() && !ipn.IP.IsLinkLocalUnicast() {
				_, sn, _ := net.ParseCIDR(ipn.String())
				n.Subnets = append(n.Subnets, Subnet{Subnet: sn.String()})
			}
		}
		out = append(out, n)
	}
	return out
}

func (s Store) write(n *Network) error {
	if err := os.MkdirAll(s.Dir, 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(n, "", "     ")
	if err != nil {
		return err
	}
	return atomicfile.Write(s.path(n.Name), append(b, '\n'), 0o644)
}

// DefaultID is the default network's ID, podman's: the SHA-256 of "podman".
const DefaultID = "2f259bab93aaaaa2542ba43ef33eb990d0999ee1b9924b557b7be53c0b7a1bb9"

// ensureDefault writes the default network when it is missing (lock held).
func (s Store) ensureDefault() error {
	if _, err := os.Stat(s.path(s.DefaultName)); err == nil {
		return nil
	}
	_, sn, err := net.ParseCIDR(s.DefaultSubnet)
	if err != nil {
		return fmt.Errorf("default_subnet %q: %w", s.DefaultSubnet, err)
	}
	return s.write(&Network{
		Name:             s.DefaultName,
		ID:               DefaultID,
		Driver:           "bridge",
		NetworkInterface: "podman0",
		Created:          time.Now(),
		Subnets:          []Subnet{{Subnet: sn.String(), Gateway: nthIP(sn, 1).String()}},
		IPAMOptions:      map[string]string{"driver": "host-local"},
	})
}

// Get reads one network by name or ID (a unique prefix of at least one
// character).
func (s Store) Get(name string) (*Network, error) {
	unlock, err := s.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	if err := s.ensureDefault(); err != nil {
		return nil, err
	}
	return s.get(name)
}

func (s Store) get(name string) (*Network, error) {
	all, err := s.list()
	if err != nil {
		return nil, err
	}
	var found []*Network
	for _, n := range all {
		if n.Name == name || n.ID == name {
			return n, nil
		}
		if strings.HasPrefix(n.ID, name) {
			found = append(found, n)
		}
	}
	if len(found) == 1 {
		return found[0], nil
	}
	return nil, fmt.Errorf("unable to find network with name or ID %s: %w", name, ErrNoSuchNetwork)
}

// List reads every network, sorted by name; the default network is
// created on first use.
func (s Store) List() ([]*Network, error) {
	unlock, err := s.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	if err := s.ensureDefault(); err != nil {
		return nil, err
	}
	return s.list()
}

func (s Store) list() ([]*Network, error) {
	entries, err := os.ReadDir(s.Dir)
	if err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	var out []*Network
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(s.Dir, e.Name()))
		if err != nil {
			return nil, err
		}
		var n Network
		if err := json.Unmarshal(b, &n); err != nil {
			return nil, fmt.Errorf("network file %s: %w", e.Name(), err)
		}
		out = append(out, &n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Remove deletes a network definition. The caller makes sure no container
// uses it.
func (s Store) Remove(name string) (*Network, error) {
	unlock, err := s.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	if err := s.ensureDefault(); err != nil {
		return nil, err
	}
	n, err := s.get(name)
	if err != nil {
		return nil, err
	}
	if n.Name == s.DefaultName {
		return nil, fmt.Errorf("default network %s cannot be removed", n.Name)
	}
	if err := os.Remove(s.path(n.Name)); err != nil {
		return nil, err
	}
	if c, err := s.readClaims(); err == nil && c[n.NetworkInterface].Store == s.Dir {
		delete(c, n.NetworkInterface)
		_ = s.writeClaims(c)
	}
	return n, nil
}

// freeSubnet is the first 10.89.N.0/24 no network overlaps.
func freeSubnet(existing []*Network) (*net.IPNet, error) {
	for i := 0; i < 256; i++ {
		_, cand, _ := net.ParseCIDR(fmt.Sprintf("10.89.%d.0/24", i))
		free := true
		for _, n := range existing {
			for _, sn := range n.Subnets {
				if _, other, err := net.ParseCIDR(sn.Subnet); err == nil && (other.Contains(cand.IP) || cand.Contains(other.IP)) {
					free = false
				}
			}
		}
		if free {
			return cand, nil
		}
	}
	return nil, errors.New("no free subnet in 10.89.0.0/16: give --subnet")
}

// chooseSubnets checks the subnets given and picks the missing ones:
// IPv4 first, then IPv6, each with its first address as gateway.
func chooseSubnets(o CreateOptions, existing []*Network) ([]Subnet, error) {
	var v4, v6 *net.IPNet
	for _, cidr := range o.Subnets {
		_, sn, err := net.ParseCIDR(cidr)
		if err != nil {
			return nil, fmt.Errorf("--subnet %s: %w", cidr, err)
		}
		ones, bits := sn.Mask.Size()
		switch {
		case bits == 32 && v4 != nil, bits == 128 && v6 != nil:
			return nil, fmt.Errorf("--subnet %s: only one subnet of each IP version is supported", cidr)
		case bits == 32 && ones > 30:
			return nil, fmt.Errorf("--subnet %s is too small: want at most /30", cidr)
		case bits == 128 && ones > 124:
			return nil, fmt.Errorf("--subnet %s is too small: want at most /124", cidr)
		case bits == 128 && sn.IP.To4() != nil:
			return nil, fmt.Errorf("--subnet %s: an IPv4-mapped IPv6 subnet is not supported", cidr)
		}
		for _, n := range existing {
			for _, other := range n.Subnets {
				if _, on, err := net.ParseCIDR(other.Subnet); err == nil && (on.Contains(sn.IP) || sn.Contains(on.IP)) {
					return nil, fmt.Errorf("--subnet %s overlaps subnet %s of network %s", cidr, other.Subnet, n.Name)
				}
			}
		}
		if bits == 32 {
			v4 = sn
		} else {
			v6 = sn
		}
	}
	ipv6 := o.IPv6 || v6 != nil
	if ipv6 {
		if err := IPv6Available(); err != nil {
			return nil, err
		}
	}
	var err error
	if v4 == nil && (v6 == nil || o.IPv6) {
		if v4, err = freeSubnet(existing); err != nil {
			return nil, err
		}
	}
	if ipv6 && v6 == nil {
		if v6, err = freeSubnet6(existing); err != nil {
			return nil, err
		}
	}
	var out []Subnet
	for _, sn := range []*net.IPNet{v4, v6} {
		if sn != nil {
			out = append(out, Subnet{Subnet: sn.String(), Gateway: firstIP(sn).String()})
		}
	}
	return out, nil
}

// IPv6Available reports why the host cannot give containers IPv6
// addresses, if it cannot.
func IPv6Available() error {
	b, err := os.ReadFile("/proc/sys/net/ipv6/conf/all/disable_ipv6")
	if err != nil {
		return errors.New("IPv6 is not available on this host (no /proc/sys/net/ipv6): the network cannot have an IPv6 subnet")
	}
	if strings.TrimSpace(string(b)) != "0" {
		return errors.New("IPv6 is disabled on this host (net.ipv6.conf.all.disable_ipv6=1): the network cannot have an IPv6 subnet")
	}
	return nil
}

// freeSubnet6 is a random unique local fdXX:XXXX:XXXX:XXXX::/64 (RFC 4193)
// no network overlaps, as podman picks.
func freeSubnet6(existing []*Network) (*net.IPNet, error) {
	for try := 0; try < 100; try++ {
		ip := make(net.IP, net.IPv6len)
		_, _ = rand.Read(ip[:8])
		ip[0] = 0xfd
		cand := &net.IPNet{IP: ip, Mask: net.CIDRMask(64, 128)}
		if !overlaps(cand, existing) {
			return cand, nil
		}
	}
	return nil, errors.New("no free IPv6 subnet: give --subnet")
}

func overlaps(cand *net.IPNet, existing []*Network) bool {
	for _, n := range existing {
		for _, sn := range n.Subnets {
			if _, other, err := net.ParseCIDR(sn.Subnet); err == nil && (other.Contains(cand.IP) || cand.Contains(other.IP)) {
				return true
			}
		}
	}
	return false
}

// firstIP is the subnet's first address after its own, the default
// gateway.
func firstIP(sn *net.IPNet) net.IP {
	if sn.IP.To4() != nil {
		return nthIP(sn, 1)
	}
	a, _ := netip.AddrFromSlice(sn.IP)
	return net.IP(a.Next().AsSlice())
}

// isIPv4Subnet reports whether a CIDR is an IPv4 subnet.
func isIPv4Subnet(cidr string) bool {
	_, sn, err := net.ParseCIDR(cidr)
	return err == nil && sn.IP.To4() != nil
}

func subnetList(sns []Subnet) string {
	var out []string
	for _, sn := range sns {
		out = append(out, sn.Subnet)
	}
	return strings.Join(out, " or ")
}

// freeInterface is the first podmanN (N ≥ 1) no network uses.
func freeInterface(existing []*Network) string {
	used := map[string]bool{}
	for _, n := range existing {
		used[n.NetworkInterface] = true
	}
	for i := 1; ; i++ {
		name := fmt.Sprintf("podman%d", i)
		if !used[name] {
			return name
		}
	}
}

// nthIP is the subnet's address plus n.
func nthIP(sn *net.IPNet, n uint32) net.IP {
	ip := sn.IP.To4()
	v := uint32(ip[0])<<24 | uint32(ip[1])<<16 | uint32(ip[2])<<8 | uint32(ip[3])
	v += n
	return net.IPv4(byte(v>>24), byte(v>>16), byte(v>>8), byte(v)).To4()
}

func randomID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
