//go:build !thin

package main

import (
	"github.com/spf13/cobra"

	"github.com/ocisuite/suite/shared/cli"
)

// volumeCommands are "engine volume …".
func volumeCommands(g *globalOptions) []*cobra.Command {
	group := &cobra.Command{
		Use:   "volume",
		Short: "Manage volumes",
		Args:  cli.ExactArgs(0),
		RunE:  func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	group.AddCommand(newVolumeCreateCmd(g), newVolumeLsCmd(g), newVolumeInspectCmd(g),
		newVolumeRmCmd(g), newVolumePruneCmd(g), newVolumeExistsCmd(g),
		newVolumeExportCmd(g), newVolumeImportCmd(g))
	return []*cobra.Command{group}
}
