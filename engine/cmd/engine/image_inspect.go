//go:build !thin

package main

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/containers/storage"
	"github.com/spf13/cobra"

	"github.com/ocisuite/suite/shared/cli"
	"github.com/ocisuite/suite/shared/format"
	"github.com/ocisuite/suite/shared/imagestore"
)

func newImageInspectCmd(g *globalOptions) *cobra.Command {
	var tmpl string
	cmd := &cobra.Command{
		Use:   "inspect [flags] IMAGE [IMAGE...]",
		Short: "Show the configuration of local images as JSON",
		Example: `  engine image inspect busybox
  engine image inspect --format '{{.Id}} {{.Architecture}}' busybox`,
		Args: cli.MinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var t *format.Template
			if tmpl != "" && tmpl != "json" {
				var err error
				// podman's templates say .Id for the ID.
				tmpl = regexp.MustCompile(`\.Id\b`).ReplaceAllString(tmpl, ".ID")
				if t, err = format.Parse(tmpl); err != nil {
					return cli.Usage(err)
				}
			}
			return withImageStore(g, func(s storage.Store) error {
				var all []*imagestore.Data
				var errs []string
				for _, n := range args {
					d, err := imagestore.Inspect(cmd.Context(), s, n)
					if err != nil {
						errs = append(errs, err.Error())
						continue
					}
					all = append(all, d)
				}
				out := cmd.OutOrStdout()
				if t != nil {
					for _, d := range all {
						if err := t.Execute(out, d); err != nil {
							return err
						}
					}
				} else {
					if all == nil {
						all = []*imagestore.Data{}
					}
					if err := format.JSON(out, all); err != nil {
						return err
					}
				}
				if len(errs) > 0 {
					return errors.New(strings.Join(errs, "; "))
				}
				return nil
			})
		},
	}
	cmd.Flags().StringVarP(&tmpl, "format", "f", "", "pretty-print with a Go `template` or json")
	return cmd
}

func newImageExistsCmd(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "exists IMAGE",
		Short: "Check whether an image exists in local storage",
		Long:  `Exit 0 when IMAGE is in local storage, 1 when it is not, 125 on an error. Nothing is printed.`,
		Args:  cli.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withImageStore(g, func(s storage.Store) error {
				ok, err := imagestore.Exists(s, args[0])
				if err != nil {
					return err
				}
				if !ok {
					return &cli.ExitError{Code: 1}
				}
				return nil
			})
		},
	}
}

func newImagePruneCmd(g *globalOptions) *cobra.Command {
	var all, force bool
	cmd := &cobra.Command{
		Use:   "prune [flags]",
		Short: "Remove unused images",
		Long: `Remove dangling images (without a name) that no container uses; with --all,
every image no container uses. Asks first unless --force.`,
		Args: cli.ExactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !force {
				what := "dangling images"
				if all {
					what = "all images not used by a container"
				}
				fmt.Fprintf(cmd.OutOrStdout(), "WARNING! This command removes %s.\nAre you sure you want to continue? [y/N] ", what)
				var answer string
				_, _ = fmt.Fscanln(cmd.InOrStdin(), &answer)
				if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
					return nil
				}
			}
			return withImageStore(g, func(s storage.Store) error {
				ids, err := imagestore.Prune(s, all)
				for _, id := range ids {
					fmt.Fprintln(cmd.OutOrStdout(), id)
				}
				return err
			})
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "remove every image no container uses, not only dangling ones")
	cmd.Flags().BoolVarP(&force, "force", "f", false, "do not ask for confirmation")
	return cmd
}
