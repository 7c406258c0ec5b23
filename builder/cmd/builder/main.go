// Command builder builds OCI images from Containerfiles. Its build and
// working-container commands are being built (see README.md).
package main

import (
	"github.com/containers/storage/pkg/reexec"
	"os"

	"github.com/spf13/cobra"

	"github.com/ocisuite/suite/shared/cli"
)

// exitCodes: 1 for any failure, 125 for usage errors, like buildah.
var exitCodes = cli.Codes{Default: 1, Usage: 125}

func newRootCmd() *cobra.Command {
	return cli.Root(&cobra.Command{
		Use:   "builder",
		Short: "Build OCI images from Containerfiles, rootless",
		Args:  cobra.NoArgs,
	})
}

func main() {
	// containers/storage re-executes this binary for some operations.
	if reexec.Init() {
		return
	}
	os.Exit(cli.Main(newRootCmd(), os.Args[1:], os.Stderr, exitCodes))
}
