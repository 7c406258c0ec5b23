//go:build !thin

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/ocisuite/suite/shared/cli"
)

func newExportCmd(g *globalOptions) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "export [flags] CONTAINER",
		Short: "Write a container's root filesystem as a tar archive",
		Args:  cli.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var w io.Writer = cmd.OutOrStdout()
			if output == "" && cli.IsTerminal(w) {
				return cli.Usage(errors.New("refusing to write a tar archive to a terminal: use -o FILE or redirect stdout"))
			}
			return withSession(cmd, g, func(ctx context.Context, s *session) error {
				if output == "" {
					return s.engine.Export(ctx, args[0], w)
				}
				// Written beside the target, then renamed: no half archive.
				tmp := output + ".tmp"
				f, err := os.Create(tmp)
				if err != nil {
					return err
				}
				err = s.engine.Export(ctx, args[0], f)
				if cerr := f.Close(); err == nil {
					err = cerr
				}
				if err != nil {
					os.Remove(tmp)
					return err
				}
				if err := os.Rename(tmp, output); err != nil {
					return fmt.Errorf("writing %s: %w", output, err)
				}
				return nil
			})
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "write to `file` instead of stdout")
	return cmd
}
