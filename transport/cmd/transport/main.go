// Command transport copies, inspects, syncs and deletes container images
// between registries and archives without pulling them into local storage.
package main

import (
	"os"

	"github.com/ocisuite/suite/shared/cli"
)

func main() {
	os.Exit(cli.Main(newRootCmd(), os.Args[1:], os.Stderr, exitCodes))
}
