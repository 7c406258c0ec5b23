//go:build !thin

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
	// it in (post-copy, CRIU's page server and userfaultfd): the copy
	// runs as soon as the rest has arrived. PageServer is the address
	// (IP[:PORT]) the source's page server listens on and the target
	// connects to, "127.0.0.1" and a free port when empty.
	LazyPages  bool
	PageServer string
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
	pageServer := ""
	if o.PageServer != "" && !o.LazyPages {
		return nil, errors.New("--page-server goes with --lazy-pages")
	}
	if o.LazyPages && !e.Rootless { // rootless: the checkpoint refuses
		if o.LeaveRunning {
			return nil, errors.New("--lazy-pages moves the memory: it cannot leave the source running")
		}
		criuPath, _, err := FindCRIU()
		if err != nil {
			return nil, err
		}
		if err := lazyPagesSupport(ctx, criuPath); err != nil {
			return nil, fmt.Errorf("%w; %s was not touched", err, c.Name)
		}
		if o.PageServer == "" {
			o.PageServer = "127.0.0.1"
		}
		if pageServer, err = pageServerAddress(o.PageServer); err != nil {
			return nil, err
		}
	}
	// The target must answer before anything happens here.
	if out, err := exec.CommandContext(ctx, "sh", "-c", o.To+" version").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("the target command %q fails (%s), %s was not touched", o.To, lastLine(out, err), c.Name)
	}

	target := o.To + " container restore --import -"
	if o.TCPEstablished {
		target += " --tcp-established"
	}
	if pageServer != "" {
		target += " --lazy-pages-from " + pageServer
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
	targetDone := make(chan struct{})
	var targetErr error
	go func() {
		targetErr = cmd.Wait()
		close(targetDone)
	}()
	var closeOnce sync.Once
	closeStream := func() { closeOnce.Do(func() { pw.Close() }) }
	wait := func() error {
		closeStream()
		<-targetDone
		return targetErr
	}
	defer func() {
		select {
		case <-targetDone:
		default:
			_ = cmd.Process.Kill()
			_ = wait()
		}
	}()
	if pageServer != "" {
		// A lazy dump waits for the target's lazy-pages daemon: when the
		// target fails first (or migrate is interrupted), the dump must
		// fail too, which leaves the container running here.
		dumped := make(chan struct{})
		defer close(dumped)
		go func() {
			select {
			case <-targetDone:
				if targetErr != nil {
					abortPageServer(pageServer)
				}
			case <-ctx.Done():
				abortPageServer(pageServer)
			case <-dumped:
			}
		}()
	}

	w := &countingWriter{w: pw}
	sent := false
	start := time.Now()
	res, err := e.Checkpoint(ctx, c.ID, CheckpointOptions{
		LeaveRunning:   o.LeaveRunning,
		TCPEstablished: o.TCPEstablished,
		Compress:       o.Compress,
		IncludeImage:   o.IncludeImage,
		stream:         w,
		// The target has it all: the end of its standard input.
		streamed: func(error) {
			sent = true
			closeStream()
		},
		pageServer: pageServer,
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
		// Nothing was dumped, or a lazy dump failed: the container runs
		// on. The target read a truncated archive, or its copy lacks
		// memory and goes.
		if pageServer == "" || !sent {
			_ = cmd.Process.Kill()
			_ = wait()
			return nil, err
		}
		if terr := wait(); terr != nil {
			return nil, fmt.Errorf("migrating %s: %w (%s); %s still runs here", c.Name, ErrMigrateTarget, lastLine(stderr.Bytes(), terr), c.Name)
		}
		if id := lastField(stdout.Bytes()); id != "" {
			rm := exec.CommandContext(context.WithoutCancel(ctx), "sh", "-c", o.To+" rm -f "+id)
			if out, rerr := rm.CombinedOutput(); rerr != nil {
				logrus.Warnf("removing the copy %s on the target after the failed transfer: %s", id, lastLine(out, rerr))
			}
		}
		return nil, fmt.Errorf("migrating %s: %w; %s still runs here", c.Name, err, c.Name)
	}
	streamErr := err
	targetErr = wait()
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
