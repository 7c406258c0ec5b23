//go:build !thin

package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ocisuite/suite/engine/container"
	"github.com/ocisuite/suite/engine/network"
	"github.com/ocisuite/suite/shared/cli"
)

// newPortCmd lists published ports as podman does: "80/tcp -> 0.0.0.0:8080"
// per port, or only the host address for one PRIVATE-PORT; --all prefixes
// each line with the container's ID.
func newPortCmd(g *globalOptions) *cobra.Command {
	var all, latest bool
	cmd := &cobra.Command{
		Use:   "port [flags] CONTAINER [PRIVATE-PORT[/PROTO]]",
		Short: "List a container's published ports",
		Args:  cli.RangeArgs(0, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if all == (len(args) > 0) && !latest {
				return cli.Usage(errors.New("give a container, or --all"))
			}
			return withSession(cmd, g, func(ctx context.Context, s *session) error {
				out := cmd.OutOrStdout()
				if all {
					cs, err := s.engine.List()
					if err != nil {
						return err
					}
					for _, c := range cs {
						for _, p := range expandPorts(c) {
							fmt.Fprintf(out, "%s\t%s\n", c.ID[:12], p)
						}
					}
					return nil
				}
				if len(args) == 0 {
					return cli.Usage(errors.New("give a container name or ID"))
				}
				c, err := s.engine.Lookup(args[0])
				if err != nil {
					return err
				}
				ports := expandPorts(c)
				if len(args) == 1 {
					for _, p := range ports {
						fmt.Fprintln(out, p)
					}
					return nil
				}
				want := args[1]
				if !strings.Contains(want, "/") {
					want += "/tcp"
				}
				for _, p := range ports {
					if strings.HasPrefix(p.String(), want+" ") {
						_, hostEnd, _ := strings.Cut(p.String(), " -> ")
						fmt.Fprintln(out, hostEnd)
						return nil
					}
				}
				return fmt.Errorf("failed to find published port %q", args[1])
			})
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "list the ports of every container")
	cmd.Flags().BoolVarP(&latest, "latest", "l", false, "act on the latest container")
	return cmd
}

// expandPorts gives one mapping per port of each range.
func expandPorts(c *container.Container) []network.PortMapping {
	var out []network.PortMapping
	for _, p := range c.Ports {
		for i := uint16(0); i < max(p.Range, 1); i++ {
			q := p
			q.ContainerPort, q.HostPort, q.Range = p.ContainerPort+i, p.HostPort+i, 1
			out = append(out, q)
		}
	}
	return out
}
