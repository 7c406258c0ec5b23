package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ocisuite/suite/engine/container"
	"github.com/ocisuite/suite/shared/cli"
	"github.com/ocisuite/suite/shared/format"
)

// newInspectCmd is the top-level inspect: containers first, then images.
func newInspectCmd(g *globalOptions) *cobra.Command {
	return inspectCmd(g, "inspect [flags] NAME [NAME...]", "Show the configuration of containers or images", true)
}

func inspectCmd(g *globalOptions, use, short string, images bool) *cobra.Command {
	var tmpl string
	var latest bool
	var typ string
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		RunE: func(cmd *cobra.Command, args []string) error {
			return withSession(cmd, g, func(ctx context.Context, s *session) error {
				if latest {
					ctrs, err := s.engine.List()
					if err != nil {
						return err
					}
					var newest *container.Container
					for _, c := range ctrs {
						if newest == nil || c.Created.After(newest.Created) {
							newest = c
						}
					}
					if newest == nil {
						return errors.New("no containers to inspect")
					}
					args = []string{newest.ID}
				}
				if len(args) == 0 {
					return cli.Usage(errors.New("give at least one name or ID"))
				}
				var out []any
				var errs []error
				for _, n := range args {
					if typ != "image" {
						c, err := s.engine.Lookup(n)
						if err == nil {
							out = append(out, s.engine.Inspect(c))
							continue
						}
						if !errors.Is(err, container.ErrNoSuchContainer) || !images || typ == "container" {
							errs = append(errs, err)
							continue
						}
					}
					d, err := inspectImage(ctx, s.store, n)
					if err != nil {
						errs = append(errs, fmt.Errorf("no such object: %q", n))
						continue
					}
					out = append(out, d)
				}
				w := cmd.OutOrStdout()
				if tmpl == "" || tmpl == "json" {
					if out == nil {
						out = []any{}
					}
					if err := format.JSON(w, out); err != nil {
						return err
					}
				} else {
					t, err := format.Parse(tmpl)
					if err != nil {
						return cli.Usage(err)
					}
					for _, o := range out {
						if err := t.Execute(w, o); err != nil {
							return err
						}
					}
				}
				if len(errs) > 0 {
					return errs[0]
				}
				return nil
			})
		},
	}
	cmd.Flags().StringVarP(&tmpl, "format", "f", "json", "Go `template` or json")
	cmd.Flags().BoolVarP(&latest, "latest", "l", false, "inspect the latest container created")
	if images {
		cmd.Flags().StringVarP(&typ, "type", "t", "all", "what to inspect: container, image or all")
	}
	return cmd
}
