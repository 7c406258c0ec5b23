package network

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
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
	// Dir holds slirp4netns's API socket, PID and log, and the markers
	// of bridges already isolated; it goes with the namespace.
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
// slirp4netns on a namespace whose one ended.
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

// do runs f with the calling goroutine in the store's network namespace:
// the rootless one, or the engine's own for a rootful store. Processes
// that f starts are in that namespace too.
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
		errc <- f()
	}()
	return <-errc
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

// forwardRootlessPorts has the rootless namespace's slirp4netns forward
// each published host port to the same port in the namespace (lock held).
// On error the ports forwarded so far are taken back.
func (s Store) forwardRootlessPorts(ctx context.Context, ports []PortMapping) error {
	var done []PortMapping
	for _, p := range ports {
		for i := uint16(0); i < max(p.Range, 1); i++ {
			q := PortMapping{HostIP: orAny(p.HostIP), HostPort: p.HostPort + i, ContainerPort: p.HostPort + i, Protocol: p.Protocol, Range: 1}
			if err := forwardPorts(ctx, s.Rootless.apiSocket(), []PortMapping{q}); err != nil {
				_ = s.unforwardRootlessPorts(context.WithoutCancel(ctx), done)
				return err
			}
			done = append(done, q)
		}
	}
	return nil
}

// unforwardRootlessPorts takes back what forwardRootlessPorts set up
// (lock held): the forwards on the ports' host addresses and ports.
func (s Store) unforwardRootlessPorts(ctx context.Context, ports []PortMapping) error {
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
