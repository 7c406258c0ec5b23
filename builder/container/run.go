package container

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"

	"github.com/ocisuite/suite/shared/oci"
)

// DefaultPath is the PATH a command gets when the image sets none.
const DefaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Network modes of RUN.
const (
	NetworkHost = "host"
	NetworkNone = "none"
)

// RunOptions control Run.
type RunOptions struct {
	// Env is added to (and overrides) the configuration's environment.
	Env []string
	// User and WorkDir override the configuration's ("" keeps them).
	User, WorkDir string
	// Network is host (default) or none.
	Network string
	// CapAdd and CapDrop adjust the default capabilities.
	CapAdd, CapDrop []string
	// Mounts are extra mounts (build-time volumes, RUN --mount).
	Mounts []specs.Mount
	// Stdio of the process; nil streams are /dev/null.
	Stdio oci.IO
	// Terminal gives the process a terminal (buildah run -t).
	Terminal bool
	// Hostname; "" is the container's short ID.
	Hostname string
	// NoHosts leaves /etc/hosts and /etc/resolv.conf as the image has them.
	NoHosts bool
	// Isolation is IsolationOCI (default) or IsolationChroot.
	Isolation string
}

// ParseNetwork checks a --network value for RUN.
func ParseNetwork(n string) (string, error) {
	switch n {
	case "", "host", "default":
		return NetworkHost, nil
	case "none":
		return NetworkNone, nil
	}
	return "", fmt.Errorf("invalid network %q: the builder runs RUN with host or none", n)
}

// Run runs args in the container in the foreground with runc (no monitor)
// and returns the exit code. The runtime's container is removed when the
// process ends, also on failure or cancellation; mount points that had to
// be created for the run are removed again, so they are not committed.
func (c *Container) Run(ctx context.Context, args []string, o RunOptions) (int, error) {
	if len(args) == 0 {
		return -1, errors.New("no command given")
	}
	network, err := ParseNetwork(o.Network)
	if err != nil {
		return -1, err
	}
	isolation, err := ParseIsolation(o.Isolation)
	if err != nil {
		return -1, err
	}
	rootfs, err := c.Mount()
	if err != nil {
		return -1, err
	}
	defer func() {
		if err := c.Unmount(false); err != nil {
			logrus.Warn(err)
		}
	}()
	user := o.User
	if user == "" {
		user = c.Config.Config.User
	}
	execUser, err := oci.ResolveUser(rootfs, user)
	if err != nil {
		return -1, err
	}
	cwd := o.WorkDir
	if cwd == "" {
		cwd = c.Config.Config.WorkingDir
	}
	if cwd == "" {
		cwd = "/"
	}
	if err := c.EnsureDir(rootfs, cwd, execUser.Uid, execUser.Gid); err != nil {
		return -1, err
	}
	bundle, err := os.MkdirTemp(c.m.Runtime.Root, "bundle-")
	if err != nil {
		return -1, err
	}
	defer os.RemoveAll(bundle)

	env := mergeEnv(c.Config.Config.Env, o.Env)
	if !slices.ContainsFunc(env, func(e string) bool { return strings.HasPrefix(e, "PATH=") }) {
		env = append([]string{DefaultPath}, env...)
	}
	if !slices.ContainsFunc(env, func(e string) bool { return strings.HasPrefix(e, "HOME=") }) {
		home := execUser.Home
		if home == "" {
			home = "/"
		}
		env = append(env, "HOME="+home)
	}
	hostname := o.Hostname
	if hostname == "" {
		hostname = c.ID[:12]
	}
	s := oci.Spec{
		Rootfs:   rootfs,
		Args:     args,
		Env:      env,
		Cwd:      cwd,
		UID:      uint32(execUser.Uid),
		GID:      uint32(execUser.Gid),
		Terminal: o.Terminal,
		Hostname: hostname,
		Caps:     c.m.Settings.DefaultCapabilities,
		CapAdd:   o.CapAdd,
		CapDrop:  o.CapDrop,
		Network:  oci.NetworkMode(network),
		Rootless: c.m.Rootless,
	}
	for _, g := range execUser.Sgids {
		s.AdditionalGids = append(s.AdditionalGids, uint32(g))
	}
	if !o.NoHosts {
		etc, err := etcFiles(bundle, rootfs, hostname, network)
		if err != nil {
			return -1, err
		}
		s.Mounts = append(s.Mounts, etc...)
	}
	s.Mounts = append(s.Mounts, o.Mounts...)
	spec, err := oci.Generate(s)
	if err != nil {
		return -1, err
	}
	spec.Linux.Seccomp = oci.DefaultSeccomp(spec.Process.Capabilities.Bounding)
	if o.Terminal {
		spec.Process.ConsoleSize = &specs.Box{Height: 24, Width: 80}
	}
	created, err := createMountPoints(rootfs, spec.Mounts)
	defer removeCreated(created)
	if err != nil {
		return -1, err
	}
	if err := oci.WriteBundle(bundle, spec); err != nil {
		return -1, err
	}
	if isolation == IsolationChroot {
		logrus.Debugf("builder: running %q in %s (chroot)", args, c.Name)
		return chrootRun(ctx, spec, o.Stdio)
	}
	id := "builder-" + c.ID[:12] + "-" + filepath.Base(bundle)[len("bundle-"):]
	logrus.Debugf("builder: running %q in %s", args, c.Name)
	return c.m.Runtime.Run(ctx, id, bundle, o.Stdio)
}

// EnsureDir creates dir (absolute, in the container) with its missing
// parents, owned by uid:gid, as Docker does for WORKDIR.
func (c *Container) EnsureDir(rootfs, dir string, uid, gid int) error {
	p, err := securejoin.SecureJoin(rootfs, dir)
	if err != nil {
		return err
	}
	if st, err := os.Stat(p); err == nil {
		if !st.IsDir() {
			return fmt.Errorf("working directory %s is not a directory", dir)
		}
		return nil
	}
	// Create each missing element, so that every new one gets the owner.
	cur := rootfs
	for _, part := range strings.Split(strings.Trim(path.Clean(dir), "/"), "/") {
		next, err := securejoin.SecureJoin(rootfs, strings.TrimPrefix(cur, rootfs)+"/"+part)
		if err != nil {
			return err
		}
		if _, err := os.Lstat(next); os.IsNotExist(err) {
			if err := os.Mkdir(next, 0o755); err != nil {
				return fmt.Errorf("creating working directory %s: %w", dir, err)
			}
			if err := os.Lchown(next, uid, gid); err != nil {
				return fmt.Errorf("creating working directory %s: %w", dir, err)
			}
		}
		cur = next
	}
	return nil
}

// etcFiles writes /etc/hosts and /etc/resolv.conf for a RUN into bundle
// and returns their mounts; what a RUN writes to them is not kept.
func etcFiles(bundle, rootfs, hostname, network string) ([]specs.Mount, error) {
	hosts := "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
	if p, err := securejoin.SecureJoin(rootfs, "/etc/hosts"); err == nil {
		if b, err := os.ReadFile(p); err == nil {
			hosts = string(b)
			if len(hosts) > 0 && !strings.HasSuffix(hosts, "\n") {
				hosts += "\n"
			}
		}
	}
	hosts += "127.0.1.1\t" + hostname + "\n"
	resolv := ""
	if network == NetworkHost {
		if b, err := os.ReadFile("/etc/resolv.conf"); err == nil {
			resolv = string(b)
		}
	}
	var mounts []specs.Mount
	for name, content := range map[string]string{"hosts": hosts, "resolv.conf": resolv} {
		p := filepath.Join(bundle, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			return nil, err
		}
		mounts = append(mounts, specs.Mount{Destination: "/etc/" + name, Type: "bind", Source: p, Options: []string{"rbind", "rw"}})
	}
	slices.SortFunc(mounts, func(a, b specs.Mount) int { return strings.Compare(a.Destination, b.Destination) })
	return mounts, nil
}

// createMountPoints creates the destinations of mounts that the rootfs
// lacks (a file for a file bind, else a directory) and returns the paths
// created, top-most first, so they can be removed after the run.
func createMountPoints(rootfs string, mounts []specs.Mount) ([]string, error) {
	var created []string
	for _, m := range mounts {
		p, err := securejoin.SecureJoin(rootfs, m.Destination)
		if err != nil {
			return created, err
		}
		if _, err := os.Lstat(p); err == nil {
			continue
		}
		// The first missing ancestor is what to remove afterwards.
		first := p
		for d := filepath.Dir(p); len(d) > len(rootfs); d = filepath.Dir(d) {
			if _, err := os.Lstat(d); err == nil {
				break
			}
			first = d
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return created, err
		}
		isFile := false
		if m.Type == "bind" {
			if st, err := os.Stat(m.Source); err == nil && !st.IsDir() {
				isFile = true
			}
		}
		if isFile {
			f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY, 0o644)
			if err != nil {
				return created, err
			}
			f.Close()
		} else if err := os.Mkdir(p, 0o755); err != nil {
			return created, err
		}
		created = append(created, first)
	}
	return created, nil
}

// removeCreated removes the mount points createMountPoints made, if they
// are still empty (what a RUN wrote into them stays).
func removeCreated(paths []string) {
	for i := len(paths) - 1; i >= 0; i-- {
		removeEmptyTree(paths[i])
	}
}

// removeEmptyTree removes p if it is an empty file or a tree of empty
// directories and empty files.
func removeEmptyTree(p string) bool {
	st, err := os.Lstat(p)
	if err != nil {
		return true
	}
	if st.IsDir() {
		entries, err := os.ReadDir(p)
		if err != nil {
			return false
		}
		empty := true
		for _, e := range entries {
			if !removeEmptyTree(filepath.Join(p, e.Name())) {
				empty = false
			}
		}
		if !empty {
			return false
		}
	} else if !st.Mode().IsRegular() || st.Size() != 0 {
		return false
	}
	return os.Remove(p) == nil
}

// mergeEnv is base with over's variables set (over wins).
func mergeEnv(base, over []string) []string {
	out := slices.Clone(base)
	for _, kv := range over {
		k, _, _ := strings.Cut(kv, "=")
		i := slices.IndexFunc(out, func(e string) bool { ek, _, _ := strings.Cut(e, "="); return ek == k })
		if i >= 0 {
			out[i] = kv
		} else {
			out = append(out, kv)
		}
	}
	return out
}
