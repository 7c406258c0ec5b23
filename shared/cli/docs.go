//go:build !thin

package cli

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

// docsCmd is a hidden command that writes one markdown page and one man page
// per command into DIR/NAME/ and DIR/man/ (`make docs` calls it).
func docsCmd(root *cobra.Command) *cobra.Command {
	return &cobra.Command{
		Use:    "generate-docs DIR",
		Short:  "Write markdown and man pages for every command",
		Hidden: true,
		Args:   ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			md := filepath.Join(args[0], root.Name())
			man := filepath.Join(args[0], "man")
			for _, d := range []string{md, man} {
				if err := os.MkdirAll(d, 0o755); err != nil {
					return fmt.Errorf("creating %s: %w", d, err)
				}
			}
			root.DisableAutoGenTag = true
			if err := doc.GenMarkdownTree(root, md); err != nil {
				return fmt.Errorf("writing markdown pages: %w", err)
			}
			hdr := &doc.GenManHeader{Title: root.Name(), Section: "1", Source: "ocisuite"}
			if err := doc.GenManTree(root, hdr, man); err != nil {
				return fmt.Errorf("writing man pages: %w", err)
			}
			return nil
		},
	}
}
