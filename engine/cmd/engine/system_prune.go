//go:build !thin

package main

import (
	"context"
	"fmt"

	units "github.com/docker/go-units"
	"github.com/spf13/cobra"

	"github.com/ocisuite/suite/engine/container"
	"github.com/ocisuite/suite/engine/system"
	"github.com/ocisuite/suite/shared/cli"
)

func newSystemPruneCmd(g *globalOptions) *cobra.Command {
	var o system.PruneOptions
	var force bool
	cmd := &cobra.Command{
		Use:   "prune",
		Short: "Remove stopped containers, dangling (or unused) images and, with --volumes, unused volumes",
		Args:  cli.ExactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !force {
				images := "all dangling images"
				if o.All {
					images = "all images without at least one container associated with them"
				}
				msg := "WARNING! This command removes:\n\t- all stopped containers\n"
				if o.Volumes {
					msg += "\t- all volumes not used by at least one container\n"
				}
				msg += "\t- " + images + "\n\nAre you sure you want to continue?"
				if !confirm(cmd, msg) {
					return nil
				}
			}
			return withSession(cmd, g, func(ctx context.Context, s *session) error {
				rep, err := system.Prune(ctx, s.engine, o)
				if rep != nil {
					out := cmd.OutOrStdout()
					list := func(title string, ids []string) {
						if len(ids) == 0 {
							return
						}
						fmt.Fprintln(out, title)
						for _, id := range ids {
							fmt.Fprintln(out, id)
						}
					}
					list("Deleted Containers", rep.Containers)
					list("Deleted Volumes", rep.Volumes)
					list("Deleted Images", rep.Images)
					fmt.Fprintf(out, "Total reclaimed space: %s\n", units.HumanSize(float64(rep.Reclaimed)))
				}
				return err
			})
		},
	}
	cmd.Flags().BoolVarP(&o.All, "all", "a", false, "remove every image no container uses, not only dangling ones")
	cmd.Flags().BoolVarP(&force, "force", "f", false, "do not ask for confirmation")
	cmd.Flags().BoolVar(&o.Volumes, "volumes", false, "also remove volumes no container uses")
	return cmd
}

func newResetCmd(g *globalOptions) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "reset",
		Short: "Remove every container, image and volume of the store, and the engine's run-time state",
		Args:  cli.ExactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !force && !confirm(cmd, "WARNING! This will remove:\n\t- all containers\n\t- all images\n\t- all volumes\n\t- the event log and run-time state\nAre you sure you want to continue?") {
				return nil
			}
			return withSession(cmd, g, func(ctx context.Context, s *session) error {
				return system.Reset(ctx, s.engine)
			})
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "do not ask for confirmation")
	return cmd
}

func newCheckCmd(g *globalOptions) *cobra.Command {
	var o container.CheckOptions
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Find (and with --repair fix) records whose storage or process is gone",
		Long: `Check every container record against its storage and its processes: a
state that says running while the container's monitor is gone with no exit
code recorded, a missing or corrupt state file, a root filesystem left
mounted, runtime records and exit files of removed containers; then run
containers/storage's own consistency check. Each problem is one line; with
--repair each is fixed (the container is marked exited, leftovers removed).
Without --repair, problems found make the exit code 125.`,
		Args: cli.ExactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withSession(cmd, g, func(ctx context.Context, s *session) error {
				problems, err := s.engine.Check(ctx, o)
				out := cmd.OutOrStdout()
				unfixed := 0
				for _, p := range problems {
					fmt.Fprintln(out, p.String())
					if !p.Repaired {
						unfixed++
					}
				}
				if err != nil {
					return err
				}
				if unfixed > 0 {
					hint := " (run with --repair to fix them)"
					if o.Repair {
						hint = ""
					}
					return fmt.Errorf("%d problem(s) not repaired%s", unfixed, hint)
				}
				return nil
			})
		},
	}
	cmd.Flags().BoolVarP(&o.Repair, "repair", "r", false, "fix the problems found")
	cmd.Flags().BoolVarP(&o.Force, "force", "f", false, "with --repair, also remove containers whose storage is damaged")
	cmd.Flags().BoolVarP(&o.Quick, "quick", "q", false, "skip the slow storage checks (layer digests)")
	return cmd
}
