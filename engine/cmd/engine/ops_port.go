package main

import (
	"context"
	"errors"

	"github.com/spf13/cobra"

	"github.com/ocisuite/suite/shared/cli"
)

// newPortCmd lists published ports; the engine has no port publishing
// yet (networks are none or host), so there is nothing to print.
func newPortCmd(g *globalOptions) *cobra.Command {
	var all, latest bool
	cmd := &cobra.Command{
		Use:   "port [flags] CONTAINER [PRIVATE-PORT[/PROTO]]",
		Short: "List a container's published ports",
		Args:  cli.RangeArgs(0, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if all == (len(args) > 0) && !latest {
				return cli.Usage(errors.New("give a container, or --all"))
			}
			return withSession(cmd, g, func(ctx context.Context, s *session) error {
				if len(args) > 0 {
					_, err := s.engine.Lookup(args[0])
					return err
				}
				return nil
			})
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "list the ports of every container")
	cmd.Flags().BoolVarP(&latest, "latest", "l", false, "act on the latest container")
	return cmd
}
