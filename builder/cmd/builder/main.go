// Command builder builds OCI images from Containerfiles, rootful and
// rootless, and works with buildah-style working containers.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/containers/storage/pkg/reexec"

	"github.com/ocisuite/suite/builder/build"
	"github.com/ocisuite/suite/shared/cli"
	"github.com/ocisuite/suite/shared/userns"
)

// exitCodes: 125 for any failure of the builder itself, as buildah; a
// failed RUN step passes its command's status through (build.RunError).
var exitCodes = cli.Codes{Default: 125, Usage: 125, Classify: runStatus}

func main() {
	cli.DeferGC()
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
		os.Exit(125)
	}
	os.Exit(cli.Main(newRootCmd(), os.Args[1:], os.Stderr, exitCodes))
}

// runStatus gives a failed RUN step's status as the exit code.
func runStatus(err error) (int, bool) {
	var re *build.RunError
	if errors.As(err, &re) {
		return re.Code, true
	}
	return 0, false
}
