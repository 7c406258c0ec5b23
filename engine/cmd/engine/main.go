// Command engine runs OCI containers with no daemon. Its container, image and
// pod commands are being built (see README.md for what works today).
package main

import (
	"fmt"
	"os"

	"github.com/containers/storage/pkg/reexec"

	"github.com/ocisuite/suite/shared/cli"
	"github.com/ocisuite/suite/shared/userns"
)

// exitCodes follow podman: 125 for an error of the engine itself.
var exitCodes = cli.Codes{Default: 125, Usage: 125}

func main() {
	cli.DeferGC()
	// containers/storage re-executes this binary for some operations.
	if reexec.Init() {
		return
	}
	// The thin engine hands a command it does not hold to the full one
	// here, before the full one enters the user namespace itself.
	root := newRootCmd(os.Args[1:])
	// A rootless user's commands all run in one user namespace.
	if err := userns.Enter(); err != nil {
		fmt.Fprintf(os.Stderr, "engine: %v\n", err)
		os.Exit(125)
	}
	os.Exit(cli.Main(root, os.Args[1:], os.Stderr, exitCodes))
}
