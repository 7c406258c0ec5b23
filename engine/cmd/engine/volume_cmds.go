//go:build !thin

package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/containers/storage/pkg/stringid"
	"github.com/spf13/cobra"

	"github.com/ocisuite/suite/engine/container"
	"github.com/ocisuite/suite/engine/volume"
	"github.com/ocisuite/suite/shared/cli"
	"github.com/ocisuite/suite/shared/format"
)

func newVolumeCreateCmd(g *globalOptions) *cobra.Command {
	var labels, opts []string
	var driver string
	var ignore bool
	cmd := &cobra.Command{
		Use:   "create [flags] [NAME]",
		Short: "Create a volume",
		Args:  cli.RangeArgs(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if driver != "local" {
				return cli.Usage(fmt.Errorf("volume driver %q is not supported: only local", driver))
			}
			lm, err := volumeKeyValues(labels, "--label")
			if err != nil {
				return err
			}
			om, err := volumeKeyValues(opts, "--opt")
			if err != nil {
				return err
			}
			// An unnamed volume from "volume create" gets a random name but
			// is not anonymous: rm -v of a container leaves it.
			name := stringid.GenerateRandomID()
			if len(args) == 1 {
				name = args[0]
			}
			return withSession(cmd, g, func(ctx context.Context, s *session) error {
				v, err := s.engine.Volumes().Create(name, lm, om)
				if errors.Is(err, volume.ErrExists) && ignore {
					fmt.Fprintln(cmd.OutOrStdout(), name)
					return nil
				}
				if err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), v.Name)
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&labels, "label", "l", nil, "set a `KEY=VALUE` label on the volume")
	f.StringArrayVarP(&opts, "opt", "o", nil, "local driver `option`: type=tmpfs|bind|FSTYPE, device=, o=, nocopy")
	f.StringVarP(&driver, "driver", "d", "local", "volume `driver` (only local)")
	f.BoolVar(&ignore, "ignore", false, "do nothing if the volume exists")
	return cmd
}

// volumeKeyValues parses KEY=VALUE flags; a bare KEY gets "".
func volumeKeyValues(list []string, flag string) (map[string]string, error) {
	m := map[string]string{}
	for _, kv := range list {
		k, v, _ := strings.Cut(kv, "=")
		if k == "" {
			return nil, cli.Usage(fmt.Errorf("invalid %s %q: want KEY=VALUE", flag, kv))
		}
		m[k] = v
	}
	return m, nil
}

func newVolumeLsCmd(g *globalOptions) *cobra.Command {
	var filters []string
	var tmpl string
	var quiet, noHeading bool
	cmd := &cobra.Command{
		Use:     "ls [flags]",
		Aliases: []string{"list"},
		Short:   "List volumes",
		Args:    cli.ExactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withSession(cmd, g, func(ctx context.Context, s *session) error {
				vols, err := s.engine.ListVolumes(filters)
				if err != nil {
					return cli.Usage(err)
				}
				out := cmd.OutOrStdout()
				switch {
				case quiet:
					for _, v := range vols {
						fmt.Fprintln(out, v.Name)
					}
					return nil
				case tmpl == "json":
					return format.JSON(out, vols)
				}
				text := tmpl
				if text == "" {
					text = "table {{.Driver}}\t{{.Name}}"
				}
				w, err := format.NewWriter(out, text, map[string]string{"Name": "VOLUME NAME"}, noHeading)
				if err != nil {
					return cli.Usage(err)
				}
				for _, v := range vols {
					if err := w.Write(v); err != nil {
						return err
					}
				}
				return w.Flush()
			})
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&filters, "filter", "f", nil, "show only volumes matching `KEY=VALUE` (name, label, dangling, driver)")
	f.StringVar(&tmpl, "format", "", "Go `template` for each volume, or json")
	f.BoolVarP(&quiet, "quiet", "q", false, "print only the volume names")
	f.BoolVarP(&noHeading, "noheading", "n", false, "do not print the header line")
	return cmd
}

func newVolumeInspectCmd(g *globalOptions) *cobra.Command {
	var tmpl string
	var all bool
	cmd := &cobra.Command{
		Use:   "inspect [flags] VOLUME [VOLUME...]",
		Short: "Show the details of volumes",
		RunE: func(cmd *cobra.Command, args []string) error {
			if !all && len(args) == 0 {
				return cli.Usage(errors.New("give at least one volume name, or --all"))
			}
			return withSession(cmd, g, func(ctx context.Context, s *session) error {
				var vols []container.VolumeInspect
				var err error
				if all {
					vols, err = s.engine.ListVolumes(nil)
				} else {
					vols, err = s.engine.InspectVolumes(args)
				}
				if err != nil {
					return err
				}
				out := cmd.OutOrStdout()
				if tmpl == "" || tmpl == "json" {
					return format.JSON(out, vols)
				}
				t, err := format.Parse(tmpl)
				if err != nil {
					return cli.Usage(err)
				}
				for _, v := range vols {
					if err := t.Execute(out, v); err != nil {
						return err
					}
				}
				return nil
			})
		},
	}
	cmd.Flags().StringVarP(&tmpl, "format", "f", "", "Go `template` for each volume, or json")
	cmd.Flags().BoolVarP(&all, "all", "a", false, "inspect every volume")
	return cmd
}

func newVolumeRmCmd(g *globalOptions) *cobra.Command {
	var all, force bool
	cmd := &cobra.Command{
		Use:     "rm [flags] VOLUME [VOLUME...]",
		Aliases: []string{"remove"},
		Short:   "Remove volumes",
		RunE: func(cmd *cobra.Command, args []string) error {
			if all == (len(args) > 0) {
				return cli.Usage(errors.New("give volume names or --all, not both"))
			}
			return withSession(cmd, g, func(ctx context.Context, s *session) error {
				names := args
				if all {
					vols, err := s.engine.ListVolumes(nil)
					if err != nil {
						return err
					}
					for _, v := range vols {
						names = append(names, v.Name)
					}
				}
				err := eachContainer(cmd, names, func(n string) (string, error) {
					return n, s.engine.RemoveVolume(ctx, n, force)
				})
				// podman's codes: 1 no such volume, 2 a volume in use.
				switch {
				case errors.Is(err, volume.ErrInUse):
					return &cli.ExitError{Code: 2, Err: err}
				case errors.Is(err, volume.ErrNoSuchVolume):
					return &cli.ExitError{Code: 1, Err: err}
				}
				return err
			})
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "remove every volume")
	cmd.Flags().BoolVarP(&force, "force", "f", false, "remove the containers using the volume first")
	return cmd
}

func newVolumePruneCmd(g *globalOptions) *cobra.Command {
	var force bool
	var filters []string
	cmd := &cobra.Command{
		Use:   "prune [flags]",
		Short: "Remove every volume no container uses",
		Args:  cli.ExactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !force {
				fmt.Fprint(cmd.ErrOrStderr(), "WARNING! This will remove all volumes not used by at least one container.\nAre you sure you want to continue? [y/N] ")
				answer, _ := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
				if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
					return nil
				}
			}
			return withSession(cmd, g, func(ctx context.Context, s *session) error {
				removed, err := s.engine.PruneVolumes(ctx, filters)
				for _, n := range removed {
					fmt.Fprintln(cmd.OutOrStdout(), n)
				}
				return err
			})
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "do not ask for confirmation")
	cmd.Flags().StringArrayVar(&filters, "filter", nil, "prune only volumes matching `KEY=VALUE` (name, label)")
	return cmd
}

func newVolumeExistsCmd(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "exists VOLUME",
		Short: "Exit 0 if the volume exists, 1 if not",
		Args:  cli.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withSession(cmd, g, func(ctx context.Context, s *session) error {
				_, err := s.engine.Volumes().Get(args[0])
				if errors.Is(err, volume.ErrNoSuchVolume) {
					return &cli.ExitError{Code: 1}
				}
				return err
			})
		},
	}
}

func newVolumeExportCmd(g *globalOptions) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "export [flags] VOLUME",
		Short: "Write a volume's content as a tar archive",
		Args:  cli.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var w io.Writer = cmd.OutOrStdout()
			if output == "" {
				if cli.IsTerminal(w) {
					return cli.Usage(errors.New("refusing to write a tar archive to a terminal: use --output FILE or redirect"))
				}
			}
			return withSession(cmd, g, func(ctx context.Context, s *session) error {
				if output == "" {
					return s.engine.Volumes().Export(args[0], w)
				}
				f, err := os.Create(output)
				if err != nil {
					return err
				}
				if err := s.engine.Volumes().Export(args[0], f); err != nil {
					f.Close()
					os.Remove(output)
					return err
				}
				return f.Close()
			})
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "write to `file` instead of stdout")
	return cmd
}

func newVolumeImportCmd(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "import VOLUME FILE|-",
		Short: "Unpack a tar archive into a volume",
		Args:  cli.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var r io.Reader
			if args[1] == "-" {
				if f, ok := cmd.InOrStdin().(*os.File); ok && cli.IsTerminal(f) {
					return cli.Usage(errors.New("refusing to read a tar archive from a terminal: give a FILE or redirect stdin"))
				}
				r = cmd.InOrStdin()
			} else {
				f, err := os.Open(args[1])
				if err != nil {
					return err
				}
				defer f.Close()
				r = f
			}
			return withSession(cmd, g, func(ctx context.Context, s *session) error {
				return s.engine.Volumes().Import(args[0], r)
			})
		},
	}
}
