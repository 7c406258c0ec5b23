package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestEngineCpMounts: cp resolves paths below a container's volumes, bind
// mounts and (while it runs) tmpfs mounts in those mounts, as podman does,
// not in the root filesystem they hide.
func TestEngineCpMounts(t *testing.T) {
	e := containerStore(t)
	defer e.settle(t)
	bind := t.TempDir()
	e.must(t, "volume", "create", "vol")
	e.must(t, "run", "-d", "--network", "none", "--name", "c", "-v", "vol:/data", "-v", bind+":/bind", "--tmpfs", "/scratch", "bb", "sleep", "1000")
	host := filepath.Join(t.TempDir(), "f.txt")
	if err := os.WriteFile(host, []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	volDir := strings.TrimSpace(e.must(t, "volume", "inspect", "--format", "{{.Mountpoint}}", "vol").Stdout)

	e.must(t, "cp", host, "c:/data/")
	e.must(t, "cp", host, "c:/bind/g.txt")
	e.must(t, "cp", host, "c:/scratch/h.txt")
	if b, err := os.ReadFile(filepath.Join(volDir, "f.txt")); err != nil || string(b) != "hello\n" {
		t.Fatalf("the file copied to /data is not in the volume %s: %q %v", volDir, b, err)
	}
	if b, err := os.ReadFile(filepath.Join(bind, "g.txt")); err != nil || string(b) != "hello\n" {
		t.Fatalf("the file copied to /bind is not in the bound directory: %q %v", b, err)
	}
	if got := e.must(t, "exec", "c", "cat", "/data/f.txt", "/bind/g.txt", "/scratch/h.txt").Stdout; got != "hello\nhello\nhello\n" {
		t.Fatalf("the container sees %q", got)
	}
	// And back out of a mount.
	out := t.TempDir()
	e.must(t, "cp", "c:/scratch/h.txt", out)
	if b, _ := os.ReadFile(filepath.Join(out, "h.txt")); string(b) != "hello\n" {
		t.Fatalf("copied out of the tmpfs: %q", b)
	}

	// A stopped container: the volume is still where the copy goes.
	e.must(t, "stop", "-t", "0", "c")
	e.must(t, "cp", host, "c:/data/again.txt")
	if _, err := os.Stat(filepath.Join(volDir, "again.txt")); err != nil {
		t.Fatalf("copy into a stopped container's volume: %v", err)
	}
	e.must(t, "cp", "c:/data/f.txt", filepath.Join(out, "back.txt"))
	if b, _ := os.ReadFile(filepath.Join(out, "back.txt")); string(b) != "hello\n" {
		t.Fatalf("copied out of the volume of a stopped container: %q", b)
	}
	// The root filesystem under the mount point got nothing.
	mp := strings.TrimSpace(e.must(t, "mount", "c").Stdout)
	defer e.must(t, "umount", "c")
	if _, err := os.Stat(filepath.Join(mp, "data", "f.txt")); err == nil {
		t.Fatalf("the copy also landed in the root filesystem under /data")
	}
}
