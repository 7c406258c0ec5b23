// Command builder builds OCI images from Containerfiles, rootful and
// rootless, and works with buildah-style working containers.
package main

import (
	"fmt"
	"os"

	"github.com/containers/storage/pkg/reexec"

	"github.com/ocisuite/suite/shared/cli"
	"github.com/ocisuite/suite/shared/userns"
)

// exitCodes: 1 for any failure, 125 for usage errors, like buildah.
var exitCodes = cli.Codes{Default: 1, Usage: 125}

func main() {
	// containers/storage re-executes this binary for some operations.
	if reexec.Init() {
		return
	}
	// A rootless user's commands all run in one user namespace.
	if err := userns.Enter(); err != nil {
		// builder info --check runs even so, to say why.
		if code, ok := infoCheckWithoutNamespace(os.Args[1:], err); ok {
			os.Exit(code)
		}
		fmt.Fprintf(os.Stderr, "builder: %v\n", err)
		os.Exit(1)
	}
	os.Exit(cli.Main(newRootCmd(), os.Args[1:], os.Stderr, exitCodes))
}
