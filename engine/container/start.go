package container

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"

	"github.com/ocisuite/suite/engine/monitor"
	"github.com/ocisuite/suite/engine/network"
	"github.com/ocisuite/suite/shared/oci"
)

// InitPath is where --init's init binary appears in the container.
const InitPath = "/run/engine-init"

// Init creates the container in the runtime under its monitor, without
// starting it. size is the terminal's size for a container with a TTY
// (nil: 24×80).
func (e *Engine) Init(ctx context.Context, id string, size *specs.Box) (*Container, error) {
	c, unlock, err := e.acquireOp(ctx, id, "init")
	if err != nil {
		return nil, err
	}
	defer unlock()
	if err := e.init(ctx, c, size); err != nil {
		return nil, err
	}
	return c, nil
}

// init does Init's work under the container's operation marker.
func (e *Engine) init(ctx context.Context, c *Container, size *specs.Box) error {
	switch c.State.Status {
	case StatusConfigured, StatusExited:
	case StatusCreated:
		return nil
	default:
		return fmt.Errorf("container %s is %s, cannot initialize it: %w", c.Name, c.State.Status, ErrInvalidState)
	}
	// Leftovers of a previous run (the exit file, the runtime's record).
	if e.Runtime.Known(c.ID) {
		_ = e.Runtime.Delete(ctx, c.ID, true)
	}
	os.Remove(filepath.Join(e.exitDir(), c.ID))

	bundle, err := e.bundle(c.ID)
	if err != nil {
		return err
	}
	// A rootful bridge container's namespace is made first, and netavark
	// configures it while the root filesystem is mounted and conmon and
	// runc create the container in it; the container's process starts
	// only after both (applyNetwork).
	ok := false
	pending, err := e.prepareNetwork(ctx, c)
	if err != nil {
		return err
	}
	defer func() {
		if !ok {
			if pending != nil {
				pending.Abort()
				c.State.Net = nil
			}
			e.teardownNetwork(ctx, c)
		}
	}()
	held, err := holdPorts(c)
	if err != nil {
		return err
	}
	defer func() {
		for _, f := range held {
			f.Close()
		}
	}()
	// conmon starts now and loads while the root filesystem is mounted
	// and the spec written; it runs the runtime only once told to (Go).
	// A previous run's spec must never reach it.
	if err := os.Remove(filepath.Join(bundle, "config.json")); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("removing the old spec of %s: %w", c.Name, err)
	}
	mo := e.monitorOptions(c, bundle, held)
	mon := e.takeLaunched(c.ID, mo)
	if mon == nil {
		if mon, err = monitor.Launch(mo, [3]*os.File{os.Stdin, os.Stdout, os.Stderr}); err != nil {
			return fmt.Errorf("creating container %s: %w", c.Name, err)
		}
	}
	defer mon.Abort() // nothing once told to go
	mountpoint, err := e.Store.Mount(c.ID, "")
	if err != nil {
		return fmt.Errorf("mounting the root filesystem of %s: %w", c.Name, err)
	}
	defer func() {
		if !ok {
			hideRootfs(c.ID)
			if _, err := e.Store.Unmount(c.ID, true); err != nil {
				logrus.Warnf("unmounting %s: %v", c.ID, err)
			}
		}
	}()
	c.State.Mountpoint = mountpoint
	if pending == nil {
		if err := e.setupNetwork(ctx, c); err != nil {
			return err
		}
	}
	rootfs := mountpoint
	if len(c.UIDMap) > 0 {
		if rootfs, err = exposeRootfs(c.ID, mountpoint); err != nil {
			return err
		}
	}
	spec, err := e.buildSpec(c, rootfs, bundle)
	if err != nil {
		return err
	}
	if c.Terminal && size != nil {
		spec.Process.ConsoleSize = size
	}
	if err := oci.WriteBundle(bundle, spec); err != nil {
		return fmt.Errorf("writing the bundle of %s: %w", c.Name, err)
	}
	type netResult struct {
		st  *network.Status
		err error
	}
	applied := make(chan netResult, 1)
	if pending != nil {
		p := pending
		pending = nil // from here Apply owns it: it cleans up after itself
		go func() {
			st, err := p.Apply(ctx)
			applied <- netResult{st, err}
		}()
	} else {
		applied <- netResult{c.State.Net, nil}
	}
	started, err := mon.Go(ctx)
	net := <-applied
	c.State.Net = net.st
	if netErr := net.err; netErr != nil {
		if err == nil {
			// Created in a namespace netavark could not configure: the
			// container goes, before its process ever ran.
			_ = e.Runtime.Delete(context.WithoutCancel(ctx), c.ID, true)
		}
		return fmt.Errorf("setting up the network of %s: %w", c.Name, netErr)
	}
	if err != nil {
		return fmt.Errorf("creating container %s: %w", c.Name, err)
	}
	if c.Network == "bridge" && !e.Rootless {
		// /etc/hosts and resolv.conf again, with what netavark made (the
		// bind mounts show the files rewritten in place).
		if _, err := writeEtcFiles(c, bundle, spec.Hostname); err != nil {
			_ = e.Runtime.Delete(context.WithoutCancel(ctx), c.ID, true)
			return err
		}
	}
	ok = true
	c.State = State{
		Status:       StatusCreated,
		Pid:          started.Pid,
		ConmonPid:    started.ConmonPid,
		BootID:       bootID(),
		Mountpoint:   mountpoint,
		RestartCount: c.State.RestartCount,
		Health:       c.State.Health,
		Net:          c.State.Net,
	}
	return e.writeState(c.ID, c.State)
}

// Start starts a container, creating it in the runtime first if needed.
func (e *Engine) Start(ctx context.Context, id string) (*Container, error) {
	c, unlock, err := e.acquireOp(ctx, id, "start")
	if err != nil {
		return nil, err
	}
	defer unlock()
	if c.Running() {
		return c, nil // podman: starting a running container is a no-op
	}
	if c.State.Status == StatusExited {
		e.finish(ctx, c) // fold in a pending cleanup
	}
	c.State.StoppedByUser = false
	if err := e.init(ctx, c, nil); err != nil {
		return nil, err
	}
	if err := e.start(ctx, c); err != nil {
		return nil, err
	}
	return c, nil
}

// start runs the runtime's start on a created container (operation marker
// held). Its record of the running container ends the operation: callers
// release the marker after it, with nothing left to write.
func (e *Engine) start(ctx context.Context, c *Container) error {
	if err := e.Runtime.Start(ctx, c.ID); err != nil {
		e.finish(ctx, c)
		return fmt.Errorf("starting container %s: %w", c.Name, err)
	}
	c.State.Status = StatusRunning
	c.State.StartedAt = time.Now().UTC()
	c.State.FinishedAt = time.Time{}
	c.State.ExitCode = 0
	if c.HealthEnabled() {
		c.State.Health = &Health{Status: HealthStarting}
	}
	if err := e.writeReleased(c.ID, c.State); err != nil {
		return err
	}
	e.event(c, "start")
	e.startHealthTimer(c)
	return nil
}

// buildSpec turns the record into a runtime spec rooted at mountpoint.
func (e *Engine) buildSpec(c *Container, mountpoint, bundle string) (*specs.Spec, error) {
	args := append(slices.Clone(c.Entrypoint), c.Command...)
	if len(args) == 0 {
		return nil, fmt.Errorf("container %s has no command", c.Name)
	}
	execUser, err := oci.ResolveUser(mountpoint, c.User)
	if err != nil {
		return nil, err
	}
	if c.Init {
		args = append([]string{InitPath, "--"}, args...)
	}
	hostname := c.Hostname
	if hostname == "" {
		hostname = c.ID[:12]
	}
	s := oci.Spec{
		Rootfs:          mountpoint,
		ReadOnly:        c.ReadOnly,
		Args:            args,
		Env:             withHome(c.Env, execUser.Home),
		Cwd:             c.WorkDir,
		UID:             uint32(execUser.Uid),
		GID:             uint32(execUser.Gid),
		Terminal:        c.Terminal,
		Hostname:        hostname,
		Privileged:      c.Security.Privileged,
		Caps:            e.Settings.DefaultCapabilities,
		CapAdd:          c.Security.CapAdd,
		CapDrop:         c.Security.CapDrop,
		NoNewPrivileges: c.Security.NoNewPrivileges,
		Mask:            c.Security.Mask,
		Unmask:          c.Security.Unmask,
		Rlimits:         c.Rlimits,
		Network:         oci.NetworkMode(c.Network),
		UIDMappings:     c.UIDMap,
		GIDMappings:     c.GIDMap,
		Resources:       c.Resources,
		Annotations:     c.Annotations,
		ShmSize:         c.ShmSize,
	}
	for _, g := range execUser.Sgids {
		s.AdditionalGids = append(s.AdditionalGids, uint32(g))
	}
	s.Rootless = e.Rootless
	if c.Network == "bridge" || isSlirp(c.Network) {
		if c.State.Net == nil {
			return nil, fmt.Errorf("container %s has no network namespace set up", c.Name)
		}
		s.Network, s.NetNSPath = "", c.State.Net.NetNS
	}
	if strings.HasPrefix(c.Network, "container:") {
		p, _, err := e.joinedNetNS(c)
		if err != nil {
			return nil, err
		}
		s.Network, s.NetNSPath = "", p
	}
	if !e.Rootless {
		s.CgroupsPath = cgroupParent + "/" + c.ID
	}
	mounts, err := e.specMounts(c, bundle, hostname, s.UID, s.GID)
	if err != nil {
		return nil, err
	}
	s.Mounts = mounts
	spec, err := oci.Generate(s)
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", c.Name, err)
	}
	switch {
	case c.Security.Privileged || c.Security.Seccomp == "unconfined":
	case c.Security.Seccomp != "":
		if spec.Linux.Seccomp, err = oci.LoadSeccomp(c.Security.Seccomp); err != nil {
			return nil, err
		}
	default:
		spec.Linux.Seccomp = oci.DefaultSeccomp(spec.Process.Capabilities.Bounding)
	}
	if c.Terminal {
		spec.Process.ConsoleSize = &specs.Box{Height: 24, Width: 80}
	}
	return spec, nil
}

func withHome(env []string, home string) []string {
	if home == "" || slices.ContainsFunc(env, func(s string) bool { return strings.HasPrefix(s, "HOME=") }) {
		return env
	}
	return append(slices.Clone(env), "HOME="+home)
}

// specMounts are the container's own mounts: /etc/hosts, /etc/hostname,
// /etc/resolv.conf, volumes, binds and tmpfs, and --init's binary.
func (e *Engine) specMounts(c *Container, bundle, hostname string, uid, gid uint32) ([]specs.Mount, error) {
	var out []specs.Mount
	files, err := writeEtcFiles(c, bundle, hostname)
	if err != nil {
		return nil, err
	}
	if strings.HasPrefix(c.Network, "container:") {
		if err := e.shareEtcFiles(c, files); err != nil {
			return nil, err
		}
	}
	for dest, src := range files {
		if slices.ContainsFunc(c.Mounts, func(m Mount) bool { return m.Destination == dest }) {
			continue
		}
		out = append(out, specs.Mount{Destination: dest, Type: "bind", Source: src, Options: []string{"rbind", "rprivate", "nosuid", "noexec", "nodev"}})
	}
	for _, m := range c.Mounts {
		switch m.Type {
		case "bind":
			if _, err := os.Stat(m.Source); err != nil {
				return nil, fmt.Errorf("bind mount source %s: %w", m.Source, err)
			}
			opts := []string{"rbind", "rprivate"}
			if m.ReadOnly {
				opts = append(opts, "ro")
			}
			opts = append(opts, userMountOptions(m)...)
			if slices.Contains(m.Options, "U") {
				// :U gives the source to the container's user, as seen
				// from outside any user namespace of the container.
				if err := chownTree(m.Source, hostID(c.UIDMap, uid), hostID(c.GIDMap, gid)); err != nil {
					return nil, fmt.Errorf("--volume %s:%s:U: %w", m.Source, m.Destination, err)
				}
			}
			out = append(out, specs.Mount{Destination: m.Destination, Type: "bind", Source: m.Source, Options: opts})
		case "tmpfs":
			opts := []string{"rw", "rprivate", "nosuid", "nodev"}
			if m.ReadOnly {
				opts = append(opts, "ro")
			}
			opts = append(opts, m.Options...)
			out = append(out, specs.Mount{Destination: m.Destination, Type: "tmpfs", Source: "tmpfs", Options: opts})
		case "volume":
			dir, err := e.volumeDir(c, m)
			if err != nil {
				return nil, err
			}
			opts := []string{"rbind", "rprivate"}
			if m.ReadOnly {
				opts = append(opts, "ro")
			}
			out = append(out, specs.Mount{Destination: m.Destination, Type: "bind", Source: dir, Options: opts})
		default:
			return nil, fmt.Errorf("unsupported mount type %q", m.Type)
		}
	}
	if c.Init {
		initBin := c.InitPath
		if initBin == "" {
			initBin = "/usr/bin/catatonit"
		}
		if _, err := os.Stat(initBin); err != nil {
			return nil, fmt.Errorf("--init needs %s (install the catatonit package): %w", initBin, err)
		}
		out = append(out, specs.Mount{Destination: InitPath, Type: "bind", Source: initBin, Options: []string{"bind", "ro", "nosuid", "nodev"}})
	}
	return out, nil
}

// writeEtcFiles writes the per-container /etc/hosts, /etc/hostname and
// /etc/resolv.conf into the bundle.
func writeEtcFiles(c *Container, bundle, hostname string) (map[string]string, error) {
	hosts := "127.0.0.1\tlocalhost localhost.localdomain\n::1\tlocalhost localhost.localdomain\n"
	if c.Network == "host" {
		if b, err := os.ReadFile("/etc/hosts"); err == nil {
			hosts = string(b)
		}
	}
	hosts += etcHostsEntries(c, hostname)
	resolv := ""
	if b, err := os.ReadFile("/etc/resolv.conf"); err == nil {
		resolv = string(b)
	}
	resolv = resolvConf(c, resolv)
	files := map[string]string{
		"/etc/hosts":       hosts,
		"/etc/hostname":    hostname + "\n",
		"/etc/resolv.conf": resolv,
	}
	if c.NoHosts {
		delete(files, "/etc/hosts") // --no-hosts: the image's
	}
	out := map[string]string{}
	for dest, content := range files {
		p := filepath.Join(bundle, filepath.Base(dest))
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			return nil, fmt.Errorf("writing %s: %w", p, err)
		}
		out[dest] = p
	}
	return out, nil
}

// errNotRunning wraps ErrInvalidState for a container that must run.
func errNotRunning(c *Container) error {
	return fmt.Errorf("container %s is not running (state %s): %w", c.Name, c.State.Status, ErrInvalidState)
}

// userMountOptions are a bind mount's options as the spec takes them:
// the user's, without the engine's own U (chown the source).
func userMountOptions(m Mount) []string {
	return slices.DeleteFunc(slices.Clone(m.Options), func(o string) bool { return o == "U" })
}

func secureJoin(root, p string) (string, error) { return securejoin.SecureJoin(root, p) }

// hostID maps a container ID through a user namespace mapping (none: the
// same ID).
func hostID(m []specs.LinuxIDMapping, id uint32) int {
	for _, x := range m {
		if id >= x.ContainerID && id < x.ContainerID+x.Size {
			return int(x.HostID + id - x.ContainerID)
		}
	}
	if len(m) == 0 {
		return int(id)
	}
	return 65534 // unmapped: the overflow ID
}

// chownTree changes the owner of everything under dir, links themselves
// included, never following them.
func chownTree(dir string, uid, gid int) error {
	return filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
}

// monitorOptions are conmon's options for c: the runtime, the bundle, the
// log, the streams and the exit command; held are the published ports'
// sockets conmon keeps.
func (e *Engine) monitorOptions(c *Container, bundle string, held []*os.File) monitor.Options {
	logLevel := "error"
	if e.LogLevel == "debug" {
		logLevel = "debug"
	}
	var exitCmd []string
	if len(e.ExitCommand) > 0 {
		exitCmd = append(slices.Clone(e.ExitCommand), "container", "cleanup", c.ID)
	}
	return monitor.Options{
		Conmon:      e.Conmon,
		Runtime:     e.Runtime.Path,
		RuntimeArgs: e.Runtime.GlobalArgs(),
		ID:          c.ID,
		Name:        c.Name,
		Bundle:      bundle,
		ExitDir:     e.exitDir(),
		SocketDir:   e.socketDir(),
		LogDriver:   c.LogDriver,
		LogPath:     c.LogPath,
		LogLevel:    logLevel,
		NoSyncLog:   c.AutoRemove,
		Terminal:    c.Terminal,
		Stdin:       c.Stdin,
		ExitCommand: exitCmd,
		ExtraFiles:  held,
		Cgroup:      e.monitorCgroup(),
	}
}

// monitorCgroup is the cgroup conmon is moved into: "conmon" beside the
// containers' cgroups, as podman's "/libpod_parent/conmon". None when
// rootless: a user may not move processes between cgroups it does not own.
func (e *Engine) monitorCgroup() string {
	if e.Rootless {
		return ""
	}
	return cgroupParent + "/conmon"
}
