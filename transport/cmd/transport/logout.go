package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ocisuite/suite/shared/auth"
	"github.com/ocisuite/suite/shared/cli"
)

func newLogoutCmd(g *globalOptions) *cobra.Command {
	var authFile string
	var all bool
	cmd := &cobra.Command{
		Use:   "logout [flags] REGISTRY",
		Short: "Log out of a container registry",
		Example: `  transport logout registry.example
  transport logout --all`,
		Args: cli.RangeArgs(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if all == (len(args) == 1) {
				return cli.Usage(fmt.Errorf("give either a REGISTRY or --all"))
			}
			sys, err := (&imageFlags{authFile: authFile, fs: cmd.Flags()}).systemContext(g)
			if err != nil {
				return cli.Usage(err)
			}
			registry := ""
			if !all {
				registry = args[0]
			}
			return auth.LogoutFlow(sys, registry, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&authFile, "authfile", "", "path of the authentication `file`")
	cmd.Flags().BoolVarP(&all, "all", "a", false, "remove the credentials of every registry")
	return cmd
}
