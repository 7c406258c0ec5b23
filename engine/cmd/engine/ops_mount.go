//go:build !thin

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

func newMountCmd(g *globalOptions) *cobra.Command {
	var all, noTrunc bool
	var tmpl string
	cmd := &cobra.Command{
		Use:   "mount [flags] [CONTAINER...]",
		Short: "Mount containers' root filesystems and print where; with no container, list the mounted ones",
		RunE: func(cmd *cobra.Command, args []string) error {
			if tmpl != "" && tmpl != "json" {
				return cli.Usage(fmt.Errorf("invalid --format %q: only json", tmpl))
			}
			return withSession(cmd, g, func(ctx context.Context, s *session) error {
				out := cmd.OutOrStdout()
				if len(args) == 0 && !all {
					list, err := s.engine.Mounted()
					if err != nil {
						return err
					}
					if tmpl == "json" {
						type row struct {
							ID         string   `json:"id"`
							Names      []string `json:"names"`
							Mountpoint string   `json:"mountpoint"`
						}
						rows := []row{}
						for _, m := range list {
							rows = append(rows, row{ID: m.ID, Names: []string{m.Name}, Mountpoint: m.Mountpoint})
						}
						return format.JSON(out, rows)
					}
					for _, m := range list {
						id := m.ID
						if !noTrunc {
							id = shortID(id)
						}
						fmt.Fprintf(out, "%s  %s\n", id, m.Mountpoint)
					}
					return nil
				}
				names, err := allOrNames(s, all, args, nil)
				if err != nil {
					return err
				}
				return eachContainer(cmd, names, func(n string) (string, error) {
					return s.engine.MountRootfs(n)
				})
			})
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "mount every container")
	cmd.Flags().BoolVar(&noTrunc, "notruncate", false, "print full container IDs")
	cmd.Flags().StringVar(&tmpl, "format", "", "json to list mounted containers as JSON")
	return cmd
}

func newUmountCmd(g *globalOptions) *cobra.Command {
	var all, force bool
	cmd := &cobra.Command{
		Use:     "umount [flags] CONTAINER [CONTAINER...]",
		Aliases: []string{"unmount"},
		Short:   "Unmount containers' root filesystems",
		RunE: func(cmd *cobra.Command, args []string) error {
			if all && len(args) > 0 {
				return cli.Usage(errors.New("give containers or --all, not both"))
			}
			return onContainers(cmd, g, all, args, nil, func(ctx context.Context, s *session, n string) (string, error) {
				err := s.engine.UnmountRootfs(n, force)
				if all && errors.Is(err, container.ErrInvalidState) {
					return "", nil // running containers keep their mount
				}
				return n, err
			})
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "unmount every container")
	cmd.Flags().BoolVarP(&force, "force", "f", false, "unmount however many times the root filesystem was mounted")
	return cmd
}
