package build

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/ocisuite/suite/builder/container"
	"github.com/ocisuite/suite/shared/oci"
)

// run executes RUN in a working container.
func (st *stage) run(ctx context.Context, c *instructions.RunCommand) error {
	b := st.b
	network := b.o.Network
	switch n := instructions.GetNetwork(c); n {
	case "", "default":
	case "none", "host":
		network = n
	default:
		return fmt.Errorf("RUN --network=%s is not supported: use default, none or host", n)
	}
	args, files, err := st.runArgs(c)
	if err != nil {
		return err
	}
	runEnv := st.sc.runEnv(st.cfg.Config.Env, b.o.BuildArgs)
	mounts := instructions.GetMounts(c)
	mountKey, err := st.mountsKey(mounts)
	if err != nil {
		return err
	}
	createdBy := strings.Join(args, " ")
	if len(runEnv) > 0 {
		env := append([]string(nil), runEnv...)
		sort.Strings(env)
		createdBy = fmt.Sprintf("|%d %s %s", len(env), strings.Join(env, " "), createdBy)
	}
	key := cacheKey("", "RUN", jsonString(args), jsonString(files), jsonString(runEnv), mountKey, network,
		jsonString(b.o.Volumes), jsonString(b.o.CapAdd), jsonString(b.o.CapDrop))
	return st.fsStep(ctx, key, createdBy, func(ctx context.Context, ctr *container.Container, rootfs string) error {
		tmp, err := os.MkdirTemp("", "builder-run-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		var ms []specs.Mount
		for _, f := range files {
			p, err := writeTemp(tmp, "pipes/"+f.name, f.data, 0o755)
			if err != nil {
				return err
			}
			ms = append(ms, specs.Mount{Destination: path.Join("/dev/pipes", f.name), Type: "bind", Source: p, Options: []string{"rbind", "ro"}})
		}
		vols, err := volumeMounts(b.o.Volumes)
		if err != nil {
			return err
		}
		ms = append(ms, vols...)
		rm, cleanup, err := st.runMounts(ctx, mounts, tmp)
		defer cleanup()
		if err != nil {
			return err
		}
		ms = append(ms, rm...)
		secretEnv, err := st.secretEnv(mounts)
		if err != nil {
			return err
		}
		var out io.Writer = b.o.Out
		var buf bytes.Buffer
		if b.o.Quiet {
			out = &buf
		}
		w := &lockedWriter{b: b, w: out}
		code, err := ctr.Run(ctx, args, container.RunOptions{
			Env:       append(runEnv, secretEnv...),
			Network:   network,
			CapAdd:    b.o.CapAdd,
			CapDrop:   b.o.CapDrop,
			Mounts:    ms,
			Stdio:     oci.IO{Stdout: w, Stderr: w},
			Isolation: b.o.Isolation,
		})
		if err != nil {
			return err
		}
		if code != 0 {
			if b.o.Quiet {
				os.Stderr.Write(buf.Bytes())
			}
			return &RunError{Code: code}
		}
		return nil
	})
}

// lockedWriter serialises writes of parallel stages.
type lockedWriter struct {
	b *builder
	w io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.b.mu.Lock()
	defer l.b.mu.Unlock()
	return l.w.Write(p)
}

type inlineFile struct {
	name, data string
}

// runArgs is RUN's argv and the here-documents it needs as files, as
// BuildKit handles them: a single here-document is the script (run with
// the shell, or as a program when it starts with #!); others are passed to
// the shell in full.
func (st *stage) runArgs(c *instructions.RunCommand) ([]string, []inlineFile, error) {
	if len(c.Files) == 0 {
		args := st.commandLine(c.ShellDependantCmdLine)
		if len(args) == 0 {
			return nil, nil, fmt.Errorf("RUN needs a command")
		}
		return args, nil, nil
	}
	if len(c.CmdLine) != 1 || !c.PrependShell {
		return nil, nil, fmt.Errorf("invalid RUN with here-documents: %v", c.CmdLine)
	}
	if h := parser.MustParseHeredoc(c.CmdLine[0]); h != nil {
		f := c.Files[0]
		data := f.Data
		if f.Chomp {
			data = parser.ChompHeredocContent(data)
		}
		if strings.HasPrefix(data, "#!") {
			return []string{path.Join("/dev/pipes", f.Name)}, []inlineFile{{name: f.Name, data: data}}, nil
		}
		return append(append([]string(nil), st.shell()...), data), nil, nil
	}
	full := c.CmdLine[0]
	for _, f := range c.Files {
		full += "\n" + f.Data + f.Name
	}
	return append(append([]string(nil), st.shell()...), full), nil, nil
}

// volumeMounts turns -v HOST:CTR[:OPTS] into bind mounts.
func volumeMounts(vols []string) ([]specs.Mount, error) {
	var out []specs.Mount
	for _, v := range vols {
		parts := strings.Split(v, ":")
		if len(parts) < 2 || len(parts) > 3 || !path.IsAbs(parts[1]) {
			return nil, fmt.Errorf("invalid volume %q: want HOST-DIR:CONTAINER-DIR[:OPTIONS]", v)
		}
		if _, err := os.Stat(parts[0]); err != nil {
			return nil, fmt.Errorf("volume %q: %w", v, err)
		}
		opts := []string{"rbind"}
		if len(parts) == 3 {
			for _, o := range strings.Split(parts[2], ",") {
				switch o {
				case "ro", "rw":
					opts = append(opts, o)
				case "z", "Z", "U", "":
				default:
					return nil, fmt.Errorf("invalid volume %q: unknown option %q", v, o)
				}
			}
		}
		out = append(out, specs.Mount{Destination: parts[1], Type: "bind", Source: parts[0], Options: opts})
	}
	return out, nil
}

// RunError is a RUN step whose command exited with a non-zero status;
// builder build and engine build exit with that status, as buildah and
// podman do.
type RunError struct{ Code int }

func (e *RunError) Error() string { return fmt.Sprintf("command exited with status %d", e.Code) }

// ExitCode is the command's status.
func (e *RunError) ExitCode() int { return e.Code }
