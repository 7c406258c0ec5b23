//go:build !thin

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

	"github.com/containers/storage/pkg/archive"

	"github.com/ocisuite/suite/shared/cli"
)

// A pre-checkpoint travels as its own archive (checkpoint --pre-checkpoint
// --export): the manifest (PreCheckpoint, the container's configuration
// and host), CRIU's pre-dump images under checkpoint/ and the index. The
// final checkpoint made on top of it (--with-previous --export) records
// WithPrevious; restore --import-previous PRE --import FINAL unpacks PRE's
// images as the parent of FINAL's: the container's pre-checkpoint
// directory, which the images' parent link names (CRIU's --prev-images-dir
// as runc's --parent-path gives it at the dump).

// exportPreCheckpoint writes the pre-checkpoint of c (images in pre) as an
// archive at o.Export.
func (e *Engine) exportPreCheckpoint(c *Container, pre string, o CheckpointOptions) error {
	comp, err := archiveCompression(o.Compress)
	if err != nil {
		return err
	}
	_, v, _ := FindCRIU()
	m := CheckpointManifest{
		Version:       archiveVersion,
		Engine:        cli.Version,
		Created:       time.Now().UTC(),
		Image:         c.ImageName,
		ImageID:       c.ImageID,
		PreCheckpoint: true,
		Config:        c.Config,
		Host:          e.hostFacts(context.Background(), v),
	}
	if m.Image == "" {
		m.Image = c.Image
	}
	if v > 0 {
		m.CRIU = criuVersionString(v)
	}
	mb, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(o.Export, func(w io.Writer) error {
		cw, err := archive.CompressStream(w, comp)
		if err != nil {
			return err
		}
		a := &archiveWriter{tw: tar.NewWriter(cw)}
		if err := a.addBytes(archiveManifest, mb); err != nil {
			return err
		}
		if err := a.addImages(pre); err != nil {
			return err
		}
		if err := a.close(); err != nil {
			return err
		}
		return cw.Close()
	})
}

// previous is an unpacked pre-checkpoint archive.
type previous struct {
	file string // the archive, for messages
	dir  string // where it is unpacked
	m    *CheckpointManifest
}

// readPrevious unpacks the pre-checkpoint archive file into dir.
func readPrevious(file, dir string) (*previous, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("--import-previous: %w", err)
	}
	defer f.Close()
	m, err := readArchive(f, dir)
	if err != nil {
		if errors.Is(err, ErrBadArchive) {
			return nil, fmt.Errorf("--import-previous %s: %w", file, err)
		}
		return nil, err
	}
	if !m.PreCheckpoint {
		return nil, fmt.Errorf("--import-previous %s: not a pre-checkpoint archive (checkpoint --pre-checkpoint --export writes one), but a checkpoint of %s", file, m.Config.Name)
	}
	return &previous{file: file, dir: dir, m: m}, nil
}

// checkPrevious checks that checkpoint m and pre-checkpoint prev (nil
// when none was given) go together.
func checkPrevious(m *CheckpointManifest, prev *previous) error {
	if m.PreCheckpoint {
		return fmt.Errorf("the archive is a pre-checkpoint of %s (memory only): give it as --import-previous, with --import the checkpoint made --with-previous", m.Config.Name)
	}
	if prev == nil {
		if m.WithPrevious {
			return fmt.Errorf("the checkpoint of %s was made on a pre-checkpoint (--with-previous): restore it with --import-previous PRE-CHECKPOINT-ARCHIVE", m.Config.Name)
		}
		return nil
	}
	if prev.m.Config.ID != m.Config.ID {
		return fmt.Errorf("--import-previous %s is a pre-checkpoint of container %s (%s), the checkpoint is of %s (%s)", prev.file, prev.m.Config.Name, short(prev.m.Config.ID), m.Config.Name, short(m.Config.ID))
	}
	if !m.WithPrevious {
		return fmt.Errorf("the checkpoint of %s was not made on a pre-checkpoint (checkpoint --with-previous): restore it without --import-previous", m.Config.Name)
	}
	return nil
}

// installPrevious moves prev's images to c's pre-checkpoint directory and
// links them as the parent of the images in imgDir.
func (e *Engine) installPrevious(c *Container, prev *previous, imgDir string) error {
	pre, err := e.preCheckpointDir(c.ID)
	if err != nil {
		return err
	}
	if err := os.RemoveAll(pre); err != nil {
		return err
	}
	if err := os.Rename(filepath.Join(prev.dir, archiveImages), pre); err != nil {
		return err
	}
	link := filepath.Join(imgDir, criuParentLink)
	if err := os.Remove(link); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return os.Symlink(filepath.Join("..", filepath.Base(pre)), link)
}

// criuParentLink is the link CRIU makes in a dump's images to the images
// of the dump before (--prev-images-dir).
const criuParentLink = "parent"
