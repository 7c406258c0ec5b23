//go:build !thin

package main

import (
	"context"
	"fmt"

	"github.com/containers/storage"
	"github.com/spf13/cobra"

	"github.com/ocisuite/suite/shared/cli"
	shimage "github.com/ocisuite/suite/shared/image"
	"github.com/ocisuite/suite/shared/imagestore"
)

// This file is the full engine's: every command. The thin build (tag
// "thin", see thin.go) holds only the commands of heldCommands and hands
// every other command line to the full binary.

// allCommands adds every command to root.
func allCommands(root *cobra.Command, g *globalOptions) {
	root.AddCommand(imageCommands(g)...)
	root.AddCommand(containerCommands(g)...)
	root.AddCommand(volumeCommands(g)...)
	root.AddCommand(networkCommands(g)...)
	root.AddCommand(systemCommands(g)...)
}

// heldCommands are the commands built alone: lazyCommands.
func heldCommands(g *globalOptions) map[string]func() *cobra.Command { return lazyCommands(g) }

// holds: the full binary runs every command line it is given.
func holds(*cobra.Command, []string) bool { return true }

// containerCommands are the container commands, at the top level as podman
// has them and again under "engine container".
func containerCommands(g *globalOptions) []*cobra.Command {
	return append(topContainerCommands(g), containerGroup(g), newInspectCmd(g))
}

// topContainerCommands are the commands both at the top level and under
// "container"; containerOpsCommands adds top, diff, port, cp, commit,
// mount, update…
func topContainerCommands(g *globalOptions) []*cobra.Command {
	return append([]*cobra.Command{
		newCreateCmd(g), newRunCmd(g), newStartCmd(g), newStopCmd(g), newKillCmd(g),
		newRmCmd(g), newPsCmd(g), newLogsCmd(g), newExecCmd(g), newAttachCmd(g),
		newWaitCmd(g), newPauseCmd(g), newUnpauseCmd(g), newRestartCmd(g),
		newRenameCmd(g), newInitCmd(g),
	}, containerOpsCommands(g)...)
}

// containerGroup is "engine container".
func containerGroup(g *globalOptions) *cobra.Command {
	group := &cobra.Command{
		Use:   "container",
		Short: "Manage containers",
		Args:  cli.ExactArgs(0),
		RunE:  func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	ls := newPsCmd(g)
	ls.Use, ls.Aliases = "list", []string{"ls"}
	group.AddCommand(topContainerCommands(g)...)
	group.AddCommand(ls, newCleanupCmd(g), newExistsCmd(g), newPruneCmd(g), newContainerInspectCmd(g))
	group.AddCommand(newCheckpointCmd(g), newRestoreCmd(g), newMigrateCmd(g))
	return group
}

// lazyCommands are the top-level commands scripts and the engine itself
// (conmon's exit command, the healthcheck timer) run most, by name and
// alias: a command line naming one builds it alone instead of the whole
// command tree (some 150 commands and their flags, a few milliseconds).
// TestLazyCommands checks each against the whole tree's.
func lazyCommands(g *globalOptions) map[string]func() *cobra.Command {
	m := containerCommandsByName(g)
	m["images"] = func() *cobra.Command { return newImagesCmd(g) }
	m["container"] = func() *cobra.Command { return containerGroup(g) }
	return m
}

// disposableWrites: the full binary keeps storage's default, syncing what
// it writes (a run may pull here, and image records must be durable).
func disposableWrites() {}

// orHandOver: the full binary does everything itself.
func orHandOver(err error) error { return err }

// inspectImage is image inspect's view of a local image.
func inspectImage(ctx context.Context, s storage.Store, name string) (any, error) {
	return imagestore.Inspect(ctx, s, name)
}

// pullImage pulls a container's image by the pull policy.
func pullImage(ctx context.Context, g *globalOptions, s storage.Store, name, policy string, quiet bool, cmd *cobra.Command) (string, string, error) {
	o := imagestore.PullOptions{Policy: policy, Sys: shimage.SystemOptions{RegistriesConf: g.registriesConf}}
	if !quiet {
		o.Progress = cmd.ErrOrStderr()
	}
	imgs, err := imagestore.Pull(ctx, s, name, o)
	if err != nil {
		return "", "", err
	}
	if len(imgs) == 0 {
		return "", "", fmt.Errorf("%s: pulling gave no image", name)
	}
	n := name
	if len(imgs[0].Names) > 0 {
		n = imgs[0].Names[0]
	}
	return imgs[0].ID, n, nil
}
