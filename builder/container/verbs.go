package container

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	istorage "github.com/containers/image/v5/storage"
	"github.com/containers/storage"
	"github.com/containers/storage/pkg/archive"
	digest "github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/sirupsen/logrus"
)

// extraKey is the storage container's big-data item holding Extra.
const extraKey = "ocisuite-builder-extra"

// Extra is what buildah config sets that is not part of the image
// configuration: the manifest's annotations, the image comment, and the
// history entry commit writes.
type Extra struct {
	Annotations map[string]string `json:"annotations,omitempty"`
	// Comment is the image's comment (a Docker configuration field).
	Comment string `json:"comment,omitempty"`
	// CreatedBy and HistoryComment are the created_by and comment of the
	// history entry commit adds.
	CreatedBy      string `json:"created_by,omitempty"`
	HistoryComment string `json:"history_comment,omitempty"`
}

// Extra reads the container's extra settings (zero when none were set).
func (c *Container) Extra() (Extra, error) {
	var x Extra
	b, err := c.m.Store.ContainerBigData(c.ID, extraKey)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return x, nil
		}
		return x, fmt.Errorf("reading the settings of %s: %w", c.Name, err)
	}
	if err := json.Unmarshal(b, &x); err != nil {
		return x, fmt.Errorf("decoding the settings of %s: %w", c.Name, err)
	}
	return x, nil
}

// SaveExtra stores the container's extra settings.
func (c *Container) SaveExtra(x Extra) error {
	b, err := json.Marshal(x)
	if err != nil {
		return err
	}
	if err := c.m.Store.SetContainerBigData(c.ID, extraKey, b); err != nil {
		return fmt.Errorf("saving the settings of %s: %w", c.Name, err)
	}
	return nil
}

// CommitSquashed is Commit with the whole root filesystem as the image's
// only layer: the base image's layers are not kept, and the history is
// the one entry of that layer.
func (c *Container) CommitSquashed(ctx context.Context, o CommitOptions) (string, error) {
	format := o.Format
	if format == "" {
		format = c.Format
	}
	s := c.m.Store
	rootfs, err := c.Mount()
	if err != nil {
		return "", err
	}
	defer func() {
		if err := c.Unmount(false); err != nil {
			logrus.Warn(err)
		}
	}()
	now := time.Now().UTC()
	if o.Timestamp != nil {
		now = o.Timestamp.UTC()
	}
	rc, err := archive.TarWithOptions(rootfs, &archive.TarOptions{Compression: archive.Uncompressed})
	if err != nil {
		return "", fmt.Errorf("reading the root filesystem of %s: %w", c.Name, err)
	}
	defer rc.Close()
	var tree io.Reader = rc
	if o.Timestamp != nil {
		pr, pw := io.Pipe()
		go func() { pw.CloseWithError(retime(rc, pw, *o.Timestamp)) }()
		defer pr.Close()
		tree = pr
	}
	layer, _, err := s.PutLayer("", "", nil, "", false, nil, tree)
	if err != nil {
		return "", fmt.Errorf("storing the root filesystem of %s: %w", c.Name, err)
	}
	keep := false
	defer func() {
		if !keep {
			if err := s.DeleteLayer(layer.ID); err != nil {
				logrus.Warnf("removing the layer of a failed commit: %v", err)
			}
		}
	}()
	cfg := c.Config
	cfg.RootFS.Type = "layers"
	cfg.RootFS.DiffIDs = []digest.Digest{layer.UncompressedDigest}
	cfg.History = nil
	if !o.NoHistory {
		cfg.History = []v1.History{{Created: &now, CreatedBy: o.CreatedBy, Comment: o.Comment}}
	}
	cfg.Created = &now
	id, err := writeImage(s, layer.ID, cfg, format, o, now)
	if err != nil {
		return "", fmt.Errorf("committing %s: %w", c.Name, err)
	}
	if img, err := s.Image(id); err == nil && img.TopLayer == layer.ID {
		keep = true
	}
	if len(o.Names) > 0 {
		if err := SetNames(s, id, o.Names); err != nil {
			return "", err
		}
	}
	return id, nil
}

// ImageBlobs returns a local image's manifest and configuration as
// stored.
func ImageBlobs(ctx context.Context, s storage.Store, imageID string) (manifest, config []byte, err error) {
	ref, err := istorage.Transport.NewStoreReference(s, nil, imageID)
	if err != nil {
		return nil, nil, err
	}
	img, err := ref.NewImage(ctx, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("reading image %s: %w", short(imageID), err)
	}
	defer img.Close()
	if manifest, _, err = img.Manifest(ctx); err != nil {
		return nil, nil, fmt.Errorf("reading the manifest of image %s: %w", short(imageID), err)
	}
	if config, err = img.ConfigBlob(ctx); err != nil {
		return nil, nil, fmt.Errorf("reading the configuration of image %s: %w", short(imageID), err)
	}
	return manifest, config, nil
}
