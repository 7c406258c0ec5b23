//go:build !thin

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os/signal"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/ocisuite/suite/engine/container"
	"github.com/ocisuite/suite/shared/cli"
	"github.com/ocisuite/suite/shared/format"
)

// eventView is an event as podman shows it to --format templates and
// writes it as JSON.
type eventView struct {
	ID                string            `json:"ID"`
	Image             string            `json:"Image,omitempty"`
	Name              string            `json:"Name,omitempty"`
	Status            string            `json:"Status"`
	Type              string            `json:"Type"`
	Time              time.Time         `json:"-"`
	Unix              int64             `json:"time"`
	TimeNano          int64             `json:"timeNano"`
	ContainerExitCode *int              `json:"ContainerExitCode,omitempty"`
	HealthStatus      string            `json:"HealthStatus,omitempty"`
	Attributes        map[string]string `json:"Attributes,omitempty"`
}

func viewOf(ev container.Event) eventView {
	v := eventView{
		ID: ev.ID, Image: ev.Image, Name: ev.Name, Status: ev.Status, Type: ev.Type,
		Time: ev.Time.Local(), Unix: ev.Time.Unix(), TimeNano: ev.Time.UnixNano(),
		ContainerExitCode: ev.ExitCode, Attributes: ev.Attributes,
	}
	if ev.Status == "health_status" {
		v.HealthStatus = ev.Attributes["health_status"]
	}
	return v
}

// humanEvent is podman's default line:
// TIME TYPE STATUS ID (image=IMAGE, name=NAME, k=v...).
func humanEvent(v eventView) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s %s (image=%s, name=%s", v.Time.Format("2006-01-02 15:04:05.000000000 -0700 MST"), v.Type, v.Status, v.ID, v.Image, v.Name)
	if v.ContainerExitCode != nil {
		fmt.Fprintf(&b, ", containerExitCode=%d", *v.ContainerExitCode)
	}
	keys := make([]string, 0, len(v.Attributes))
	for k := range v.Attributes {
		if k != "image" && k != "name" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, ", %s=%s", k, v.Attributes[k])
	}
	b.WriteString(")")
	return b.String()
}

// eventMatcher builds --filter: values of one key match any, different
// keys must all match (podman's rule).
func eventMatcher(filters []string) (func(container.Event) bool, error) {
	by := map[string][]string{}
	for _, f := range filters {
		k, v, ok := strings.Cut(f, "=")
		if !ok || v == "" {
			return nil, fmt.Errorf("invalid --filter %q: want key=value", f)
		}
		switch k {
		case "status":
			k = "event"
		case "container", "event", "type", "label", "image":
		default:
			return nil, fmt.Errorf("invalid --filter %q: unknown key %q (want container, event, type, label or image)", f, k)
		}
		by[k] = append(by[k], v)
	}
	match := func(ev container.Event, k, v string) bool {
		switch k {
		case "container":
			return ev.Name == v || (len(v) >= 3 && strings.HasPrefix(ev.ID, v))
		case "event":
			return ev.Status == v
		case "type":
			return ev.Type == v
		case "image":
			return ev.Image == v || ev.Image == v+":latest" || strings.HasSuffix(ev.Image, "/"+v) || strings.HasSuffix(ev.Image, "/"+v+":latest")
		case "label":
			lk, lv, hasV := strings.Cut(v, "=")
			got, ok := ev.Attributes[lk]
			return ok && (!hasV || got == lv)
		}
		return false
	}
	return func(ev container.Event) bool {
		for k, vs := range by {
			if !slices.ContainsFunc(vs, func(v string) bool { return match(ev, k, v) }) {
				return false
			}
		}
		return true
	}, nil
}

func newEventsCmd(g *globalOptions) *cobra.Command {
	var since, until, tmpl string
	var filters []string
	var stream, noTrunc bool
	cmd := &cobra.Command{
		Use:   "events",
		Short: "Show the engine's events",
		Long: `Show container events from the event log every engine command appends to.
By default it prints the past events and then streams new ones until
interrupted; --stream=false stops after the existing events, and --until
stops the stream at that time.`,
		Args: cli.ExactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			var f container.EventFilter
			var err error
			if f.Since, err = parseTime(since); err != nil {
				return cli.Usage(fmt.Errorf("--since: %w", err))
			}
			if f.Until, err = parseTime(until); err != nil {
				return cli.Usage(fmt.Errorf("--until: %w", err))
			}
			if f.Match, err = eventMatcher(filters); err != nil {
				return cli.Usage(err)
			}
			var t *format.Template
			if tmpl != "" && tmpl != "json" {
				if t, err = format.Parse(tmpl); err != nil {
					return cli.Usage(err)
				}
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			cmd.SetContext(ctx)
			return withSession(cmd, g, func(ctx context.Context, s *session) error {
				out := cmd.OutOrStdout()
				return container.ReadEvents(ctx, s.engine.EventLog(), f, stream, func(ev container.Event) error {
					v := viewOf(ev)
					if !noTrunc {
						v.ID = shortID(v.ID)
					}
					return writeEvent(out, v, tmpl, t)
				})
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&since, "since", "", "show events since `time` (RFC 3339, Unix seconds, or a duration like 10m)")
	fl.StringVar(&until, "until", "", "show events until `time`")
	fl.StringArrayVarP(&filters, "filter", "f", nil, "filter by `key=value`: container, event (or status), type, label, image")
	fl.StringVar(&tmpl, "format", "", "Go `template` for each event, or json (one object per line)")
	fl.BoolVar(&stream, "stream", true, "stream new events; with false, stop after the existing ones")
	fl.BoolVar(&noTrunc, "no-trunc", true, "do not truncate IDs")
	return cmd
}

func writeEvent(w io.Writer, v eventView, tmpl string, t *format.Template) error {
	switch {
	case tmpl == "json":
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	case t != nil:
		return t.Execute(w, v)
	default:
		_, err := fmt.Fprintln(w, humanEvent(v))
		return err
	}
}
