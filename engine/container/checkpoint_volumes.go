//go:build !thin

package container

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/sirupsen/logrus"

	"github.com/ocisuite/suite/engine/volume"
)

// exportVolumes writes the content of c's named volumes (anonymous ones
// included) to tar files under tmpDir for the archive; names are the
// volumes', files maps a name to its tar.
func (e *Engine) exportVolumes(c *Container, tmpDir string) (names []string, files map[string]string, cleanup func(), err error) {
	files = map[string]string{}
	dir, err := os.MkdirTemp(tmpDir, "checkpoint-volumes-")
	if err != nil {
		return nil, nil, nil, err
	}
	cleanup = func() { os.RemoveAll(dir) }
	vs := e.Volumes()
	for _, m := range c.Mounts {
		if m.Type != "volume" || m.Volume == "" || slices.Contains(names, m.Volume) {
			continue
		}
		if strings.ContainsAny(m.Volume, "/\x00") || m.Volume == "." || m.Volume == ".." {
			cleanup()
			return nil, nil, nil, fmt.Errorf("volume name %q cannot go into an archive", m.Volume)
		}
		p := filepath.Join(dir, m.Volume+".tar")
		f, err := os.Create(p)
		if err != nil {
			cleanup()
			return nil, nil, nil, err
		}
		err = vs.Export(m.Volume, f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			cleanup()
			return nil, nil, nil, fmt.Errorf("exporting volume %s of %s (--ignore-volumes leaves volumes out): %w", m.Volume, c.Name, err)
		}
		names = append(names, m.Volume)
		files[m.Volume] = p
	}
	return names, files, cleanup, nil
}

// importVolumes creates the archive's named volumes here and fills them
// from volumes/NAME.tar. A volume that already exists here is used as it
// is, not overwritten.
// created gets the names of the volumes it creates.
func (e *Engine) importVolumes(m *CheckpointManifest, dir string, created *[]string) error {
	vs := e.Volumes()
	for _, name := range m.Volumes {
		if _, err := vs.Get(name); err == nil {
			logrus.Infof("volume %s exists here: used as it is, not filled from the archive", name)
			continue
		} else if !errors.Is(err, volume.ErrNoSuchVolume) {
			return err
		}
		if _, err := vs.Create(name, nil, nil); err != nil {
			return fmt.Errorf("creating volume %s: %w", name, err)
		}
		*created = append(*created, name)
		f, err := os.Open(filepath.Join(dir, archiveVolumes, name+".tar"))
		if err != nil {
			return fmt.Errorf("%w: volume %s is missing from it", ErrBadArchive, name)
		}
		err = vs.Import(name, f)
		f.Close()
		if err != nil {
			return err
		}
	}
	return nil
}
