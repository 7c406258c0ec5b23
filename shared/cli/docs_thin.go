//go:build thin

package cli

import "github.com/spf13/cobra"

// docsCmd: a thin binary (see engine's thin build) hands every command it
// does not hold, generate-docs too, to the full binary.
func docsCmd(*cobra.Command) *cobra.Command { return nil }
