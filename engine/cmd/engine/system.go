//go:build !thin

package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/ocisuite/suite/config"
	"github.com/ocisuite/suite/engine/system"
	"github.com/ocisuite/suite/shared/cli"
	"github.com/ocisuite/suite/shared/format"
	shimage "github.com/ocisuite/suite/shared/image"
)

// systemCommands are info, version, events, healthcheck and "engine system …".
func systemCommands(g *globalOptions) []*cobra.Command {
	group := &cobra.Command{
		Use:   "system",
		Short: "Manage the engine: information, disk usage, pruning, reset, consistency checks",
		Args:  cli.ExactArgs(0),
		RunE:  func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	group.AddCommand(newInfoCmd(g), newEventsCmd(g), newDfCmd(g), newSystemPruneCmd(g), newResetCmd(g), newCheckCmd(g))
	return []*cobra.Command{group, newInfoCmd(g), newVersionCmd(g), newEventsCmd(g), newHealthcheckCmd(g)}
}

// writeFormatted writes v as --format asks: json, a Go template, or def.
func writeFormatted(w io.Writer, tmpl string, v any, def func() error) error {
	switch tmpl {
	case "":
		return def()
	case "json", "{{json .}}":
		return format.JSON(w, v)
	}
	t, err := format.Parse(tmpl)
	if err != nil {
		return cli.Usage(err)
	}
	return t.Execute(w, v)
}

func newInfoCmd(g *globalOptions) *cobra.Command {
	var tmpl string
	cmd := &cobra.Command{
		Use:   "info",
		Short: "Show the host, runtime, storage and registries the engine uses",
		Args:  cli.ExactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withSession(cmd, g, func(ctx context.Context, s *session) error {
				o := system.InfoOptions{Version: cli.Version}
				o.ConfigFile = config.DefaultPaths(config.CurrentEnv()).StorageConf
				sys, err := shimage.SystemOptions{RegistriesConf: g.registriesConf}.SystemContext()
				if err != nil {
					return err
				}
				if o.Registries, err = config.LoadRegistries(sys); err != nil {
					return err
				}
				in, err := system.GetInfo(ctx, s.engine, o)
				if err != nil {
					return err
				}
				out := cmd.OutOrStdout()
				return writeFormatted(out, tmpl, in, func() error {
					b, err := yaml.Marshal(in)
					if err != nil {
						return err
					}
					_, err = out.Write(b)
					return err
				})
			})
		},
	}
	cmd.Flags().StringVarP(&tmpl, "format", "f", "", "Go `template` for the output, or json")
	return cmd
}

// versionReport is podman version's shape.
type versionReport struct {
	Client system.Version `json:"Client"`
}

func newVersionCmd(g *globalOptions) *cobra.Command {
	var tmpl string
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Show the engine's version",
		Args:  cli.ExactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			v := versionReport{Client: system.ClientVersion(cli.Version)}
			out := cmd.OutOrStdout()
			return writeFormatted(out, tmpl, v, func() error {
				c := v.Client
				_, err := fmt.Fprintf(out, "Client:       %s\nVersion:      %s\nAPI Version:  %s\nGo Version:   %s\nBuilt:        %s\nOS/Arch:      %s\n",
					"engine", c.Version, c.APIVersion, c.GoVersion, c.BuiltTime, c.OsArch)
				return err
			})
		},
	}
	cmd.Flags().StringVarP(&tmpl, "format", "f", "", "Go `template` for the output (e.g. {{.Client.Version}}), or json")
	return cmd
}

// confirm asks question on stdout (as podman) and reads y/N from stdin.
func confirm(cmd *cobra.Command, question string) bool {
	fmt.Fprint(cmd.OutOrStdout(), question+" [y/N] ")
	line, _ := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
	answer := strings.ToLower(strings.TrimSpace(line))
	return answer == "y" || answer == "yes"
}
