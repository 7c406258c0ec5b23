package oci

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// ErrCheckpoint is the class of checkpoint and restore failures; a
// *CRIUError carries the details.
var ErrCheckpoint = errors.New("checkpoint/restore failed")

// CRIUError is a failed runc checkpoint or restore, with the last error
// lines of CRIU's log and where the whole log is.
type CRIUError struct {
	Op      string // "checkpoint" or "restore"
	ID      string
	Message string   // what runc said
	Log     string   // path of CRIU's log (dump.log, restore.log)
	Lines   []string // CRIU's last error lines
}

func (e *CRIUError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s of %s failed", e.Op, e.ID)
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if len(e.Lines) > 0 {
		b.WriteString(": CRIU: " + strings.Join(e.Lines, " | "))
	}
	if e.Log != "" {
		b.WriteString(" (CRIU log: " + e.Log + ")")
	}
	return b.String()
}

// Unwrap lets errors.Is match ErrCheckpoint.
func (e *CRIUError) Unwrap() error { return ErrCheckpoint }

// CheckpointOptions are runc checkpoint's options.
type CheckpointOptions struct {
	ImagePath      string // CRIU's images are written here
	WorkPath       string // CRIU's log (dump.log) and work files
	LeaveRunning   bool
	TCPEstablished bool
	FileLocks      bool
	PreDump        bool   // memory only; the container keeps running
	ParentPath     string // images of a previous pre-dump, relative to ImagePath or absolute
	CRIU           string // path of criu ("" = runc's default, criu in $PATH)
	// LazyPages dumps everything but the memory, then serves the memory
	// from CRIU's page server at PageServer (ADDRESS:PORT) until a
	// restore's lazy-pages daemon has fetched it all; Checkpoint returns
	// then. Ready is called once the page server listens, the images
	// being complete.
	LazyPages  bool
	PageServer string
	Ready      func()
}

// Checkpoint dumps the container with CRIU (runc checkpoint). Unless
// LeaveRunning or PreDump, the container's processes are gone afterwards.
func (r *Runtime) Checkpoint(ctx context.Context, id string, o CheckpointOptions) error {
	if o.ImagePath == "" || o.WorkPath == "" {
		return errors.New("checkpoint: image and work paths are needed")
	}
	for _, d := range []string{o.ImagePath, o.WorkPath} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}
	var args []string
	if o.CRIU != "" {
		args = append(args, "--criu", o.CRIU)
	}
	args = append(args, "checkpoint", "--image-path", o.ImagePath, "--work-path", o.WorkPath)
	if o.LeaveRunning {
		args = append(args, "--leave-running")
	}
	if o.TCPEstablished {
		args = append(args, "--tcp-established")
	}
	if o.FileLocks {
		args = append(args, "--file-locks")
	}
	if o.PreDump {
		args = append(args, "--pre-dump")
	}
	if o.ParentPath != "" {
		args = append(args, "--parent-path", o.ParentPath)
	}
	var err error
	if o.LazyPages {
		err = r.checkpointLazy(ctx, id, o, args)
	} else {
		_, err = r.run(ctx, nil, "checkpoint", id, append(args, id)...)
	}
	if err != nil {
		return criuError("checkpoint", id, err, filepath.Join(o.WorkPath, "dump.log"))
	}
	return nil
}

// checkpointLazy runs a lazy-pages checkpoint: runc writes a byte on its
// status descriptor (fd 3) when CRIU's page server is ready.
func (r *Runtime) checkpointLazy(ctx context.Context, id string, o CheckpointOptions, args []string) error {
	if o.PageServer == "" {
		return errors.New("checkpoint: lazy pages need the page server's address")
	}
	sr, sw, err := os.Pipe()
	if err != nil {
		return err
	}
	defer sr.Close()
	args = append(args, "--lazy-pages", "--page-server", o.PageServer, "--status-fd", "3", id)
	cmd := r.command(ctx, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.ExtraFiles = []*os.File{sw}
	err = cmd.Start()
	sw.Close()
	if err != nil {
		return r.errorFor("checkpoint", id, err, "")
	}
	read := make(chan struct{})
	go func() {
		defer close(read)
		// One byte when ready; EOF when runc exits without.
		var b [1]byte
		if n, _ := sr.Read(b[:]); n == 1 && o.Ready != nil {
			o.Ready()
		}
	}()
	err = cmd.Wait()
	// A byte written just before runc exited is still read.
	_ = sr.SetReadDeadline(time.Now().Add(time.Second))
	<-read
	if err != nil {
		return r.errorFor("checkpoint", id, err, stderr.String())
	}
	return nil
}

// RestoreOptions are runc restore's options.
type RestoreOptions struct {
	ImagePath      string
	WorkPath       string // CRIU's restore.log goes here
	Bundle         string
	PidFile        string
	TCPEstablished bool
	FileLocks      bool
	// LazyPages restores without the memory, which a running criu
	// lazy-pages daemon (its socket in the work directory) fills in.
	LazyPages bool
	CRIU      string
}

// RestoreArgs are the restore options that go after "runc restore", as a
// monitor that runs runc restore itself takes them (conmon's
// --runtime-opt); image path, work path and bundle are the monitor's.
func (o RestoreOptions) RestoreArgs() []string {
	var args []string
	if o.TCPEstablished {
		args = append(args, "--tcp-established")
	}
	if o.FileLocks {
		args = append(args, "--file-locks")
	}
	if o.LazyPages {
		args = append(args, "--lazy-pages")
	}
	return args
}

// Restore restores a container from CRIU images and leaves it running
// detached (runc restore --detach). The engine's containers are restored
// under conmon instead; this is for callers without a monitor.
func (r *Runtime) Restore(ctx context.Context, id string, o RestoreOptions) error {
	var args []string
	if o.CRIU != "" {
		args = append(args, "--criu", o.CRIU)
	}
	args = append(args, "restore", "--detach", "--image-path", o.ImagePath, "--work-path", o.WorkPath, "--bundle", o.Bundle)
	if o.PidFile != "" {
		args = append(args, "--pid-file", o.PidFile)
	}
	args = append(args, o.RestoreArgs()...)
	_, err := r.run(ctx, nil, "restore", id, append(args, id)...)
	if err != nil {
		return criuError("restore", id, err, filepath.Join(o.WorkPath, "restore.log"))
	}
	return nil
}

// criuError wraps a runtime failure with CRIU's log.
func criuError(op, id string, err error, log string) error {
	ce := &CRIUError{Op: op, ID: id, Message: err.Error()}
	var re *RuntimeError
	if errors.As(err, &re) {
		ce.Message = re.Message
	}
	if lines := CRIULogErrors(log, 3); lines != nil {
		ce.Log, ce.Lines = log, lines
	} else if _, serr := os.Stat(log); serr == nil {
		ce.Log = log
	}
	return ce
}

// CRIULogErrors returns the last n error lines of a CRIU log ("Error (…)"
// lines, without CRIU's timestamp); nil if the log cannot be read.
func CRIULogErrors(path string, n int) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if !strings.Contains(l, "Error (") {
			continue
		}
		// "(00.012345) Error (criu/…): message"
		if strings.HasPrefix(l, "(") {
			if i := strings.Index(l, ") "); i > 0 {
				l = l[i+2:]
			}
		}
		out = append(out, strings.TrimSpace(l))
	}
	if len(out) > n {
		out = out[len(out)-n:]
	}
	return out
}
