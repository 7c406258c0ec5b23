//go:build !thin

package container

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/sirupsen/logrus"

	"github.com/ocisuite/suite/shared/imagestore"
)

// With checkpoint --include-image the base image travels in the archive,
// for targets with no registry: archiveImage, a docker-archive of the image
// the container was created from, listed in the manifest (ImageArchive). A
// target that lacks the image checks that the archive's image has the ID
// the manifest pins (its configuration's digest) and loads it; a target
// that has it ignores the copy.
const archiveImage = "image/docker-archive.tar"

// saveIncludedImage saves c's image for o.IncludeImage as a docker-archive
// beside c's checkpoint and sets o.imageFile; cleanup removes it.
func (e *Engine) saveIncludedImage(ctx context.Context, c *Container, o *CheckpointOptions) (cleanup func(), err error) {
	if !o.IncludeImage || (o.Export == "" && o.CreateImage == "" && o.stream == nil) {
		return func() {}, nil
	}
	if c.ImageID == "" {
		return nil, fmt.Errorf("--include-image: container %s has no image", c.Name)
	}
	d, err := e.Store.ContainerDirectory(c.ID)
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(d, "checkpoint-image-")
	if err != nil {
		return nil, err
	}
	cleanup = func() { os.RemoveAll(tmp) }
	// Saved under its name when the name is still this image, so that the
	// target has it under that name too.
	name := c.ImageID
	for _, n := range []string{c.ImageName, c.Image} {
		if n == "" {
			continue
		}
		if f, err := imagestore.Lookup(e.Store, n); err == nil && f.ID == c.ImageID {
			name = n
			break
		}
	}
	p := filepath.Join(tmp, "image.tar")
	if err := imagestore.Save(ctx, e.Store, []string{name}, imagestore.SaveOptions{Format: imagestore.FormatDockerArchive, Output: p}); err != nil {
		cleanup()
		return nil, fmt.Errorf("--include-image: saving image %s of %s: %w", short(c.ImageID), c.Name, err)
	}
	o.imageFile = p
	return cleanup, nil
}

// loadEmbeddedImage loads the archive's image from p into the store once
// it has the ID the manifest pins; it returns the ID.
func (e *Engine) loadEmbeddedImage(ctx context.Context, m *CheckpointManifest, p string) (string, error) {
	id, err := dockerArchiveImageID(p)
	if err != nil {
		return "", fmt.Errorf("%w: its image: %v", ErrBadArchive, err)
	}
	if id != m.ImageID {
		return "", fmt.Errorf("%w: its image is %s, not %s (%s) that the checkpoint was made from", ErrBadArchive, short(id), short(m.ImageID), m.Image)
	}
	res, err := imagestore.Load(ctx, e.Store, "docker-archive:"+p, imagestore.LoadOptions{})
	if err != nil {
		return "", fmt.Errorf("loading image %s (%s) from the archive: %w", m.Image, short(m.ImageID), err)
	}
	for _, img := range res.Images {
		if img.ID == m.ImageID {
			logrus.Infof("image %s (%s) loaded from the checkpoint archive", m.Image, short(m.ImageID))
			return img.ID, nil
		}
		e.removeLoadedImage(img.ID)
	}
	return "", fmt.Errorf("%w: its image did not load as %s (%s)", ErrBadArchive, short(m.ImageID), m.Image)
}

// removeLoadedImage removes an image an import loaded, after it failed.
func (e *Engine) removeLoadedImage(id string) {
	if _, errs := imagestore.Remove(e.Store, []string{id}, imagestore.RemoveOptions{}); len(errs) > 0 {
		logrus.Warnf("removing image %s loaded for the failed restore: %v", short(id), errs[0])
	}
}

// dockerArchiveImageID reads the ID of the only image of a docker-archive
// without loading it: the SHA-256 of the configuration its manifest.json
// names.
func dockerArchiveImageID(p string) (string, error) {
	var items []struct {
		Config string
	}
	if err := readTarEntry(p, "manifest.json", 4<<20, func(r io.Reader) error {
		return json.NewDecoder(r).Decode(&items)
	}); err != nil {
		return "", err
	}
	if len(items) != 1 || items[0].Config == "" {
		return "", fmt.Errorf("a docker-archive of %d images, want one", len(items))
	}
	var id string
	err := readTarEntry(p, items[0].Config, 64<<20, func(r io.Reader) error {
		h := sha256.New()
		if _, err := io.Copy(h, r); err != nil {
			return err
		}
		id = hex.EncodeToString(h.Sum(nil))
		return nil
	})
	return id, err
}

var errNoEntry = errors.New("no such entry")

// readTarEntry calls read with the content of entry name of the tar at p,
// at most max bytes.
func readTarEntry(p, name string, max int64, read func(io.Reader) error) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	want := path.Clean(name)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("%s: %w", name, errNoEntry)
		}
		if err != nil {
			return err
		}
		if hdr.Typeflag == tar.TypeReg && path.Clean(strings.TrimPrefix(hdr.Name, "./")) == want {
			if hdr.Size > max {
				return fmt.Errorf("%s: %d bytes, more than %d", name, hdr.Size, max)
			}
			return read(tr)
		}
	}
}
