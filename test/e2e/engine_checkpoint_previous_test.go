package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// preCheckpointArchive makes a pre-checkpoint archive out of the
// uncompressed checkpoint archive full: CRIU's images and a manifest
// saying preCheckpoint, as checkpoint --pre-checkpoint --export writes
// one. (A genuine pre-dump needs the kernel's soft-dirty tracking, which
// the test machine lacks; CRIU's full images stand in for it.)
func preCheckpointArchive(t *testing.T, full, dst string) {
	t.Helper()
	set := editManifest(t, map[string]any{"version": 2, "preCheckpoint": true})
	rewriteArchive(t, full, dst, func(name string, b []byte) []byte {
		if name == "manifest.json" || strings.HasPrefix(name, "checkpoint/") {
			return set(name, b)
		}
		return nil
	})
}

// restore --import-previous PRE --import FINAL: the checks that need no
// genuine pre-dump, each a one-line error that leaves nothing behind, and
// the import of a pre-checkpoint with a checkpoint marked as made on it
// (stand-ins: see preCheckpointArchive): the pre-checkpoint's images
// become the parent of the checkpoint's (the container's pre-checkpoint
// directory, linked as CRIU's "parent"), and the container goes on.
// Where the kernel tracks memory changes, the real sequence runs:
// checkpoint -P --export, checkpoint --with-previous --export, restore
// --import-previous --import in another instance.
func TestEngineCheckpointImportPrevious(t *testing.T) {
	src := containerStore(t)
	dst := containerStore(t)
	dir := t.TempDir()
	src.must(t, "run", "-d", "--name", "loop", "bb", counterLoop[0], counterLoop[1], counterLoop[2])
	src.must(t, "run", "-d", "--name", "other", "bb", counterLoop[0], counterLoop[1], counterLoop[2])
	src.waitCounter(t, "loop", 10)
	src.waitCounter(t, "other", 1)

	_, err := exec.Command("criu", "check", "--feature", "mem_dirty_track").CombinedOutput()
	if tracking := err == nil; tracking {
		pre := filepath.Join(dir, "genuine-pre.tar")
		final := filepath.Join(dir, "genuine-final.tar")
		src.must(t, "container", "checkpoint", "-P", "-e", pre, "loop")
		src.must(t, "container", "checkpoint", "--with-previous", "-e", final, "loop")
		at := src.fileCounter(t, "loop")
		dst.must(t, "container", "restore", "--import-previous", pre, "--import", final, "-n", "genuine")
		dst.assertResumed(t, "genuine", at)
		src.must(t, "container", "restore", "loop")
	} else {
		// checkpoint -P --export is refused at once, writing nothing.
		pre := filepath.Join(dir, "refused-pre.tar")
		res := src.run(t, "container", "checkpoint", "-P", "-e", pre, "loop")
		if res.Code != 125 {
			t.Fatalf("checkpoint -P --export without memory tracking: exit %d", res.Code)
		}
		assertOneLine(t, res.Stderr, "soft-dirty")
		if _, err := os.Stat(pre); err == nil {
			t.Fatal("the refused pre-checkpoint wrote its archive")
		}
	}

	full := filepath.Join(dir, "loop.tar")
	src.must(t, "container", "checkpoint", "-R", "--compress", "none", "-e", full, "loop")
	otherFull := filepath.Join(dir, "other.tar")
	src.must(t, "container", "checkpoint", "-R", "--compress", "none", "-e", otherFull, "other")
	pre := filepath.Join(dir, "loop-pre.tar")
	preCheckpointArchive(t, full, pre)
	otherPre := filepath.Join(dir, "other-pre.tar")
	preCheckpointArchive(t, otherFull, otherPre)
	final := filepath.Join(dir, "loop-final.tar")
	src.must(t, "container", "checkpoint", "--compress", "none", "-e", filepath.Join(dir, "last.tar"), "loop")
	at := src.fileCounter(t, "loop")
	rewriteArchive(t, filepath.Join(dir, "last.tar"), final, editManifest(t, map[string]any{"version": 2, "withPrevious": true}))
	garbage := filepath.Join(dir, "garbage.tar")
	writeTar(t, garbage, []string{"hello"}, []string{"hi"})

	for _, c := range []struct {
		name  string
		args  []string
		wants []string
	}{
		{"no --import", []string{"--import-previous", pre}, []string{"--import-previous needs --import"}},
		{"not a pre-checkpoint", []string{"--import-previous", full, "--import", final}, []string{full, "not a pre-checkpoint archive"}},
		{"not an archive", []string{"--import-previous", garbage, "--import", final}, []string{"--import-previous " + garbage, "bad checkpoint archive"}},
		{"another container's", []string{"--import-previous", otherPre, "--import", final}, []string{"pre-checkpoint of container other", "the checkpoint is of loop"}},
		{"checkpoint not made on it", []string{"--import-previous", pre, "--import", full}, []string{"not made on a pre-checkpoint", "without --import-previous"}},
		{"pre-checkpoint missing", []string{"--import", final}, []string{"made on a pre-checkpoint", "--import-previous"}},
		{"pre-checkpoint as --import", []string{"--import", pre}, []string{"is a pre-checkpoint of loop", "--import-previous"}},
	} {
		res := dst.run(t, append([]string{"container", "restore"}, c.args...)...)
		if res.Code != 125 {
			t.Fatalf("%s: exit %d, want 125", c.name, res.Code)
		}
		assertOneLine(t, res.Stderr, c.wants...)
		if out := dst.must(t, "ps", "-aq").Stdout; out != "" {
			t.Fatalf("%s: the refused restore left %q", c.name, out)
		}
	}

	// restore --check says what each archive needs.
	res := dst.run(t, "container", "restore", "--check", "-i", pre)
	if res.Code != 125 || !strings.Contains(res.Stdout, "a pre-checkpoint of loop") {
		t.Fatalf("restore --check of a pre-checkpoint: exit %d:\n%s", res.Code, res.Stdout)
	}
	if out := dst.must(t, "container", "restore", "--check", "-i", final).Stdout; !strings.Contains(out, "--import-previous") {
		t.Fatalf("restore --check of a checkpoint made on a pre-checkpoint:\n%s", out)
	}

	// The pair goes through: the pre-checkpoint's images are the parent
	// of the checkpoint's (kept with --keep to look at them).
	id := strings.TrimSpace(dst.must(t, "container", "restore", "--keep", "--import-previous", pre, "--import", final, "-n", "copy").Stdout)
	dst.assertResumed(t, "copy", at)
	userdata := filepath.Join(dst.root, "overlay-containers", id, "userdata")
	link, err := os.Readlink(filepath.Join(userdata, "checkpoint", "parent"))
	if err != nil || link != "../pre-checkpoint" {
		t.Fatalf("the checkpoint's parent link: %q, %v; want ../pre-checkpoint", link, err)
	}
	if _, err := os.Stat(filepath.Join(userdata, "checkpoint", "parent", "inventory.img")); err != nil {
		t.Fatalf("the pre-checkpoint's images are not the checkpoint's parent: %v", err)
	}
}
