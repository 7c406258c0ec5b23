package container

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/containers/storage/pkg/archive"
	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/sirupsen/logrus"

	"github.com/ocisuite/suite/engine/volume"
)

// Volumes is the store's volume registry.
func (e *Engine) Volumes() volume.Store {
	return volume.Store{Root: filepath.Join(e.Store.GraphRoot(), "volumes")}
}

// volumeDir returns the host directory behind a volume mount, creating a
// named volume on first use and copying the image's content at the mount
// point into a new volume, as podman does.
func (e *Engine) volumeDir(c *Container, m Mount) (string, error) {
	vs := e.Volumes()
	v, err := vs.Get(m.Volume)
	if errors.Is(err, volume.ErrNoSuchVolume) {
		v, err = vs.Create(m.Volume, nil, nil)
		if errors.Is(err, volume.ErrExists) {
			v, err = vs.Get(m.Volume)
		}
	}
	if err != nil {
		return "", err
	}
	// A volume made with -o type=… is mounted (tmpfs, device) or is a
	// host directory (bind).
	dir, err := vs.Mount(v)
	if err != nil {
		return "", err
	}
	if v.NeedsCopyUp && c.State.Mountpoint != "" {
		src, err := securejoin.SecureJoin(c.State.Mountpoint, m.Destination)
		if err != nil {
			return "", err
		}
		if st, err := os.Stat(src); err == nil && st.IsDir() {
			if err := archive.NewDefaultArchiver().CopyWithTar(src, dir); err != nil {
				return "", fmt.Errorf("copying %s into volume %s: %w", m.Destination, v.Name, err)
			}
		}
		if err := vs.CopiedUp(v); err != nil {
			return "", err
		}
	}
	return dir, nil
}

// releaseVolumes unmounts the typed volumes (tmpfs, devices) of c that no
// other container that is running, paused or about to run still uses.
func (e *Engine) releaseVolumes(c *Container) {
	vs := e.Volumes()
	var typed []*volume.Volume
	for _, m := range c.Mounts {
		if m.Type != "volume" || m.Volume == "" {
			continue
		}
		v, err := vs.Get(m.Volume)
		if err != nil || v.Options["type"] == "" || v.Options["type"] == "bind" {
			continue
		}
		typed = append(typed, v)
	}
	if len(typed) == 0 {
		return
	}
	users, err := e.volumeUsers()
	if err != nil {
		return
	}
	for _, v := range typed {
		busy := false
		for _, u := range users[v.Name] {
			if u.ID != c.ID && (u.Running() || u.State.Status == StatusCreated) {
				busy = true
			}
		}
		if !busy {
			if err := vs.Unmount(v); err != nil {
				logrus.Warnf("unmounting volume %s: %v", v.Name, err)
			}
		}
	}
}
