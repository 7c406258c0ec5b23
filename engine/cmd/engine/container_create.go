package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	units "github.com/docker/go-units"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/ocisuite/suite/engine/container"
	"github.com/ocisuite/suite/shared/cli"
	"github.com/ocisuite/suite/shared/imagestore"
	"github.com/ocisuite/suite/shared/oci"
	"github.com/ocisuite/suite/shared/userns"
)

// createFlags are the options create and run share (podman's names).
type createFlags struct {
	name, entrypoint, workdir, user, hostname, network string
	env, envFile, labels, annotations, volumes, mounts []string
	tmpfs, capAdd, capDrop, securityOpt, ulimits       []string
	envHost, readOnly, readOnlyTmpfs, init, privileged bool
	tty, interactive, replace, rm                      bool
	memory, memorySwap, cpus, cpusetCpus, pull, tz     string
	cpuShares                                          uint64
	pidsLimit                                          int64
	stopSignal, restart, logDriver, initPath, shmSize  string
	stopTimeout                                        uint
	userns                                             string
	net                                                netFlags
	uidmap, gidmap                                     []string
	health                                             *healthFlags
	fs                                                 *pflag.FlagSet
}

func addCreateFlags(fs *pflag.FlagSet) *createFlags {
	f := &createFlags{fs: fs}
	fs.SetInterspersed(false)
	fs.Bool("help", false, "help for this command") // -h is --hostname, as in podman
	fs.StringVar(&f.name, "name", "", "assign a `name` to the container")
	fs.StringVar(&f.entrypoint, "entrypoint", "", "overwrite the image's entrypoint (a `command` or JSON array)")
	fs.StringVarP(&f.workdir, "workdir", "w", "", "working `directory` inside the container")
	fs.StringVarP(&f.user, "user", "u", "", "`user[:group]` to run as (names or numeric IDs)")
	fs.StringVarP(&f.hostname, "hostname", "h", "", "container host `name`")
	fs.StringVar(&f.network, "network", "", "network `mode`: bridge, none, host, slirp4netns[:allow_host_loopback=true,port_handler=slirp4netns,mtu=N] or network NAME[,NAME] (default: bridge when rootful, slirp4netns when rootless)")
	f.net.add(fs)
	fs.StringArrayVarP(&f.env, "env", "e", nil, "set environment `variable` (NAME=VALUE, or NAME to take the host's)")
	fs.StringArrayVar(&f.envFile, "env-file", nil, "read environment variables from `file`")
	fs.BoolVar(&f.envHost, "env-host", false, "use all the host's environment variables")
	fs.StringArrayVarP(&f.labels, "label", "l", nil, "set metadata `label` (KEY=VALUE)")
	fs.StringArrayVar(&f.annotations, "annotation", nil, "add an `annotation` (KEY=VALUE) to the OCI spec")
	fs.StringArrayVarP(&f.volumes, "volume", "v", nil, "bind mount or volume `SRC:DEST[:OPTS]`")
	fs.StringArrayVar(&f.mounts, "mount", nil, "attach a filesystem `mount` (type=bind|volume|tmpfs,source=,destination=,ro)")
	fs.StringArrayVar(&f.tmpfs, "tmpfs", nil, "mount a tmpfs at `DEST[:OPTS]`")
	fs.BoolVar(&f.readOnly, "read-only", false, "mount the root filesystem read-only")
	fs.BoolVar(&f.readOnlyTmpfs, "read-only-tmpfs", true, "with --read-only, mount tmpfs on /run, /tmp and /var/tmp")
	fs.BoolVar(&f.init, "init", false, "run an init (catatonit) as PID 1 that reaps zombies and forwards signals")
	fs.StringVar(&f.initPath, "init-path", "", "`path` of the init binary (default /usr/bin/catatonit)")
	fs.StringArrayVar(&f.capAdd, "cap-add", nil, "add a Linux `capability`")
	fs.StringArrayVar(&f.capDrop, "cap-drop", nil, "drop a Linux `capability`")
	fs.BoolVar(&f.privileged, "privileged", false, "give the container every capability and device, no seccomp, no masked paths")
	fs.StringArrayVar(&f.securityOpt, "security-opt", nil, "security `option`: no-new-privileges, seccomp=unconfined|PROFILE, mask=PATHS, unmask=PATHS|ALL")
	fs.StringArrayVar(&f.ulimits, "ulimit", nil, "`name=soft[:hard]` resource limit (default: the caller's limits)")
	fs.StringVarP(&f.memory, "memory", "m", "", "memory `limit` (e.g. 64m)")
	fs.StringVar(&f.memorySwap, "memory-swap", "", "memory plus swap `limit` (-1 for unlimited swap)")
	fs.StringVar(&f.cpus, "cpus", "", "`number` of CPUs")
	fs.Uint64Var(&f.cpuShares, "cpu-shares", 0, "CPU `shares` (relative weight)")
	fs.StringVar(&f.cpusetCpus, "cpuset-cpus", "", "`CPUs` in which to allow execution (0-3, 0,1)")
	fs.Int64Var(&f.pidsLimit, "pids-limit", 0, "tune the container's pids `limit` (-1 for unlimited; default containers.conf's)")
	fs.StringVar(&f.shmSize, "shm-size", "", "`size` of /dev/shm (default 64m)")
	fs.StringVar(&f.stopSignal, "stop-signal", "", "`signal` to stop the container (default SIGTERM)")
	fs.UintVar(&f.stopTimeout, "stop-timeout", 10, "`seconds` to wait after the stop signal before SIGKILL")
	fs.StringVar(&f.restart, "restart", "", "restart `policy`: no, on-failure[:N], always, unless-stopped")
	fs.StringVar(&f.logDriver, "log-driver", "", "log `driver`: k8s-file, none or passthrough")
	fs.StringVar(&f.pull, "pull", "missing", "pull `policy`: always, missing, never, newer")
	fs.StringVar(&f.tz, "tz", "", "container time`zone` (e.g. Europe/Paris, or local)")
	fs.BoolVarP(&f.tty, "tty", "t", false, "allocate a pseudo-TTY")
	fs.BoolVarP(&f.interactive, "interactive", "i", false, "keep stdin open")
	fs.StringVar(&f.userns, "userns", "", "user `namespace`: host, keep-id[:uid=N,gid=N], nomap, auto[:size=N]")
	fs.StringArrayVar(&f.uidmap, "uidmap", nil, "map container UIDs: `CONTAINER:HOST:SIZE` (repeatable)")
	fs.StringArrayVar(&f.gidmap, "gidmap", nil, "map container GIDs: `CONTAINER:HOST:SIZE` (repeatable)")
	fs.BoolVar(&f.replace, "replace", false, "replace an existing container of the same name")
	fs.BoolVar(&f.rm, "rm", false, "remove the container when it exits")
	f.health = addHealthFlags(fs)
	return f
}

// options turns the flags into the engine's create options.
func (f *createFlags) options(imageName string, args []string) (container.CreateOptions, error) {
	var o container.CreateOptions
	c := &o.Config
	c.Image = imageName
	c.Name = f.name
	c.Command = args
	if f.fs.Changed("entrypoint") {
		ep, err := parseCommandValue(f.entrypoint)
		if err != nil {
			return o, fmt.Errorf("--entrypoint: %w", err)
		}
		c.Entrypoint = ep
		if len(ep) == 0 {
			c.Entrypoint = []string{""}
		}
	}
	c.WorkDir = f.workdir
	if c.WorkDir != "" && !filepath.IsAbs(c.WorkDir) {
		return o, fmt.Errorf("--workdir %q: must be an absolute path", c.WorkDir)
	}
	c.User = f.user
	c.Hostname = f.hostname
	if err := f.networkOptions(c); err != nil {
		return o, err
	}
	env, err := f.environment()
	if err != nil {
		return o, err
	}
	c.Env = env
	if c.Labels, err = keyValues("--label", f.labels); err != nil {
		return o, err
	}
	if c.Annotations, err = keyValues("--annotation", f.annotations); err != nil {
		return o, err
	}
	if c.Mounts, err = parseMounts(f.volumes, f.mounts, f.tmpfs); err != nil {
		return o, err
	}
	c.ReadOnly = f.readOnly
	if f.readOnly && f.readOnlyTmpfs {
		for _, d := range []string{"/tmp", "/var/tmp", "/run"} {
			if !hasMount(c.Mounts, d) {
				c.Mounts = append(c.Mounts, container.Mount{Type: "tmpfs", Destination: d, Options: []string{"rw", "noexec", "nosuid", "nodev"}})
			}
		}
	}
	c.Init = f.init
	c.InitPath = f.initPath
	c.Terminal = f.tty
	c.Stdin = f.interactive
	c.Security = container.Security{Privileged: f.privileged}
	for _, cp := range f.capAdd {
		if _, err := oci.NormalizeCap(cp); err != nil {
			return o, fmt.Errorf("--cap-add: %w", err)
		}
	}
	for _, cp := range f.capDrop {
		if _, err := oci.NormalizeCap(cp); err != nil {
			return o, fmt.Errorf("--cap-drop: %w", err)
		}
	}
	c.Security.CapAdd, c.Security.CapDrop = f.capAdd, f.capDrop
	for _, so := range f.securityOpt {
		k, v, _ := strings.Cut(so, "=")
		if k == "no-new-privileges" && !strings.Contains(so, "=") {
			c.Security.NoNewPrivileges = true
			continue
		}
		if !strings.Contains(so, "=") {
			k, v, _ = strings.Cut(so, ":")
		}
		switch k {
		case "no-new-privileges":
			c.Security.NoNewPrivileges = v == "" || v == "true"
		case "seccomp":
			if v != "unconfined" {
				if _, err := oci.LoadSeccomp(v); err != nil {
					return o, fmt.Errorf("--security-opt %s: %w", so, err)
				}
			}
			c.Security.Seccomp = v
		case "mask":
			c.Security.Mask = append(c.Security.Mask, strings.Split(v, ":")...)
		case "unmask":
			c.Security.Unmask = append(c.Security.Unmask, strings.Split(v, ":")...)
		case "label", "apparmor":
			// No SELinux or AppArmor on this host: accepted and ignored as podman does without them.
		default:
			return o, fmt.Errorf("invalid --security-opt %q", so)
		}
	}
	for _, u := range f.ulimits {
		rl, err := oci.ParseUlimit(u)
		if err != nil {
			return o, fmt.Errorf("--ulimit: %w", err)
		}
		if rl != nil {
			c.Rlimits = append(c.Rlimits, *rl)
		}
	}
	if c.Resources, err = f.resources(); err != nil {
		return o, err
	}
	if f.shmSize != "" {
		n, err := units.RAMInBytes(f.shmSize)
		if err != nil || n <= 0 {
			return o, fmt.Errorf("invalid --shm-size %q", f.shmSize)
		}
		c.ShmSize = n
	}
	if f.stopSignal != "" {
		sig, err := container.ParseSignal(f.stopSignal)
		if err != nil {
			return o, fmt.Errorf("--stop-signal: %w", err)
		}
		c.StopSignal = int(sig)
	}
	c.StopTimeout = f.stopTimeout
	if c.Restart, err = parseRestart(f.restart); err != nil {
		return o, err
	}
	if f.rm && c.Restart.Name != "no" {
		return o, errors.New("the --rm option conflicts with --restart")
	}
	c.AutoRemove = f.rm
	switch f.logDriver {
	case "", "k8s-file", "none", "passthrough":
		c.LogDriver = f.logDriver
	case "json-file":
		c.LogDriver = "k8s-file"
	default:
		return o, fmt.Errorf("--log-driver %q: want k8s-file, none or passthrough", f.logDriver)
	}
	if c.LogDriver == "passthrough" && f.tty {
		return o, errors.New("--log-driver passthrough cannot be used with --tty")
	}
	if f.tz != "" {
		if err := addTZ(&o.Config, f.tz); err != nil {
			return o, err
		}
	}
	if c.Health, err = f.health.healthcheck(); err != nil {
		return o, err
	}
	if _, err := userns.ParseMode(f.userns); err != nil {
		return o, err
	}
	c.UserNS = f.userns
	if c.UIDMap, err = userns.ParseMappings(f.uidmap); err != nil {
		return o, fmt.Errorf("--uidmap: %w", err)
	}
	if c.GIDMap, err = userns.ParseMappings(f.gidmap); err != nil {
		return o, fmt.Errorf("--gidmap: %w", err)
	}
	o.Replace = f.replace
	return o, nil
}

func hasMount(ms []container.Mount, dest string) bool {
	for _, m := range ms {
		if m.Destination == dest {
			return true
		}
	}
	return false
}

// parseCommandValue reads a JSON array or a plain command word.
func parseCommandValue(s string) ([]string, error) {
	if strings.HasPrefix(strings.TrimSpace(s), "[") {
		var out []string
		if err := jsonUnmarshal([]byte(s), &out); err != nil {
			return nil, fmt.Errorf("invalid JSON array %q: %w", s, err)
		}
		return out, nil
	}
	if s == "" {
		return nil, nil
	}
	return []string{s}, nil
}

func (f *createFlags) environment() ([]string, error) {
	var env []string
	if f.envHost {
		env = append(env, os.Environ()...)
	}
	for _, file := range f.envFile {
		fh, err := os.Open(file)
		if err != nil {
			return nil, fmt.Errorf("--env-file: %w", err)
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			env = append(env, expandEnv(line)...)
		}
		fh.Close()
	}
	for _, e := range f.env {
		if strings.HasPrefix(e, "=") || e == "" {
			return nil, fmt.Errorf("invalid --env %q: no variable name", e)
		}
		env = append(env, expandEnv(e)...)
	}
	return env, nil
}

// expandEnv takes NAME from the host; NAME* takes every host variable
// with that prefix, as podman does.
func expandEnv(e string) []string {
	if strings.Contains(e, "=") {
		return []string{e}
	}
	if prefix, ok := strings.CutSuffix(e, "*"); ok {
		var out []string
		for _, kv := range os.Environ() {
			if strings.HasPrefix(kv, prefix) {
				out = append(out, kv)
			}
		}
		return out
	}
	if v, ok := os.LookupEnv(e); ok {
		return []string{e + "=" + v}
	}
	return nil
}

func keyValues(flag string, kvs []string) (map[string]string, error) {
	if len(kvs) == 0 {
		return nil, nil
	}
	out := map[string]string{}
	for _, kv := range kvs {
		k, v, _ := strings.Cut(kv, "=")
		if k == "" {
			return nil, fmt.Errorf("invalid %s %q: want KEY=VALUE", flag, kv)
		}
		out[k] = v
	}
	return out, nil
}

// parseMounts reads -v, --mount and --tmpfs.
func parseMounts(volumes, mounts, tmpfs []string) ([]container.Mount, error) {
	var out []container.Mount
	for _, v := range volumes {
		parts := strings.Split(v, ":")
		var m container.Mount
		switch len(parts) {
		case 1:
			m = container.Mount{Type: "volume", Destination: parts[0]}
		case 2, 3:
			m = container.Mount{Source: parts[0], Destination: parts[1]}
			if len(parts) == 3 {
				for _, opt := range strings.Split(parts[2], ",") {
					switch opt {
					case "ro":
						m.ReadOnly = true
					case "rw", "z", "Z", "":
					case "U":
						m.Options = append(m.Options, "U")
					case "rshared", "shared", "rslave", "slave", "rprivate", "private", "nosuid", "suid", "nodev", "dev", "noexec", "exec":
						m.Options = append(m.Options, opt)
					default:
						return nil, fmt.Errorf("invalid --volume option %q in %q", opt, v)
					}
				}
			}
			if strings.HasPrefix(m.Source, "/") || strings.HasPrefix(m.Source, ".") {
				m.Type = "bind"
				abs, err := filepath.Abs(m.Source)
				if err != nil {
					return nil, err
				}
				if _, err := os.Stat(abs); err != nil {
					return nil, fmt.Errorf("--volume %s: the host path %s does not exist", v, abs)
				}
				m.Source = abs
			} else {
				m.Type = "volume"
				m.Volume = m.Source
				m.Source = ""
			}
		default:
			return nil, fmt.Errorf("invalid --volume %q: want SRC:DEST[:OPTS]", v)
		}
		if !filepath.IsAbs(m.Destination) {
			return nil, fmt.Errorf("invalid --volume %q: the container path must be absolute", v)
		}
		m.Destination = filepath.Clean(m.Destination)
		out = append(out, m)
	}
	for _, s := range mounts {
		m := container.Mount{Type: "volume"}
		for _, kv := range strings.Split(s, ",") {
			k, v, _ := strings.Cut(kv, "=")
			switch k {
			case "type":
				m.Type = v
			case "source", "src":
				m.Source = v
			case "destination", "dst", "target":
				m.Destination = v
			case "ro", "readonly":
				m.ReadOnly = v == "" || v == "true"
			case "tmpfs-size":
				m.Options = append(m.Options, "size="+v)
			case "tmpfs-mode":
				m.Options = append(m.Options, "mode="+v)
			case "bind-propagation":
				m.Options = append(m.Options, v)
			default:
				return nil, fmt.Errorf("invalid --mount option %q in %q", k, s)
			}
		}
		if m.Destination == "" || !filepath.IsAbs(m.Destination) {
			return nil, fmt.Errorf("invalid --mount %q: an absolute destination is required", s)
		}
		switch m.Type {
		case "bind":
			if _, err := os.Stat(m.Source); err != nil {
				return nil, fmt.Errorf("--mount %s: the host path %q does not exist", s, m.Source)
			}
		case "volume":
			m.Volume, m.Source = m.Source, ""
		case "tmpfs":
		default:
			return nil, fmt.Errorf("invalid --mount type %q: want bind, volume or tmpfs", m.Type)
		}
		out = append(out, m)
	}
	for _, t := range tmpfs {
		dest, opts, _ := strings.Cut(t, ":")
		if !filepath.IsAbs(dest) {
			return nil, fmt.Errorf("invalid --tmpfs %q: the path must be absolute", t)
		}
		m := container.Mount{Type: "tmpfs", Destination: filepath.Clean(dest)}
		if opts != "" {
			m.Options = strings.Split(opts, ",")
		}
		out = append(out, m)
	}
	return out, nil
}

func (f *createFlags) resources() (*specs.LinuxResources, error) {
	r := &specs.LinuxResources{}
	set := false
	if f.memory != "" {
		n, err := units.RAMInBytes(f.memory)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("invalid --memory %q", f.memory)
		}
		r.Memory = &specs.LinuxMemory{Limit: &n}
		set = true
	}
	if f.memorySwap != "" {
		var n int64 = -1
		if f.memorySwap != "-1" {
			var err error
			if n, err = units.RAMInBytes(f.memorySwap); err != nil {
				return nil, fmt.Errorf("invalid --memory-swap %q", f.memorySwap)
			}
		}
		if r.Memory == nil || r.Memory.Limit == nil {
			return nil, errors.New("--memory-swap needs --memory")
		}
		if n != -1 && n < *r.Memory.Limit {
			return nil, errors.New("--memory-swap must be at least --memory")
		}
		r.Memory.Swap = &n
	} else if r.Memory != nil {
		swap := 2 * *r.Memory.Limit // podman's default
		r.Memory.Swap = &swap
	}
	if f.cpus != "" {
		cpus, err := strconv.ParseFloat(f.cpus, 64)
		if err != nil || cpus <= 0 {
			return nil, fmt.Errorf("invalid --cpus %q", f.cpus)
		}
		period := uint64(100000)
		quota := int64(cpus * float64(period))
		r.CPU = &specs.LinuxCPU{Period: &period, Quota: &quota}
		set = true
	}
	if f.cpuShares > 0 {
		if r.CPU == nil {
			r.CPU = &specs.LinuxCPU{}
		}
		shares := f.cpuShares
		r.CPU.Shares = &shares
		set = true
	}
	if f.cpusetCpus != "" {
		if r.CPU == nil {
			r.CPU = &specs.LinuxCPU{}
		}
		r.CPU.Cpus = f.cpusetCpus
		set = true
	}
	limit := f.pidsLimit
	if !f.fs.Changed("pids-limit") && !userns.Rootless() {
		limit = 2048 // rootless containers on cgroup v1 have no pids cgroup
	}
	if limit > 0 {
		r.Pids = &specs.LinuxPids{Limit: limit}
		set = true
	}
	if !set {
		return nil, nil
	}
	return r, nil
}

func parseRestart(s string) (container.RestartPolicy, error) {
	name, n, hasN := strings.Cut(s, ":")
	switch name {
	case "", "no":
		return container.RestartPolicy{Name: "no"}, nil
	case "always", "unless-stopped":
		if hasN {
			return container.RestartPolicy{}, fmt.Errorf("invalid --restart %q: only on-failure takes a retry count", s)
		}
		return container.RestartPolicy{Name: name}, nil
	case "on-failure":
		p := container.RestartPolicy{Name: name}
		if hasN {
			v, err := strconv.Atoi(n)
			if err != nil || v < 0 {
				return p, fmt.Errorf("invalid --restart %q: the retry count must be a number ≥ 0", s)
			}
			p.MaxRetries = v
		}
		return p, nil
	}
	return container.RestartPolicy{}, fmt.Errorf("invalid --restart %q: want no, on-failure[:N], always or unless-stopped", s)
}

// addTZ bind-mounts the zone file as /etc/localtime.
func addTZ(c *container.Config, tz string) error {
	src := "/etc/localtime"
	if tz != "local" {
		src = filepath.Join("/usr/share/zoneinfo", tz)
	}
	if _, err := os.Stat(src); err != nil {
		return fmt.Errorf("--tz %q: unknown time zone (%s missing)", tz, src)
	}
	real, err := filepath.EvalSymlinks(src)
	if err != nil {
		return err
	}
	c.TZ = tz
	c.Mounts = append(c.Mounts, container.Mount{Type: "bind", Source: real, Destination: "/etc/localtime", ReadOnly: true})
	if tz != "local" {
		c.Env = append(c.Env, "TZ="+tz)
	}
	return nil
}

func newCreateCmd(g *globalOptions) *cobra.Command {
	var f *createFlags
	cmd := &cobra.Command{
		Use:   "create [flags] IMAGE [COMMAND [ARG...]]",
		Short: "Create a container without starting it",
		Args:  cli.MinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withSession(cmd, g, func(ctx context.Context, s *session) error {
				c, err := createContainer(ctx, cmd, g, s, f, args, false, false)
				if err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), c.ID)
				return nil
			})
		},
	}
	f = addCreateFlags(cmd.Flags())
	return cmd
}

func createContainer(ctx context.Context, cmd *cobra.Command, g *globalOptions, s *session, f *createFlags, args []string, quiet, starts bool) (*container.Container, error) {
	o, err := f.options(args[0], args[1:])
	if err != nil {
		return nil, cli.Usage(err)
	}
	o.StartMonitor = starts
	policy, err := imagestore.ParsePullPolicy(f.pull)
	if err != nil {
		return nil, cli.Usage(fmt.Errorf("--pull: %w", err))
	}
	o.ResolveImage = imageResolver(g, s.store, policy, quiet, cmd)
	c, err := s.engine.Create(ctx, o)
	if err != nil {
		return nil, orHandOver(err)
	}
	return c, nil
}

func newRunCmd(g *globalOptions) *cobra.Command {
	var f *createFlags
	var detach, sigProxy bool
	var detachKeys string
	cmd := &cobra.Command{
		Use:   "run [flags] IMAGE [COMMAND [ARG...]]",
		Short: "Run a command in a new container",
		Args:  cli.MinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			keys, err := container.ParseDetachKeys(detachKeys)
			if err != nil {
				return cli.Usage(err)
			}
			if f.rm && !f.replace {
				disposableWrites()
			}
			return withSession(cmd, g, func(ctx context.Context, s *session) error {
				c, err := createContainer(ctx, cmd, g, s, f, args, false, true)
				if err != nil {
					return err
				}
				if detach {
					if _, err := s.engine.Start(ctx, c.ID); err != nil {
						s.engine.Remove(context.WithoutCancel(ctx), c.ID, container.RemoveOptions{Force: true, Volumes: true})
						return startError(err)
					}
					fmt.Fprintln(cmd.OutOrStdout(), c.ID)
					return nil
				}
				// This process cleans up when the container exits, at once,
				// instead of conmon's exit command (which does it when this
				// process is gone); a restart policy is left to the latter.
				cleans := f.rm || c.Restart.Name == "" || c.Restart.Name == "no"
				release := func() {}
				if cleans {
					release = s.engine.TakeCleanup(c.ID)
				}
				defer release()
				code, err := runAttached(ctx, cmd, s, c, keys, sigProxy, true)
				if errors.Is(err, container.ErrDetached) {
					return nil // the container goes on; --rm applies when it exits
				}
				switch {
				case f.rm:
					if rerr := s.engine.Remove(context.WithoutCancel(ctx), c.ID, container.RemoveOptions{Force: true, Volumes: true}); rerr != nil && !errors.Is(rerr, container.ErrNoSuchContainer) {
						fmt.Fprintf(cmd.ErrOrStderr(), "removing container %s: %v\n", c.Name, rerr)
					}
				case cleans && err == nil:
					if cerr := s.engine.Cleanup(context.WithoutCancel(ctx), c.ID); cerr != nil && !errors.Is(cerr, container.ErrNoSuchContainer) {
						logrus.Warnf("cleaning up container %s: %v", c.Name, cerr)
					}
				}
				if err != nil {
					return startError(err)
				}
				if code != 0 {
					return &cli.ExitError{Code: code}
				}
				return nil
			})
		},
	}
	f = addCreateFlags(cmd.Flags())
	cmd.Flags().BoolVarP(&detach, "detach", "d", false, "run the container in the background and print its ID")
	cmd.Flags().BoolVar(&sigProxy, "sig-proxy", true, "proxy received signals to the container's process")
	cmd.Flags().StringVar(&detachKeys, "detach-keys", "ctrl-p,ctrl-q", "key `sequence` for detaching")
	return cmd
}

// startError gives the exit code podman gives when the command cannot run.
func startError(err error) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "executable file not found") || strings.Contains(msg, "no such file or directory") && strings.Contains(msg, "exec"):
		return cli.WithExitCode(container.ExitNotFound, err)
	case strings.Contains(msg, "permission denied") && strings.Contains(msg, "exec"):
		return cli.WithExitCode(container.ExitCannotInvoke, err)
	}
	return err
}

// runAttached starts (or attaches to) c with the terminal's streams,
// proxying signals and the terminal size, and returns its exit code.
func runAttached(ctx context.Context, cmd *cobra.Command, s *session, c *container.Container, keys []byte, sigProxy, start bool) (int, error) {
	streams := container.Streams{Stdout: cmd.OutOrStdout(), Stderr: cmd.ErrOrStderr(), DetachKeys: keys}
	if c.Stdin {
		streams.Stdin = os.Stdin
	}
	if !c.Terminal {
		streams.DetachKeys = nil
	}
	if c.Terminal && term.IsTerminal(int(os.Stdin.Fd())) {
		if w, h, err := term.GetSize(int(os.Stdin.Fd())); err == nil {
			streams.Size = &specs.Box{Height: uint(h), Width: uint(w)}
		}
		state, err := term.MakeRaw(int(os.Stdin.Fd()))
		if err == nil {
			defer term.Restore(int(os.Stdin.Fd()), state)
		}
		go func() {
			resize := func() {
				if w, h, err := term.GetSize(int(os.Stdin.Fd())); err == nil {
					s.engine.Resize(c, uint16(h), uint16(w))
				}
			}
			time.Sleep(50 * time.Millisecond)
			resize()
			ch := make(chan os.Signal, 1)
			signal.Notify(ch, syscall.SIGWINCH)
			for range ch {
				resize()
			}
		}()
	}
	// The CLI's own context is cancelled on SIGINT/SIGTERM; while attached,
	// those go to the container instead (--sig-proxy).
	runCtx := context.WithoutCancel(ctx)
	if sigProxy {
		ch := make(chan os.Signal, 4)
		signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2)
		defer signal.Stop(ch)
		go func() {
			for sig := range ch {
				s.engine.Kill(runCtx, c.ID, sig.(syscall.Signal))
			}
		}()
	}
	if start {
		return s.engine.StartAttached(runCtx, c.ID, streams)
	}
	return s.engine.Attach(runCtx, c.ID, streams)
}
