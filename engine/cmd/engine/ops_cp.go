//go:build !thin

package main

import (
	"context"
	"errors"
	"os"

	"github.com/spf13/cobra"

	"github.com/ocisuite/suite/engine/container"
	"github.com/ocisuite/suite/shared/cli"
)

func newCpCmd(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "cp [flags] SRC DEST",
		Short: "Copy files between a container and the host (CONTAINER:PATH; - for a tar stream)",
		Long: `Copy files between a container and the host, both ways, running or not.
One of SRC and DEST is CONTAINER:PATH. "-" as SRC reads a tar stream from
stdin into the DEST directory; "-" as DEST writes a tar stream to stdout.
Symbolic links in the container are resolved inside its root filesystem.`,
		Args: cli.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if args[0] == "-" {
				if f, ok := cmd.InOrStdin().(*os.File); ok && cli.IsTerminal(f) {
					return cli.Usage(errors.New("refusing to read a tar archive from a terminal: redirect stdin"))
				}
			}
			if args[1] == "-" && cli.IsTerminal(cmd.OutOrStdout()) {
				return cli.Usage(errors.New("refusing to write a tar archive to a terminal: redirect stdout"))
			}
			return withSession(cmd, g, func(ctx context.Context, s *session) error {
				return s.engine.Copy(ctx, container.CopyOptions{
					Source: args[0], Target: args[1], Stdin: cmd.InOrStdin(), Stdout: cmd.OutOrStdout(),
				})
			})
		},
	}
}
