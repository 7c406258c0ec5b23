//go:build !thin

package main

import "github.com/spf13/cobra"

// containerOpsCommands are the container commands beyond the lifecycle
// (top, diff, port, cp, commit, mount, umount, update, stats), at the top
// level and under "engine container".
func containerOpsCommands(g *globalOptions) []*cobra.Command {
	return []*cobra.Command{
		newTopCmd(g), newDiffCmd(g), newPortCmd(g), newCpCmd(g), newCommitCmd(g),
		newMountCmd(g), newUmountCmd(g), newUpdateCmd(g), newStatsCmd(g), newExportCmd(g),
	}
}
