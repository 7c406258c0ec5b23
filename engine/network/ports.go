package network

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// HoldPorts binds each published host port so that no other process can
// take it while the container runs: netavark forwards the ports with
// firewall rules, and nothing would be bound to them otherwise. The caller
// hands the sockets to conmon, which keeps them open for the container's
// life, as podman does. A TCP socket listens (binding beside a listener
// fails even with SO_REUSEADDR; connections never reach it, netavark's
// rules redirect them first); a UDP one is bound without SO_REUSEADDR.
func HoldPorts(ports []PortMapping) ([]*os.File, error) {
	var files []*os.File
	for _, p := range ports {
		for i := uint16(0); i < max(p.Range, 1); i++ {
			f, err := bindPort(p.Protocol, p.HostIP, p.HostPort+i)
			if err != nil {
				for _, f := range files {
					f.Close()
				}
				return nil, err
			}
			files = append(files, f)
		}
	}
	return files, nil
}

func bindPort(proto, hostIP string, port uint16) (*os.File, error) {
	ip := net.ParseIP(orAny(hostIP))
	if ip == nil {
		return nil, fmt.Errorf("cannot publish port %d/%s: %q is not an IP address", port, proto, hostIP)
	}
	typ := unix.SOCK_STREAM
	if proto == "udp" {
		typ = unix.SOCK_DGRAM
	}
	family := unix.AF_INET
	var sa unix.Sockaddr
	if ip4 := ip.To4(); ip4 != nil {
		a := &unix.SockaddrInet4{Port: int(port)}
		copy(a.Addr[:], ip4)
		sa = a
	} else {
		family = unix.AF_INET6
		a := &unix.SockaddrInet6{Port: int(port)}
		copy(a.Addr[:], ip.To16())
		sa = a
	}
	fd, err := unix.Socket(family, typ|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("holding port %d/%s: %w", port, proto, err)
	}
	if typ == unix.SOCK_STREAM {
		err = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
	}
	if err == nil {
		err = unix.Bind(fd, sa)
	}
	if err == nil && typ == unix.SOCK_STREAM {
		err = unix.Listen(fd, 1)
	}
	if err != nil {
		unix.Close(fd)
		addr := net.JoinHostPort(ip.String(), strconv.Itoa(int(port)))
		return nil, fmt.Errorf("cannot publish port %d/%s on %s: %w", port, proto, addr, err)
	}
	return os.NewFile(uintptr(fd), fmt.Sprintf("port %d/%s", port, proto)), nil
}

// WaitPortsFree waits, at most timeout, until the host ports of a
// container that ended can be bound again: its conmon holds them a moment
// longer than the container runs.
func WaitPortsFree(ports []PortMapping, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		files, err := HoldPorts(ports)
		if err == nil {
			for _, f := range files {
				f.Close()
			}
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}
