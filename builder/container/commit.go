package container

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/containers/image/v5/manifest"
	istorage "github.com/containers/image/v5/storage"
	"github.com/containers/storage"
	"github.com/containers/storage/pkg/archive"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	digest "github.com/opencontainers/go-digest"
	imgspecs "github.com/opencontainers/image-spec/specs-go"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/sirupsen/logrus"

	"github.com/ocisuite/suite/shared/imagestore"
)

// ImageConfig reads a local image's configuration, with Docker's extra
// fields (healthcheck, ONBUILD triggers, shell) where it has them.
func ImageConfig(ctx context.Context, s storage.Store, imageID string) (dockerspec.DockerOCIImage, error) {
	var cfg dockerspec.DockerOCIImage
	ref, err := istorage.Transport.NewStoreReference(s, nil, imageID)
	if err != nil {
		return cfg, err
	}
	img, err := ref.NewImage(ctx, nil)
	if err != nil {
		return cfg, fmt.Errorf("reading image %s: %w", short(imageID), err)
	}
	defer img.Close()
	blob, err := img.ConfigBlob(ctx)
	if err != nil {
		return cfg, fmt.Errorf("reading the configuration of image %s: %w", short(imageID), err)
	}
	if err := json.Unmarshal(blob, &cfg); err != nil {
		return cfg, fmt.Errorf("decoding the configuration of image %s: %w", short(imageID), err)
	}
	return cfg, nil
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// CommitOptions control Commit.
type CommitOptions struct {
	// Names given to the image (normalised: "name" is localhost/name:latest).
	Names []string
	// Format: oci or docker; "" is the container's.
	Format string
	// CreatedBy and Comment are the history entry of the new layer.
	CreatedBy, Comment string
	// EmptyLayer commits no layer: only the configuration changes.
	EmptyLayer bool
	// Timestamp, when set, is the creation time of the image and its new
	// history entries and the modification time of every file in the new
	// layer, so that two commits of the same content give the same image.
	Timestamp *time.Time
	// Metadata is stored with the image in the store (the build cache key).
	Metadata string
	// Annotations of the manifest (OCI format).
	Annotations map[string]string
	// NoHistory adds no history entry: the configuration has it already.
	NoHistory bool
}

// Commit writes an image: the base image's layers, one new layer holding
// what changed in the container (unless EmptyLayer), and the container's
// configuration. It returns the image's ID. Either the whole image is
// stored or nothing: a failure removes the new layer.
func (c *Container) Commit(ctx context.Context, o CommitOptions) (string, error) {
	format := o.Format
	if format == "" {
		format = c.Format
	}
	s := c.m.Store
	sc, err := s.Container(c.ID)
	if err != nil {
		return "", fmt.Errorf("container %s: %w", c.Name, err)
	}
	parent := ""
	if c.FromImageID != "" {
		img, err := s.Image(c.FromImageID)
		if err != nil {
			return "", fmt.Errorf("the image of %s: %w", c.Name, err)
		}
		parent = img.TopLayer
	}
	now := time.Now().UTC()
	if o.Timestamp != nil {
		now = o.Timestamp.UTC()
	}
	cfg := c.Config
	cfg.History = append([]v1.History(nil), cfg.History...)
	cfg.RootFS.DiffIDs = append([]digest.Digest(nil), cfg.RootFS.DiffIDs...)
	cfg.RootFS.Type = "layers"
	top := parent
	var newLayer *storage.Layer
	if !o.EmptyLayer {
		newLayer, err = c.putDiff(sc.LayerID, parent, o.Timestamp)
		if err != nil {
			return "", err
		}
		top = newLayer.ID
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, newLayer.UncompressedDigest)
	}
	ok := false
	defer func() {
		if !ok && newLayer != nil {
			if err := s.DeleteLayer(newLayer.ID); err != nil {
				logrus.Warnf("removing the layer of a failed commit: %v", err)
			}
		}
	}()
	if !o.NoHistory && (!o.EmptyLayer || o.CreatedBy != "" || o.Comment != "") {
		cfg.History = append(cfg.History, v1.History{
			Created: &now, CreatedBy: o.CreatedBy, Comment: o.Comment, EmptyLayer: o.EmptyLayer,
		})
	}
	cfg.Created = &now
	id, err := writeImage(s, top, cfg, format, o, now)
	if err != nil {
		return "", fmt.Errorf("committing %s: %w", c.Name, err)
	}
	if newLayer != nil {
		if img, err := s.Image(id); err == nil && img.TopLayer != newLayer.ID {
			// The same image existed already (a reproducible build): the
			// new layer is not needed.
			ok = false
		} else {
			ok = true
		}
	} else {
		ok = true
	}
	if len(o.Names) > 0 {
		if err := SetNames(s, id, o.Names); err != nil {
			return "", err
		}
	}
	return id, nil
}

// CommitConfig writes an image of baseImageID's layers ("" for none) with
// cfg as its configuration: a build's final image when its last steps
// changed only the configuration.
func (m *Manager) CommitConfig(ctx context.Context, baseImageID string, cfg dockerspec.DockerOCIImage, o CommitOptions) (string, error) {
	top := ""
	if baseImageID != "" {
		img, err := m.Store.Image(baseImageID)
		if err != nil {
			return "", fmt.Errorf("image %s: %w", short(baseImageID), err)
		}
		top = img.TopLayer
	}
	format := o.Format
	if format == "" {
		format = "oci"
	}
	now := time.Now().UTC()
	if o.Timestamp != nil {
		now = o.Timestamp.UTC()
	}
	cfg.Created = &now
	cfg.RootFS.Type = "layers"
	id, err := writeImage(m.Store, top, cfg, format, o, now)
	if err != nil {
		return "", err
	}
	if len(o.Names) > 0 {
		if err := SetNames(m.Store, id, o.Names); err != nil {
			return "", err
		}
	}
	return id, nil
}

// SetNames adds names to a local image (taken from any image that had
// them).
func SetNames(s storage.Store, id string, names []string) error {
	var full []string
	for _, n := range names {
		named, err := imagestore.NormalizeName(n)
		if err != nil {
			return err
		}
		full = append(full, named.String())
	}
	if err := s.AddNames(id, full); err != nil {
		return fmt.Errorf("naming image %s: %w", short(id), err)
	}
	return nil
}

// putDiff stores the container layer's changes as a new layer on parent.
// The changes go through a temporary file: the store holds its layer lock
// while a diff is read, and writing a layer needs that lock too.
func (c *Container) putDiff(layerID, parent string, ts *time.Time) (*storage.Layer, error) {
	s := c.m.Store
	uncompressed := archive.Uncompressed
	rc, err := s.Diff("", layerID, &storage.DiffOptions{Compression: &uncompressed})
	if err != nil {
		return nil, fmt.Errorf("reading the changes of %s: %w", c.Name, err)
	}
	tmpDir := filepath.Join(s.GraphRoot(), "builder", "tmp")
	if err := os.MkdirAll(tmpDir, 0o700); err != nil {
		rc.Close()
		return nil, err
	}
	f, err := os.CreateTemp(tmpDir, "diff-*.tar")
	if err != nil {
		rc.Close()
		return nil, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	if ts != nil {
		err = retime(rc, f, *ts)
	} else {
		_, err = io.Copy(f, rc)
	}
	if cerr := rc.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("reading the changes of %s: %w", c.Name, err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	layer, _, err := s.PutLayer("", parent, nil, "", false, nil, f)
	if err != nil {
		return nil, fmt.Errorf("storing the changes of %s: %w", c.Name, err)
	}
	return layer, nil
}

// retime copies a tar stream with every entry's times set to ts.
func retime(r io.Reader, w io.Writer, ts time.Time) error {
	tr := tar.NewReader(r)
	tw := tar.NewWriter(w)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return tw.Close()
		}
		if err != nil {
			return err
		}
		hdr.ModTime = ts
		hdr.AccessTime, hdr.ChangeTime = time.Time{}, time.Time{}
		delete(hdr.PAXRecords, "atime")
		delete(hdr.PAXRecords, "ctime")
		delete(hdr.PAXRecords, "mtime")
		hdr.Format = tar.FormatPAX
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return err
		}
	}
}

// writeImage stores an image record over top with cfg as its configuration
// and a manifest listing the layers uncompressed (as buildah stores its
// images locally; a push compresses them). It returns the image ID (the
// configuration's digest); an identical image already stored is reused.
func writeImage(s storage.Store, top string, cfg dockerspec.DockerOCIImage, format string, o CommitOptions, created time.Time) (string, error) {
	metadata := o.Metadata
	layers, err := layerChain(s, top)
	if err != nil {
		return "", err
	}
	if len(layers) != len(cfg.RootFS.DiffIDs) {
		return "", fmt.Errorf("the image has %d layers but its configuration lists %d", len(layers), len(cfg.RootFS.DiffIDs))
	}
	configBlob, err := json.Marshal(cfg)
	if err != nil {
		return "", err
	}
	configDigest := digest.FromBytes(configBlob)
	var manBlob []byte
	switch format {
	case "", "oci":
		m := v1.Manifest{
			Versioned:   imgspecs.Versioned{SchemaVersion: 2},
			MediaType:   v1.MediaTypeImageManifest,
			Config:      v1.Descriptor{MediaType: v1.MediaTypeImageConfig, Digest: configDigest, Size: int64(len(configBlob))},
			Layers:      []v1.Descriptor{},
			Annotations: o.Annotations,
		}
		for _, l := range layers {
			m.Layers = append(m.Layers, v1.Descriptor{MediaType: v1.MediaTypeImageLayer, Digest: l.UncompressedDigest, Size: l.UncompressedSize})
		}
		manBlob, err = json.Marshal(m)
	case "docker":
		m := manifest.Schema2{
			SchemaVersion:     2,
			MediaType:         manifest.DockerV2Schema2MediaType,
			ConfigDescriptor:  manifest.Schema2Descriptor{MediaType: manifest.DockerV2Schema2ConfigMediaType, Digest: configDigest, Size: int64(len(configBlob))},
			LayersDescriptors: []manifest.Schema2Descriptor{},
		}
		for _, l := range layers {
			m.LayersDescriptors = append(m.LayersDescriptors, manifest.Schema2Descriptor{MediaType: manifest.DockerV2SchemaLayerMediaTypeUncompressed, Digest: l.UncompressedDigest, Size: l.UncompressedSize})
		}
		manBlob, err = json.Marshal(m)
	default:
		return "", fmt.Errorf("invalid format %q: want oci or docker", format)
	}
	if err != nil {
		return "", err
	}
	manDigest := digest.FromBytes(manBlob)
	id := configDigest.Encoded()
	opts := &storage.ImageOptions{
		CreationDate: created,
		Digest:       manDigest,
		Metadata:     metadata,
		BigData: []storage.ImageBigDataOption{
			{Key: configDigest.String(), Data: configBlob, Digest: configDigest},
			{Key: "manifest-" + manDigest.String(), Data: manBlob, Digest: manDigest},
			{Key: storage.ImageDigestBigDataKey, Data: manBlob, Digest: manDigest},
		},
	}
	img, err := s.CreateImage(id, nil, top, metadata, opts)
	if errors.Is(err, storage.ErrDuplicateID) {
		if img, err = s.Image(id); err == nil {
			return img.ID, nil
		}
	}
	if err != nil {
		return "", fmt.Errorf("storing image: %w", err)
	}
	return img.ID, nil
}

// layerChain lists the layers from the bottom one up to top.
func layerChain(s storage.Store, top string) ([]*storage.Layer, error) {
	var out []*storage.Layer
	for id := top; id != ""; {
		l, err := s.Layer(id)
		if err != nil {
			return nil, fmt.Errorf("layer %s: %w", short(id), err)
		}
		if l.UncompressedDigest == "" || l.UncompressedSize < 0 {
			return nil, fmt.Errorf("layer %s has no recorded digest", short(id))
		}
		out = append(out, l)
		id = l.Parent
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, nil
}
