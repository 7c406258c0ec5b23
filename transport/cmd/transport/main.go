// Command transport copies, inspects, syncs and deletes container images
// between registries and archives without pulling them into local storage.
package main

import (
	"github.com/containers/storage/pkg/reexec"
	"os"

	"github.com/ocisuite/suite/shared/cli"
)

func main() {
	cli.DeferGC()
	// containers/storage re-executes this binary for some operations.
	if reexec.Init() {
		return
	}
	os.Exit(cli.Main(newRootCmd(), os.Args[1:], os.Stderr, exitCodes))
}
