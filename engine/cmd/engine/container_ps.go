package main

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/containers/storage/pkg/directory"
	units "github.com/docker/go-units"
	"github.com/spf13/cobra"

	"github.com/ocisuite/suite/engine/container"
	"github.com/ocisuite/suite/engine/network"
	"github.com/ocisuite/suite/shared/cli"
	"github.com/ocisuite/suite/shared/format"
)

// psRow is one container as ps shows it; its fields are what --format
// templates and JSON output see (podman's names).
type psRow struct {
	ID         string                `json:"Id"`
	Image      string                `json:"Image"`
	ImageID    string                `json:"ImageID"`
	Command    string                `json:"-"`
	Commands   []string              `json:"Command"`
	Created    int64                 `json:"Created"`
	CreatedAt  string                `json:"CreatedAt"`
	Status     string                `json:"Status"`
	State      string                `json:"State"`
	ExitCode   int                   `json:"ExitCode"`
	Exited     bool                  `json:"Exited"`
	Pid        int                   `json:"Pid"`
	Names      string                `json:"-"`
	NamesList  []string              `json:"Names"`
	Labels     map[string]string     `json:"Labels"`
	Ports      string                `json:"-"`
	PortsList  []network.PortMapping `json:"Ports"`
	Networks   string                `json:"-"`
	NetList    []string              `json:"Networks"`
	Size       string                `json:"-"`
	Restarts   int                   `json:"Restarts"`
	StartedAt  int64                 `json:"StartedAt"`
	ExitedAt   int64                 `json:"ExitedAt"`
	AutoRemove bool                  `json:"AutoRemove"`
	Mounts     []string              `json:"Mounts"`
	fullID     string
}

func newPsCmd(g *globalOptions) *cobra.Command {
	var all, quiet, latest, size, noTrunc, noHeading, sync bool
	var last int
	var filters []string
	var tmpl string
	cmd := &cobra.Command{
		Use:     "ps [flags]",
		Short:   "List containers",
		Args:    cli.ExactArgs(0),
		Aliases: []string{},
		RunE: func(cmd *cobra.Command, args []string) error {
			match, err := psFilter(filters)
			if err != nil {
				return cli.Usage(err)
			}
			return withSession(cmd, g, func(ctx context.Context, s *session) error {
				ctrs, err := s.engine.List()
				if err != nil {
					return err
				}
				slices.SortFunc(ctrs, func(a, b *container.Container) int { return b.Created.Compare(a.Created) })
				var rows []psRow
				for _, c := range ctrs {
					if !all && !latest && last <= 0 && len(filters) == 0 && !c.Running() {
						continue
					}
					if !match(c) {
						continue
					}
					rows = append(rows, makePsRow(s, c, noTrunc, size))
				}
				if latest && len(rows) > 1 {
					rows = rows[:1]
				}
				if last > 0 && len(rows) > last {
					rows = rows[:last]
				}
				out := cmd.OutOrStdout()
				if quiet {
					for _, r := range rows {
						fmt.Fprintln(out, r.ID)
					}
					return nil
				}
				if tmpl == "json" {
					if rows == nil {
						rows = []psRow{}
					}
					// As podman's: full IDs, whatever --no-trunc says.
					for i := range rows {
						rows[i].ID = rows[i].fullID
					}
					return format.JSON(out, rows)
				}
				text := tmpl
				if text == "" {
					text = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.CreatedAt}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"
					if size {
						text += "\t{{.Size}}"
					}
				}
				w, err := format.NewWriter(out, text, map[string]string{"ID": "CONTAINER ID", "CreatedAt": "CREATED", "Names": "NAMES"}, noHeading)
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
	f := cmd.Flags()
	f.BoolVarP(&all, "all", "a", false, "show all containers (default: running only)")
	f.BoolVarP(&quiet, "quiet", "q", false, "print only the container IDs")
	f.BoolVarP(&latest, "latest", "l", false, "show the latest container created")
	f.IntVarP(&last, "last", "n", -1, "show the `n` last created containers")
	f.BoolVarP(&size, "size", "s", false, "show the size of each container's changes")
	f.BoolVar(&noTrunc, "no-trunc", false, "do not truncate the output")
	f.BoolVar(&noHeading, "noheading", false, "do not print the header line")
	f.BoolVar(&sync, "sync", false, "accepted for podman compatibility: ps always reads the current state")
	f.StringArrayVarP(&filters, "filter", "f", nil, "filter by `key=value`: id, name, label, status, exited, ancestor, restart-policy, health")
	f.StringVar(&tmpl, "format", "", "Go `template` or json")
	return cmd
}

func makePsRow(s *session, c *container.Container, noTrunc, size bool) psRow {
	cmdline := strings.Join(append(slices.Clone(c.Entrypoint), c.Command...), " ")
	id := c.ID
	if !noTrunc {
		id = shortID(id)
		if len(cmdline) > 20 {
			cmdline = cmdline[:17] + "..."
		}
	}
	r := psRow{
		ID: id, Image: c.ImageName, ImageID: c.ImageID, Command: cmdline,
		Commands: append(slices.Clone(c.Entrypoint), c.Command...),
		Created:  c.Created.Unix(), CreatedAt: units.HumanDuration(time.Since(c.Created)) + " ago",
		Status: statusString(c), State: string(c.State.Status), ExitCode: c.State.ExitCode,
		Exited: c.State.Status == container.StatusExited, Pid: c.State.Pid,
		Names: c.Name, NamesList: []string{c.Name}, Labels: c.Labels,
		Restarts: c.State.RestartCount, AutoRemove: c.AutoRemove,
		StartedAt: c.State.StartedAt.Unix(), ExitedAt: c.State.FinishedAt.Unix(),
		Mounts: []string{}, NetList: append([]string{}, c.Networks...), Networks: strings.Join(c.Networks, ","),
		PortsList: c.Ports, fullID: c.ID,
	}
	if r.Image == "" {
		r.Image = c.Image
	}
	for _, m := range c.Mounts {
		r.Mounts = append(r.Mounts, m.Destination)
	}
	r.Ports = psPorts(c)
	if size {
		r.Size = containerSize(s, c)
	}
	return r
}

// containerSize is the size of the container's writable layer.
func containerSize(s *session, c *container.Container) string {
	ctr, err := s.store.Container(c.ID)
	if err != nil {
		return "-"
	}
	n, err := s.store.DiffSize("", ctr.LayerID)
	if err != nil {
		dir, derr := s.store.ContainerDirectory(c.ID)
		if derr != nil {
			return "-"
		}
		n, _ = directory.Size(filepath.Dir(dir))
	}
	return units.HumanSizeWithPrecision(float64(n), 3)
}

// statusString is podman's STATUS column.
func statusString(c *container.Container) string {
	st := c.State
	var s string
	switch st.Status {
	case container.StatusRunning, container.StatusStopping:
		s = "Up " + units.HumanDuration(time.Since(st.StartedAt))
	case container.StatusPaused:
		s = "Paused"
	case container.StatusExited:
		s = fmt.Sprintf("Exited (%d) %s ago", st.ExitCode, units.HumanDuration(time.Since(st.FinishedAt)))
	case container.StatusCreated, container.StatusConfigured:
		s = "Created"
	default:
		s = string(st.Status)
	}
	if st.Health != nil && c.Running() {
		s += " (" + st.Health.Status + ")"
	}
	return s
}

// psFilter builds the matcher for --filter; several values of one key
// match any, different keys must all match.
func psFilter(filters []string) (func(*container.Container) bool, error) {
	by := map[string][]string{}
	for _, f := range filters {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return nil, fmt.Errorf("invalid --filter %q: want key=value", f)
		}
		switch k {
		case "id", "name", "label", "status", "exited", "ancestor", "restart-policy", "health":
		default:
			return nil, fmt.Errorf("invalid --filter %q: unknown key %q", f, k)
		}
		by[k] = append(by[k], v)
	}
	return func(c *container.Container) bool {
		for k, vs := range by {
			if !slices.ContainsFunc(vs, func(v string) bool { return psMatch(c, k, v) }) {
				return false
			}
		}
		return true
	}, nil
}

func psMatch(c *container.Container, k, v string) bool {
	switch k {
	case "id":
		return strings.HasPrefix(c.ID, v)
	case "name":
		return c.Name == v || strings.Contains(c.Name, v)
	case "label":
		lk, lv, hasV := strings.Cut(v, "=")
		got, ok := c.Labels[lk]
		return ok && (!hasV || got == lv)
	case "status":
		st := string(c.State.Status)
		if st == "configured" {
			st = "created"
		}
		return st == v
	case "exited":
		n, err := strconv.Atoi(v)
		return err == nil && c.State.Status == container.StatusExited && c.State.ExitCode == n
	case "ancestor":
		return c.Image == v || c.ImageName == v || strings.HasPrefix(c.ImageID, v) || strings.HasSuffix(c.ImageName, "/"+v) || strings.HasSuffix(c.ImageName, "/"+v+":latest")
	case "restart-policy":
		return c.Restart.Name == v
	case "health":
		return c.State.Health != nil && c.State.Health.Status == v
	}
	return false
}
