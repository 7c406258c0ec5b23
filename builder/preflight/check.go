package preflight

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	storagetypes "github.com/containers/storage/types"

	"github.com/ocisuite/suite/config"
	"github.com/ocisuite/suite/shared/oci"
	"github.com/ocisuite/suite/shared/store"
	"github.com/ocisuite/suite/shared/userns"
)

// Result is one check's outcome.
type Result struct {
	Name string `json:"name"`
	OK   bool   `json:"ok"`
	// Warning marks a check that is not OK but leaves builds working.
	Warning bool   `json:"warning,omitempty"`
	Detail  string `json:"detail"`
	// Fix is the command that fixes a failure or warning.
	Fix string `json:"fix,omitempty"`
}

// Status is "ok", "warn" or "FAIL".
func (r Result) Status() string {
	switch {
	case r.OK:
		return "ok"
	case r.Warning:
		return "warn"
	}
	return "FAIL"
}

// Failed reports whether r is a failure (not a warning).
func (r Result) Failed() bool { return !r.OK && !r.Warning }

func ok(name, detail string) Result { return Result{Name: name, OK: true, Detail: detail} }

func fail(name, detail, fix string) Result { return Result{Name: name, Detail: detail, Fix: fix} }

func warn(name, detail, fix string) Result {
	return Result{Name: name, Warning: true, Detail: detail, Fix: fix}
}

// CheckOptions are what Checks looks at besides the host.
type CheckOptions struct {
	Store store.Options
	// Runtime is the OCI runtime's name or path; Runtimes are the
	// candidate paths per name (containers.conf's [engine.runtimes]).
	Runtime  string
	Runtimes map[string][]string
	// EnterError is why a rootless command could not enter its user
	// namespace (userns.Enter), if it could not.
	EnterError error
}

// Checks runs every check of `builder info --check`, in order:
// subordinate IDs, newuidmap and newgidmap, user namespaces, the storage
// driver and the store, /dev/fuse, cgroups, the OCI runtime.
func Checks(ctx context.Context, o CheckOptions) []Result {
	rootless := userns.Rootless()
	// A rootless command that could not enter its user namespace still
	// runs as the user: the namespace checks say why.
	enterErr := o.EnterError
	if rootless && os.Geteuid() != 0 && enterErr == nil {
		enterErr = errors.New("not in the user namespace")
	}
	env := config.CurrentEnv()
	name := strconv.Itoa(env.UID)
	if u, err := user.LookupId(name); err == nil {
		name = u.Username
	}
	results := []Result{
		SubIDs(name, strconv.Itoa(env.UID), rootless, "/etc/subuid", "/etc/subgid"),
		IDMapTools(rootless),
	}
	userNS := UserNamespaces(rootless, enterErr)
	if enterErr != nil && (results[0].Failed() || results[1].Failed()) {
		userNS.Fix = "fix the failures above"
	}
	results = append(results, userNS)
	opts, err := o.Store.StoreOptions()
	switch {
	case err != nil:
		results = append(results, fail("storage driver", err.Error(), "correct the storage.conf named"))
	case enterErr != nil:
		results = append(results, fail("storage driver", "not checked outside the user namespace", "fix the failures above"))
	default:
		results = append(results, Storage(opts, DriverSource(o.Store))...)
		results = append(results, Fuse(nativeOverlay(opts), opts.GraphDriverName))
	}
	results = append(results, Cgroups(rootless), Runtime(ctx, o.Runtime, o.Runtimes))
	return results
}

// SubIDs checks that a rootless user (name, uid) has ranges in the
// subordinate ID files; root needs none. A range of fewer than 65536 IDs
// is a warning: images owning files by higher IDs cannot be stored.
func SubIDs(name, uid string, rootless bool, subuid, subgid string) Result {
	const check = "subordinate IDs"
	if !rootless {
		return ok(check, "root needs none")
	}
	var details, flags []string
	missing := false
	for _, f := range []struct{ file, flag, what string }{{subuid, "--add-subuids", "UIDs"}, {subgid, "--add-subgids", "GIDs"}} {
		ranges, err := readSubIDs(f.file)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return fail(check, err.Error(), "sudo chmod 0644 "+f.file)
		}
		n, first := 0, -1
		for _, r := range ranges {
			if r.owner == name || r.owner == uid {
				n += r.count
				if first < 0 {
					first = r.start
				}
			}
		}
		switch {
		case n == 0:
			details = append(details, fmt.Sprintf("%s has no range in %s", name, f.file))
			flags = append(flags, f.flag)
			missing = true
		case n < 65536:
			details = append(details, fmt.Sprintf("%s has only %d %s in %s", name, n, f.what, f.file))
			flags = append(flags, f.flag)
		default:
			details = append(details, fmt.Sprintf("%d %s from %d in %s", n, f.what, first, f.file))
		}
	}
	if len(flags) == 0 {
		return ok(check, name+" has "+strings.Join(details, " and "))
	}
	start := freeSubIDStart(subuid, subgid)
	fix := "sudo usermod"
	for _, fl := range flags {
		fix += fmt.Sprintf(" %s %d-%d", fl, start, start+65535)
	}
	fix += " " + name
	if !missing {
		return warn(check, strings.Join(details, "; ")+": images with files of higher IDs cannot be stored", fix)
	}
	return fail(check, strings.Join(details, "; "), fix)
}

type subIDRange struct {
	owner        string
	start, count int
}

func readSubIDs(file string) ([]subIDRange, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []subIDRange
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.Split(strings.TrimSpace(sc.Text()), ":")
		if len(parts) != 3 {
			continue
		}
		start, err1 := strconv.Atoi(parts[1])
		count, err2 := strconv.Atoi(parts[2])
		if err1 == nil && err2 == nil && count > 0 {
			out = append(out, subIDRange{parts[0], start, count})
		}
	}
	return out, sc.Err()
}

// freeSubIDStart is the start of a 65536-ID range from 100000 on that no
// range in the files overlaps, as useradd picks one.
func freeSubIDStart(files ...string) int {
	start := 100000
	for _, f := range files {
		ranges, _ := readSubIDs(f)
		for _, r := range ranges {
			start = max(start, r.start+r.count)
		}
	}
	return start
}

// IDMapTools checks that newuidmap and newgidmap are installed setuid root
// or with file capabilities, as a rootless user's namespace needs.
func IDMapTools(rootless bool) Result {
	const check = "newuidmap"
	var found []string
	for _, prog := range []string{"newuidmap", "newgidmap"} {
		p, err := exec.LookPath(prog)
		if err != nil {
			if !rootless {
				return ok(check, "root needs none ("+prog+" is not installed)")
			}
			return fail(check, prog+" is not installed", "sudo apt-get install uidmap")
		}
		st, err := os.Stat(p)
		if err != nil {
			return fail(check, err.Error(), "sudo apt-get install --reinstall uidmap")
		}
		caps, _ := syscall.Getxattr(p, "security.capability", nil)
		if st.Mode()&os.ModeSetuid == 0 && caps <= 0 {
			if !rootless {
				return ok(check, "root needs none ("+p+" is neither setuid nor has file capabilities)")
			}
			return fail(check, p+" is neither setuid nor has file capabilities", "sudo chmod 4755 "+p)
		}
		found = append(found, p)
	}
	if !rootless {
		return ok(check, "root needs none; "+strings.Join(found, " and ")+" are installed")
	}
	return ok(check, strings.Join(found, " and ")+" are installed setuid or with file capabilities")
}

// UserNamespaces checks that this process can create a user namespace
// (nested in the builder's own one when rootless, as RUN needs) and, when
// rootless, that the builder entered its namespace: enterErr is why it
// could not.
func UserNamespaces(rootless bool, enterErr error) Result {
	const check = "user namespaces"
	if err := newUserNamespace(); err != nil {
		return fail(check, "cannot create a user namespace: "+err.Error(), userNamespaceFix())
	}
	switch {
	case enterErr != nil:
		return fail(check, "builder could not enter its user namespace: "+enterErr.Error(), "")
	case rootless:
		return ok(check, "builder runs in the user namespace mapping uids "+idMap("/proc/self/uid_map")+"; nested user namespaces work")
	}
	return ok(check, "user namespaces can be created")
}

// newUserNamespace runs true in a new user namespace mapping this
// process's IDs to root.
func newUserNamespace() error {
	prog, err := exec.LookPath("true")
	if err != nil {
		prog = "/bin/true"
	}
	cmd := exec.Command(prog)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Geteuid(), Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getegid(), Size: 1}},
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		if len(out) > 0 {
			return fmt.Errorf("%w: %s", err, strings.TrimSpace(string(out)))
		}
		return err
	}
	return nil
}

// userNamespaceFix names the sysctls that forbid user namespaces here.
func userNamespaceFix() string {
	var fixes []string
	if v, err := readInt("/proc/sys/kernel/unprivileged_userns_clone"); err == nil && v == 0 {
		fixes = append(fixes, "sudo sysctl -w kernel.unprivileged_userns_clone=1")
	}
	if v, err := readInt("/proc/sys/kernel/apparmor_restrict_unprivileged_userns"); err == nil && v != 0 {
		fixes = append(fixes, "sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0")
	}
	if v, err := readInt("/proc/sys/user/max_user_namespaces"); err != nil || v < 15000 || len(fixes) == 0 {
		fixes = append(fixes, "sudo sysctl -w user.max_user_namespaces=15000")
	}
	return strings.Join(fixes, " && ")
}

func readInt(file string) (int, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

// idMap is an ID map file's ranges, "0 1001 1, 1 100000 65536".
func idMap(file string) string {
	b, err := os.ReadFile(file)
	if err != nil {
		return "?"
	}
	var ranges []string
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		ranges = append(ranges, strings.Join(strings.Fields(l), " "))
	}
	return strings.Join(ranges, ", ")
}

// Storage checks the store at opts.GraphRoot against a configured driver
// and chooses the driver as a command would; configuredIn says where a
// configured driver is set.
func Storage(opts storagetypes.StoreOptions, configuredIn string) []Result {
	const check, storeCheck = "storage driver", "store"
	var results []Result
	if opts.GraphDriverName != "" {
		if err := CheckStoreDriver(opts.GraphRoot, opts.RunRoot, opts.GraphDriverName); err != nil {
			var e *Error
			errors.As(err, &e)
			return []Result{fail(storeCheck, e.Problem, e.Fix)}
		}
	}
	c, err := ChooseDriver(opts, configuredIn)
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			return append(results, fail(check, e.Problem, e.Fix))
		}
		return append(results, fail(check, err.Error(), ""))
	}
	results = append(results, ok(check, fmt.Sprintf("%s (%s)", c.Driver, c.Reason)))
	if have := StoreDrivers(opts.GraphRoot); len(have) > 0 {
		results = append(results, ok(storeCheck, fmt.Sprintf("%s holds %s layers", opts.GraphRoot, strings.Join(have, " and "))))
	} else {
		results = append(results, ok(storeCheck, opts.GraphRoot+" is empty"))
	}
	return results
}

// Fuse checks that fuse-overlayfs is installed and /dev/fuse opens: the
// overlay fallback when native overlay fails (nativeErr) — a warning only
// when native overlay works or the configured driver is not overlay.
func Fuse(nativeErr error, configured string) Result {
	const check = "/dev/fuse"
	prog, err := exec.LookPath("fuse-overlayfs")
	if err == nil {
		err = OpenFuse()
	}
	if err == nil {
		return ok(check, prog+" can mount with /dev/fuse (the fallback when native overlay fails)")
	}
	detail := err.Error()
	switch {
	case configured != "" && configured != "overlay" && configured != "overlay2":
		return warn(check, detail+": not needed with the "+configured+" driver", FuseFix(err))
	case nativeErr == nil:
		return warn(check, detail+": fuse-overlayfs is only needed when native overlay mounts fail, which they do not", FuseFix(err))
	}
	return fail(check, fmt.Sprintf("%s, and native overlay fails (%v): layers are copied whole with vfs", detail, nativeErr), FuseFix(err))
}

// Cgroups reports the cgroup version and, rootless, whether the user has
// a delegated cgroup v2 subtree; without one RUN gets no resource limits,
// a warning.
func Cgroups(rootless bool) Result {
	const check = "cgroups"
	v2 := isCgroup2("/sys/fs/cgroup")
	version := "v1"
	switch {
	case v2:
		version = "v2"
	case isCgroup2("/sys/fs/cgroup/unified"):
		version = "v1 (hybrid, v2 at /sys/fs/cgroup/unified)"
	}
	if !rootless {
		return ok(check, "cgroup "+version+", managed as root")
	}
	const limits = "RUN steps get no cgroup limits; builds still work"
	if !v2 {
		return warn(check, "cgroup "+version+": no cgroup delegation to users, so "+limits,
			"switch the host to cgroup v2: add systemd.unified_cgroup_hierarchy=1 to GRUB_CMDLINE_LINUX in /etc/default/grub, run sudo update-grub and reboot")
	}
	delegate := `sudo mkdir -p /etc/systemd/system/user@.service.d && printf '[Service]\nDelegate=cpu cpuset io memory pids\n' | sudo tee /etc/systemd/system/user@.service.d/delegate.conf && sudo systemctl daemon-reload, then log in again`
	dir, err := ownCgroup()
	if err != nil {
		return warn(check, "cgroup v2: "+err.Error()+", so "+limits, delegate)
	}
	if syscall.Access(dir, 2 /* W_OK */) != nil {
		return warn(check, "cgroup v2: "+dir+" is not delegated to the user, so "+limits, delegate)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "cgroup.controllers"))
	controllers := strings.Fields(string(b))
	for _, want := range []string{"memory", "pids"} {
		if !slices.Contains(controllers, want) {
			return warn(check, fmt.Sprintf("cgroup v2: %s is delegated without the %s controller, so %s", dir, want, limits), delegate)
		}
	}
	return ok(check, fmt.Sprintf("cgroup v2: %s is delegated (controllers: %s)", dir, strings.Join(controllers, " ")))
}

// isCgroup2 reports whether dir is a cgroup v2 mount.
func isCgroup2(dir string) bool {
	const cgroup2Magic = 0x63677270
	var st syscall.Statfs_t
	return syscall.Statfs(dir, &st) == nil && st.Type == cgroup2Magic
}

// ownCgroup is this process's cgroup v2 directory.
func ownCgroup() (string, error) {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "", err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if p, found := strings.CutPrefix(l, "0::"); found {
			return filepath.Join("/sys/fs/cgroup", p), nil
		}
	}
	return "", errors.New("no cgroup v2 entry in /proc/self/cgroup")
}

// Runtime checks that the OCI runtime (name or path; "" is runc) is found
// and answers --version.
func Runtime(ctx context.Context, name string, candidates map[string][]string) Result {
	const check = "runtime"
	if name == "" {
		name = "runc"
	}
	p, err := oci.Find(name, candidates)
	if err != nil {
		return fail(check, err.Error(), "sudo apt-get install "+filepath.Base(name))
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, p, "--version").CombinedOutput()
	if err != nil {
		return fail(check, fmt.Sprintf("%s --version: %v: %s", p, err, strings.TrimSpace(string(out))), "sudo apt-get install --reinstall "+filepath.Base(p))
	}
	first, _, _ := strings.Cut(string(out), "\n")
	return ok(check, p+": "+strings.TrimSpace(first))
}
