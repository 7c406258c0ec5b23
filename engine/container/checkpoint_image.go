//go:build !thin

package container

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ocisuite/suite/shared/imagestore"
)

// A checkpoint image has one layer holding the export archive as
// /checkpoint.tar, and labels naming what it holds; the label
// LabelCheckpoint tells it from other images.
const (
	LabelCheckpoint          = "io.ocisuite.checkpoint.archive"
	labelCheckpointName      = "io.podman.annotations.checkpoint.name"
	labelCheckpointImage     = "io.podman.annotations.checkpoint.rootfsImageName"
	labelCheckpointImageID   = "io.podman.annotations.checkpoint.rootfsImageID"
	labelCheckpointEngine    = "io.podman.annotations.checkpoint.engine"
	checkpointImageArchive   = "checkpoint.tar"
	checkpointImageArchiveIn = "/" + checkpointImageArchive
)

// createCheckpointImage stores the export archive at archivePath as a
// one-layer image named ref.
func (e *Engine) createCheckpointImage(ctx context.Context, c *Container, archivePath, ref string) (string, error) {
	st, err := os.Stat(archivePath)
	if err != nil {
		return "", err
	}
	layer, err := os.CreateTemp(filepath.Dir(archivePath), "checkpoint-layer-*.tar")
	if err != nil {
		return "", err
	}
	defer os.Remove(layer.Name())
	defer layer.Close()
	tw := tar.NewWriter(layer)
	if err := tw.WriteHeader(&tar.Header{Name: checkpointImageArchive, Size: st.Size(), Mode: 0o600, Typeflag: tar.TypeReg, ModTime: time.Now()}); err != nil {
		return "", err
	}
	f, err := os.Open(archivePath)
	if err != nil {
		return "", err
	}
	_, err = io.Copy(tw, f)
	f.Close()
	if err != nil {
		return "", err
	}
	if err := tw.Close(); err != nil {
		return "", err
	}
	if err := layer.Close(); err != nil {
		return "", err
	}
	imgName := c.ImageName
	if imgName == "" {
		imgName = c.Image
	}
	label := func(k, v string) string { return "LABEL " + k + "=" + strconv.Quote(v) }
	img, err := imagestore.Import(ctx, e.Store, layer.Name(), imagestore.ImportOptions{
		Reference: ref,
		Changes: []string{
			label(LabelCheckpoint, checkpointImageArchive),
			label(labelCheckpointName, c.Name),
			label(labelCheckpointImage, imgName),
			label(labelCheckpointImageID, c.ImageID),
			label(labelCheckpointEngine, "engine"),
		},
		Message: "checkpoint of " + c.Name,
	})
	if err != nil {
		return "", fmt.Errorf("--create-image %s: %w", ref, err)
	}
	return img.ID, nil
}

// CheckpointImage returns the local image name's ID when it is a
// checkpoint image; ok is false for a missing or an ordinary image.
func (e *Engine) CheckpointImage(ctx context.Context, name string) (id string, ok bool) {
	found, err := imagestore.Lookup(e.Store, name)
	if err != nil {
		return "", false
	}
	d, err := imagestore.Inspect(ctx, e.Store, found.ID)
	if err != nil || d.Labels[LabelCheckpoint] != checkpointImageArchive {
		return "", false
	}
	return found.ID, true
}

// RestoreFromImage creates and restores a container from a checkpoint
// image, as RestoreImport does from an archive.
func (e *Engine) RestoreFromImage(ctx context.Context, name string, o RestoreOptions) (*RestoreResult, error) {
	id, ok := e.CheckpointImage(ctx, name)
	if !ok {
		return nil, fmt.Errorf("%s is neither a container nor a checkpoint image: %w", name, ErrNoSuchContainer)
	}
	mnt, err := e.Store.MountImage(id, nil, "")
	if err != nil {
		return nil, fmt.Errorf("mounting checkpoint image %s: %w", name, err)
	}
	defer func() {
		if _, err := e.Store.UnmountImage(id, false); err != nil {
			logrus.Warnf("unmounting checkpoint image %s: %v", name, err)
		}
	}()
	f, err := os.Open(filepath.Join(mnt, checkpointImageArchiveIn))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w: checkpoint image %s has no %s", ErrBadArchive, name, checkpointImageArchiveIn)
		}
		return nil, err
	}
	defer f.Close()
	return e.RestoreImport(ctx, f, o)
}
