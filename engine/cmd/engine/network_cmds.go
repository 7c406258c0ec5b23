//go:build !thin

package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ocisuite/suite/engine/network"
	"github.com/ocisuite/suite/shared/cli"
	"github.com/ocisuite/suite/shared/format"
)

// networkCommands are "engine network …".
func networkCommands(g *globalOptions) []*cobra.Command {
	group := &cobra.Command{
		Use:   "network",
		Short: "Manage bridge networks",
		Args:  cli.ExactArgs(0),
		RunE:  func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	group.AddCommand(newNetworkCreateCmd(g), newNetworkLsCmd(g), newNetworkInspectCmd(g),
		newNetworkRmCmd(g), newNetworkExistsCmd(g), newNetworkPruneCmd(g),
		newNetworkConnectCmd(g), newNetworkDisconnectCmd(g), newNetworkReloadCmd(g))
	return []*cobra.Command{group}
}

func newNetworkCreateCmd(g *globalOptions) *cobra.Command {
	var o network.CreateOptions
	var labels, opts []string
	cmd := &cobra.Command{
		Use:   "create [flags] NAME",
		Short: "Create a bridge network",
		Args:  cli.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Name = args[0]
			var err error
			if o.Labels, err = keyValues("--label", labels); err != nil {
				return cli.Usage(err)
			}
			if o.Options, err = keyValues("--opt", opts); err != nil {
				return cli.Usage(err)
			}
			if o.IPRange != "" && len(o.Subnets) == 0 {
				return cli.Usage(errors.New("--ip-range needs --subnet"))
			}
			if o.Gateway != "" && len(o.Subnets) == 0 {
				return cli.Usage(errors.New("--gateway needs --subnet"))
			}
			for _, sn := range o.Subnets {
				if _, _, err := net.ParseCIDR(sn); err != nil {
					return cli.Usage(fmt.Errorf("--subnet %s: not a subnet in CIDR form (e.g. 10.89.5.0/24 or fd12:3456:789a:1::/64)", sn))
				}
			}
			return withSession(cmd, g, func(ctx context.Context, s *session) error {
				n, err := s.engine.Networks().Create(o)
				if err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), n.Name)
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&o.Subnets, "subnet", nil, "`subnet` in CIDR form, IPv4 or IPv6 (an IPv6 one enables IPv6; default: a free 10.89.N.0/24)")
	f.StringVar(&o.Gateway, "gateway", "", "gateway `address` (default: the subnet's first address)")
	f.StringVar(&o.IPRange, "ip-range", "", "give containers addresses from this `CIDR` range of the subnet only")
	f.BoolVar(&o.IPv6, "ipv6", false, "IPv6 as well: a unique local fdXX::/64 subnet unless --subnet gives one")
	f.BoolVar(&o.Internal, "internal", false, "no route out of the network")
	f.BoolVar(&o.DisableDNS, "disable-dns", false, "no aardvark-dns name resolution on the network")
	f.StringArrayVar(&labels, "label", nil, "set metadata `label` (KEY=VALUE)")
	f.StringArrayVarP(&opts, "opt", "o", nil, "driver `option` (KEY=VALUE, e.g. mtu=1400)")
	return cmd
}

// networkRow is a network as ls shows it: the short ID.
type networkRow struct {
	*network.Network
	ID string
}

// networkFilter is ls's --filter: name and id (substring/prefix), driver,
// label (KEY or KEY=VALUE); filters of one key are ORed, keys ANDed.
func networkFilter(filters []string) (func(*network.Network) bool, error) {
	by := map[string][]string{}
	for _, f := range filters {
		k, v, ok := strings.Cut(f, "=")
		switch {
		case !ok:
			return nil, fmt.Errorf("--filter %s: want KEY=VALUE", f)
		case k != "name" && k != "id" && k != "driver" && k != "label":
			return nil, fmt.Errorf("--filter %s: unknown key %q (name, id, driver, label)", f, k)
		}
		by[k] = append(by[k], v)
	}
	return func(n *network.Network) bool {
		for k, vs := range by {
			match := false
			for _, v := range vs {
				switch k {
				case "name":
					match = match || strings.Contains(n.Name, v)
				case "id":
					match = match || strings.HasPrefix(n.ID, v)
				case "driver":
					match = match || n.Driver == v
				case "label":
					lk, lv, hasV := strings.Cut(v, "=")
					got, has := n.Labels[lk]
					match = match || has && (!hasV || got == lv)
				}
			}
			if !match {
				return false
			}
		}
		return true
	}, nil
}

func newNetworkLsCmd(g *globalOptions) *cobra.Command {
	var filters []string
	var tmpl string
	var quiet, noHeading bool
	cmd := &cobra.Command{
		Use:     "ls [flags]",
		Aliases: []string{"list"},
		Short:   "List networks",
		Args:    cli.ExactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withSession(cmd, g, func(ctx context.Context, s *session) error {
				keep, err := networkFilter(filters)
				if err != nil {
					return cli.Usage(err)
				}
				all, err := s.engine.Networks().List()
				if err != nil {
					return err
				}
				var nets []*network.Network
				for _, n := range all {
					if keep(n) {
						nets = append(nets, n)
					}
				}
				out := cmd.OutOrStdout()
				switch {
				case quiet:
					for _, n := range nets {
						fmt.Fprintln(out, n.Name)
					}
					return nil
				case tmpl == "json":
					return format.JSON(out, nets)
				}
				text := tmpl
				if text == "" {
					text = "table {{.ID}}\t{{.Name}}\t{{.Driver}}"
				}
				w, err := format.NewWriter(out, text, map[string]string{"ID": "NETWORK ID"}, noHeading)
				if err != nil {
					return cli.Usage(err)
				}
				for _, n := range nets {
					if err := w.Write(networkRow{Network: n, ID: n.ID[:12]}); err != nil {
						return err
					}
				}
				return w.Flush()
			})
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&filters, "filter", "f", nil, "show only networks matching `KEY=VALUE` (name, id, driver, label)")
	f.StringVar(&tmpl, "format", "", "Go `template` for each network, or json")
	f.BoolVarP(&quiet, "quiet", "q", false, "print only the network names")
	f.BoolVarP(&noHeading, "noheading", "n", false, "do not print the header line")
	return cmd
}

func newNetworkInspectCmd(g *globalOptions) *cobra.Command {
	var tmpl string
	cmd := &cobra.Command{
		Use:   "inspect [flags] NETWORK [NETWORK...]",
		Short: "Show the details of networks",
		Args:  cli.MinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withSession(cmd, g, func(ctx context.Context, s *session) error {
				var nets []*network.Network
				var errs []error
				for _, a := range args {
					n, err := s.engine.Networks().Get(a)
					if err != nil {
						errs = append(errs, err)
						continue
					}
					nets = append(nets, n)
				}
				out := cmd.OutOrStdout()
				if tmpl == "" || tmpl == "json" {
					if err := format.JSON(out, nets); err != nil {
						return err
					}
				} else {
					t, err := format.Parse(tmpl)
					if err != nil {
						return cli.Usage(err)
					}
					for _, n := range nets {
						if err := t.Execute(out, n); err != nil {
							return err
						}
					}
				}
				return errors.Join(errs...)
			})
		},
	}
	cmd.Flags().StringVarP(&tmpl, "format", "f", "", "Go `template` for each network, or json")
	return cmd
}

func newNetworkRmCmd(g *globalOptions) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:     "rm [flags] NETWORK [NETWORK...]",
		Aliases: []string{"remove"},
		Short:   "Remove networks (-f: and the containers using them)",
		Args:    cli.MinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withSession(cmd, g, func(ctx context.Context, s *session) error {
				err := eachContainer(cmd, args, func(n string) (string, error) {
					return n, s.engine.RemoveNetwork(ctx, n, force)
				})
				// podman's codes: 1 no such network, 2 a network in use.
				switch {
				case errors.Is(err, network.ErrInUse):
					return &cli.ExitError{Code: 2, Err: err}
				case errors.Is(err, network.ErrNoSuchNetwork):
					return &cli.ExitError{Code: 1, Err: err}
				}
				return err
			})
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "remove the containers using the network first")
	return cmd
}

func newNetworkExistsCmd(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "exists NETWORK",
		Short: "Exit 0 if the network exists, 1 if not",
		Args:  cli.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withSession(cmd, g, func(ctx context.Context, s *session) error {
				_, err := s.engine.Networks().Get(args[0])
				if errors.Is(err, network.ErrNoSuchNetwork) {
					return &cli.ExitError{Code: 1}
				}
				return err
			})
		},
	}
}

func newNetworkPruneCmd(g *globalOptions) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "prune [flags]",
		Short: "Remove every network no container uses (never the default)",
		Args:  cli.ExactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !force {
				fmt.Fprint(cmd.ErrOrStderr(), "WARNING! This will remove all networks not used by at least one container.\nAre you sure you want to continue? [y/N] ")
				answer, _ := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
				if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
					return nil
				}
			}
			return withSession(cmd, g, func(ctx context.Context, s *session) error {
				removed, err := s.engine.PruneNetworks(ctx)
				for _, n := range removed {
					fmt.Fprintln(cmd.OutOrStdout(), n)
				}
				return err
			})
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "do not ask for confirmation")
	return cmd
}

func newNetworkConnectCmd(g *globalOptions) *cobra.Command {
	var o network.Options
	cmd := &cobra.Command{
		Use:   "connect [flags] NETWORK CONTAINER",
		Short: "Connect a container to a network (at once when it runs)",
		Args:  cli.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.IP != "" && net.ParseIP(o.IP).To4() == nil {
				return cli.Usage(fmt.Errorf("--ip %s: not an IPv4 address", o.IP))
			}
			if ip := net.ParseIP(o.IP6); o.IP6 != "" && (ip == nil || ip.To4() != nil) {
				return cli.Usage(fmt.Errorf("--ip6 %s: not an IPv6 address", o.IP6))
			}
			if o.MAC != "" {
				if _, err := net.ParseMAC(o.MAC); err != nil {
					return cli.Usage(fmt.Errorf("--mac-address %s: %w", o.MAC, err))
				}
			}
			return withSession(cmd, g, func(ctx context.Context, s *session) error {
				return s.engine.ConnectNetwork(ctx, args[1], args[0], o)
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.IP, "ip", "", "IPv4 `address` on the network")
	f.StringVar(&o.IP6, "ip6", "", "IPv6 `address` on the network")
	f.StringVar(&o.MAC, "mac-address", "", "MAC `address` of the interface")
	f.StringArrayVar(&o.Aliases, "alias", nil, "DNS `alias` on the network")
	return cmd
}

func newNetworkDisconnectCmd(g *globalOptions) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "disconnect [flags] NETWORK CONTAINER",
		Short: "Disconnect a container from a network (at once when it runs)",
		Args:  cli.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withSession(cmd, g, func(ctx context.Context, s *session) error {
				return s.engine.DisconnectNetwork(ctx, args[1], args[0])
			})
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "accepted for podman compatibility")
	return cmd
}

func newNetworkReloadCmd(g *globalOptions) *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "reload [flags] [CONTAINER...]",
		Short: "Set running containers' networks up again (restores flushed firewall rules)",
		RunE: func(cmd *cobra.Command, args []string) error {
			if all == (len(args) > 0) {
				return cli.Usage(errors.New("give containers or --all, not both"))
			}
			return withSession(cmd, g, func(ctx context.Context, s *session) error {
				names := args
				if all {
					cs, err := s.engine.List()
					if err != nil {
						return err
					}
					for _, c := range cs {
						if c.State.Net != nil {
							names = append(names, c.ID)
						}
					}
				}
				return eachContainer(cmd, names, func(n string) (string, error) {
					c, err := s.engine.Lookup(n)
					if err != nil {
						return "", err
					}
					if _, err := s.engine.ReloadNetwork(ctx, c.ID); err != nil {
						return "", err
					}
					return c.ID, nil
				})
			})
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "reload every running container with bridge networks")
	return cmd
}
