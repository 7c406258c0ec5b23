package network

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/ocisuite/suite/shared/atomicfile"
)

// Rootless describes the rootless network namespace of a rootless user's
// store, podman's "rootless-netns": one network namespace, created in the
// user's user namespace, in which netavark makes the bridges and veths of
// the user's networks and aardvark-dns serves their names. slirp4netns
// connects it to the host (tap0, 10.0.2.100): containers reach outside
// through it, masqueraded twice (by netavark into the namespace's address,
// by slirp4netns into the user's), and slirp4netns forwards each published
// host port to the same port of the namespace, where netavark's rules
// send it on to the container. As with podman's default, the host's
// loopback is out of reach (slirp4netns --disable-host-loopback); the
// host is host.containers.internal at its first address. The namespace
// is made by the first container that needs it and goes with the last
// one.
type Rootless struct {
	// NetNS is where the namespace is bind-mounted.
	NetNS string
	// Dir holds slirp4netns's API socket, PID and log, the forwarded
	// ports, the namespace's resolv.conf and the markers of bridges
	// already isolated; it goes with the namespace.
	Dir string
}

// RootlessStatus is what a rootless bridge container has in the rootless
// network namespace beside its attachments.
type RootlessStatus struct {
	// NetNS is the rootless network namespace.
	NetNS string `json:"netns"`
	// HostAddress is host.containers.internal: the host's first
	// address.
	HostAddress string `json:"hostAddress,omitempty"`
}

func (r *Rootless) apiSocket() string { return filepath.Join(r.Dir, "slirp.sock") }
func (r *Rootless) pidFile() string   { return filepath.Join(r.Dir, "slirp.pid") }
func (r *Rootless) logFile() string   { return filepath.Join(r.Dir, "slirp4netns.log") }
func (r *Rootless) portsFile() string { return filepath.Join(r.Dir, "ports.json") }

// forwarded records the published ports of each container (by ID) that
// the namespace's slirp4netns forwards, so that a new slirp4netns forwards
// them again.
type forwarded map[string][]PortMapping

func (r *Rootless) readForwarded() (forwarded, error) {
	f := forwarded{}
	b, err := os.ReadFile(r.portsFile())
	if os.IsNotExist(err) {
		return f, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", r.portsFile(), err)
	}
	return f, nil
}

func (r *Rootless) writeForwarded(f forwarded) error {
	b, err := json.Marshal(f)
	if err != nil {
		return err
	}
	return atomicfile.Write(r.portsFile(), b, 0o600)
}

// slirpPid is the PID of the namespace's running slirp4netns, 0 if none.
func (r *Rootless) slirpPid() int {
	b, err := os.ReadFile(r.pidFile())
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || !isSlirpOf(pid, r.NetNS) {
		return 0
	}
	return pid
}

// ensureRootless makes sure the rootless network namespace exists with
// its slirp4netns running (lock held): it creates both, or starts a new
// slirp4netns on a namespace whose one ended, which forwards the running
// containers' ports again.
func (s Store) ensureRootless(ctx context.Context) error {
	r := s.Rootless
	if isNamespace(r.NetNS) && r.slirpPid() > 0 {
		return nil
	}
	if _, err := os.Stat(SlirpPath); err != nil {
		return fmt.Errorf("rootless bridge networking needs %s (install the slirp4netns package)", SlirpPath)
	}
	if f, err := os.OpenFile(tunDevice, os.O_RDWR, 0); err != nil {
		return fmt.Errorf("slirp4netns cannot open %s (%v): make it usable by every user, as root: chmod 0666 %s", tunDevice, errors.Unwrap(err), tunDevice)
	} else {
		f.Close()
	}
	if len(r.apiSocket()) > 107 {
		return fmt.Errorf("slirp4netns API socket path %s is too long", r.apiSocket())
	}
	fresh := !isNamespace(r.NetNS)
	if fresh {
		// What an earlier namespace left (its isolation markers, a
		// stale socket) does not apply to a new one.
		if err := os.RemoveAll(r.Dir); err != nil {
			return err
		}
		if err := NewNS(r.NetNS); err != nil {
			return fmt.Errorf("creating the rootless network namespace: %w", err)
		}
	}
	if err := os.MkdirAll(r.Dir, 0o700); err != nil {
		return err
	}
	if err := r.writeResolvConf(); err != nil {
		return fmt.Errorf("writing the rootless network namespace's resolv.conf: %w", err)
	}
	_ = os.Remove(r.apiSocket())
	o := SlirpOptions{MTU: slirpMTU}
	pid, err := startSlirp(ctx, SlirpRequest{NetNS: r.NetNS, APISocket: r.apiSocket(), LogPath: r.logFile(), Options: o})
	if err == nil {
		err = os.WriteFile(r.pidFile(), []byte(strconv.Itoa(pid)), 0o600)
		if err != nil {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	if err != nil {
		if fresh {
			_ = RemoveNS(r.NetNS)
		}
		return fmt.Errorf("connecting the rootless network namespace: %w", err)
	}
	if !fresh {
		fwd, err := r.readForwarded()
		if err != nil {
			return err
		}
		for id, ports := range fwd {
			if err := forwardPorts(ctx, r.apiSocket(), hostForwards(ports)); err != nil {
				logrus.Warnf("publishing the ports of container %s again: %v", id, err)
			}
		}
	}
	return nil
}

// rootlessStatus is a container's RootlessStatus.
func (s Store) rootlessStatus() *RootlessStatus {
	return &RootlessStatus{NetNS: s.Rootless.NetNS, HostAddress: hostAddress()}
}

// cleanupRootless removes the rootless network namespace, its slirp4netns
// and what aardvark-dns left when no container's namespace holds leases
// any more (lock held).
func (s Store) cleanupRootless() error {
	r := s.Rootless
	owners, _ := filepath.Glob(filepath.Join(s.RunDir, "owners", "*"))
	for _, o := range owners {
		if b, err := os.ReadFile(o); err == nil && isNamespace(string(b)) {
			return nil // still used
		}
	}
	if !isNamespace(r.NetNS) {
		return nil
	}
	var errs []error
	// aardvark-dns ends when netavark tears down the last container of
	// its networks; one left (a teardown that failed) goes now.
	if b, err := os.ReadFile(filepath.Join(s.RunDir, "netavark", "aardvark-dns", "aardvark.pid")); err == nil {
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 && inNetNS(pid, r.NetNS) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	if err := TeardownSlirp(&Status{NetNS: r.NetNS, Slirp: &Slirp{Pid: r.slirpPid()}}); err != nil {
		errs = append(errs, err)
	}
	if err := os.RemoveAll(r.Dir); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// inNetNS reports whether process pid runs in the network namespace
// mounted at path.
func inNetNS(pid int, path string) bool {
	var a, b unix.Stat_t
	if unix.Stat(fmt.Sprintf("/proc/%d/ns/net", pid), &a) != nil || unix.Stat(path, &b) != nil {
		return false
	}
	return a.Dev == b.Dev && a.Ino == b.Ino
}

// do runs f in the store's network namespace: the rootless one, on a
// thread of its own, or the engine's own for a rootful store. Processes
// that f starts are in that namespace too, and in a mount namespace of
// their own where /etc/resolv.conf names slirp4netns's resolver first
// (rootlessMounts), for aardvark-dns.
func (s Store) do(f func() error) error {
	if s.Rootless == nil {
		return f()
	}
	ns, err := os.Open(s.Rootless.NetNS)
	if err != nil {
		return fmt.Errorf("opening the rootless network namespace: %w", err)
	}
	defer ns.Close()
	errc := make(chan error, 1)
	go func() {
		// The thread changes namespace and is never unlocked: the Go
		// runtime ends it with the goroutine.
		runtime.LockOSThread()
		if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("entering the rootless network namespace: %w", err)
			return
		}
		if err := s.Rootless.mounts(); err != nil {
			errc <- err
			return
		}
		errc <- f()
	}()
	return <-errc
}

func (r *Rootless) resolvConf() string { return filepath.Join(r.Dir, "resolv.conf") }

// writeResolvConf writes the resolv.conf of the rootless namespace, as
// podman does: slirp4netns's resolver (which forwards to the host's, a
// loopback one too) first, then the host's servers that are not on its
// loopback, unreachable from the namespace; the host's search domains and
// options.
func (r *Rootless) writeResolvConf() error {
	host, err := os.ReadFile("/etc/resolv.conf")
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	var b strings.Builder
	b.WriteString("nameserver " + SlirpDNS + "\n")
	for _, l := range strings.Split(string(host), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "nameserver":
			if ip := net.ParseIP(f[1]); ip == nil || ip.IsLoopback() {
				continue
			}
		case "search", "domain", "options":
		default:
			continue
		}
		b.WriteString(strings.Join(f, " ") + "\n")
	}
	return os.WriteFile(r.resolvConf(), []byte(b.String()), 0o644)
}

// mounts gives the calling thread (locked, in the rootless namespace) a
// mount namespace of its own, apart from the user's, where
// /etc/resolv.conf is the rootless namespace's (writeResolvConf): the
// host's may name resolvers on its loopback, which aardvark-dns could not
// reach from there.
func (r *Rootless) mounts() error {
	if _, err := os.Stat(r.resolvConf()); err != nil {
		if err := r.writeResolvConf(); err != nil {
			return fmt.Errorf("writing the rootless network namespace's resolv.conf: %w", err)
		}
	}
	if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
		return fmt.Errorf("creating a mount namespace for the rootless network namespace: %w", err)
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_SLAVE, ""); err != nil {
		return fmt.Errorf("making the rootless network namespace's mounts private: %w", err)
	}
	target, err := filepath.EvalSymlinks("/etc/resolv.conf")
	if err != nil {
		return fmt.Errorf("finding /etc/resolv.conf: %w", err)
	}
	const resolved = "/run/systemd/resolve/"
	if strings.HasPrefix(target, resolved) {
		// systemd-resolved replaces its files by renaming new ones over
		// them, which would undo a bind mount: a tmpfs of this
		// namespace's own takes the directory's place.
		b, err := os.ReadFile(r.resolvConf())
		if err != nil {
			return err
		}
		if err := unix.Mount("tmpfs", resolved, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=0755"); err != nil {
			return fmt.Errorf("mounting a tmpfs on %s: %w", resolved, err)
		}
		return os.WriteFile(target, b, 0o644)
	}
	if err := unix.Mount(r.resolvConf(), target, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("mounting the rootless network namespace's resolv.conf on %s: %w", target, err)
	}
	return nil
}

// rootlessPorts are the port mappings netavark gets in the rootless
// namespace: any address there, since slirp4netns delivers the host's
// connections to the namespace's own address (tap0).
func rootlessPorts(ports []PortMapping) []PortMapping {
	out := make([]PortMapping, len(ports))
	for i, p := range ports {
		p.HostIP = ""
		out[i] = p
	}
	return out
}

// hostForwards are the slirp4netns forwards of ports, one per host port:
// the host address and port to the same port in the namespace.
func hostForwards(ports []PortMapping) []PortMapping {
	var out []PortMapping
	for _, p := range ports {
		for i := uint16(0); i < max(p.Range, 1); i++ {
			out = append(out, PortMapping{HostIP: orAny(p.HostIP), HostPort: p.HostPort + i, ContainerPort: p.HostPort + i, Protocol: p.Protocol, Range: 1})
		}
	}
	return out
}

// forwardRootlessPorts has the rootless namespace's slirp4netns forward
// each published host port of container id to the same port in the
// namespace (lock held). One port number goes to one container, whatever
// the host address: in the namespace it is the port alone that tells the
// containers apart. On error the ports forwarded so far are taken back.
func (s Store) forwardRootlessPorts(ctx context.Context, id string, ports []PortMapping) error {
	if len(ports) == 0 {
		return nil
	}
	fwds, err := listForwards(ctx, s.Rootless.apiSocket())
	if err != nil {
		return err
	}
	var done []PortMapping
	for _, q := range hostForwards(ports) {
		for _, f := range fwds {
			if f.Proto == q.Protocol && f.HostPort == int(q.HostPort) {
				_ = s.unforwardPorts(context.WithoutCancel(ctx), done)
				addr := net.JoinHostPort(f.HostAddr, strconv.Itoa(f.HostPort))
				return fmt.Errorf("cannot publish port %d/%s: another rootless container publishes it on %s (the rootless network namespace tells containers apart by port number)", q.HostPort, q.Protocol, addr)
			}
		}
		if err := forwardPorts(ctx, s.Rootless.apiSocket(), []PortMapping{q}); err != nil {
			_ = s.unforwardPorts(context.WithoutCancel(ctx), done)
			return err
		}
		done = append(done, q)
	}
	fwd, err := s.Rootless.readForwarded()
	if err == nil {
		fwd[id] = ports
		err = s.Rootless.writeForwarded(fwd)
	}
	if err != nil {
		_ = s.unforwardPorts(context.WithoutCancel(ctx), done)
		return fmt.Errorf("recording the published ports: %w", err)
	}
	return nil
}

// unforwardRootlessPorts takes back what forwardRootlessPorts set up for
// container id (lock held).
func (s Store) unforwardRootlessPorts(ctx context.Context, id string, ports []PortMapping) error {
	var errs []error
	if fwd, err := s.Rootless.readForwarded(); err == nil && len(fwd[id]) > 0 {
		delete(fwd, id)
		if err := s.Rootless.writeForwarded(fwd); err != nil {
			errs = append(errs, err)
		}
	}
	errs = append(errs, s.unforwardPorts(ctx, ports))
	return errors.Join(errs...)
}

// unforwardPorts removes the slirp4netns forwards on the ports' host
// addresses and ports.
func (s Store) unforwardPorts(ctx context.Context, ports []PortMapping) error {
	if len(ports) == 0 || s.Rootless.slirpPid() == 0 {
		return nil
	}
	fwds, err := listForwards(ctx, s.Rootless.apiSocket())
	if err != nil {
		return err
	}
	var errs []error
	for _, f := range fwds {
		for _, p := range ports {
			if f.Proto == p.Protocol && sameAddr(f.HostAddr, orAny(p.HostIP)) && f.HostPort >= int(p.HostPort) && f.HostPort < int(p.HostPort)+int(max(p.Range, 1)) {
				req := map[string]any{"execute": "remove_hostfwd", "arguments": map[string]any{"id": f.ID}}
				if _, err := slirpCall(ctx, s.Rootless.apiSocket(), req); err != nil {
					errs = append(errs, fmt.Errorf("unpublishing port %d/%s: %w", f.HostPort, f.Proto, err))
				}
				break
			}
		}
	}
	return errors.Join(errs...)
}

// forward is one of slirp4netns's port forwards.
type forward struct {
	ID       int    `json:"id"`
	Proto    string `json:"proto"`
	HostAddr string `json:"host_addr"`
	HostPort int    `json:"host_port"`
}

// listForwards asks slirp4netns for its port forwards.
func listForwards(ctx context.Context, socket string) ([]forward, error) {
	b, err := slirpCall(ctx, socket, map[string]any{"execute": "list_hostfwd"})
	if err != nil {
		return nil, fmt.Errorf("listing slirp4netns's forwarded ports: %w", err)
	}
	var res struct {
		Entries []forward `json:"entries"`
	}
	if err := json.Unmarshal(b, &res); err != nil {
		return nil, fmt.Errorf("slirp4netns's forwarded ports: %w", err)
	}
	return res.Entries, nil
}
