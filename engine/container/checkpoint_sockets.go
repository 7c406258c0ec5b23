//go:build !thin

package container

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/ocisuite/suite/shared/oci"
)

// inetSocket is an IPv4/IPv6 socket a container's process holds.
type inetSocket struct {
	proto, local, state string
	pid                 int
	comm                string
}

func (s inetSocket) String() string {
	return fmt.Sprintf("%s %s (%s) of %s (pid %d)", s.proto, s.local, s.state, s.comm, s.pid)
}

// socketError names the inet sockets CRIU could not dump: a failed dump
// whose log blames sockets gets the container's sockets in its one line.
func (e *Engine) socketError(ctx context.Context, c *Container, err error) error {
	var ce *oci.CRIUError
	if !errors.As(err, &ce) || !strings.Contains(strings.Join(ce.Lines, " "), "sockets") {
		return err
	}
	pids, perr := e.Runtime.Pids(ctx, c.ID)
	if perr != nil || len(pids) == 0 {
		return err
	}
	socks := inetSockets(pids)
	if len(socks) == 0 {
		return err
	}
	var names []string
	for _, s := range socks {
		names = append(names, s.String())
	}
	criu := ""
	for _, l := range ce.Lines {
		if strings.Contains(l, "sockets") {
			criu = l
			break
		}
	}
	return fmt.Errorf("checkpoint of %s failed: CRIU cannot dump its inet sockets on this host: %s: CRIU says %q (log: %s); the container is still running: %w",
		c.Name, strings.Join(names, ", "), criu, ce.Log, ErrCheckpointSockets)
}

// ErrCheckpointSockets: CRIU failed on the container's inet sockets.
var ErrCheckpointSockets = errors.New("inet sockets cannot be checkpointed here")

// inetSockets lists the TCP and UDP sockets the processes hold, from their
// descriptors and their network namespace's /proc/net tables.
func inetSockets(pids []int) []inetSocket {
	owner := map[string]int{} // socket inode -> pid
	for _, pid := range pids {
		fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
		if err != nil {
			continue
		}
		for _, fd := range fds {
			l, err := os.Readlink(filepath.Join(fmt.Sprintf("/proc/%d/fd", pid), fd.Name()))
			if err != nil || !strings.HasPrefix(l, "socket:[") {
				continue
			}
			inode := strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")
			if _, ok := owner[inode]; !ok {
				owner[inode] = pid
			}
		}
	}
	var out []inetSocket
	for _, proto := range []string{"tcp", "tcp6", "udp", "udp6"} {
		f, err := os.Open(fmt.Sprintf("/proc/%d/net/%s", pids[0], proto))
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		sc.Scan() // header
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 10 {
				continue
			}
			pid, ok := owner[fields[9]]
			if !ok {
				continue
			}
			comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
			out = append(out, inetSocket{
				proto: strings.TrimSuffix(proto, "6"), local: hexAddr(fields[1]),
				state: socketState(proto, fields[3]), pid: pid, comm: strings.TrimSpace(string(comm)),
			})
		}
		f.Close()
	}
	return out
}

// hexAddr turns /proc/net's "0100007F:0050" into "127.0.0.1:80".
func hexAddr(s string) string {
	a, p, ok := strings.Cut(s, ":")
	if !ok {
		return s
	}
	b, err := hex.DecodeString(a)
	if err != nil {
		return s
	}
	// The address is in host order per 32-bit word (little endian here).
	for i := 0; i+4 <= len(b); i += 4 {
		b[i], b[i+1], b[i+2], b[i+3] = b[i+3], b[i+2], b[i+1], b[i]
	}
	port, err := strconv.ParseUint(p, 16, 16)
	if err != nil {
		return s
	}
	return net.JoinHostPort(net.IP(b).String(), strconv.FormatUint(port, 10))
}

func socketState(proto, st string) string {
	if strings.HasPrefix(proto, "udp") {
		return "bound"
	}
	switch st {
	case "0A":
		return "listening"
	case "01":
		return "established"
	}
	return "state " + st
}
