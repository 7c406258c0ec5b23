//go:build !thin

package main

import (
	"context"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/ocisuite/suite/shared/cli"
)

func newTopCmd(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "top CONTAINER [DESCRIPTOR...]",
		Short: "Show a container's processes (ps descriptors: user pid ppid %cpu elapsed tty time command …)",
		Args:  cli.MinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withSession(cmd, g, func(ctx context.Context, s *session) error {
				rows, err := s.engine.Top(ctx, args[0], args[1:])
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 8, 3, ' ', 0)
				for _, r := range rows {
					tw.Write([]byte(strings.Join(r, "\t") + "\n"))
				}
				return tw.Flush()
			})
		},
	}
}
