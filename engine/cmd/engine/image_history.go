//go:build !thin

package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/containers/storage"
	"github.com/spf13/cobra"

	"github.com/ocisuite/suite/shared/cli"
	"github.com/ocisuite/suite/shared/format"
	"github.com/ocisuite/suite/shared/imagestore"
)

type historyOptions struct {
	human   bool
	noTrunc bool
	quiet   bool
	format  string
}

// historyRow is one line of "history", the fields a --format template sees.
type historyRow struct {
	ID           string
	Created      string
	CreatedAt    string
	CreatedSince string
	CreatedBy    string
	Size         string
	Comment      string
	Tags         []string
}

// historyJSON is podman's "history --format json" shape.
type historyJSON struct {
	ID        string    `json:"id"`
	Created   time.Time `json:"created"`
	CreatedBy string    `json:"createdBy"`
	Size      int64     `json:"size"`
	Comment   string    `json:"comment"`
	Tags      []string  `json:"tags"`
}

func newHistoryCmd(g *globalOptions) *cobra.Command {
	o := &historyOptions{}
	cmd := &cobra.Command{
		Use:   "history [flags] IMAGE",
		Short: "Show the history of an image",
		Example: `  engine history busybox
  engine history --no-trunc --format '{{.CreatedBy}}' busybox`,
		Args: cli.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withImageStore(g, func(s storage.Store) error {
				h, err := imagestore.History(cmd.Context(), s, args[0])
				if err != nil {
					return err
				}
				return writeHistory(cmd, o, h)
			})
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.human, "human", "H", true, "show sizes and dates in human-readable form")
	f.BoolVar(&o.noTrunc, "no-trunc", false, "do not truncate output")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "print only the IDs")
	f.StringVar(&o.format, "format", "", "pretty-print with a Go `template`, \"table …\" or json")
	return cmd
}

func writeHistory(cmd *cobra.Command, o *historyOptions, h []imagestore.HistoryEntry) error {
	out := cmd.OutOrStdout()
	if o.format == "json" {
		js := []historyJSON{}
		for _, e := range h {
			tags := e.Tags
			if tags == nil {
				tags = []string{}
			}
			js = append(js, historyJSON{ID: e.ID, Created: e.Created, CreatedBy: e.CreatedBy, Size: e.Size, Comment: e.Comment, Tags: tags})
		}
		return format.JSON(out, js)
	}
	if o.quiet && o.format == "" {
		for _, e := range h {
			fmt.Fprintln(out, historyID(e.ID, o.noTrunc))
		}
		return nil
	}
	tmpl := o.format
	if tmpl == "" {
		tmpl = "table {{.ID}}\t{{.Created}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
	}
	w, err := format.NewWriter(out, tmpl, map[string]string{"ID": "IMAGE", "CreatedBy": "CREATED BY"}, false)
	if err != nil {
		return cli.Usage(err)
	}
	for _, e := range h {
		row := historyRow{
			ID: historyID(e.ID, o.noTrunc), CreatedBy: e.CreatedBy, Comment: e.Comment, Tags: e.Tags,
			CreatedAt: e.Created.Format(time.RFC3339), CreatedSince: humanSince(e.Created),
		}
		if o.human {
			row.Created, row.Size = humanSince(e.Created), humanSize(e.Size)
		} else {
			row.Created, row.Size = e.Created.Format(time.RFC3339), fmt.Sprint(e.Size)
		}
		row.CreatedBy = strings.ReplaceAll(row.CreatedBy, "\t", " ")
		if !o.noTrunc && len(row.CreatedBy) > 45 {
			row.CreatedBy = row.CreatedBy[:42] + "..."
		}
		if err := w.Write(row); err != nil {
			return err
		}
	}
	return w.Flush()
}

func historyID(id string, noTrunc bool) string {
	if id == "<missing>" {
		return id
	}
	return imageID(id, noTrunc)
}
