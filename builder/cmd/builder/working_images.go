package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/containers/image/v5/manifest"
	units "github.com/docker/go-units"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/spf13/cobra"

	"github.com/ocisuite/suite/builder/container"
	"github.com/ocisuite/suite/shared/cli"
	"github.com/ocisuite/suite/shared/format"
	"github.com/ocisuite/suite/shared/imagestore"
)

type imagesOptions struct {
	all, quiet, json, digests, noTrunc, noHeading, history bool
	format                                                 string
	filters                                                []string
}

// imageRow is one line of images, the fields a --format template sees
// (buildah's), and, with json tags, an entry of --json.
type imageRow struct {
	ID           string   `json:"id"`
	Name         string   `json:"-"`
	Tag          string   `json:"-"`
	Names        []string `json:"names"`
	Digest       string   `json:"digest"`
	CreatedAt    string   `json:"createdat"`
	Size         string   `json:"size"`
	Created      int64    `json:"created"`
	CreatedAtRaw string   `json:"createdatraw"`
	ReadOnly     bool     `json:"readonly"`
	History      []string `json:"history"`
}

func newImagesCmd(g *globalOptions) *cobra.Command {
	o := &imagesOptions{}
	cmd := &cobra.Command{
		Use:   "images [flags] [IMAGE]",
		Short: "List images in local storage",
		Example: `  builder images
  builder images --filter dangling=true --quiet
  builder images --format '{{.Name}}:{{.Tag}} {{.ID}}'`,
		Args: cli.RangeArgs(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				o.filters = append(o.filters, "reference="+args[0])
			}
			return runImages(cmd, g, o)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.all, "all", "a", false, "also list intermediate images")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "print only the image IDs")
	f.BoolVar(&o.json, "json", false, "print as JSON")
	f.BoolVar(&o.digests, "digests", false, "show digests")
	f.BoolVar(&o.noTrunc, "no-trunc", false, "do not truncate IDs")
	f.BoolVarP(&o.noHeading, "noheading", "n", false, "do not print the column headings")
	f.BoolVar(&o.history, "history", false, "show the names the images had")
	f.StringVar(&o.format, "format", "", "print each image with a Go `template` (\"table …\" for columns)")
	f.StringArrayVarP(&o.filters, "filter", "f", nil, "list only images matching `KEY=VALUE` (reference, before, since, dangling, label, id, readonly, containers)")
	return cmd
}

func runImages(cmd *cobra.Command, g *globalOptions, o *imagesOptions) error {
	return withSession(cmd, g, func(ctx context.Context, s *session) error {
		list, err := imagestore.List(ctx, s.store, imagestore.ListOptions{All: o.all, Filters: o.filters})
		if err != nil {
			if strings.HasPrefix(err.Error(), "invalid filter") {
				return cli.Usage(err)
			}
			return err
		}
		out := cmd.OutOrStdout()
		var rows []imageRow
		for _, sum := range list {
			id := shortID(sum.ID)
			if o.noTrunc {
				id = "sha256:" + sum.ID
			}
			base := imageRow{
				ID: id, Names: sum.Names, Digest: sum.Digest.String(),
				CreatedAt: humanSince(sum.Created), Size: humanSize(sum.Size),
				Created: sum.Created.Unix(), CreatedAtRaw: sum.Created.Format(time.RFC3339Nano), ReadOnly: sum.ReadOnly,
			}
			if o.history {
				if img, err := s.store.Image(sum.ID); err == nil {
					base.History = img.NamesHistory
				}
			}
			if o.json {
				rows = append(rows, base)
				continue
			}
			for _, rt := range sum.RepoTags() {
				r := base
				r.Name, r.Tag = rt.Repository, rt.Tag
				rows = append(rows, r)
			}
		}
		if o.json {
			if rows == nil {
				rows = []imageRow{}
			}
			return format.JSON(out, rows)
		}
		if o.quiet && o.format == "" {
			seen := map[string]bool{}
			for _, r := range rows {
				if !seen[r.ID] {
					seen[r.ID] = true
					fmt.Fprintln(out, r.ID)
				}
			}
			return nil
		}
		tmpl := o.format
		if tmpl == "" {
			tmpl = "table {{.Name}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedAt}}\t{{.Size}}"
			if o.digests {
				tmpl = "table {{.Name}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedAt}}\t{{.Size}}"
			}
			if o.history {
				tmpl += "\t{{.History}}"
			}
		}
		w, err := format.NewWriter(out, tmpl, map[string]string{"Name": "REPOSITORY", "ID": "IMAGE ID", "CreatedAt": "CREATED", "CreatedAtRaw": "CREATED"}, o.noHeading)
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
}

// humanSize is the SIZE column: "2.13 MB".
func humanSize(n int64) string {
	s := units.HumanSizeWithPrecision(float64(n), 3)
	i := strings.LastIndexFunc(s, unicode.IsDigit)
	return s[:i+1] + " " + s[i+1:]
}

// humanSince is buildah's CREATED column: "3 hours ago".
func humanSince(t time.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return units.HumanDuration(time.Since(t)) + " ago"
}

// inspectData is what inspect prints: buildah's builder description, for
// a working container or for an image.
type inspectData struct {
	Type             string
	FromImage        string
	FromImageID      string
	FromImageDigest  string
	Config           string
	Manifest         string
	Container        string
	ContainerID      string
	MountPoint       string
	ImageAnnotations map[string]string
	ImageCreatedBy   string
	OCIv1            v1.Image
	Docker           manifest.Schema2Image
	Format           string
}

const inspectType = "buildah 0.0.1"

func newInspectCmd(g *globalOptions) *cobra.Command {
	var typ, tmpl string
	cmd := &cobra.Command{
		Use:   "inspect [flags] NAME",
		Short: "Describe a working container or an image",
		Long: `Print a working container's settings and image configuration (in OCI and
Docker form) as JSON, or those of an image with --type image. Without
--type, a NAME that is not a working container is looked up as an image.`,
		Example: `  builder inspect app
  builder inspect --type image --format '{{.OCIv1.Config.Cmd}}' myapp:1`,
		Args: cli.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if typ != "container" && typ != "image" {
				return cli.Usage(fmt.Errorf("invalid --type %q: want container or image", typ))
			}
			var t *format.Template
			if tmpl != "" {
				var err error
				if t, err = format.Parse(tmpl); err != nil {
					return cli.Usage(err)
				}
			}
			return withSession(cmd, g, func(ctx context.Context, s *session) error {
				var data *inspectData
				var err error
				if typ == "container" {
					data, err = inspectContainer(ctx, s, args[0])
					if errors.Is(err, container.ErrNoSuchContainer) && !cmd.Flags().Changed("type") {
						data, err = inspectImage(ctx, s, args[0])
						if errors.Is(err, imagestore.ErrNotFound) {
							err = fmt.Errorf("%s: no such working container or image", args[0])
						}
					}
				} else {
					data, err = inspectImage(ctx, s, args[0])
				}
				if err != nil {
					return err
				}
				if t != nil {
					return t.Execute(cmd.OutOrStdout(), data)
				}
				return format.JSON(cmd.OutOrStdout(), data)
			})
		},
	}
	cmd.Flags().StringVarP(&typ, "type", "t", "container", "what NAME is: `container` or image")
	cmd.Flags().StringVarP(&tmpl, "format", "f", "", "print with a Go `template`")
	return cmd
}

func inspectContainer(ctx context.Context, s *session, name string) (*inspectData, error) {
	c, err := s.lookup(name)
	if err != nil {
		return nil, err
	}
	x, err := c.Extra()
	if err != nil {
		return nil, err
	}
	d := &inspectData{
		Type: inspectType, FromImage: c.FromImage, FromImageID: c.FromImageID,
		Container: c.Name, ContainerID: c.ID, MountPoint: c.MountPoint(),
		ImageAnnotations: x.Annotations, ImageCreatedBy: x.CreatedBy, Format: c.Format,
	}
	if c.FromImage == container.Scratch {
		d.FromImage = ""
	}
	if c.FromImageID != "" {
		if img, err := s.store.Image(c.FromImageID); err == nil {
			d.FromImageDigest = img.Digest.String()
		}
		if m, cfg, err := container.ImageBlobs(ctx, s.store, c.FromImageID); err == nil {
			d.Manifest, d.Config = string(m), string(cfg)
		}
	}
	if err := describeConfig(d, c.Config, x.Comment); err != nil {
		return nil, err
	}
	return d, nil
}

func inspectImage(ctx context.Context, s *session, name string) (*inspectData, error) {
	f, err := imagestore.Lookup(s.store, name)
	if err != nil {
		return nil, err
	}
	m, cfgBlob, err := container.ImageBlobs(ctx, s.store, f.ID)
	if err != nil {
		return nil, err
	}
	var cfg dockerspec.DockerOCIImage
	if err := json.Unmarshal(cfgBlob, &cfg); err != nil {
		return nil, fmt.Errorf("decoding the configuration of %s: %w", name, err)
	}
	var docker struct {
		Comment string `json:"comment"`
	}
	_ = json.Unmarshal(cfgBlob, &docker)
	var man struct {
		MediaType   string            `json:"mediaType"`
		Annotations map[string]string `json:"annotations"`
	}
	_ = json.Unmarshal(m, &man)
	fromName := f.Name
	if fromName == "" && len(f.Names) > 0 {
		fromName = f.Names[0]
	}
	d := &inspectData{
		Type: inspectType, FromImage: fromName, FromImageID: f.ID, FromImageDigest: f.Digest.String(),
		Config: string(cfgBlob), Manifest: string(m), ImageAnnotations: man.Annotations, Format: "oci",
	}
	if mt := manifest.GuessMIMEType(m); mt == manifest.DockerV2Schema2MediaType || mt == manifest.DockerV2Schema1SignedMediaType || mt == manifest.DockerV2Schema1MediaType {
		d.Format = "docker"
	}
	if err := describeConfig(d, cfg, docker.Comment); err != nil {
		return nil, err
	}
	return d, nil
}

// describeConfig fills the OCI and Docker forms of a configuration.
func describeConfig(d *inspectData, cfg dockerspec.DockerOCIImage, comment string) error {
	d.OCIv1 = cfg.Image
	d.OCIv1.Config = cfg.Config.ImageConfig
	b, err := json.Marshal(cfg)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, &d.Docker); err != nil {
		return fmt.Errorf("converting the configuration to Docker's form: %w", err)
	}
	d.Docker.Comment = comment
	if d.Docker.Config != nil {
		d.Docker.ContainerConfig = *d.Docker.Config
	}
	return nil
}
