package monitor

// The constructor in exitcmd.c lets a foreground CLI's own cleanup stand
// for conmon's exit command.

// #cgo CFLAGS: -Wall
import "C"

import (
	"os"
	"path/filepath"
	"strconv"

	"github.com/ocisuite/suite/shared/atomicfile"
)

// AttachedFile is where a CLI that waits for container id in the
// foreground, and cleans up after it itself, records its PID; dir is the
// engine's run-time directory (the store's run root + "/engine", as the
// constructor finds it from the exit command's --runroot).
func AttachedFile(dir, id string) string {
	return filepath.Join(dir, "attached", id)
}

// TakeCleanup records that this process cleans up after container id, so
// that conmon's exit command does nothing while it lives. The returned
// function gives the cleanup back to the exit command; call it once done,
// or when leaving the container running (detach).
func TakeCleanup(dir, id string) (release func()) {
	p := AttachedFile(dir, id)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return func() {}
	}
	if err := atomicfile.Write(p, []byte(strconv.Itoa(os.Getpid())), 0o600); err != nil {
		return func() {}
	}
	return func() { os.Remove(p) }
}
