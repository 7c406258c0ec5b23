package container

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/ocisuite/suite/engine/monitor"
)

// ErrDetached is returned when the user typed the detach keys.
var ErrDetached = errors.New("detached from container")

// Streams are the user's side of an attached container.
type Streams struct {
	Stdin          io.Reader // nil: no input
	Stdout, Stderr io.Writer
	// DetachKeys end the attachment when typed (default ctrl-p,ctrl-q).
	DetachKeys []byte
	// Size is the user's terminal size, for a container with a TTY.
	Size *specs.Box
}

// conmon's attach socket tags each packet with the stream it came from.
const (
	pipeStdout = 2
	pipeStderr = 3
)

func (e *Engine) dialAttach(c *Container) (*net.UnixConn, error) {
	path := monitor.AttachSocket(e.socketDir(), c.ID)
	conn, err := net.DialUnix("unixpacket", nil, &net.UnixAddr{Name: path, Net: "unixpacket"})
	if err != nil {
		return nil, fmt.Errorf("attaching to %s: %w", c.Name, err)
	}
	return conn, nil
}

// attach copies between the socket and the streams until the container's
// output ends (or the detach keys are typed).
func attach(conn *net.UnixConn, s Streams) error {
	outDone := make(chan error, 1)
	go func() {
		buf := make([]byte, 8193)
		for {
			n, err := conn.Read(buf)
			if n > 0 {
				w := s.Stdout
				if buf[0] == pipeStderr && s.Stderr != nil {
					w = s.Stderr
				}
				if w != nil && (buf[0] == pipeStdout || buf[0] == pipeStderr) {
					if _, werr := w.Write(buf[1:n]); werr != nil {
						outDone <- werr
						return
					}
				}
			}
			if err != nil {
				if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
					err = nil
				}
				outDone <- err
				return
			}
			if n == 0 {
				outDone <- nil
				return
			}
		}
	}()
	inDone := make(chan error, 1)
	if s.Stdin != nil {
		go func() {
			inDone <- copyInput(conn, s.Stdin, s.DetachKeys)
		}()
	}
	select {
	case err := <-outDone:
		return err
	case err := <-inDone:
		if errors.Is(err, ErrDetached) {
			return err
		}
		// Input ended: the container sees EOF; its output goes on.
		conn.CloseWrite()
		return <-outDone
	}
}

// copyInput sends the user's input, watching for the detach keys.
func copyInput(w io.Writer, r io.Reader, keys []byte) error {
	buf := make([]byte, 4096)
	matched := 0
	for {
		n, err := r.Read(buf)
		if n > 0 {
			data := buf[:n]
			if len(keys) > 0 {
				for i, b := range data {
					if b == keys[matched] {
						matched++
						if matched == len(keys) {
							if i+1-len(keys) > 0 {
								w.Write(data[:i+1-len(keys)])
							}
							return ErrDetached
						}
					} else {
						matched = 0
					}
				}
			}
			if _, werr := w.Write(data); werr != nil {
				return werr
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

// ParseDetachKeys turns "ctrl-p,ctrl-q" into bytes; "" disables detaching.
func ParseDetachKeys(s string) ([]byte, error) {
	if s == "" {
		return nil, nil
	}
	var out []byte
	for _, k := range strings.Split(s, ",") {
		switch {
		case len(k) == 1:
			out = append(out, k[0])
		case strings.HasPrefix(k, "ctrl-") && len(k) == 6:
			ch := k[5]
			switch {
			case ch >= 'a' && ch <= 'z':
				out = append(out, ch-'a'+1)
			case ch == '@':
				out = append(out, 0)
			case ch == '[':
				out = append(out, 27)
			case ch == '\\':
				out = append(out, 28)
			case ch == ']':
				out = append(out, 29)
			case ch == '^':
				out = append(out, 30)
			case ch == '_':
				out = append(out, 31)
			default:
				return nil, fmt.Errorf("invalid detach key %q", k)
			}
		default:
			return nil, fmt.Errorf("invalid detach key %q", k)
		}
	}
	return out, nil
}

// StartAttached starts a configured or created container with the streams
// attached from its first byte of output, and returns its exit code once it
// ends (ErrDetached if the user detached).
func (e *Engine) StartAttached(ctx context.Context, id string, s Streams) (int, error) {
	// One operation marker for init, the attach connection and start; it
	// is given up before waiting for the exit, so that stop and kill act.
	c, release, err := e.acquireOp(ctx, id, "start")
	if err != nil {
		return -1, err
	}
	if c.State.Status == StatusExited {
		e.finish(ctx, c) // fold in a pending cleanup
	}
	c.State.StoppedByUser = false
	if err := e.init(ctx, c, s.Size); err != nil {
		release()
		return -1, err
	}
	var conn *net.UnixConn
	if c.LogDriver != "passthrough" {
		// conmon handed the caller's own stdio to a passthrough container:
		// it has no attach socket, only the exit to wait for.
		if conn, err = e.dialAttach(c); err != nil {
			release()
			return -1, err
		}
	}
	err = e.start(ctx, c)
	release()
	if err != nil {
		if conn != nil {
			conn.Close()
		}
		return -1, err
	}
	if conn == nil {
		return e.waitExited(ctx, c)
	}
	defer conn.Close()
	if !c.Stdin {
		s.Stdin = nil
	}
	return e.finishAttach(ctx, c, conn, s)
}

// Attach attaches the streams to a running container.
func (e *Engine) Attach(ctx context.Context, id string, s Streams) (int, error) {
	c, err := e.Lookup(id)
	if err != nil {
		return -1, err
	}
	if !c.Running() {
		return -1, fmt.Errorf("you can only attach to running containers: %w", errNotRunning(c))
	}
	conn, err := e.dialAttach(c)
	if err != nil {
		return -1, err
	}
	defer conn.Close()
	if !c.Stdin {
		s.Stdin = nil
	}
	return e.finishAttach(ctx, c, conn, s)
}

func (e *Engine) finishAttach(ctx context.Context, c *Container, conn *net.UnixConn, s Streams) (int, error) {
	if err := attach(conn, s); err != nil {
		return -1, err
	}
	return e.waitExited(ctx, c)
}

// waitExited waits for the container's exit and returns its exit code:
// conmon's exit file, or the record, once another command has recorded
// the exit.
//
// The files are looked at again after short, growing pauses, and at once
// when conmon exits (a pidfd). No inotify watch: closing an inotify
// instance waits for the kernel's fsnotify mark reaper (an SRCU grace
// period), which took up to 20 ms here, and that close would fall on the
// path of every foreground run.
func (e *Engine) waitExited(ctx context.Context, c *Container) (int, error) {
	pidfd := -1
	if c.State.ConmonPid > 0 {
		if fd, err := unix.PidfdOpen(c.State.ConmonPid, 0); err == nil {
			pidfd = fd
		}
	}
	defer func() {
		if pidfd >= 0 {
			unix.Close(pidfd)
		}
	}()
	// The record is looked at only when no exit file came for a while:
	// another command may have consumed it (a restart).
	looked := time.Now()
	pause := 250 * time.Microsecond
	for {
		if code, _, ok := monitor.ExitCode(e.exitDir(), c.ID); ok {
			return code, nil
		}
		if time.Since(looked) >= 100*time.Millisecond {
			cur, err := e.Lookup(c.ID)
			if err != nil {
				return -1, err
			}
			if cur.State.Status == StatusExited {
				return cur.State.ExitCode, nil
			}
			looked = time.Now()
		}
		if err := ctx.Err(); err != nil {
			return -1, err
		}
		if pidfd < 0 {
			time.Sleep(pause)
		} else if n, err := unix.Ppoll([]unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}, &unix.Timespec{Nsec: pause.Nanoseconds()}, nil); err == nil && n > 0 {
			// conmon is gone: its files are all written; one more look,
			// then the record.
			unix.Close(pidfd)
			pidfd = -1
			looked = time.Time{}
			continue
		}
		pause = min(pause*2, 100*time.Millisecond)
	}
}

// Resize sets the container's terminal size through conmon.
func (e *Engine) Resize(c *Container, height, width uint16) error {
	bundle, err := e.bundle(c.ID)
	if err != nil {
		return err
	}
	// The control FIFO takes "TYPE HEIGHT WIDTH", type 1 being a resize.
	f, err := os.OpenFile(monitor.CtlFile(bundle), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return fmt.Errorf("resizing the terminal of %s: %w", c.Name, err)
	}
	defer f.Close()
	_, err = fmt.Fprintf(f, "1 %d %d\n", height, width)
	return err
}
