//go:build !thin

package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ocisuite/suite/engine/container"
	"github.com/ocisuite/suite/shared/cli"
)

func newCommitCmd(g *globalOptions) *cobra.Command {
	var o container.CommitOptions
	var quiet bool
	cmd := &cobra.Command{
		Use:   "commit [flags] CONTAINER [IMAGE]",
		Short: "Make an image of a container's changes",
		Args:  cli.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 2 {
				o.Name = args[1]
			}
			if !quiet {
				o.Progress = cmd.ErrOrStderr()
			}
			return withSession(cmd, g, func(ctx context.Context, s *session) error {
				id, err := s.engine.Commit(ctx, args[0], o)
				if err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), id)
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&o.Changes, "change", "c", nil, "apply a Containerfile `instruction` (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR)")
	f.StringVarP(&o.Message, "message", "m", "", "commit `message` (the history comment)")
	f.StringVarP(&o.Author, "author", "a", "", "`author` of the image")
	f.BoolVarP(&o.Pause, "pause", "p", true, "pause a running container while committing")
	f.StringVarP(&o.Format, "format", "f", "oci", "image `format`: oci or docker")
	f.BoolVarP(&quiet, "quiet", "q", false, "print only the image ID")
	return cmd
}
