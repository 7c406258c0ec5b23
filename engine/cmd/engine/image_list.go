//go:build !thin

package main

import (
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/containers/storage"
	units "github.com/docker/go-units"
	"github.com/spf13/cobra"

	"github.com/ocisuite/suite/shared/cli"
	"github.com/ocisuite/suite/shared/format"
	"github.com/ocisuite/suite/shared/imagestore"
)

type imagesOptions struct {
	all       bool
	quiet     bool
	digests   bool
	noTrunc   bool
	noHeading bool
	filters   []string
	format    string
	sort      string
}

func newImagesCmd(g *globalOptions) *cobra.Command {
	o := &imagesOptions{}
	cmd := &cobra.Command{
		Use:   "images [flags] [IMAGE]",
		Short: "List images in local storage",
		Example: `  engine images
  engine images --filter reference=busybox --format '{{.ID}} {{.Repository}}:{{.Tag}}'
  engine images --format json`,
		Args: cli.RangeArgs(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				o.filters = append(o.filters, "reference="+args[0])
			}
			return withImageStore(g, func(s storage.Store) error {
				list, err := imagestore.List(cmd.Context(), s, imagestore.ListOptions{All: o.all, Filters: o.filters, Sort: o.sort})
				if err != nil {
					return err
				}
				return writeImages(cmd, o, list)
			})
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.all, "all", "a", false, "show all images (default hides intermediate images)")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "print only the image IDs")
	f.BoolVar(&o.digests, "digests", false, "show digests")
	f.BoolVar(&o.noTrunc, "no-trunc", false, "do not truncate output")
	f.BoolVarP(&o.noHeading, "noheading", "n", false, "do not print column headings")
	f.StringArrayVarP(&o.filters, "filter", "f", nil, "filter output by `KEY=VALUE` (reference, before, since, dangling, intermediate, label, id, readonly, containers)")
	f.StringVar(&o.format, "format", "", "pretty-print with a Go `template`, \"table …\" or json")
	f.StringVar(&o.sort, "sort", "created", "sort by `key`: created, id, repository, size or tag")
	return cmd
}

// imageRow is one line of "images", the fields a --format template sees.
type imageRow struct {
	ID           string
	Repository   string
	Tag          string
	Digest       string
	Digests      []string
	Created      string
	CreatedAt    string
	CreatedSince string
	CreatedTime  time.Time
	Size         string
	VirtualSize  string
	SharedSize   string
	Containers   int
	ReadOnly     bool
	IsReadOnly   bool
	Dangling     bool
	Labels       map[string]string
	Names        []string
	History      string
}

// imageJSON is an image in "images --format json" (podman's fields).
type imageJSON struct {
	ID          string            `json:"Id"`
	ParentID    string            `json:"ParentId"`
	RepoTags    []string          `json:"RepoTags"`
	RepoDigests []string          `json:"RepoDigests"`
	Size        int64             `json:"Size"`
	SharedSize  int64             `json:"SharedSize"`
	VirtualSize int64             `json:"VirtualSize"`
	Labels      map[string]string `json:"Labels"`
	Containers  int               `json:"Containers"`
	ReadOnly    bool              `json:"ReadOnly,omitempty"`
	Names       []string          `json:"Names"`
	Digest      string            `json:"Digest"`
	Digests     []string          `json:"Digests"`
	History     []string          `json:"History"`
	Created     int64             `json:"Created"`
	CreatedAt   string            `json:"CreatedAt"`
	Dangling    bool              `json:"Dangling"`
}

// humanSize is podman's size column: "2.13 MB".
func humanSize(n int64) string {
	s := units.HumanSizeWithPrecision(float64(n), 3)
	i := strings.LastIndexFunc(s, unicode.IsDigit)
	return s[:i+1] + " " + s[i+1:]
}

func humanSince(t time.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return units.HumanDuration(time.Since(t)) + " ago"
}

func writeImages(cmd *cobra.Command, o *imagesOptions, list []imagestore.Summary) error {
	out := cmd.OutOrStdout()
	if o.format == "json" {
		js := []imageJSON{}
		for _, s := range list {
			j := imageJSON{
				ID: s.ID, ParentID: s.Parent, RepoTags: s.Names, RepoDigests: s.RepoDigests(), Size: s.Size, VirtualSize: s.Size,
				Labels: s.Labels, Containers: s.Containers, ReadOnly: s.ReadOnly, Names: s.Names,
				Digest: s.Digest.String(), Created: s.Created.Unix(), CreatedAt: s.Created.Format(time.RFC3339Nano),
				Dangling: s.Dangling, History: s.Names,
			}
			if j.RepoTags == nil {
				j.RepoTags, j.Names, j.History = []string{}, []string{}, []string{}
			}
			if j.RepoDigests == nil {
				j.RepoDigests = []string{}
			}
			for _, d := range s.Digests {
				j.Digests = append(j.Digests, d.String())
			}
			js = append(js, j)
		}
		return format.JSON(out, js)
	}
	if o.quiet && o.format == "" {
		seen := map[string]bool{}
		for _, s := range list {
			id := imageID(s.ID, o.noTrunc)
			if !seen[id] {
				seen[id] = true
				fmt.Fprintln(out, id)
			}
		}
		return nil
	}
	tmpl := o.format
	if tmpl == "" {
		tmpl = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.Created}}\t{{.Size}}"
		if o.digests {
			tmpl = "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.Created}}\t{{.Size}}"
		}
	}
	w, err := format.NewWriter(out, tmpl, map[string]string{"ID": "IMAGE ID", "Created": "CREATED", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT"}, o.noHeading)
	if err != nil {
		return cli.Usage(err)
	}
	for _, s := range list {
		for _, rt := range s.RepoTags() {
			row := imageRow{
				ID: imageID(s.ID, o.noTrunc), Repository: rt.Repository, Tag: rt.Tag, Digest: rt.Digest.String(),
				Created: humanSince(s.Created), CreatedSince: humanSince(s.Created), CreatedAt: s.Created.String(),
				CreatedTime: s.Created, Size: humanSize(s.Size), VirtualSize: humanSize(s.Size), SharedSize: humanSize(0),
				Containers: s.Containers, ReadOnly: s.ReadOnly, IsReadOnly: s.ReadOnly, Dangling: s.Dangling,
				Labels: s.Labels, Names: s.Names,
			}
			for _, d := range s.Digests {
				row.Digests = append(row.Digests, d.String())
			}
			if err := w.Write(row); err != nil {
				return err
			}
		}
	}
	return w.Flush()
}

// imageID is the 12-character ID, or "sha256:" and all 64 with noTrunc.
func imageID(id string, noTrunc bool) string {
	if noTrunc {
		return "sha256:" + id
	}
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
