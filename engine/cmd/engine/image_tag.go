//go:build !thin

package main

import (
	"github.com/containers/storage"
	"github.com/spf13/cobra"

	"github.com/ocisuite/suite/shared/cli"
	"github.com/ocisuite/suite/shared/imagestore"
)

func newTagCmd(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "tag IMAGE TARGET_NAME [TARGET_NAME...]",
		Short: "Add names to a local image",
		Long: `Add names to a local image. A name without a registry is stored under
localhost/ and a name without a tag gets :latest, as podman does.`,
		Example: `  engine tag busybox registry.example/tools/busybox:1
  engine tag 1234abcd5678 myimage`,
		Args: cli.MinArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withImageStore(g, func(s storage.Store) error {
				return imagestore.Tag(s, args[0], args[1:])
			})
		},
	}
}

func newUntagCmd(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "untag IMAGE [NAME...]",
		Short: "Remove names from a local image",
		Long:  `Remove the given names from a local image, or all its names when none is given. The image stays.`,
		Example: `  engine untag busybox
  engine untag 1234abcd5678 registry.example/tools/busybox:1`,
		Args: cli.MinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withImageStore(g, func(s storage.Store) error {
				_, err := imagestore.Untag(s, args[0], args[1:])
				return err
			})
		},
	}
}
