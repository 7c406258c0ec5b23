package preflight

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	storagetypes "github.com/containers/storage/types"

	"github.com/ocisuite/suite/shared/store"
)

// writeStore makes graphRoot look like a store holding one layer of driver.
func writeStore(t *testing.T, graphRoot, driver string) {
	t.Helper()
	dir := filepath.Join(graphRoot, driver+"-layers")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "layers.json"), []byte(`[{"id":"0123"}]`), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestCheckStoreDriver(t *testing.T) {
	root := t.TempDir()
	if err := CheckStoreDriver(filepath.Join(root, "missing"), "/run/x", "overlay"); err != nil {
		t.Fatalf("a missing store: %v", err)
	}
	// A store whose layer list is empty fits any driver.
	os.MkdirAll(filepath.Join(root, "vfs-layers"), 0o700)
	os.WriteFile(filepath.Join(root, "vfs-layers", "layers.json"), []byte("[]"), 0o600)
	if err := CheckStoreDriver(root, "/run/x", "overlay"); err != nil {
		t.Fatalf("an empty vfs store: %v", err)
	}
	writeStore(t, root, "vfs")
	if err := CheckStoreDriver(root, "/run/x", "vfs"); err != nil {
		t.Fatalf("the store's own driver: %v", err)
	}
	err := CheckStoreDriver(root, "/run/x", "overlay")
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("overlay on a vfs store: %v", err)
	}
	if want := "the store at " + root + " holds layers made with the vfs driver, not overlay"; e.Problem != want {
		t.Errorf("problem %q, want %q", e.Problem, want)
	}
	if want := "use --storage-driver vfs, or empty the store with 'engine --root " + root + " --runroot /run/x --storage-driver vfs system reset --force'"; e.Fix != want {
		t.Errorf("fix %q, want %q", e.Fix, want)
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("error is not one line: %q", err)
	}
	// A store holding both drivers' layers fits either.
	writeStore(t, root, "overlay")
	if err := CheckStoreDriver(root, "/run/x", "overlay2"); err != nil {
		t.Fatalf("overlay2 on a store with overlay layers: %v", err)
	}
	if got := StoreDrivers(root); !slices.Equal(got, []string{"overlay", "vfs"}) {
		t.Errorf("StoreDrivers = %q", got)
	}
}

func TestStoreDriversCountsImages(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "vfs-layers"), 0o700)
	os.MkdirAll(filepath.Join(root, "vfs-images"), 0o700)
	os.WriteFile(filepath.Join(root, "vfs-images", "images.json"), []byte(`[{"id":"ab"}]`), 0o600)
	if got := StoreDrivers(root); !slices.Equal(got, []string{"vfs"}) {
		t.Errorf("StoreDrivers = %q, want [vfs]", got)
	}
	if NewStore(root) {
		t.Error("a store with vfs-layers is new")
	}
	if !NewStore(t.TempDir()) {
		t.Error("an empty directory is not a new store")
	}
}

func TestChooseDriverConfigured(t *testing.T) {
	root := t.TempDir()
	opts := storagetypes.StoreOptions{GraphRoot: root, GraphDriverName: "vfs", GraphDriverOptions: []string{"vfs.ignore_chown_errors=true"}}
	c, err := ChooseDriver(opts, "--storage-driver")
	if err != nil {
		t.Fatal(err)
	}
	if c.Driver != "vfs" || c.Reason != "configured in --storage-driver" || c.Probed || !slices.Equal(c.Options, opts.GraphDriverOptions) {
		t.Errorf("choice %+v", c)
	}
	// A configured mount program is used as it is.
	opts = storagetypes.StoreOptions{GraphRoot: root, GraphDriverName: "overlay", GraphDriverOptions: []string{"overlay.mount_program=/nonexistent/fuse-overlayfs"}}
	_, err = ChooseDriver(opts, "/etc/containers/storage.conf")
	var e *Error
	if !errors.As(err, &e) || !strings.Contains(e.Problem, "configured in /etc/containers/storage.conf") || !strings.Contains(e.Problem, "/nonexistent/fuse-overlayfs") || e.Fix != "sudo apt-get install fuse-overlayfs" {
		t.Fatalf("a missing mount program: %v", err)
	}
}

func TestChooseDriverKeepsTheStoresDriver(t *testing.T) {
	root := t.TempDir()
	writeStore(t, root, "vfs")
	opts := storagetypes.StoreOptions{GraphRoot: root, GraphDriverOptions: []string{"overlay.mountopt=nodev", "vfs.ignore_chown_errors=true"}}
	c, err := ChooseDriver(opts, "storage.conf")
	if err != nil {
		t.Fatal(err)
	}
	if c.Driver != "vfs" || !c.Probed || c.Reason != "the store at "+root+" holds vfs layers" {
		t.Errorf("choice %+v", c)
	}
	if !slices.Equal(c.Options, []string{"vfs.ignore_chown_errors=true"}) {
		t.Errorf("vfs options %q: overlay's must go, vfs refuses them", c.Options)
	}
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("this test mounts file systems: run it as root (the suite's tests do)")
	}
}

func TestChooseDriverNativeOverlay(t *testing.T) {
	requireRoot(t)
	root := filepath.Join(t.TempDir(), "storage")
	c, err := ChooseDriver(storagetypes.StoreOptions{GraphRoot: root}, "storage.conf")
	if err != nil {
		t.Fatal(err)
	}
	if c.Driver != "overlay" || c.Reason != "native overlay mounts work as root" || !c.Probed || len(c.Options) != 0 {
		t.Errorf("choice %+v", c)
	}
	// Options of other drivers are left out: overlay refuses them.
	c, err = ChooseDriver(storagetypes.StoreOptions{GraphRoot: root, GraphDriverOptions: []string{"vfs.ignore_chown_errors=true", "overlay.mountopt=nodev", ".mountopt=nodev"}}, "storage.conf")
	if err != nil || !slices.Equal(c.Options, []string{"overlay.mountopt=nodev", ".mountopt=nodev"}) {
		t.Errorf("options %q, %v", c.Options, err)
	}
	entries, _ := os.ReadDir(root)
	if len(entries) != 0 {
		t.Errorf("the probe left %v in the graph root", entries)
	}
	// Configured overlay that mounts natively is not announced.
	c, err = ChooseDriver(storagetypes.StoreOptions{GraphRoot: root, GraphDriverName: "overlay"}, "storage.conf")
	if err != nil || c.Probed || c.Reason != "configured in storage.conf; native overlay mounts work as root" {
		t.Errorf("configured overlay: %+v %v", c, err)
	}
}

// overlayRoot is a directory on an overlay mount, where native overlay
// cannot keep its upper layers: the probe fails there.
func overlayRoot(t *testing.T) string {
	t.Helper()
	requireRoot(t)
	dir := t.TempDir()
	for _, d := range []string{"l", "u", "w", "m"} {
		os.Mkdir(filepath.Join(dir, d), 0o700)
	}
	m := filepath.Join(dir, "m")
	if err := syscall.Mount("overlay", m, "overlay", 0, "lowerdir="+dir+"/l,upperdir="+dir+"/u,workdir="+dir+"/w"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Unmount(m, syscall.MNT_DETACH) })
	return filepath.Join(m, "storage")
}

func TestChooseDriverFallsBack(t *testing.T) {
	root := overlayRoot(t)
	if err := NativeOverlay(root); err == nil {
		t.Fatal("native overlay works over overlay")
	}
	fuse, err := exec.LookPath("fuse-overlayfs")
	if err != nil {
		t.Fatalf("fuse-overlayfs is not installed (apt-get install fuse-overlayfs): %v", err)
	}
	c, err := ChooseDriver(storagetypes.StoreOptions{GraphRoot: root}, "storage.conf")
	if err != nil {
		t.Fatal(err)
	}
	if c.Driver != "overlay" || mountProgram(c.Options) != fuse || !strings.HasPrefix(c.Reason, "native overlay failed: ") || !strings.HasSuffix(c.Reason, "; /dev/fuse works, using "+fuse) {
		t.Errorf("with /dev/fuse: %+v", c)
	}
	// Configured overlay falling back to fuse-overlayfs is announced.
	c, err = ChooseDriver(storagetypes.StoreOptions{GraphRoot: root, GraphDriverName: "overlay"}, "storage.conf")
	if err != nil || !c.Probed || mountProgram(c.Options) != fuse {
		t.Errorf("configured overlay: %+v %v", c, err)
	}

	// Without fuse-overlayfs: vfs, saying why.
	t.Setenv("PATH", t.TempDir())
	c, err = ChooseDriver(storagetypes.StoreOptions{GraphRoot: root, GraphDriverOptions: []string{"overlay.mountopt=nodev"}}, "storage.conf")
	if err != nil {
		t.Fatal(err)
	}
	if c.Driver != "vfs" || !strings.HasPrefix(c.Reason, "no overlay: native overlay failed: ") || !strings.Contains(c.Reason, "; fuse-overlayfs: ") || len(c.Options) != 0 {
		t.Errorf("without fuse-overlayfs: %+v", c)
	}
	// Configured overlay that cannot mount is an error with the fix.
	_, err = ChooseDriver(storagetypes.StoreOptions{GraphRoot: root, GraphDriverName: "overlay"}, "storage.conf")
	var e *Error
	if !errors.As(err, &e) || e.Fix != "use --storage-driver vfs, or sudo apt-get install fuse-overlayfs" {
		t.Fatalf("configured overlay that cannot mount: %v", err)
	}
}

func TestFuseFix(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&os.PathError{Op: "open", Path: "/dev/fuse", Err: syscall.EACCES}, "sudo chmod 0666 /dev/fuse"},
		{&os.PathError{Op: "open", Path: "/dev/fuse", Err: syscall.ENOENT}, "sudo modprobe fuse"},
		{&os.PathError{Op: "open", Path: "/dev/fuse", Err: syscall.ENODEV}, "sudo modprobe fuse"},
		{&exec.Error{Name: "fuse-overlayfs", Err: exec.ErrNotFound}, "sudo apt-get install fuse-overlayfs"},
		{&os.PathError{Op: "stat", Path: "/usr/bin/fuse-overlayfs", Err: syscall.ENOENT}, "sudo apt-get install fuse-overlayfs"},
	} {
		if got := FuseFix(tc.err); got != tc.want {
			t.Errorf("FuseFix(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

func TestAnnounce(t *testing.T) {
	var b bytes.Buffer
	Announce(&b, "overlay", "native overlay mounts work in the user namespace")
	if got, want := b.String(), "builder: storage driver overlay (native overlay mounts work in the user namespace)\n"; got != want {
		t.Errorf("%q, want %q", got, want)
	}
}

func TestPrepareStore(t *testing.T) {
	requireRoot(t)
	t.Setenv("STORAGE_DRIVER", "")
	dir := t.TempDir()
	conf := filepath.Join(dir, "storage.conf")
	os.WriteFile(conf, []byte("[storage]\n"), 0o644)
	o := store.Options{GraphRoot: filepath.Join(dir, "graph"), RunRoot: filepath.Join(dir, "run"), StorageConf: conf}

	var b bytes.Buffer
	got, c, err := PrepareStore(o, &b)
	if err != nil {
		t.Fatal(err)
	}
	if got.Driver != "overlay" || got.DriverOptions == nil || c.Reason != "native overlay mounts work as root" {
		t.Errorf("options %+v, choice %+v", got, c)
	}
	if b.String() != "builder: storage driver overlay (native overlay mounts work as root)\n" {
		t.Errorf("first use announced %q", b.String())
	}
	// Once the store is in use, the choice is not repeated.
	writeStore(t, o.GraphRoot, "overlay")
	b.Reset()
	if _, _, err := PrepareStore(o, &b); err != nil || b.Len() != 0 {
		t.Errorf("second use: %v, printed %q", err, b.String())
	}
	// A configured driver the store has no layers of is refused.
	o.Driver = "vfs"
	_, _, err = PrepareStore(o, &b)
	var e *Error
	if !errors.As(err, &e) || !strings.Contains(e.Fix, "--storage-driver overlay") {
		t.Fatalf("vfs on an overlay store: %v", err)
	}
	if b.Len() != 0 {
		t.Errorf("configured driver announced %q", b.String())
	}
	if DriverSource(o) != "--storage-driver" {
		t.Errorf("DriverSource = %q", DriverSource(o))
	}
	o.Driver = ""
	if DriverSource(o) != conf {
		t.Errorf("DriverSource = %q, want %s", DriverSource(o), conf)
	}
}

// containers/storage's cached test mount result is what it goes by, so
// the choice follows it.
func TestChooseDriverFollowsTheCache(t *testing.T) {
	dir := t.TempDir()
	opts := storagetypes.StoreOptions{GraphRoot: filepath.Join(dir, "graph"), RunRoot: filepath.Join(dir, "run")}
	os.MkdirAll(filepath.Join(opts.RunRoot, "overlay"), 0o700)
	os.WriteFile(filepath.Join(opts.RunRoot, "overlay", "overlay-false"), []byte("kernel does not support overlay fs"), 0o600)
	t.Setenv("PATH", t.TempDir())
	c, err := ChooseDriver(opts, "storage.conf")
	if err != nil {
		t.Fatal(err)
	}
	if c.Driver != "vfs" || !strings.Contains(c.Reason, "native overlay failed: kernel does not support overlay fs (cached in "+opts.RunRoot+"/overlay until reboot)") {
		t.Errorf("cached failure: %+v", c)
	}
	os.Rename(filepath.Join(opts.RunRoot, "overlay", "overlay-false"), filepath.Join(opts.RunRoot, "overlay", "overlay-true"))
	if c, err := ChooseDriver(opts, "storage.conf"); err != nil || c.Driver != "overlay" {
		t.Errorf("cached success: %+v %v", c, err)
	}
}

func TestChooseDriverPriority(t *testing.T) {
	root := t.TempDir()
	c, err := ChooseDriver(storagetypes.StoreOptions{GraphRoot: root, GraphDriverPriority: []string{"vfs", "overlay"}}, "storage.conf")
	if err != nil || c.Driver != "vfs" || c.Reason != "first in driver_priority" || !c.Probed {
		t.Errorf("vfs first: %+v %v", c, err)
	}
	root = overlayRoot(t)
	t.Setenv("PATH", t.TempDir())
	c, err = ChooseDriver(storagetypes.StoreOptions{GraphRoot: root, GraphDriverPriority: []string{"zfs", "overlay", "vfs"}}, "storage.conf")
	if err != nil || c.Driver != "vfs" || !strings.HasPrefix(c.Reason, "zfs is not probed; no overlay: native overlay failed: ") {
		t.Errorf("overlay failing: %+v %v", c, err)
	}
	_, err = ChooseDriver(storagetypes.StoreOptions{GraphRoot: root, GraphDriverPriority: []string{"overlay"}}, "/etc/containers/storage.conf")
	var e *Error
	if !errors.As(err, &e) || e.Fix != `add "vfs" to driver_priority in /etc/containers/storage.conf, or use --storage-driver vfs` {
		t.Errorf("no driver works: %v", err)
	}
}
