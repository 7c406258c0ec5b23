package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ocisuite/suite/builder/container"
	"github.com/ocisuite/suite/shared/cli"
	"github.com/ocisuite/suite/shared/format"
)

type mountOptions struct{ json bool }

// mountJSON is one entry of mount --json.
type mountJSON struct {
	Container  string `json:"container"`
	MountPoint string `json:"mountPoint"`
}

func newMountCmd(g *globalOptions) *cobra.Command {
	o := &mountOptions{}
	cmd := &cobra.Command{
		Use:   "mount [flags] [CONTAINER...]",
		Short: "Mount the root filesystem of working containers",
		Long: `Mount each working container's root filesystem and print where: the path
alone for one container, "NAME PATH" for several. Without CONTAINER, list
the mounted working containers. A mount stays until umount.`,
		Example: `  builder mount app
  builder mount`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return withSession(cmd, g, func(ctx context.Context, s *session) error {
				var mounts []mountJSON
				if len(args) == 0 {
					list, err := s.manager.List()
					if err != nil {
						return err
					}
					for _, c := range list {
						if p := c.MountPoint(); p != "" {
							mounts = append(mounts, mountJSON{c.Name, p})
						}
					}
				}
				for _, name := range args {
					c, err := s.lookup(name)
					if err != nil {
						return err
					}
					p, err := c.Mount()
					if err != nil {
						return err
					}
					mounts = append(mounts, mountJSON{name, p})
				}
				out := cmd.OutOrStdout()
				if o.json {
					if mounts == nil {
						mounts = []mountJSON{}
					}
					return format.JSON(out, mounts)
				}
				for _, m := range mounts {
					if len(args) == 1 {
						fmt.Fprintln(out, m.MountPoint)
					} else {
						fmt.Fprintf(out, "%s %s\n", m.Container, m.MountPoint)
					}
				}
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&o.json, "json", false, "print as JSON")
	return cmd
}

// forEach runs fn for each named working container, or every one with
// all, printing the IDs it succeeds for; it carries on past failures and
// returns them joined.
func forEach(cmd *cobra.Command, g *globalOptions, names []string, all bool, fn func(c *container.Container) (bool, error)) error {
	if all == (len(names) > 0) {
		return cli.Usage(errors.New("give CONTAINER arguments or --all"))
	}
	return withSession(cmd, g, func(ctx context.Context, s *session) error {
		var list []*container.Container
		var errs []string
		if all {
			var err error
			if list, err = s.manager.List(); err != nil {
				return err
			}
		}
		for _, n := range names {
			c, err := s.lookup(n)
			if err != nil {
				errs = append(errs, err.Error())
				continue
			}
			list = append(list, c)
		}
		for _, c := range list {
			done, err := fn(c)
			if err != nil {
				errs = append(errs, err.Error())
				continue
			}
			if done {
				fmt.Fprintln(cmd.OutOrStdout(), c.ID)
			}
		}
		if len(errs) > 0 {
			return errors.New(strings.Join(errs, "; "))
		}
		return nil
	})
}

func newUmountCmd(g *globalOptions) *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:     "umount [flags] CONTAINER... | --all",
		Aliases: []string{"unmount"},
		Short:   "Unmount the root filesystem of working containers",
		Long:    `Undo one mount of each working container's root filesystem (with --all, every mount of every working container) and print their IDs.`,
		Example: `  builder umount app
  builder umount --all`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return forEach(cmd, g, args, all, func(c *container.Container) (bool, error) {
				if all && c.MountPoint() == "" {
					return false, nil
				}
				return true, c.Unmount(all)
			})
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "unmount every working container")
	return cmd
}

func newRmCmd(g *globalOptions) *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:     "rm [flags] CONTAINER... | --all",
		Aliases: []string{"delete"},
		Short:   "Remove working containers",
		Long:    `Remove working containers and their root filesystems (unmounting them) and print their IDs.`,
		Example: `  builder rm app
  builder rm --all`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return forEach(cmd, g, args, all, func(c *container.Container) (bool, error) {
				return true, c.Remove()
			})
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "remove every working container")
	return cmd
}

type containersOptions struct {
	all, quiet, json, noHeading, noTrunc bool
	format                               string
	filters                              []string
}

// containerRow is one line of containers, the fields a --format template
// sees (buildah's).
type containerRow struct {
	ContainerID   string `json:"id"`
	Builder       bool   `json:"builder"`
	ImageID       string `json:"imageid"`
	ImageName     string `json:"imagename"`
	ContainerName string `json:"containername"`
}

func newContainersCmd(g *globalOptions) *cobra.Command {
	o := &containersOptions{}
	cmd := &cobra.Command{
		Use:     "containers [flags]",
		Aliases: []string{"ls", "ps"},
		Short:   "List working containers",
		Long: `List the working containers, with --all also the other containers of the
store (the engine's), marked by an empty BUILDER column.`,
		Example: `  builder containers
  builder containers --format '{{.ContainerName}} {{.ImageName}}'
  builder containers --filter name=app --quiet`,
		Args: cli.ExactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error { return runContainers(cmd, g, o) },
	}
	f := cmd.Flags()
	f.BoolVarP(&o.all, "all", "a", false, "also list containers that are not working containers")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "print only the container IDs")
	f.BoolVar(&o.json, "json", false, "print as JSON")
	f.BoolVarP(&o.noHeading, "noheading", "n", false, "do not print the column headings")
	f.BoolVar(&o.noTrunc, "notruncate", false, "do not truncate IDs")
	f.StringVar(&o.format, "format", "", "print each container with a Go `template`")
	f.StringArrayVarP(&o.filters, "filter", "f", nil, "list only containers matching `KEY=VALUE` (id, name, ancestor)")
	return cmd
}

func runContainers(cmd *cobra.Command, g *globalOptions, o *containersOptions) error {
	match, err := containerFilter(o.filters)
	if err != nil {
		return cli.Usage(err)
	}
	var tmpl *format.Template
	if o.format != "" {
		if tmpl, err = format.Parse(o.format); err != nil {
			return cli.Usage(err)
		}
	}
	return withSession(cmd, g, func(ctx context.Context, s *session) error {
		rows, err := containerRows(s, o.all)
		if err != nil {
			return err
		}
		rows = filterRows(rows, match)
		out := cmd.OutOrStdout()
		if o.json {
			if rows == nil {
				rows = []containerRow{}
			}
			return format.JSON(out, rows)
		}
		for i, r := range rows {
			if !o.noTrunc {
				r.ContainerID, r.ImageID = shortID(r.ContainerID), shortID(r.ImageID)
			}
			switch {
			case o.quiet:
				fmt.Fprintln(out, r.ContainerID)
			case tmpl != nil:
				if err := tmpl.Execute(out, r); err != nil {
					return err
				}
			default:
				rowFormat := "%-12.12s  %-8s %-12.12s %-32s %s\n"
				if o.noTrunc {
					rowFormat = "%-64s %-8s %-64s %-32s %s\n"
				}
				if i == 0 && !o.noHeading {
					fmt.Fprintf(out, rowFormat, "CONTAINER ID", "BUILDER", "IMAGE ID", "IMAGE NAME", "CONTAINER NAME")
				}
				builder := ""
				if r.Builder {
					builder = "   *"
				}
				fmt.Fprintf(out, rowFormat, r.ContainerID, builder, r.ImageID, r.ImageName, r.ContainerName)
			}
		}
		if len(rows) == 0 && !o.quiet && tmpl == nil && !o.noHeading {
			fmt.Fprintf(out, "%-12.12s  %-8s %-12.12s %-32s %s\n", "CONTAINER ID", "BUILDER", "IMAGE ID", "IMAGE NAME", "CONTAINER NAME")
		}
		return nil
	})
}

// containerRows lists the working containers (and, with all, the other
// storage containers after them).
func containerRows(s *session, all bool) ([]containerRow, error) {
	list, err := s.manager.List()
	if err != nil {
		return nil, err
	}
	var rows []containerRow
	seen := map[string]bool{}
	for _, c := range list {
		seen[c.ID] = true
		rows = append(rows, containerRow{ContainerID: c.ID, Builder: true, ImageID: c.FromImageID, ImageName: c.FromImage, ContainerName: c.Name})
	}
	if !all {
		return rows, nil
	}
	others, err := s.store.Containers()
	if err != nil {
		return nil, err
	}
	for _, sc := range others {
		if seen[sc.ID] {
			continue
		}
		r := containerRow{ContainerID: sc.ID, ImageID: sc.ImageID}
		if len(sc.Names) > 0 {
			r.ContainerName = sc.Names[0]
		}
		if img, err := s.store.Image(sc.ImageID); err == nil && len(img.Names) > 0 {
			r.ImageName = img.Names[0]
		}
		rows = append(rows, r)
	}
	return rows, nil
}

// containerFilter parses buildah's containers filters: id (prefix), name
// (substring), ancestor (image name or ID). Filters of one key are ORed,
// keys ANDed.
func containerFilter(filters []string) (func(containerRow) bool, error) {
	byKey := map[string][]string{}
	for _, f := range filters {
		k, v, ok := strings.Cut(f, "=")
		if !ok || v == "" {
			return nil, fmt.Errorf("invalid --filter %q: want KEY=VALUE", f)
		}
		switch k {
		case "id", "name", "ancestor":
		default:
			return nil, fmt.Errorf("invalid --filter %q: want id, name or ancestor", f)
		}
		byKey[k] = append(byKey[k], v)
	}
	one := func(k, v string, r containerRow) bool {
		switch k {
		case "id":
			return strings.HasPrefix(r.ContainerID, v)
		case "name":
			return strings.Contains(r.ContainerName, v)
		}
		return r.ImageName == v || strings.HasPrefix(r.ImageID, v) ||
			strings.HasSuffix(r.ImageName, "/"+v) || strings.HasSuffix(r.ImageName, "/"+v+":latest") || r.ImageName == v+":latest"
	}
	return func(r containerRow) bool {
		for k, vals := range byKey {
			ok := false
			for _, v := range vals {
				if one(k, v, r) {
					ok = true
					break
				}
			}
			if !ok {
				return false
			}
		}
		return true
	}, nil
}

func filterRows(rows []containerRow, match func(containerRow) bool) []containerRow {
	var out []containerRow
	for _, r := range rows {
		if match(r) {
			out = append(out, r)
		}
	}
	return out
}

// shortID is an ID's first 12 characters.
func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
