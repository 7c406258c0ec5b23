package network

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
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
	if err := os.WriteFile(p+".tmp", b, 0o600); err != nil {
		return err
	}
	return os.Rename(p+".tmp", p)
}

// lastKey records the last address given, so that addresses are handed
// out in turn (as podman's IPAM does) and a released one is not reused at
// once.
const lastKey = "last"

// lease gives the container the next free address of the network's
// subnet after the last one given (never the network address, gateway or
// broadcast); a container that already holds one keeps it.
func (s Store) lease(n *Network, id, static string) (string, error) {
	if len(n.Subnets) == 0 {
		return "", fmt.Errorf("network %s has no subnet", n.Name)
	}
	l, err := s.readLeases(n.NetworkInterface)
	if err != nil {
		return "", err
	}
	for ip, owner := range l {
		if owner == id && ip != lastKey && (static == "" || ip == static) {
			return ip, nil
		}
	}
	_, sn, err := net.ParseCIDR(n.Subnets[0].Subnet)
	if err != nil {
		return "", err
	}
	ones, bits := sn.Mask.Size()
	size := uint32(1) << uint(bits-ones)
	if static != "" {
		ip := net.ParseIP(static).To4()
		if ip == nil || !sn.Contains(ip) || ip.Equal(sn.IP) || ip.Equal(nthIP(sn, size-1)) || ip.String() == n.Subnets[0].Gateway {
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
		if ip == n.Subnets[0].Gateway || l[ip] != "" || !inRange(n.Subnets[0].LeaseRange, nthIP(sn, i)) {
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
			if ip == lastKey {
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
