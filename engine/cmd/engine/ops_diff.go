//go:build !thin

package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ocisuite/suite/shared/cli"
	"github.com/ocisuite/suite/shared/format"
)

func newDiffCmd(g *globalOptions) *cobra.Command {
	var tmpl string
	cmd := &cobra.Command{
		Use:   "diff [flags] CONTAINER",
		Short: "Show what a container changed against its image (A added, C changed, D deleted)",
		Args:  cli.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if tmpl != "" && tmpl != "json" {
				return cli.Usage(fmt.Errorf("invalid --format %q: only json", tmpl))
			}
			return withSession(cmd, g, func(ctx context.Context, s *session) error {
				changes, err := s.engine.Diff(args[0])
				if err != nil {
					return err
				}
				out := cmd.OutOrStdout()
				if tmpl == "json" {
					// podman's shape: the paths of each kind.
					byKind := map[string][]string{}
					names := map[string]string{"A": "added", "C": "changed", "D": "deleted"}
					for _, c := range changes {
						byKind[names[c.Kind]] = append(byKind[names[c.Kind]], c.Path)
					}
					return format.JSON(out, byKind)
				}
				for _, c := range changes {
					fmt.Fprintf(out, "%s %s\n", c.Kind, c.Path)
				}
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&tmpl, "format", "", "json for podman's JSON shape")
	return cmd
}
