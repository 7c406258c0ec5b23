package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ocisuite/suite/shared/cli"
	"github.com/ocisuite/suite/shared/image"
	"github.com/ocisuite/suite/shared/retry"
)

func newDeleteCmd(g *globalOptions) *cobra.Command {
	var img *imageFlags
	var r *retryFlags
	cmd := &cobra.Command{
		Use:   "delete [flags] IMAGE",
		Short: "Delete an image from a registry",
		Long: `Delete IMAGE (its manifest) from a registry. The registry must allow
deletion; its blobs are removed by the registry's garbage collection.`,
		Example: `  transport delete docker://registry.example/app:1`,
		Args:    cli.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := g.commandContext(cmd)
			defer cancel()
			ref, err := image.ParseReference(args[0])
			if err != nil {
				return cli.Usage(err)
			}
			sys, err := img.systemContext(g)
			if err != nil {
				return cli.Usage(err)
			}
			delay, err := r.parseDelay()
			if err != nil {
				return err
			}
			err = retry.Do(ctx, retry.Options{Times: r.times, Delay: delay, What: "deleting " + args[0]}, func() error {
				return ref.DeleteImage(ctx, sys)
			})
			if err != nil {
				return fmt.Errorf("deleting %s: %w", args[0], err)
			}
			return nil
		},
	}
	img = addImageFlags(cmd.Flags(), "")
	r = addRetryFlags(cmd.Flags())
	return cmd
}
