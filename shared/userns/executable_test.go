package userns

import (
	"os"
	"path/filepath"
	"testing"
)

func TestExecutable(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// A link elsewhere to this very binary: the variable names it.
	link := filepath.Join(t.TempDir(), "engine")
	if err := os.Symlink(self, link); err != nil {
		t.Fatal(err)
	}
	t.Setenv(envExe, link)
	if got, err := Executable(); err != nil || got != link {
		t.Fatalf("Executable() with %s=%s: %q, %v; want the variable's path", envExe, link, got, err)
	}
	// Another binary's path, inherited from a command that ran this one
	// (a shell of builder unshare): not this binary's.
	t.Setenv(envExe, "/bin/sh")
	if got, err := Executable(); err != nil || got != self {
		t.Fatalf("Executable() with %s=/bin/sh: %q, %v; want %s", envExe, got, err, self)
	}
}
