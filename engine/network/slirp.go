package network

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// SlirpPath is Debian's slirp4netns.
var SlirpPath = "/usr/bin/slirp4netns"

// slirp4netns's fixed addresses (its default 10.0.2.0/24 network).
const (
	SlirpIP      = "10.0.2.100"
	SlirpGateway = "10.0.2.2"
	SlirpDNS     = "10.0.2.3"
	slirpMTU     = 65520
	tunDevice    = "/dev/net/tun"
)

// SlirpOptions are the options of --network slirp4netns[:OPT=V,…].
type SlirpOptions struct {
	// AllowHostLoopback lets the container reach the host's loopback at
	// SlirpGateway.
	AllowHostLoopback bool
	MTU               int
}

// ParseSlirpMode reads a network mode: ok is false when mode is not
// slirp4netns's.
func ParseSlirpMode(mode string) (o SlirpOptions, ok bool, err error) {
	name, opts, _ := strings.Cut(mode, ":")
	if name != "slirp4netns" {
		return o, false, nil
	}
	o.MTU = slirpMTU
	if opts == "" {
		return o, true, nil
	}
	for _, kv := range strings.Split(opts, ",") {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "allow_host_loopback":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return o, true, fmt.Errorf("--network slirp4netns: allow_host_loopback=%s: want true or false", v)
			}
			o.AllowHostLoopback = b
		case "port_handler":
			if v != "slirp4netns" {
				return o, true, fmt.Errorf("--network slirp4netns: port_handler=%s is not supported: use port_handler=slirp4netns", v)
			}
		case "mtu":
			n, err := strconv.Atoi(v)
			if err != nil || n < 68 || n > 65521 {
				return o, true, fmt.Errorf("--network slirp4netns: mtu=%s: want a number from 68 to 65521", v)
			}
			o.MTU = n
		default:
			return o, true, fmt.Errorf("--network slirp4netns: unknown option %q (want allow_host_loopback, port_handler or mtu)", kv)
		}
	}
	return o, true, nil
}

// Slirp is a container's running slirp4netns.
type Slirp struct {
	Pid int `json:"pid"`
	// HostAddress is host.containers.internal: SlirpGateway when the
	// host's loopback is allowed, else the host's first address.
	HostAddress string `json:"hostAddress,omitempty"`
}

// SlirpRequest is what SetupSlirp needs about a container.
type SlirpRequest struct {
	// NetNS is the path where the network namespace is created.
	NetNS string
	// APISocket is slirp4netns's API socket (short: a socket path is at
	// most 107 bytes); LogPath gets its output.
	APISocket string
	LogPath   string
	Ports     []PortMapping
	Options   SlirpOptions
}

// SetupSlirp creates the container's network namespace and starts
// slirp4netns on it, detached, forwarding the published ports. On error
// nothing is left behind.
func SetupSlirp(ctx context.Context, r SlirpRequest) (*Status, error) {
	if _, err := os.Stat(SlirpPath); err != nil {
		return nil, fmt.Errorf("slirp4netns networking needs %s (install the slirp4netns package)", SlirpPath)
	}
	if f, err := os.OpenFile(tunDevice, os.O_RDWR, 0); err != nil {
		return nil, fmt.Errorf("slirp4netns cannot open %s (%v): make it usable by every user, as root: chmod 0666 %s", tunDevice, errors.Unwrap(err), tunDevice)
	} else {
		f.Close()
	}
	if err := checkPorts(r.Ports); err != nil {
		return nil, err
	}
	if len(r.APISocket) > 107 {
		return nil, fmt.Errorf("slirp4netns API socket path %s is too long", r.APISocket)
	}
	if err := os.MkdirAll(filepath.Dir(r.APISocket), 0o700); err != nil {
		return nil, err
	}
	_ = os.Remove(r.APISocket)
	if err := NewNS(r.NetNS); err != nil {
		return nil, err
	}
	pid, err := startSlirp(ctx, r)
	if err != nil {
		_ = RemoveNS(r.NetNS)
		return nil, err
	}
	st := &Status{NetNS: r.NetNS, Ports: r.Ports, Slirp: &Slirp{Pid: pid, HostAddress: SlirpGateway}}
	if !r.Options.AllowHostLoopback {
		st.Slirp.HostAddress = hostAddress()
	}
	if err := forwardPorts(ctx, r.APISocket, r.Ports); err != nil {
		_ = TeardownSlirp(st)
		return nil, err
	}
	_ = os.Remove(r.APISocket) // the ports are all forwarded: no more requests
	return st, nil
}

// startSlirp starts slirp4netns in its own session and waits until it has
// configured the namespace.
func startSlirp(ctx context.Context, r SlirpRequest) (int, error) {
	logf, err := os.OpenFile(r.LogPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return 0, fmt.Errorf("creating the slirp4netns log: %w", err)
	}
	defer logf.Close()
	ready, readyW, err := os.Pipe()
	if err != nil {
		return 0, err
	}
	defer ready.Close()
	args := []string{"--configure", "--mtu=" + strconv.Itoa(r.Options.MTU), "--enable-seccomp",
		"--ready-fd=3", "--api-socket", r.APISocket, "--netns-type=path"}
	if !r.Options.AllowHostLoopback {
		args = append(args, "--disable-host-loopback")
	}
	args = append(args, r.NetNS, "tap0")
	// Not CommandContext: slirp4netns outlives this command.
	cmd := exec.Command(SlirpPath, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.ExtraFiles = []*os.File{readyW}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	readyW.Close()
	if err != nil {
		return 0, fmt.Errorf("starting slirp4netns: %w", err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait() // reaps it when it ends while this command runs
		close(exited)
	}()
	deadline := time.Now().Add(10 * time.Second)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = ready.SetReadDeadline(deadline)
	buf := make([]byte, 1)
	if _, err := ready.Read(buf); err != nil || buf[0] != '1' {
		_ = cmd.Process.Kill()
		select {
		case <-exited:
		case <-time.After(2 * time.Second):
		}
		return 0, fmt.Errorf("slirp4netns did not start: %s", lastLine(r.LogPath, err))
	}
	return cmd.Process.Pid, nil
}

// lastLine is the last line of slirp4netns's log, or err when it is empty.
func lastLine(path string, err error) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if l := strings.TrimSpace(lines[len(lines)-1]); l != "" {
		return l
	}
	if err == nil {
		err = errors.New("no ready signal")
	}
	return err.Error()
}

// forwardPorts asks slirp4netns to forward each published port.
func forwardPorts(ctx context.Context, socket string, ports []PortMapping) error {
	for _, p := range ports {
		ip := p.HostIP
		if ip == "" {
			ip = "0.0.0.0"
		}
		for i := uint16(0); i < max(p.Range, 1); i++ {
			req := map[string]any{"execute": "add_hostfwd", "arguments": map[string]any{
				"proto": p.Protocol, "host_addr": ip, "host_port": p.HostPort + i, "guest_port": p.ContainerPort + i,
			}}
			if err := slirpAPI(ctx, socket, req); err != nil {
				return fmt.Errorf("cannot publish port %d/%s on %s: %w", p.HostPort+i, p.Protocol, net.JoinHostPort(ip, strconv.Itoa(int(p.HostPort+i))), err)
			}
		}
	}
	return nil
}

// slirpAPI sends one request to slirp4netns's API socket.
func slirpAPI(ctx context.Context, socket string, req any) error {
	_, err := slirpCall(ctx, socket, req)
	return err
}

// slirpCall sends one request to slirp4netns's API socket and returns
// its answer.
func slirpCall(ctx context.Context, socket string, req any) ([]byte, error) {
	b, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", socket)
	if err != nil {
		return nil, fmt.Errorf("connecting to slirp4netns: %w", err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Write(b); err != nil {
		return nil, fmt.Errorf("writing to slirp4netns: %w", err)
	}
	if err := conn.(*net.UnixConn).CloseWrite(); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(conn); err != nil {
		return nil, fmt.Errorf("reading slirp4netns's answer: %w", err)
	}
	var res struct {
		Error *struct {
			Desc string `json:"desc"`
		} `json:"error"`
	}
	if err := json.Unmarshal(buf.Bytes(), &res); err != nil {
		return nil, fmt.Errorf("slirp4netns's answer %q: %w", buf.String(), err)
	}
	if res.Error != nil {
		return nil, errors.New(res.Error.Desc)
	}
	return buf.Bytes(), nil
}

// TeardownSlirp ends the slirp4netns of a namespace (the recorded one and
// any that a command killed during setup left unrecorded) and removes the
// namespace.
func TeardownSlirp(st *Status) error {
	if st == nil || st.NetNS == "" {
		return nil
	}
	var pids []int
	if st.Slirp != nil && st.Slirp.Pid > 0 && isSlirpOf(st.Slirp.Pid, st.NetNS) {
		pids = append(pids, st.Slirp.Pid)
	}
	pids = append(pids, SlirpPids(st.NetNS)...)
	for _, pid := range pids {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	for _, pid := range pids {
		for end := time.Now().Add(2 * time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
			if !isSlirpOf(pid, st.NetNS) {
				break
			}
		}
	}
	return RemoveNS(st.NetNS)
}

// SlirpPids are the slirp4netns processes serving the namespace at netns.
func SlirpPids(netns string) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err == nil && isSlirpOf(pid, netns) {
			out = append(out, pid)
		}
	}
	return out
}

// isSlirpOf reports whether pid is a live (not zombie) slirp4netns for
// netns.
func isSlirpOf(pid int, netns string) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || len(b) == 0 { // a zombie's cmdline is empty
		return false
	}
	args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
	if filepath.Base(args[0]) != "slirp4netns" {
		return false
	}
	for _, a := range args[1:] {
		if a == netns {
			return true
		}
	}
	return false
}

// hostAddress is the host's first global unicast IPv4 address (podman's
// host.containers.internal for slirp4netns), "" when it has none.
func hostAddress() string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return ""
	}
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil && ipn.IP.IsGlobalUnicast() {
			return ipn.IP.String()
		}
	}
	return ""
}
