package main

import (
	"github.com/spf13/cobra"

	"github.com/ocisuite/suite/shared/cli"
	"github.com/ocisuite/suite/shared/format"
	"github.com/ocisuite/suite/shared/retry"
	"github.com/ocisuite/suite/transport/inspect"
)

func newListTagsCmd(g *globalOptions) *cobra.Command {
	var img *imageFlags
	var r *retryFlags
	cmd := &cobra.Command{
		Use:     "list-tags [flags] docker://REPOSITORY",
		Short:   "List the tags of a repository",
		Example: `  transport list-tags docker://registry.example/app`,
		Args:    cli.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := g.commandContext(cmd)
			defer cancel()
			sys, err := img.systemContext(g)
			if err != nil {
				return cli.Usage(err)
			}
			delay, err := r.parseDelay()
			if err != nil {
				return err
			}
			repo, tags, err := inspect.Tags(ctx, args[0], sys, retry.Options{Times: r.times, Delay: delay, What: "listing tags"})
			if err != nil {
				return err
			}
			return format.JSON(cmd.OutOrStdout(), struct {
				Repository string
				Tags       []string
			}{repo, tags})
		},
	}
	img = addImageFlags(cmd.Flags(), "")
	r = addRetryFlags(cmd.Flags())
	return cmd
}
