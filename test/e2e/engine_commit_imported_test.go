package e2e

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestEngineCommitImported: a container restored from a checkpoint archive
// (its layer filled from the archive) that changed files since can be
// committed: the image holds the archive's changes and the later ones.
func TestEngineCommitImported(t *testing.T) {
	e := containerStore(t)
	defer e.settle(t)
	e.must(t, "run", "-d", "--network", "none", "--name", "src", "bb", "sh", "-c", "echo before > /before; sleep 1000")
	waitFor(t, func() bool { return e.run(t, "exec", "src", "cat", "/before").Code == 0 })
	archive := filepath.Join(t.TempDir(), "src.tar")
	e.must(t, "container", "checkpoint", "--export", archive, "src")
	e.must(t, "container", "restore", "--import", archive, "--name", "copy")
	e.must(t, "exec", "copy", "sh", "-c", "echo after > /after; echo changed > /before")
	e.must(t, "commit", "-q", "copy", "localhost/imported")
	got := e.must(t, "run", "--rm", "--network", "none", "localhost/imported", "cat", "/before", "/after").Stdout
	if strings.TrimSpace(got) != "changed\nafter" {
		t.Fatalf("the committed image holds %q", got)
	}
}
