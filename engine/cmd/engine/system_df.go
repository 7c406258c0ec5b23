//go:build !thin

package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	units "github.com/docker/go-units"
	"github.com/spf13/cobra"

	"github.com/ocisuite/suite/engine/system"
	"github.com/ocisuite/suite/shared/cli"
	"github.com/ocisuite/suite/shared/format"
)

// dfRow is one row of system df, as podman's --format sees it.
type dfRow struct {
	Type           string
	Total          int
	Active         int
	Size           string
	Reclaimable    string
	RawSize        int64 `json:"RawSize"`
	RawReclaimable int64 `json:"RawReclaimable"`
}

func reclaimable(n, of int64) string {
	pct := 0
	if of > 0 {
		pct = int(float64(n) * 100 / float64(of))
	}
	return fmt.Sprintf("%s (%d%%)", units.HumanSize(float64(n)), pct)
}

func newDfCmd(g *globalOptions) *cobra.Command {
	var verbose bool
	var tmpl string
	cmd := &cobra.Command{
		Use:   "df",
		Short: "Show the disk space used by images, containers and volumes",
		Args:  cli.ExactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			if verbose && tmpl != "" {
				return cli.Usage(fmt.Errorf("cannot combine --format and --verbose"))
			}
			return withSession(cmd, g, func(ctx context.Context, s *session) error {
				du, err := system.GetDiskUsage(s.engine)
				if err != nil {
					return err
				}
				out := cmd.OutOrStdout()
				if verbose {
					return dfVerbose(out, du)
				}
				var rows []dfRow
				for _, sm := range du.Summaries() {
					rows = append(rows, dfRow{
						Type: sm.Type, Total: sm.Total, Active: sm.Active,
						Size: units.HumanSize(float64(sm.Size)), Reclaimable: reclaimable(sm.Reclaimable, sm.Size),
						RawSize: sm.Size, RawReclaimable: sm.Reclaimable,
					})
				}
				if tmpl == "json" {
					return format.JSON(out, rows)
				}
				if tmpl == "" {
					tmpl = "table {{.Type}}\t{{.Total}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}"
				}
				w, err := format.NewWriter(out, tmpl, nil, false)
				if err != nil {
					return cli.Usage(err)
				}
				for _, r := range rows {
					if err := w.Write(r); err != nil {
						return err
					}
				}
				return w.Flush()
			})
		},
	}
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "show every image, container and volume")
	cmd.Flags().StringVar(&tmpl, "format", "", "Go `template` for each row (fields .Type .Total .Active .Size .Reclaimable), or json")
	return cmd
}

func dfVerbose(out io.Writer, du *system.DiskUsage) error {
	type imageRow struct{ Repository, Tag, ImageID, Created, Size, SharedSize, UniqueSize, Containers string }
	type ctrRow struct{ ContainerID, Image, Command, LocalVolumes, Size, Created, Status, Names string }
	type volRow struct{ VolumeName, Links, Size string }
	section := func(title, tmpl string, headers map[string]string, rows []any) error {
		fmt.Fprintf(out, "%s\n\n", title)
		w, err := format.NewWriter(out, tmpl, headers, false)
		if err != nil {
			return err
		}
		for _, r := range rows {
			if err := w.Write(r); err != nil {
				return err
			}
		}
		if err := w.Flush(); err != nil {
			return err
		}
		_, err = fmt.Fprintln(out)
		return err
	}
	ago := func(t time.Time) string { return units.HumanDuration(time.Since(t)) + " ago" }
	var rows []any
	for _, u := range du.Images {
		repo, tag := "<none>", "<none>"
		if len(u.Names) > 0 {
			n := u.Names[0]
			repo = n
			if i := strings.LastIndex(n, ":"); i > strings.LastIndex(n, "/") {
				repo, tag = n[:i], n[i+1:]
			}
		}
		rows = append(rows, imageRow{repo, tag, shortID(u.ID), ago(u.Created), units.HumanSize(float64(u.Size)),
			units.HumanSize(float64(u.SharedSize)), units.HumanSize(float64(u.UniqueSize)), fmt.Sprint(u.Containers)})
	}
	if err := section("Images space usage:", "table {{.Repository}}\t{{.Tag}}\t{{.ImageID}}\t{{.Created}}\t{{.Size}}\t{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}",
		map[string]string{"ImageID": "IMAGE ID", "SharedSize": "SHARED SIZE", "UniqueSize": "UNIQUE SIZE"}, rows); err != nil {
		return err
	}
	rows = nil
	for _, u := range du.Containers {
		rows = append(rows, ctrRow{shortID(u.ID), u.Image, strings.Join(u.Command, " "), fmt.Sprint(u.Volumes),
			units.HumanSize(float64(u.Size)), ago(u.Created), string(u.Status), u.Name})
	}
	if err := section("Containers space usage:", "table {{.ContainerID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}\t{{.Created}}\t{{.Status}}\t{{.Names}}",
		map[string]string{"ContainerID": "CONTAINER ID", "LocalVolumes": "LOCAL VOLUMES"}, rows); err != nil {
		return err
	}
	rows = nil
	for _, u := range du.Volumes {
		rows = append(rows, volRow{u.Name, fmt.Sprint(u.Links), units.HumanSize(float64(u.Size))})
	}
	return section("Local Volumes space usage:", "table {{.VolumeName}}\t{{.Links}}\t{{.Size}}", map[string]string{"VolumeName": "VOLUME NAME"}, rows)
}
