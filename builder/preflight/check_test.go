package preflight

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	storagetypes "github.com/containers/storage/types"
)

func subIDFiles(t *testing.T, subuid, subgid string) (string, string) {
	t.Helper()
	dir := t.TempDir()
	u, g := filepath.Join(dir, "subuid"), filepath.Join(dir, "subgid")
	os.WriteFile(u, []byte(subuid), 0o644)
	os.WriteFile(g, []byte(subgid), 0o644)
	return u, g
}

func TestSubIDs(t *testing.T) {
	const ranges = "ci:100000:65536\n"
	u, g := subIDFiles(t, ranges, ranges)
	r := SubIDs("ci", "1001", true, u, g)
	if !r.OK || r.Detail != "ci has 65536 UIDs from 100000 in "+u+" and 65536 GIDs from 100000 in "+g {
		t.Errorf("user with ranges: %+v", r)
	}
	// By uid, as shadow-utils also accepts.
	byUID, byUIDg := subIDFiles(t, "1001:300000:65536\n", "1001:300000:65536\n")
	if r := SubIDs("other", "1001", true, byUID, byUIDg); !r.OK {
		t.Errorf("range by uid: %+v", r)
	}

	r = SubIDs("nosub", "1002", true, u, g)
	if r.Status() != "FAIL" || !strings.Contains(r.Detail, "nosub has no range in "+u) {
		t.Errorf("user without ranges: %+v", r)
	}
	// The fix's range overlaps no one's.
	if want := "sudo usermod --add-subuids 165536-231071 --add-subgids 165536-231071 nosub"; r.Fix != want {
		t.Errorf("fix %q, want %q", r.Fix, want)
	}

	u2, g2 := subIDFiles(t, ranges+"nosub:200000:65536\n", ranges)
	r = SubIDs("nosub", "1002", true, u2, g2)
	if r.Status() != "FAIL" || r.Fix != "sudo usermod --add-subgids 265536-331071 nosub" {
		t.Errorf("user without a subgid range: %+v", r)
	}

	u3, g3 := subIDFiles(t, "small:100000:1000\n", "small:100000:65536\n")
	r = SubIDs("small", "1003", true, u3, g3)
	if r.Status() != "warn" || r.Fix != "sudo usermod --add-subuids 165536-231071 small" {
		t.Errorf("small range: %+v", r)
	}

	if r := SubIDs("root", "0", false, "/nonexistent", "/nonexistent"); !r.OK || r.Detail != "root needs none" {
		t.Errorf("root: %+v", r)
	}
}

func TestUserNamespaces(t *testing.T) {
	r := UserNamespaces(os.Geteuid() != 0, nil)
	if !r.OK {
		t.Fatalf("user namespaces on this host: %+v", r)
	}
	r = UserNamespaces(true, errors.New("rootless: user ci has no range in /etc/subuid"))
	if r.Status() != "FAIL" || r.Detail != "builder could not enter its user namespace: rootless: user ci has no range in /etc/subuid" {
		t.Errorf("outside the namespace: %+v", r)
	}
	if fix := userNamespaceFix(); !strings.Contains(fix, "sudo sysctl -w ") {
		t.Errorf("fix %q", fix)
	}
}

func TestStorageChecks(t *testing.T) {
	root := t.TempDir()
	writeStore(t, root, "vfs")
	rs := Storage(storagetypes.StoreOptions{GraphRoot: root, GraphDriverName: "overlay"}, "--storage-driver")
	if len(rs) != 1 || rs[0].Name != "store" || rs[0].Status() != "FAIL" || !strings.HasPrefix(rs[0].Fix, "use --storage-driver vfs, or ") {
		t.Fatalf("overlay on a vfs store: %+v", rs)
	}
	rs = Storage(storagetypes.StoreOptions{GraphRoot: root}, "storage.conf")
	if len(rs) != 2 || !rs[0].OK || rs[0].Detail != "vfs (the store at "+root+" holds vfs layers)" || !rs[1].OK || rs[1].Detail != root+" holds vfs layers" {
		t.Fatalf("vfs store, no driver configured: %+v", rs)
	}
}

func TestFuse(t *testing.T) {
	// As root /dev/fuse opens; the failures are in the e2e test, run as
	// a user who may not open it.
	requireRoot(t)
	r := Fuse(nil, "")
	if !r.OK || !strings.Contains(r.Detail, "fuse-overlayfs can mount with /dev/fuse") {
		t.Errorf("%+v", r)
	}
}

func TestFuseFailure(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	native := errors.New("mounting overlay: invalid argument")
	if r := Fuse(nil, ""); r.Status() != "warn" || !strings.Contains(r.Detail, "only needed when native overlay mounts fail") || r.Fix != "sudo apt-get install fuse-overlayfs" {
		t.Errorf("native overlay works: %+v", r)
	}
	if r := Fuse(native, "vfs"); r.Status() != "warn" || !strings.Contains(r.Detail, "not needed with the vfs driver") {
		t.Errorf("vfs configured: %+v", r)
	}
	if r := Fuse(native, ""); r.Status() != "FAIL" || !strings.Contains(r.Detail, "native overlay fails (mounting overlay: invalid argument)") {
		t.Errorf("native overlay fails: %+v", r)
	}
}

func TestCgroups(t *testing.T) {
	root := Cgroups(false)
	if !root.OK || !strings.HasPrefix(root.Detail, "cgroup v") {
		t.Errorf("root: %+v", root)
	}
	if !isCgroup2("/sys/fs/cgroup") {
		r := Cgroups(true)
		if r.Status() != "warn" || !strings.Contains(r.Detail, "no cgroup delegation") || !strings.Contains(r.Fix, "systemd.unified_cgroup_hierarchy=1") {
			t.Errorf("rootless on cgroup v1: %+v", r)
		}
	}
}

func TestRuntime(t *testing.T) {
	if r := Runtime(context.Background(), "runc", nil); !r.OK || !strings.Contains(r.Detail, "runc version") {
		t.Errorf("runc: %+v", r)
	}
	r := Runtime(context.Background(), "no-such-runtime", nil)
	if r.Status() != "FAIL" || r.Fix != "sudo apt-get install no-such-runtime" {
		t.Errorf("missing runtime: %+v", r)
	}
	if r := Runtime(context.Background(), "/bin/false", nil); r.Status() != "FAIL" || !strings.Contains(r.Detail, "/bin/false --version") {
		t.Errorf("failing runtime: %+v", r)
	}
}

func TestIDMapTools(t *testing.T) {
	r := IDMapTools(true)
	if !r.OK || !strings.Contains(r.Detail, "newuidmap and ") {
		t.Errorf("rootless: %+v", r)
	}
	t.Setenv("PATH", t.TempDir())
	if r := IDMapTools(true); r.Status() != "FAIL" || r.Fix != "sudo apt-get install uidmap" {
		t.Errorf("not installed: %+v", r)
	}
	if r := IDMapTools(false); !r.OK {
		t.Errorf("root without newuidmap: %+v", r)
	}
}
