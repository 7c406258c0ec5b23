package container

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/containers/storage/pkg/stringid"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"

	"github.com/ocisuite/suite/shared/oci"
)

// Exit codes podman gives when the command itself cannot run.
const (
	ExitCannotInvoke = 126
	ExitNotFound     = 127
)

// ExecOptions are exec's options.
type ExecOptions struct {
	Args        []string
	Env         []string
	User        string
	WorkDir     string
	Terminal    bool
	Interactive bool
	Detach      bool
	Privileged  bool
}

// ExecError is an exec whose command could not be run; Code is 126 or 127.
type ExecError struct {
	Code int
	Err  error
}

func (e *ExecError) Error() string { return e.Err.Error() }
func (e *ExecError) Unwrap() error { return e.Err }

// Exec runs a process in a running container with the runtime, in the
// foreground (the CLI is its parent) unless Detach, and returns its exit
// code. stdio are the caller's streams.
func (e *Engine) Exec(ctx context.Context, id string, o ExecOptions, stdio [3]*os.File) (int, error) {
	c, err := e.Lookup(id)
	if err != nil {
		return -1, err
	}
	if c.State.Status != StatusRunning {
		return -1, fmt.Errorf("can only exec in a running container: %w", errNotRunning(c))
	}
	bundle, err := e.bundle(c.ID)
	if err != nil {
		return -1, err
	}
	b, err := os.ReadFile(filepath.Join(bundle, "config.json"))
	if err != nil {
		return -1, fmt.Errorf("reading the spec of %s: %w", c.Name, err)
	}
	var spec specs.Spec
	if err := json.Unmarshal(b, &spec); err != nil {
		return -1, err
	}
	proc := *spec.Process
	proc.Args = o.Args
	proc.Terminal = o.Terminal
	proc.ConsoleSize = nil
	proc.Env = mergeEnv(proc.Env, o.Env)
	if o.WorkDir != "" {
		proc.Cwd = o.WorkDir
	}
	if o.User != "" {
		u, err := oci.ResolveUser(spec.Root.Path, o.User)
		if err != nil {
			return -1, err
		}
		proc.User = specs.User{UID: uint32(u.Uid), GID: uint32(u.Gid)}
		for _, g := range u.Sgids {
			proc.User.AdditionalGids = append(proc.User.AdditionalGids, uint32(g))
		}
	}
	if o.Privileged {
		all := oci.AllCapabilities()
		proc.Capabilities = &specs.LinuxCapabilities{Bounding: all, Effective: all, Permitted: all}
	}
	if len(proc.Args) > 0 && strings.Contains(proc.Args[0], "/") {
		// runc would fail with a message of its own: say it like podman.
		p := proc.Args[0]
		if !filepath.IsAbs(p) {
			p = filepath.Join(proc.Cwd, p)
		}
		full, err := secureJoin(spec.Root.Path, p)
		st, serr := os.Stat(full)
		switch {
		case err != nil || serr != nil:
			return -1, &ExecError{Code: ExitNotFound, Err: fmt.Errorf("%s: no such file or directory", proc.Args[0])}
		case st.IsDir() || st.Mode()&0o111 == 0:
			return -1, &ExecError{Code: ExitCannotInvoke, Err: fmt.Errorf("%s: permission denied", proc.Args[0])}
		}
	}
	if len(proc.Args) > 0 && !strings.Contains(proc.Args[0], "/") {
		// runc would fail with a message of its own: say it like podman.
		if _, err := lookPathIn(spec.Root.Path, proc.Args[0], proc.Env); err != nil {
			return -1, &ExecError{Code: ExitNotFound, Err: fmt.Errorf("%s: executable file not found in $PATH: no such file or directory", proc.Args[0])}
		}
	}
	pb, err := json.Marshal(proc)
	if err != nil {
		return -1, err
	}
	pfile := filepath.Join(bundle, "exec-"+stringid.GenerateRandomID()[:12]+".json")
	if err := os.WriteFile(pfile, pb, 0o600); err != nil {
		return -1, err
	}
	defer os.Remove(pfile)
	args := append(e.Runtime.GlobalArgs(), "exec", "--process", pfile)
	if o.Detach {
		args = append(args, "--detach")
	}
	if o.Terminal {
		args = append(args, "--tty")
	}
	args = append(args, c.ID)
	logrus.Debugf("exec: %s %s", e.Runtime.Path, strings.Join(args, " "))
	cmd := exec.CommandContext(context.WithoutCancel(ctx), e.Runtime.Path, args...)
	if o.Interactive || o.Terminal {
		cmd.Stdin = stdio[0]
	}
	if !o.Detach {
		cmd.Stdout, cmd.Stderr = stdio[1], stdio[2]
	} else {
		// A detached process inherits runc's stdio: a file, not a pipe
		// that Run would wait on for as long as the process lives.
		errFile, err := os.CreateTemp(bundle, "exec-stderr-")
		if err != nil {
			return -1, err
		}
		defer os.Remove(errFile.Name())
		defer errFile.Close()
		cmd.Stderr = errFile
	}
	err = cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		e.event(c, "exec")
		return 0, nil
	case errors.As(err, &ee):
		return ee.ExitCode(), nil
	default:
		return -1, &ExecError{Code: ExitCannotInvoke, Err: fmt.Errorf("exec in %s: %w", c.Name, err)}
	}
}

// lookPathIn finds name on the container's PATH inside rootfs.
func lookPathIn(rootfs, name string, env []string) (string, error) {
	path := "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	if i := slices.IndexFunc(env, func(s string) bool { return strings.HasPrefix(s, "PATH=") }); i >= 0 {
		path = strings.TrimPrefix(env[i], "PATH=")
	}
	for _, dir := range filepath.SplitList(path) {
		p := filepath.Join(dir, name)
		full, err := secureJoin(rootfs, p)
		if err != nil {
			continue
		}
		if st, err := os.Stat(full); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", os.ErrNotExist
}
