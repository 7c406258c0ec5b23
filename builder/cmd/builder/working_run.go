package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/spf13/cobra"

	"github.com/ocisuite/suite/builder/container"
	"github.com/ocisuite/suite/shared/cli"
	"github.com/ocisuite/suite/shared/oci"
)

type runOptions struct {
	run        container.RunOptions
	env        []string
	volumes    []string
	mounts     []string
	addHistory bool
}

func newRunCmd(g *globalOptions) *cobra.Command {
	o := &runOptions{}
	cmd := &cobra.Command{
		Use:   "run [flags] CONTAINER [--] COMMAND [ARG...]",
		Short: "Run a command in a working container",
		Long: `Run COMMAND in the working container's root filesystem with the OCI
runtime, in the foreground, with this command's standard streams. What the
command changes in the root filesystem is kept for commit. The exit code of
the command is the exit code of run.`,
		Example: `  builder run app -- sh -c 'apk add curl'
  builder run --user app --workingdir /src app -- make`,
		Args: cli.MinArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			argv := args[1:]
			if argv[0] == "--" {
				argv = argv[1:]
			}
			if len(argv) == 0 {
				return cli.Usage(errors.New("no command given"))
			}
			return runRun(cmd, g, o, args[0], argv)
		},
	}
	f := cmd.Flags()
	f.SetInterspersed(false)
	f.BoolVarP(&o.run.Terminal, "terminal", "t", false, "allocate a pseudo-terminal for the command")
	f.StringVar(&o.run.User, "user", "", "`user[:group]` to run the command as (default: the configuration's)")
	f.StringVar(&o.run.WorkDir, "workingdir", "", "working `directory` of the command (default: the configuration's)")
	f.StringArrayVarP(&o.env, "env", "e", nil, "set `KEY=VALUE` for the command only (KEY alone: its value here)")
	f.StringVar(&o.run.Network, "network", "host", "network `mode`: host or none")
	f.StringSliceVar(&o.run.CapAdd, "cap-add", nil, "add `capability` to the command's set")
	f.StringSliceVar(&o.run.CapDrop, "cap-drop", nil, "drop `capability` from the command's set")
	f.StringArrayVarP(&o.volumes, "volume", "v", nil, "bind mount `HOST:CONTAINER[:ro|rw]` while the command runs")
	f.StringArrayVar(&o.mounts, "mount", nil, "attach a `type=bind|tmpfs,…` mount while the command runs")
	f.StringVar(&o.run.Hostname, "hostname", "", "`name` of the host inside the container")
	f.BoolVar(&o.run.NoHosts, "no-hosts", false, "leave /etc/hosts and /etc/resolv.conf as the image has them")
	f.BoolVar(&o.addHistory, "add-history", historyDefault(), "add an entry for the command to the image's history (default: $BUILDAH_HISTORY)")
	return cmd
}

// historyDefault is buildah's BUILDAH_HISTORY default of --add-history.
func historyDefault() bool {
	switch strings.ToLower(os.Getenv("BUILDAH_HISTORY")) {
	case "1", "true", "yes":
		return true
	}
	return false
}

func runRun(cmd *cobra.Command, g *globalOptions, o *runOptions, name string, argv []string) error {
	ro := o.run
	var err error
	if _, err := container.ParseNetwork(ro.Network); err != nil {
		return cli.Usage(err)
	}
	if ro.Env, err = commandEnv(o.env); err != nil {
		return cli.Usage(err)
	}
	for _, v := range o.volumes {
		m, err := parseVolume(v)
		if err != nil {
			return cli.Usage(err)
		}
		ro.Mounts = append(ro.Mounts, m)
	}
	for _, v := range o.mounts {
		m, err := parseMount(v)
		if err != nil {
			return cli.Usage(err)
		}
		ro.Mounts = append(ro.Mounts, m)
	}
	ro.Stdio = oci.IO{Stdin: cmd.InOrStdin(), Stdout: cmd.OutOrStdout(), Stderr: cmd.ErrOrStderr()}
	return withSession(cmd, g, func(ctx context.Context, s *session) error {
		c, err := s.lookup(name)
		if err != nil {
			return err
		}
		code, err := c.Run(ctx, argv, ro)
		if err != nil {
			return err
		}
		if o.addHistory {
			// Reload: the record may have changed while the command ran.
			if c, err = s.lookup(name); err != nil {
				return err
			}
			c.AddHistory("/bin/sh -c "+shellJoin(argv), "", now())
			if err := c.Save(); err != nil {
				return err
			}
		}
		if code != 0 {
			return &cli.ExitError{Code: code}
		}
		return nil
	})
}

// commandEnv checks -e values: KEY=VALUE, or KEY for this environment's
// value.
func commandEnv(values []string) ([]string, error) {
	var env []string
	for _, e := range values {
		k, _, ok := strings.Cut(e, "=")
		if k == "" {
			return nil, fmt.Errorf("invalid --env %q: no variable name", e)
		}
		if !ok {
			v, set := os.LookupEnv(k)
			if !set {
				return nil, fmt.Errorf("invalid --env %q: %s is not set here (use %s=VALUE)", e, k, k)
			}
			e = k + "=" + v
		}
		env = append(env, e)
	}
	return env, nil
}

// parseVolume parses -v HOST:CONTAINER[:OPTIONS].
func parseVolume(v string) (specs.Mount, error) {
	parts := strings.Split(v, ":")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return specs.Mount{}, fmt.Errorf("invalid --volume %q: want HOST-DIR:CONTAINER-DIR[:OPTIONS]", v)
	}
	src, err := filepath.Abs(parts[0])
	if err != nil {
		return specs.Mount{}, err
	}
	if _, err := os.Stat(src); err != nil {
		return specs.Mount{}, fmt.Errorf("invalid --volume %q: %w", v, err)
	}
	if !filepath.IsAbs(parts[1]) {
		return specs.Mount{}, fmt.Errorf("invalid --volume %q: the container path must be absolute", v)
	}
	opts := []string{"rbind", "rw"}
	if len(parts) == 3 {
		for _, o := range strings.Split(parts[2], ",") {
			switch o {
			case "ro", "rw":
				opts[1] = o
			case "z", "Z", "U", "":
				// SELinux relabelling and chown: not done here.
			case "shared", "rshared", "slave", "rslave", "private", "rprivate", "bind", "rbind", "nosuid", "nodev", "noexec", "suid", "dev", "exec":
				if o == "bind" {
					opts[0] = "bind"
				} else if o != "rbind" {
					opts = append(opts, o)
				}
			default:
				return specs.Mount{}, fmt.Errorf("invalid --volume %q: unknown option %q", v, o)
			}
		}
	}
	return specs.Mount{Destination: filepath.Clean(parts[1]), Type: "bind", Source: src, Options: opts}, nil
}

// parseMount parses --mount type=bind,source=…,destination=…[,ro] or
// type=tmpfs,destination=…[,tmpfs-size=…][,tmpfs-mode=…].
func parseMount(v string) (specs.Mount, error) {
	m := specs.Mount{}
	bad := func(why string) (specs.Mount, error) {
		return specs.Mount{}, fmt.Errorf("invalid --mount %q: %s", v, why)
	}
	typ, ro := "", false
	var extra []string
	for _, kv := range strings.Split(v, ",") {
		k, val, _ := strings.Cut(kv, "=")
		switch k {
		case "type":
			typ = val
		case "source", "src":
			m.Source = val
		case "destination", "dst", "target":
			m.Destination = val
		case "ro", "readonly":
			ro = val == "" || val == "true"
		case "rw":
			ro = val == "false"
		case "tmpfs-size":
			extra = append(extra, "size="+val)
		case "tmpfs-mode":
			extra = append(extra, "mode="+val)
		default:
			return bad(fmt.Sprintf("unknown option %q", k))
		}
	}
	if m.Destination == "" || !filepath.IsAbs(m.Destination) {
		return bad("an absolute destination is required")
	}
	rw := "rw"
	if ro {
		rw = "ro"
	}
	switch typ {
	case "bind":
		if m.Source == "" {
			return bad("a bind mount needs a source")
		}
		src, err := filepath.Abs(m.Source)
		if err != nil {
			return bad(err.Error())
		}
		if _, err := os.Stat(src); err != nil {
			return bad(err.Error())
		}
		m.Type, m.Source, m.Options = "bind", src, []string{"rbind", rw}
	case "tmpfs":
		m.Type, m.Source = "tmpfs", "tmpfs"
		m.Options = append([]string{rw, "nosuid", "nodev"}, extra...)
	default:
		return bad("type must be bind or tmpfs")
	}
	return m, nil
}

// shellJoin quotes words for a shell, as history entries show commands.
func shellJoin(words []string) string {
	out := make([]string, len(words))
	for i, w := range words {
		if w != "" && !strings.ContainsAny(w, " \t\n'\"\\$`!*?[]{}()<>|&;#~") {
			out[i] = w
			continue
		}
		out[i] = "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
	}
	return strings.Join(out, " ")
}

type unshareOptions struct {
	mounts []string
}

func newUnshareCmd(g *globalOptions) *cobra.Command {
	o := &unshareOptions{}
	cmd := &cobra.Command{
		Use:   "unshare [flags] [COMMAND [ARG...]]",
		Short: "Run a command in the user namespace of rootless storage",
		Long: `Run COMMAND (default: $SHELL, or /bin/sh) in the user and mount namespace
the builder uses for an unprivileged user, where the store's files have
their container owners and working containers can be mounted. As root the
command runs as it is. CONTAINERS_GRAPHROOT and CONTAINERS_RUNROOT name the
store; --mount [VAR=]CONTAINER mounts a working container for the command
and sets VAR (default: the container's name) to its mount point.`,
		Example: `  builder unshare
  builder unshare --mount ROOT=app sh -c 'ls "$ROOT"/etc'`,
		RunE: func(cmd *cobra.Command, args []string) error { return runUnshare(cmd, g, o, args) },
	}
	cmd.Flags().SetInterspersed(false)
	cmd.Flags().StringSliceVarP(&o.mounts, "mount", "m", nil, "mount `[VAR=]CONTAINER` and set VAR to its mount point")
	return cmd
}

func runUnshare(cmd *cobra.Command, g *globalOptions, o *unshareOptions, args []string) error {
	if len(args) == 0 {
		shell := os.Getenv("SHELL")
		if shell == "" {
			shell = "/bin/sh"
		}
		args = []string{shell}
	}
	return withSession(cmd, g, func(ctx context.Context, s *session) error {
		env := append(os.Environ(), "CONTAINERS_GRAPHROOT="+s.store.GraphRoot(), "CONTAINERS_RUNROOT="+s.store.RunRoot())
		for _, spec := range o.mounts {
			name, variable := spec, spec
			if k, v, ok := strings.Cut(spec, "="); ok {
				variable, name = k, v
			}
			if variable == "" || name == "" {
				return cli.Usage(fmt.Errorf("invalid --mount %q: want [VAR=]CONTAINER", spec))
			}
			c, err := s.lookup(name)
			if err != nil {
				return err
			}
			p, err := c.Mount()
			if err != nil {
				return err
			}
			defer func() { _ = c.Unmount(false) }()
			env = append(env, variable+"="+p)
		}
		c := exec.Command(args[0], args[1:]...)
		c.Env = env
		c.Stdin, c.Stdout, c.Stderr = cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr()
		err := c.Run()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code := ee.ExitCode()
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				code = 128 + int(ws.Signal())
			}
			return &cli.ExitError{Code: code}
		}
		if err != nil {
			return fmt.Errorf("running %s: %w", args[0], err)
		}
		return nil
	})
}
