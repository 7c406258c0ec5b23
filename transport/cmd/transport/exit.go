package main

import "github.com/ocisuite/suite/shared/cli"

// exitCodes: 1 for any failure, 2 for command-line usage errors, like skopeo.
var exitCodes = cli.Codes{Default: 1, Usage: 2}
