package network

import (
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/ocisuite/suite/shared/atomicfile"
)

// Leases are one bridge's allocated addresses: IP → container ID, kept
// per bridge interface since stores share bridges. They are changed only
// under the store's lock.
type leases map[string]string

func (s Store) leasePath(name string) string {
	return filepath.Join(s.RunDir, "leases", name+".json")
}

func (s Store) readLeases(name string) (leases, error) {
	l := leases{}
	b, err := os.ReadFile(s.leasePath(name))
	if os.IsNotExist(err) {
		return l, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &l); err != nil {
		return nil, fmt.Errorf("leases of network %s: %w", name, err)
	}
	return l, nil
}

func (s Store) writeLeases(name string, l leases) error {
	p := s.leasePath(name)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	b, err := json.Marshal(l)
	if err != nil {
		return err
	}
	return atomicfile.Write(p, b, 0o600)
}

// lastKey records the last IPv4 address given (lastKey6 the last IPv6
// one), so that addresses are handed out in turn (as podman's IPAM does)
// and a released one is not reused at once.
const (
	lastKey  = "last"
	lastKey6 = "last6"
)

// isLastKey reports whether a lease key is a lastKey rather than an address.
func isLastKey(k string) bool { return k == lastKey || k == lastKey6 }

// leaseAll leases the container an address on each of the network's
// subnets (IPv4 first), static ones where o asks for them; on error the
// addresses leased are released by the caller (releaseAll).
func (s Store) leaseAll(n *Network, id string, o Options) ([]string, error) {
	if len(n.Subnets) == 0 {
		return nil, fmt.Errorf("network %s has no subnet", n.Name)
	}
	if o.IP != "" && !slices.ContainsFunc(n.Subnets, func(sn Subnet) bool { return isIPv4Subnet(sn.Subnet) }) {
		return nil, fmt.Errorf("IP address %s: network %s has no IPv4 subnet", o.IP, n.Name)
	}
	if o.IP6 != "" && !n.IPv6Enabled {
		return nil, fmt.Errorf("IPv6 address %s: network %s has no IPv6 subnet", o.IP6, n.Name)
	}
	var out []string
	for _, sn := range n.Subnets {
		var ip string
		var err error
		if isIPv4Subnet(sn.Subnet) {
			ip, err = s.lease(n, sn, id, o.IP)
		} else {
			ip, err = s.lease6(n, sn, id, o.IP6)
		}
		if err != nil {
			return nil, err
		}
		out = append(out, ip)
	}
	return out, nil
}

// lease gives the container the next free address of the IPv4 subnet sn
// after the last one given (never the network address, gateway or
// broadcast); a container that already holds one keeps it.
func (s Store) lease(n *Network, subnet Subnet, id, static string) (string, error) {
	l, err := s.readLeases(n.NetworkInterface)
	if err != nil {
		return "", err
	}
	_, sn, err := net.ParseCIDR(subnet.Subnet)
	if err != nil {
		return "", err
	}
	for ip, owner := range l {
		if owner == id && !isLastKey(ip) && sn.Contains(net.ParseIP(ip)) && (static == "" || ip == static) {
			return ip, nil
		}
	}
	ones, bits := sn.Mask.Size()
	size := uint32(1) << uint(bits-ones)
	if static != "" {
		ip := net.ParseIP(static).To4()
		if ip == nil || !sn.Contains(ip) || ip.Equal(sn.IP) || ip.Equal(nthIP(sn, size-1)) || ip.String() == subnet.Gateway {
			return "", fmt.Errorf("IP address %s is not a usable address of network %s (%s)", static, n.Name, sn)
		}
		if owner := l[ip.String()]; owner != "" && owner != id {
			return "", fmt.Errorf("IP address %s of network %s is already in use by container %.12s", static, n.Name, owner)
		}
		l[ip.String()] = id
		return ip.String(), s.writeLeases(n.NetworkInterface, l)
	}
	start := uint32(0)
	if last := net.ParseIP(l[lastKey]).To4(); last != nil && sn.Contains(last) {
		base := sn.IP.To4()
		start = (uint32(last[0])<<24 | uint32(last[1])<<16 | uint32(last[2])<<8 | uint32(last[3])) -
			(uint32(base[0])<<24 | uint32(base[1])<<16 | uint32(base[2])<<8 | uint32(base[3]))
	}
	for k := uint32(0); k < size; k++ {
		i := (start + 1 + k) % size
		if i == 0 || i == size-1 {
			continue // network and broadcast addresses
		}
		ip := nthIP(sn, i).String()
		if ip == subnet.Gateway || l[ip] != "" || !inRange(subnet.LeaseRange, nthIP(sn, i)) {
			continue
		}
		l[ip] = id
		l[lastKey] = ip
		if err := s.writeLeases(n.NetworkInterface, l); err != nil {
			return "", err
		}
		return ip, nil
	}
	return "", fmt.Errorf("network %s: no free address in %s", n.Name, sn)
}

// maxTries6 bounds the search for a free IPv6 address: a /64 is never
// full, but a long run of taken addresses after the last one given is.
const maxTries6 = 1 << 16

// lease6 is lease for an IPv6 subnet (no broadcast address to skip).
func (s Store) lease6(n *Network, subnet Subnet, id, static string) (string, error) {
	l, err := s.readLeases(n.NetworkInterface)
	if err != nil {
		return "", err
	}
	sn, err := netip.ParsePrefix(subnet.Subnet)
	if err != nil {
		return "", err
	}
	sn = sn.Masked()
	gw, _ := netip.ParseAddr(subnet.Gateway)
	for ip, owner := range l {
		if a, err := netip.ParseAddr(ip); err == nil && owner == id && sn.Contains(a) && (static == "" || sameAddr(ip, static)) {
			return ip, nil
		}
	}
	if static != "" {
		a, err := netip.ParseAddr(static)
		if err != nil || !a.Is6() || a.Is4In6() || !sn.Contains(a) || a == sn.Addr() || a == gw {
			return "", fmt.Errorf("IPv6 address %s is not a usable address of network %s (%s)", static, n.Name, sn)
		}
		if owner := l[a.String()]; owner != "" && owner != id {
			return "", fmt.Errorf("IPv6 address %s of network %s is already in use by container %.12s", static, n.Name, owner)
		}
		l[a.String()] = id
		return a.String(), s.writeLeases(n.NetworkInterface, l)
	}
	a := sn.Addr()
	if last, err := netip.ParseAddr(l[lastKey6]); err == nil && sn.Contains(last) {
		a = last
	}
	for k := 0; k < maxTries6; k++ {
		if a = a.Next(); !a.IsValid() || !sn.Contains(a) {
			a = sn.Addr() // wrap around
			continue
		}
		if a == gw || l[a.String()] != "" {
			continue
		}
		l[a.String()] = id
		l[lastKey6] = a.String()
		if err := s.writeLeases(n.NetworkInterface, l); err != nil {
			return "", err
		}
		return a.String(), nil
	}
	return "", fmt.Errorf("network %s: no free address in %s", n.Name, sn)
}

func sameAddr(a, b string) bool {
	x, err1 := netip.ParseAddr(a)
	y, err2 := netip.ParseAddr(b)
	return err1 == nil && err2 == nil && x == y
}

// releaseAll frees the container's addresses on the named bridges (lock
// held).
func (s Store) releaseAll(id string, bridges []string) {
	for _, name := range bridges {
		l, err := s.readLeases(name)
		if err != nil {
			continue
		}
		changed := false
		for ip, owner := range l {
			if owner == id {
				delete(l, ip)
				changed = true
			}
		}
		if changed {
			_ = s.writeLeases(name, l)
		}
	}
}

// inRange reports whether ip is inside the lease range (none: anywhere).
func inRange(r *LeaseRange, ip net.IP) bool {
	if r == nil {
		return true
	}
	v := func(s string) uint32 {
		p := net.ParseIP(s).To4()
		if p == nil {
			return 0
		}
		return uint32(p[0])<<24 | uint32(p[1])<<16 | uint32(p[2])<<8 | uint32(p[3])
	}
	x := v(ip.String())
	if r.StartIP != "" && x < v(r.StartIP) {
		return false
	}
	return r.EndIP == "" || x <= v(r.EndIP)
}

// ownerPath records which network namespace a container's leases belong
// to, so that leases of a namespace that is gone can be found (leases are
// host-wide: the container may be another store's).
func (s Store) ownerPath(id string) string { return filepath.Join(s.RunDir, "owners", id) }

func (s Store) writeOwner(id, netns string) error {
	if err := os.MkdirAll(filepath.Dir(s.ownerPath(id)), 0o700); err != nil {
		return err
	}
	return os.WriteFile(s.ownerPath(id), []byte(netns), 0o600)
}

// StaleLease is an address leased to a container whose network namespace
// no longer exists.
type StaleLease struct {
	Bridge, IP, Container, NetNS string
}

// StaleLeases finds leases whose container's network namespace is gone
// (a teardown that never ran) and, with repair, releases them. Leases of
// containers whose namespace is unknown are left alone.
func (s Store) StaleLeases(repair bool) ([]StaleLease, error) {
	unlock, err := s.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	files, err := filepath.Glob(filepath.Join(s.RunDir, "leases", "*.json"))
	if err != nil {
		return nil, err
	}
	var out []StaleLease
	gone := map[string]bool{}
	for _, f := range files {
		bridge := strings.TrimSuffix(filepath.Base(f), ".json")
		l, err := s.readLeases(bridge)
		if err != nil {
			return out, err
		}
		changed := false
		for ip, owner := range l {
			if isLastKey(ip) {
				continue
			}
			b, err := os.ReadFile(s.ownerPath(owner))
			if err != nil {
				continue // unknown namespace: not ours to judge
			}
			netns := string(b)
			if isNamespace(netns) {
				continue
			}
			out = append(out, StaleLease{Bridge: bridge, IP: ip, Container: owner, NetNS: netns})
			if repair {
				delete(l, ip)
				changed = true
				gone[owner] = true
			}
		}
		if changed {
			if err := s.writeLeases(bridge, l); err != nil {
				return out, err
			}
		}
	}
	for id := range gone {
		os.Remove(s.ownerPath(id))
	}
	return out, nil
}

// isNamespace reports whether p is a mounted namespace (nsfs).
func isNamespace(p string) bool {
	var st unix.Statfs_t
	return unix.Statfs(p, &st) == nil && st.Type == unix.NSFS_MAGIC
}
