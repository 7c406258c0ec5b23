package main

import (
	"fmt"
	"os"

	"github.com/containers/image/v5/manifest"
	"github.com/spf13/cobra"

	"github.com/ocisuite/suite/shared/cli"
)

func newManifestDigestCmd(_ *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:     "manifest-digest MANIFEST-FILE",
		Short:   "Compute the digest of a manifest file",
		Example: `  transport manifest-digest dir/manifest.json`,
		Args:    cli.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := os.ReadFile(args[0])
			if err != nil {
				return fmt.Errorf("reading manifest: %w", err)
			}
			d, err := manifest.Digest(b)
			if err != nil {
				return fmt.Errorf("computing the digest of %s: %w", args[0], err)
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), d)
			return err
		},
	}
}
