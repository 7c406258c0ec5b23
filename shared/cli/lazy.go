package cli

import (
	"strings"

	"github.com/spf13/cobra"
)

// CommandName is the top-level command args name for root: the first
// argument that is not one of root's flags or a flag's value. It is ""
// when args name none, or ask for help or the version first, or hold a
// flag root does not know: then the whole command tree is needed.
//
// A root whose commands are costly to build (hundreds of flags) builds
// only the command a command line runs, which takes a few milliseconds
// off every command's start.
func CommandName(root *cobra.Command, args []string) string {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return ""
		}
		if a == "-" || !strings.HasPrefix(a, "-") {
			return a
		}
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		f := root.PersistentFlags().Lookup(name)
		if !strings.HasPrefix(a, "--") {
			if len(name) != 1 {
				return "" // -abc: shorthands run together
			}
			f = root.PersistentFlags().ShorthandLookup(name)
		}
		if f == nil {
			return "" // --help, --version, or a flag root does not know
		}
		if !hasValue && f.NoOptDefVal == "" {
			i++ // the flag's value is the next argument
		}
	}
	return ""
}
