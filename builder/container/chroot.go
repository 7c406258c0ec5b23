package container

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"

	"github.com/containers/storage/pkg/reexec"
	"github.com/moby/sys/capability"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/ocisuite/suite/shared/oci"
)

// Isolation is how RUN processes are kept apart from the host.
const (
	// IsolationOCI runs them with the OCI runtime (runc): namespaces,
	// cgroups, seccomp.
	IsolationOCI = "oci"
	// IsolationChroot runs them chrooted into the root filesystem, in new
	// mount, UTS, IPC and PID namespaces and with the capability bounding
	// set reduced, but no user namespace, cgroup or seccomp filter: for
	// hosts (CI containers) where the runtime's namespaces cannot be made.
	IsolationChroot = "chroot"
)

// ParseIsolation checks an --isolation value.
func ParseIsolation(s string) (string, error) {
	switch s {
	case "", "default", "oci", "rootless":
		return IsolationOCI, nil
	case "chroot":
		return IsolationChroot, nil
	}
	return "", fmt.Errorf("invalid isolation %q: want oci, rootless or chroot", s)
}

const chrootCommand = "builder-chroot"

func init() {
	reexec.Register(chrootCommand, chrootMain)
}

// chrootRun runs spec's process chrooted into its root (see
// IsolationChroot) and returns its exit code.
func chrootRun(ctx context.Context, spec *specs.Spec, stdio oci.IO) (int, error) {
	if os.Geteuid() != 0 {
		return -1, errors.New("--isolation chroot needs root (or the builder's user namespace)")
	}
	b, err := json.Marshal(spec)
	if err != nil {
		return -1, err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return -1, err
	}
	defer r.Close()
	cmd := reexec.CommandContext(ctx, chrootCommand)
	cmd.Stdin = stdio.Stdin
	cmd.Stdout, cmd.Stderr = stdio.Stdout, stdio.Stderr
	cmd.ExtraFiles = []*os.File{r}
	flags := uintptr(unix.CLONE_NEWNS | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC | unix.CLONE_NEWPID)
	if hasNamespace(spec, specs.NetworkNamespace) {
		flags |= unix.CLONE_NEWNET
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: flags, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return cmd.Process.Kill() }
	if err := cmd.Start(); err != nil {
		w.Close()
		return -1, fmt.Errorf("starting the chroot process: %w", err)
	}
	_, werr := w.Write(b)
	w.Close()
	err = cmd.Wait()
	if ctx.Err() != nil {
		return -1, ctx.Err()
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ee.ExitCode() == chrootSetupFailed {
			return -1, errors.New("setting up the chroot failed (see the message above)")
		}
		return ee.ExitCode(), nil
	}
	if err != nil {
		return -1, err
	}
	if werr != nil {
		return -1, werr
	}
	return 0, nil
}

func hasNamespace(spec *specs.Spec, t specs.LinuxNamespaceType) bool {
	return slices.ContainsFunc(spec.Linux.Namespaces, func(n specs.LinuxNamespace) bool { return n.Type == t && n.Path == "" })
}

// chrootSetupFailed is the child's exit code when it could not set up.
const chrootSetupFailed = 126

// chrootMain is the re-executed child: in its new namespaces it mounts
// what the spec asks for below the root, chroots, drops privileges and
// executes the process.
func chrootMain() {
	runtime.LockOSThread()
	f := os.NewFile(3, "spec")
	var spec specs.Spec
	if err := json.NewDecoder(f).Decode(&spec); err != nil {
		fmt.Fprintf(os.Stderr, "chroot: reading the spec: %v\n", err)
		os.Exit(chrootSetupFailed)
	}
	f.Close()
	if err := chrootSetup(&spec); err != nil {
		fmt.Fprintf(os.Stderr, "chroot: %v\n", err)
		os.Exit(chrootSetupFailed)
	}
	p := spec.Process
	argv0, err := lookPath(p.Args[0], p.Env)
	if err != nil {
		fmt.Fprintf(os.Stderr, "chroot: %v\n", err)
		os.Exit(127)
	}
	err = unix.Exec(argv0, p.Args, p.Env)
	fmt.Fprintf(os.Stderr, "chroot: executing %s: %v\n", p.Args[0], err)
	os.Exit(126)
}

// lookPath finds a command in the chroot's PATH.
func lookPath(name string, env []string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	path := "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = v
		}
	}
	for _, dir := range filepath.SplitList(path) {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: executable file not found in $PATH", name)
}

func chrootSetup(spec *specs.Spec) error {
	root := spec.Root.Path
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("making mounts private: %w", err)
	}
	if err := unix.Mount(root, root, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("binding the root: %w", err)
	}
	for _, m := range spec.Mounts {
		if err := chrootMount(root, m); err != nil {
			return fmt.Errorf("mounting %s: %w", m.Destination, err)
		}
	}
	if spec.Hostname != "" {
		if err := unix.Sethostname([]byte(spec.Hostname)); err != nil {
			return fmt.Errorf("setting the hostname: %w", err)
		}
	}
	if err := unix.Chroot(root); err != nil {
		return fmt.Errorf("chroot %s: %w", root, err)
	}
	p := spec.Process
	if err := unix.Chdir(p.Cwd); err != nil {
		return fmt.Errorf("working directory %s: %w", p.Cwd, err)
	}
	if err := dropBounding(p.Capabilities); err != nil {
		return err
	}
	if p.NoNewPrivileges {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return err
		}
	}
	gids := make([]int, 0, len(p.User.AdditionalGids))
	for _, g := range p.User.AdditionalGids {
		gids = append(gids, int(g))
	}
	if err := syscall.Setgroups(gids); err != nil {
		return fmt.Errorf("setgroups: %w", err)
	}
	if err := syscall.Setgid(int(p.User.GID)); err != nil {
		return fmt.Errorf("setgid %d: %w", p.User.GID, err)
	}
	if err := syscall.Setuid(int(p.User.UID)); err != nil {
		return fmt.Errorf("setuid %d: %w", p.User.UID, err)
	}
	return nil
}

// chrootMount sets up one mount of the spec below root. /proc, /sys and
// /dev get the host's (bound), with /dev reduced to the usual devices.
func chrootMount(root string, m specs.Mount) error {
	dest := filepath.Join(root, m.Destination)
	ro := slices.Contains(m.Options, "ro")
	switch m.Type {
	case "proc":
		if err := unix.Mount("proc", dest, "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
			return bind("/proc", dest, true, false)
		}
		return nil
	case "sysfs":
		return bind("/sys", dest, true, true)
	case "cgroup", "mqueue":
		return nil
	case "devpts":
		if err := unix.Mount("devpts", dest, "devpts", unix.MS_NOSUID|unix.MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620"); err != nil {
			return nil // no terminals for RUN
		}
		return nil
	case "tmpfs":
		data := tmpfsData(m.Options)
		if err := unix.Mount("tmpfs", dest, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, data); err != nil {
			return err
		}
		if m.Destination == "/dev" {
			return populateDev(dest)
		}
		return nil
	case "bind", "":
		return bind(m.Source, dest, true, ro)
	}
	return fmt.Errorf("mount type %s is not supported with --isolation chroot", m.Type)
}

func tmpfsData(opts []string) string {
	var out []string
	for _, o := range opts {
		if strings.HasPrefix(o, "size=") || strings.HasPrefix(o, "mode=") {
			out = append(out, o)
		}
	}
	return strings.Join(out, ",")
}

// bind bind-mounts src on dest (created as needed), read-only if asked.
func bind(src, dest string, recursive, ro bool) error {
	st, err := os.Stat(src)
	if err != nil {
		return err
	}
	if _, err := os.Lstat(dest); os.IsNotExist(err) {
		if st.IsDir() {
			err = os.MkdirAll(dest, 0o755)
		} else {
			if err = os.MkdirAll(filepath.Dir(dest), 0o755); err == nil {
				var fh *os.File
				if fh, err = os.OpenFile(dest, os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
					fh.Close()
				}
			}
		}
		if err != nil {
			return err
		}
	}
	flags := uintptr(unix.MS_BIND)
	if recursive {
		flags |= unix.MS_REC
	}
	if err := unix.Mount(src, dest, "", flags, ""); err != nil {
		return err
	}
	if ro {
		return unix.Mount("", dest, "", flags|unix.MS_REMOUNT|unix.MS_RDONLY, "")
	}
	return nil
}

// populateDev binds the usual device nodes into a fresh /dev.
func populateDev(dev string) error {
	for _, n := range []string{"null", "zero", "full", "random", "urandom", "tty"} {
		if err := bind("/dev/"+n, filepath.Join(dev, n), false, false); err != nil {
			return fmt.Errorf("/dev/%s: %w", n, err)
		}
	}
	for _, l := range [][2]string{{"/proc/self/fd", "fd"}, {"/proc/self/fd/0", "stdin"}, {"/proc/self/fd/1", "stdout"}, {"/proc/self/fd/2", "stderr"}, {"pts/ptmx", "ptmx"}} {
		if err := os.Symlink(l[0], filepath.Join(dev, l[1])); err != nil {
			return err
		}
	}
	for _, d := range []string{"pts", "shm", "mqueue"} {
		if err := os.MkdirAll(filepath.Join(dev, d), 0o755); err != nil {
			return err
		}
	}
	return nil
}

// dropBounding reduces the capability bounding set to what the process
// may have.
func dropBounding(caps *specs.LinuxCapabilities) error {
	if caps == nil {
		return nil
	}
	keep := map[string]bool{}
	for _, c := range caps.Bounding {
		keep[strings.ToUpper(c)] = true
	}
	last, err := capability.LastCap()
	if err != nil {
		return err
	}
	for _, c := range capability.ListKnown() {
		if c > last {
			continue
		}
		if keep["CAP_"+strings.ToUpper(c.String())] {
			continue
		}
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err != nil {
			return fmt.Errorf("dropping %s: %w", c, err)
		}
	}
	return nil
}
