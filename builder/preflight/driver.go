// Package preflight finds out what the host gives the builder before it
// works: which storage driver can work (native overlay in the user
// namespace, else fuse-overlayfs, else vfs) and whether an existing store
// fits it, and the checks of `builder info --check` (subordinate IDs,
// newuidmap, /dev/fuse, user namespaces, cgroups, the OCI runtime), each
// with the exact fix for a failure.
package preflight

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	storagetypes "github.com/containers/storage/types"

	"github.com/ocisuite/suite/shared/userns"
)

// Choice is the storage driver a command uses and why.
type Choice struct {
	// Driver is "overlay" or "vfs" when probed; else what was configured.
	Driver string
	// Options are the driver options to open the store with: the
	// configured ones, plus overlay.mount_program when fuse-overlayfs
	// stands in for native overlay, less those vfs does not take.
	Options []string
	// Reason says why, in a short phrase.
	Reason string
	// Probed is true when the configuration did not settle the choice
	// (it names no driver, or names overlay and native overlay mounts
	// fail) and probing did: the user is told once, when the store is new.
	Probed bool
}

// ChooseDriver picks the storage driver for opts. A configured driver
// (opts.GraphDriverName; configuredIn says where it was set, e.g.
// "--storage-driver" or a storage.conf path) is used, overlay after
// checking how it can mount. With none configured, the driver an existing
// store at opts.GraphRoot holds layers of is kept; otherwise native overlay
// is tried with a test mount under the graph root (in the user namespace
// when rootless), then fuse-overlayfs (when it is installed and /dev/fuse
// opens), then vfs; or, when storage.conf sets driver_priority, overlay
// (native, then fuse-overlayfs) and vfs in that order, others skipped.
// The graph root is created if missing. The error, an *Error, is a
// configured overlay (or an existing overlay store) that can mount neither
// way, or a driver_priority none of which works.
func ChooseDriver(opts storagetypes.StoreOptions, configuredIn string) (Choice, error) {
	root := opts.GraphRoot
	if name := opts.GraphDriverName; name != "" {
		if name == "overlay2" {
			name = "overlay"
		}
		c := Choice{Driver: name, Options: opts.GraphDriverOptions, Reason: "configured in " + configuredIn}
		if name != "overlay" {
			return c, nil
		}
		m := overlayModeOf(opts)
		if m.err != nil {
			return c, &Error{Problem: fmt.Sprintf("storage driver overlay (configured in %s) cannot mount: %v", configuredIn, m.err), Fix: m.fix}
		}
		c.Options, c.Reason, c.Probed = m.options, c.Reason+"; "+m.reason, m.fallback
		return c, nil
	}

	c := Choice{Probed: true}
	overlayOpts := opts
	overlayOpts.GraphDriverOptions = optionsFor("overlay", opts.GraphDriverOptions)
	if have := StoreDrivers(root); len(have) == 1 {
		c.Driver = have[0]
		c.Reason = "the store at " + root + " holds " + have[0] + " layers"
		if c.Driver != "overlay" {
			c.Options = optionsFor(c.Driver, opts.GraphDriverOptions)
			return c, nil
		}
		m := overlayModeOf(overlayOpts)
		if m.err != nil {
			return c, &Error{Problem: fmt.Sprintf("the store at %s holds overlay layers, which cannot be mounted: %v", root, m.err), Fix: m.fix}
		}
		c.Options, c.Reason = m.options, c.Reason+"; "+m.reason
		return c, nil
	}
	order := []string{"overlay", "vfs"}
	if len(opts.GraphDriverPriority) > 0 {
		order = opts.GraphDriverPriority
	}
	var whyNot []string
	for _, d := range order {
		switch d {
		case "overlay", "overlay2":
			m := overlayModeOf(overlayOpts)
			if m.err == nil {
				c.Driver, c.Options, c.Reason = "overlay", m.options, m.reason
				return c, nil
			}
			whyNot = append(whyNot, "no overlay: "+m.err.Error())
		case "vfs":
			c.Driver, c.Options = "vfs", optionsFor("vfs", opts.GraphDriverOptions)
			c.Reason = strings.Join(whyNot, "; ")
			if c.Reason == "" {
				c.Reason = "first in driver_priority"
			}
			return c, nil
		default:
			whyNot = append(whyNot, d+" is not probed")
		}
	}
	return c, &Error{
		Problem: fmt.Sprintf("no storage driver of driver_priority %q works: %s", order, strings.Join(whyNot, "; ")),
		Fix:     "add \"vfs\" to driver_priority in " + configuredIn + ", or use --storage-driver vfs",
	}
}

// Announce prints the one line naming the storage driver and why.
func Announce(w io.Writer, driver, reason string) {
	fmt.Fprintf(w, "builder: storage driver %s (%s)\n", driver, reason)
}

// overlayMode is how overlay can mount layers under a graph root.
type overlayMode struct {
	options  []string // driver options, with mount_program if needed
	reason   string
	fallback bool   // fuse-overlayfs because native mounts fail
	err      error  // neither works
	fix      string // for err
}

// overlayModeOf finds how overlay mounts under opts' graph root: with the
// configured mount program; with fuse-overlayfs when the store was made
// with one (containers/storage then keeps using it); natively, as
// containers/storage's cached test mount or a test mount says; else with
// fuse-overlayfs.
func overlayModeOf(opts storagetypes.StoreOptions) overlayMode {
	root, options := opts.GraphRoot, opts.GraphDriverOptions
	if prog := mountProgram(options); prog != "" {
		if err := fuseWorks(prog); err != nil {
			return overlayMode{err: fmt.Errorf("overlay.mount_program %s: %w", prog, err), fix: FuseFix(err)}
		}
		return overlayMode{options: options, reason: "fuse-overlayfs as overlay.mount_program; /dev/fuse works"}
	}
	if b, err := os.ReadFile(filepath.Join(root, "overlay", ".has-mount-program")); err == nil && strings.TrimSpace(string(b)) == "true" {
		prog, err := exec.LookPath("fuse-overlayfs")
		if err == nil {
			err = fuseWorks(prog)
		}
		if err != nil {
			return overlayMode{err: fmt.Errorf("the store was made with fuse-overlayfs: %w", err), fix: FuseFix(err)}
		}
		return overlayMode{options: withMountProgram(options, prog), reason: "the store was made with fuse-overlayfs; /dev/fuse works"}
	}
	nativeErr := nativeOverlay(opts)
	if nativeErr == nil {
		where := "as root"
		if userns.Rootless() {
			where = "in the user namespace"
		}
		return overlayMode{options: options, reason: "native overlay mounts work " + where}
	}
	prog, err := exec.LookPath("fuse-overlayfs")
	if err == nil {
		err = fuseWorks(prog)
	}
	if err != nil {
		return overlayMode{
			err: fmt.Errorf("native overlay failed: %v; fuse-overlayfs: %w", nativeErr, err),
			fix: "use --storage-driver vfs, or " + FuseFix(err),
		}
	}
	return overlayMode{
		options:  withMountProgram(options, prog),
		reason:   fmt.Sprintf("native overlay failed: %v; /dev/fuse works, using %s", nativeErr, prog),
		fallback: true,
	}
}

// mountProgram is the overlay.mount_program option's value, if any.
func mountProgram(options []string) string {
	for _, o := range options {
		k, v, _ := strings.Cut(o, "=")
		switch strings.ToLower(k) {
		case "overlay.mount_program", "overlay2.mount_program", ".mount_program":
			return v
		}
	}
	return ""
}

func withMountProgram(options []string, prog string) []string {
	return append(slices.Clip(options), "overlay.mount_program="+prog)
}

// optionsFor keeps the options driver takes, its own ("vfs.key";
// "overlay.key" or "overlay2.key") and the generic ones (".key"): the
// drivers refuse the others.
func optionsFor(driver string, options []string) []string {
	out := []string{}
	for _, o := range options {
		if strings.HasPrefix(o, driver+".") || strings.HasPrefix(o, ".") ||
			driver == "overlay" && strings.HasPrefix(o, "overlay2.") {
			out = append(out, o)
		}
	}
	return out
}

// fuseWorks checks that prog exists and /dev/fuse opens for reading and
// writing.
func fuseWorks(prog string) error {
	if _, err := os.Stat(prog); err != nil {
		return err
	}
	return OpenFuse()
}

// OpenFuse opens and closes /dev/fuse, as fuse-overlayfs needs to.
func OpenFuse() error {
	f, err := os.OpenFile("/dev/fuse", os.O_RDWR, 0)
	if err != nil {
		return err
	}
	return f.Close()
}

// FuseFix is the command that fixes err from fuseWorks or OpenFuse: a
// missing fuse-overlayfs, a missing /dev/fuse (module not loaded), or one
// the user may not open.
func FuseFix(err error) string {
	var pe *os.PathError
	switch {
	case !errors.As(err, &pe) || pe.Path != "/dev/fuse":
		return "sudo apt-get install fuse-overlayfs"
	case errors.Is(err, os.ErrNotExist), errors.Is(err, syscall.ENODEV), errors.Is(err, syscall.ENXIO):
		return "sudo modprobe fuse"
	default:
		return "sudo chmod 0666 /dev/fuse"
	}
}

// nativeOverlay says whether native overlay mounts work for opts' store.
func nativeOverlay(opts storagetypes.StoreOptions) error {
	if err := cachedNativeOverlay(opts.RunRoot); err != errNotCached {
		return err
	}
	return NativeOverlay(opts.GraphRoot)
}

var errNotCached = errors.New("not cached")

// cachedNativeOverlay is the result of containers/storage's own overlay
// test mount, kept in the run root until reboot (it uses it rather than
// test again), or errNotCached.
func cachedNativeOverlay(runRoot string) error {
	if runRoot == "" {
		return errNotCached
	}
	dir := filepath.Join(runRoot, "overlay")
	if _, err := os.Stat(filepath.Join(dir, "overlay-true")); err == nil {
		return nil
	}
	if b, err := os.ReadFile(filepath.Join(dir, "overlay-false")); err == nil {
		if len(b) == 0 {
			b = []byte("containers/storage's test mount failed")
		}
		return fmt.Errorf("%s (cached in %s until reboot)", b, dir)
	}
	return errNotCached
}

// NativeOverlay tries an overlay mount in a temporary directory under
// root, as containers/storage does before it uses native overlay: two
// lower layers, a whiteout in the upper one, and a removal through the
// mount. Rootless, the process is in the user's namespace and the mount
// uses user xattrs.
func NativeOverlay(root string) error {
	if err := os.MkdirAll(root, 0o700); err != nil {
		return err
	}
	dir, err := os.MkdirTemp(root, "preflight-")
	if err != nil {
		return err
	}
	merged := filepath.Join(dir, "merged")
	defer func() {
		_ = syscall.Unmount(merged, syscall.MNT_DETACH)
		_ = os.RemoveAll(dir)
	}()
	lower1, lower2, upper, work := filepath.Join(dir, "l1"), filepath.Join(dir, "l2"), filepath.Join(dir, "u"), filepath.Join(dir, "w")
	for _, d := range []string{merged, lower1, filepath.Join(lower2, "sub"), upper, work} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(lower2, "sub", "f"), nil, 0o600); err != nil {
		return err
	}
	if err := syscall.Mknod(filepath.Join(upper, "whiteout"), syscall.S_IFCHR|0o600, 0); err != nil {
		return fmt.Errorf("creating a whiteout under %s: %w", root, err)
	}
	data := fmt.Sprintf("lowerdir=%s:%s,upperdir=%s,workdir=%s", lower1, lower2, upper, work)
	if userns.Rootless() {
		data += ",userxattr"
	}
	if err := syscall.Mount("overlay", merged, "overlay", 0, data); err != nil {
		return fmt.Errorf("mounting overlay under %s: %w", root, err)
	}
	if err := os.RemoveAll(filepath.Join(merged, "sub")); err != nil {
		return fmt.Errorf("removing a lower directory through overlay: %w", err)
	}
	return nil
}

// StoreDrivers are the drivers whose layers or images the store at
// graphRoot holds (DRIVER-layers/layers.json or DRIVER-images/images.json
// listing at least one), sorted.
func StoreDrivers(graphRoot string) []string {
	entries, err := os.ReadDir(graphRoot)
	if err != nil {
		return nil
	}
	var drivers []string
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), "-layers")
		if !ok || !e.IsDir() {
			continue
		}
		if listsAny(filepath.Join(graphRoot, e.Name(), "layers.json")) ||
			listsAny(filepath.Join(graphRoot, name+"-images", "images.json")) {
			drivers = append(drivers, name)
		}
	}
	slices.Sort(drivers)
	return drivers
}

// NewStore reports whether no command has used the store at graphRoot yet.
func NewStore(graphRoot string) bool {
	m, _ := filepath.Glob(filepath.Join(graphRoot, "*-layers"))
	return len(m) == 0
}

// listsAny reports whether the JSON array in file has an element.
func listsAny(file string) bool {
	b, err := os.ReadFile(file)
	if err != nil {
		return false
	}
	var list []json.RawMessage
	return json.Unmarshal(b, &list) == nil && len(list) > 0
}

// Error is a problem and the command that fixes it, shown as one line.
type Error struct {
	Problem string
	Fix     string
}

func (e *Error) Error() string { return e.Problem + ": " + e.Fix }

// CheckStoreDriver fails with an *Error when the store at graphRoot holds
// layers or images of other drivers and none of driver, which
// containers/storage would show as an empty store. The fix keeps the
// store's driver or empties the store (runRoot is its run root).
func CheckStoreDriver(graphRoot, runRoot, driver string) error {
	if driver == "overlay2" {
		driver = "overlay"
	}
	have := StoreDrivers(graphRoot)
	if len(have) == 0 || slices.Contains(have, driver) {
		return nil
	}
	return &Error{
		Problem: fmt.Sprintf("the store at %s holds layers made with the %s driver, not %s", graphRoot, strings.Join(have, " and "), driver),
		Fix: fmt.Sprintf("use --storage-driver %s, or empty the store with 'engine --root %s --runroot %s --storage-driver %s system reset --force'",
			have[0], graphRoot, runRoot, have[0]),
	}
}
