package container

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/ocisuite/suite/engine/network"
)

// MigrateOptions are migrate's options.
type MigrateOptions struct {
	// To is the command that runs the engine on the target: "ssh HOST
	// engine", or "engine --root DIR --runroot DIR" for a second instance
	// here. It is run by sh -c with "container restore --import -"
	// appended and reads the checkpoint archive on its standard input.
	To             string
	LeaveRunning   bool
	TCPEstablished bool
	// KeepIP gives the copy the addresses the container has here;
	// Publish replaces the ports it publishes (nil: the same ports).
	KeepIP  bool
	Publish []network.PortMapping
	// Name is the copy's name ("": the container's).
	Name string
	// Compress is the archive's compression: "none" (the default, fastest
	// on a fast link), "zstd" or "gzip".
	Compress string
	// LazyPages leaves the memory on the source and lets the target fault
	// it in (post-copy, CRIU's page server and userfaultfd).
	LazyPages bool
	// IncludeImage streams the base image too (checkpoint --include-image).
	IncludeImage bool
}

// MigrateResult is what one migration did.
type MigrateResult struct {
	// ID is the copy's ID on the target; Name the source container's.
	ID   string `json:"Id"`
	Name string `json:"name"`
	// Bytes is the archive's size on the wire.
	Bytes int64 `json:"bytes"`
	// CheckpointDuration is the dump's, TotalDuration from the start of
	// the dump until the target's restore returned, in microseconds.
	CheckpointDuration int64 `json:"checkpoint_duration"`
	TotalDuration      int64 `json:"total_duration"`
	// SourceKept: the source container was left running (LeaveRunning).
	SourceKept bool `json:"source_kept"`
}

// ErrMigrateTarget is a target command that failed.
var ErrMigrateTarget = errors.New("the migration's target failed")

// Migrate checkpoints a running container and restores it through the
// target command, streaming the checkpoint archive into the target's
// "container restore --import -" with no intermediate file. The source
// stays (checkpointed) until the target's restore succeeds, and is then
// removed unless LeaveRunning; when the target fails, the source is
// restored here.
func (e *Engine) Migrate(ctx context.Context, id string, o MigrateOptions) (*MigrateResult, error) {
	if strings.TrimSpace(o.To) == "" {
		return nil, errors.New("--to needs the command that runs the engine on the target")
	}
	if o.Compress == "" {
		o.Compress = "none"
	}
	if _, err := archiveCompression(o.Compress); err != nil {
		return nil, err
	}
	c, err := e.Lookup(id)
	if err != nil {
		return nil, err
	}
	if c.State.Status != StatusRunning {
		return nil, fmt.Errorf("container %s is %s, only running containers can be migrated: %w", c.Name, c.State.Status, ErrInvalidState)
	}
	if o.LazyPages {
		// CRIU 4.1.1's lazy page server, tried by hand through runc on
		// the development host, failed serving the first fault
		// ("page-pipe: splice: -1: Bad file descriptor", the dump
		// aborted): docs/migration.md.
		return nil, fmt.Errorf("--lazy-pages is not available yet (CRIU's lazy page server failed serving pages where it was tried, see docs/migration.md): migrate without it, %s was not touched", c.Name)
	}
	// The target must answer before anything happens here.
	if out, err := exec.CommandContext(ctx, "sh", "-c", o.To+" version").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("the target command %q fails (%s), %s was not touched", o.To, lastLine(out, err), c.Name)
	}

	target := o.To + " container restore --import -"
	if o.TCPEstablished {
		target += " --tcp-established"
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	// A larger pipe lets the dump run ahead of the target's reading.
	_, _ = unix.FcntlInt(pw.Fd(), unix.F_SETPIPE_SZ, 1<<20)
	cmd := exec.CommandContext(ctx, "sh", "-c", target)
	var stdout bytes.Buffer
	stderr := &tailBuffer{}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = pr, &stdout, stderr
	if err := cmd.Start(); err != nil {
		pr.Close()
		pw.Close()
		return nil, fmt.Errorf("starting the target command: %w", err)
	}
	pr.Close()
	waited := false
	wait := func() error {
		pw.Close()
		if waited {
			return nil
		}
		waited = true
		return cmd.Wait()
	}
	defer func() {
		if !waited {
			_ = cmd.Process.Kill()
			_ = wait()
		}
	}()

	w := &countingWriter{w: pw}
	start := time.Now()
	res, err := e.Checkpoint(ctx, c.ID, CheckpointOptions{
		LeaveRunning:   o.LeaveRunning,
		TCPEstablished: o.TCPEstablished,
		Compress:       o.Compress,
		IncludeImage:   o.IncludeImage,
		stream:         w,
		configure: func(c *Container) Config {
			cfg := c.Config
			if o.Name != "" {
				cfg.Name = o.Name
			}
			if o.Publish != nil {
				cfg.Ports = o.Publish
			}
			if o.KeepIP && c.State.Net != nil {
				opts := make(map[string]network.Options, len(cfg.NetworkOptions))
				for k, v := range cfg.NetworkOptions {
					opts[k] = v
				}
				for _, a := range c.State.Net.Attachments {
					if a.IP != "" {
						v := opts[a.Network]
						v.IP = a.IP
						opts[a.Network] = v
					}
				}
				cfg.NetworkOptions = opts
			}
			return cfg
		},
	})
	if res == nil {
		// Nothing was dumped: the container runs on, the target reads a
		// truncated archive.
		_ = cmd.Process.Kill()
		_ = wait()
		return nil, err
	}
	streamErr := err
	targetErr := wait()
	if streamErr == nil && targetErr == nil {
		r := &MigrateResult{
			ID:                 lastField(stdout.Bytes()),
			Name:               c.Name,
			Bytes:              w.n,
			CheckpointDuration: res.RuntimeDuration,
			TotalDuration:      time.Since(start).Microseconds(),
			SourceKept:         o.LeaveRunning,
		}
		if !o.LeaveRunning {
			if err := e.Remove(context.WithoutCancel(ctx), c.ID, RemoveOptions{Force: true, Volumes: true}); err != nil {
				logrus.Warnf("removing %s after its migration: %v", c.Name, err)
			}
		}
		return r, nil
	}
	// The stream's own failure is the cause; the target then only saw a
	// truncated archive.
	why := lastLine(stderr.Bytes(), targetErr)
	if streamErr != nil {
		why = streamErr.Error()
	}
	logrus.Debugf("migrating %s: stream: %v, target: %v, target's output: %s", c.Name, streamErr, targetErr, stderr.Bytes())
	if o.LeaveRunning {
		return nil, fmt.Errorf("migrating %s: %w (%s); %s still runs here", c.Name, ErrMigrateTarget, why, c.Name)
	}
	if _, rerr := e.Restore(context.WithoutCancel(ctx), c.ID, RestoreOptions{TCPEstablished: o.TCPEstablished}); rerr != nil {
		return nil, fmt.Errorf("migrating %s: %w (%s); %s stays checkpointed here and restoring it failed too (%v): engine container restore %s", c.Name, ErrMigrateTarget, why, c.Name, rerr, c.Name)
	}
	return nil, fmt.Errorf("migrating %s: %w (%s); %s runs here again", c.Name, ErrMigrateTarget, why, c.Name)
}

// lastLine is the last non-empty line of a command's output (without
// the engine's "engine: "), or err's text.
func lastLine(out []byte, err error) string {
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if l := strings.TrimSpace(lines[len(lines)-1]); l != "" {
		l = strings.TrimPrefix(l, "Error: ")
		return strings.TrimPrefix(l, "engine: ")
	}
	if err != nil {
		return err.Error()
	}
	return "no output"
}

// lastField is the last word of the output: the ID restore prints.
func lastField(out []byte) string {
	f := strings.Fields(string(out))
	if len(f) == 0 {
		return ""
	}
	return f[len(f)-1]
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// tailBuffer keeps the last 64 KiB written to it.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - 64<<10; over > 0 {
		t.buf = t.buf[over:]
	}
	return len(p), nil
}

func (t *tailBuffer) Bytes() []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	return bytes.Clone(t.buf)
}
