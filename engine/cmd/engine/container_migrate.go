//go:build !thin

package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ocisuite/suite/engine/container"
	"github.com/ocisuite/suite/engine/network"
	"github.com/ocisuite/suite/shared/cli"
	"github.com/ocisuite/suite/shared/format"
)

func newMigrateCmd(g *globalOptions) *cobra.Command {
	var o container.MigrateOptions
	var publish []string
	var printStats bool
	cmd := &cobra.Command{
		Use:   "migrate [flags] CONTAINER --to COMMAND",
		Short: "Move a running container to another engine, streaming its checkpoint",
		Long: `Checkpoint a running container and restore it through COMMAND, the command that
runs the engine on the target ("ssh HOST engine", or "engine --root DIR --runroot DIR"
for a second instance here). The checkpoint archive streams into
"COMMAND container restore --import -" with no intermediate file and, unless
--compress asks, no compression. The source is removed once the target's
restore succeeded (kept running with --leave-running); when the target fails
it is restored here. Prints the copy's ID on the target.`,
		Args: cli.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.To == "" {
				return cli.Usage(errors.New("--to COMMAND is required"))
			}
			if cmd.Flags().Changed("publish") {
				o.Publish = []network.PortMapping{}
				for _, p := range publish {
					m, err := parsePublish(p)
					if err != nil {
						return cli.Usage(err)
					}
					o.Publish = append(o.Publish, m...)
				}
			}
			return withSession(cmd, g, func(ctx context.Context, s *session) error {
				r, err := s.engine.Migrate(ctx, args[0], o)
				if err != nil {
					return err
				}
				if printStats {
					return format.JSON(cmd.OutOrStdout(), r)
				}
				fmt.Fprintln(cmd.OutOrStdout(), r.ID)
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.To, "to", "", "the `command` that runs the engine on the target (run by sh -c)")
	f.BoolVarP(&o.LeaveRunning, "leave-running", "R", false, "leave the source container running")
	f.BoolVar(&o.TCPEstablished, "tcp-established", false, "migrate established TCP connections")
	f.BoolVar(&o.KeepIP, "keep-ip", false, "give the copy the container's IP addresses")
	f.StringArrayVarP(&publish, "publish", "p", nil, "the copy's published ports, replacing the container's ([IP:][HOSTPORT:]CONTAINERPORT[/PROTO])")
	f.StringVarP(&o.Name, "name", "n", "", "the copy's `name` on the target")
	f.StringVar(&o.Compress, "compress", "none", "compression of the streamed archive: none, zstd or gzip")
	f.BoolVar(&o.IncludeImage, "include-image", false, "stream the base image too, for a target that lacks it and cannot pull it")
	f.BoolVar(&o.LazyPages, "lazy-pages", false, "post-copy: the copy runs at once and faults the memory in from here (CRIU page server, userfaultfd)")
	f.StringVar(&o.PageServer, "page-server", "", "with --lazy-pages, the `IP[:PORT]` of this host the target fetches the memory from (default 127.0.0.1, a free port)")
	f.BoolVar(&printStats, "print-stats", false, "print the migration's size and durations as JSON")
	return cmd
}
