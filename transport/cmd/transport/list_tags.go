package main

import (
	"github.com/spf13/cobra"

	"github.com/ocisuite/suite/shared/cli"
	"github.com/ocisuite/suite/shared/format"
	"github.com/ocisuite/suite/shared/retry"
	"github.com/ocisuite/suite/transport/inspect"
)

type listTagsOptions struct {
	image *imageFlags
	retry *retryFlags
}

func newListTagsCmd(g *globalOptions) *cobra.Command {
	o := &listTagsOptions{}
	cmd := &cobra.Command{
		Use:   "list-tags [flags] docker://REPOSITORY | docker-archive:PATH",
		Short: "List the tags of a repository or the images of a docker archive",
		Long: `List the tags of a registry repository (given without a tag or digest),
or the references stored in a docker-archive file, as JSON.`,
		Example: `  transport list-tags docker://registry.example/app
  transport list-tags docker-archive:app.tar`,
		Args: cli.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := g.commandContext(cmd)
			defer cancel()
			sys, err := o.image.systemContext(g)
			if err != nil {
				return cli.Usage(err)
			}
			delay, err := o.retry.parseDelay()
			if err != nil {
				return err
			}
			tags, err := inspect.ListTags(ctx, args[0], sys, retry.Options{Times: o.retry.times, Delay: delay, What: "listing the tags of " + args[0]})
			if err != nil {
				return err
			}
			return format.JSON(cmd.OutOrStdout(), tags)
		},
	}
	o.image = addImageFlags(cmd.Flags(), "")
	o.retry = addRetryFlags(cmd.Flags())
	return cmd
}
