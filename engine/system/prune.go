//go:build !thin

package system

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/containers/storage"
	"github.com/sirupsen/logrus"

	"github.com/ocisuite/suite/engine/container"
	"github.com/ocisuite/suite/shared/imagestore"
)

// PruneOptions are system prune's options.
type PruneOptions struct {
	All     bool // every image no container uses, not only dangling ones
	Volumes bool // also volumes no container uses
}

// PruneReport is what system prune removed.
type PruneReport struct {
	Containers []string
	Images     []string
	Volumes    []string
	Reclaimed  int64
}

// Prune removes stopped containers, then dangling (or, with All, unused)
// images, and with Volumes the volumes no container uses.
func Prune(ctx context.Context, e *container.Engine, o PruneOptions) (*PruneReport, error) {
	rep := &PruneReport{}
	ctrs, err := e.List()
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, c := range ctrs {
		if c.Running() || c.State.Status == container.StatusRemoving {
			continue
		}
		size, _ := e.Store.ContainerSize(c.ID)
		if err := e.Remove(ctx, c.ID, container.RemoveOptions{Volumes: true}); err != nil {
			if !errors.Is(err, container.ErrNoSuchContainer) && !errors.Is(err, container.ErrInvalidState) {
				errs = append(errs, err)
			}
			continue
		}
		rep.Containers = append(rep.Containers, c.ID)
		rep.Reclaimed += size
	}
	sizes := map[string]int64{}
	if imgs, err := e.Store.Images(); err == nil {
		for _, img := range imgs {
			sizes[img.ID], _ = e.Store.ImageSize(img.ID)
		}
	}
	removed, err := imagestore.Prune(e.Store, o.All)
	if err != nil {
		errs = append(errs, err)
	}
	for _, id := range removed {
		rep.Reclaimed += sizes[id]
	}
	rep.Images = removed
	if o.Volumes {
		vols, err := UnusedVolumes(e)
		if err != nil {
			errs = append(errs, err)
		}
		for _, v := range vols {
			size := dirSize(e.Volumes().Root + "/" + v + "/_data")
			if err := e.Volumes().Remove(v); err != nil {
				errs = append(errs, err)
				continue
			}
			rep.Volumes = append(rep.Volumes, v)
			rep.Reclaimed += size
		}
	}
	return rep, errors.Join(errs...)
}

// UnusedVolumes are the volumes no container of the store mounts.
func UnusedVolumes(e *container.Engine) ([]string, error) {
	ctrs, err := e.List()
	if err != nil {
		return nil, err
	}
	used := map[string]bool{}
	for _, c := range ctrs {
		for _, m := range c.Mounts {
			if m.Type == "volume" {
				used[m.Volume] = true
			}
		}
	}
	vols, err := e.Volumes().List()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, v := range vols {
		if !used[v.Name] {
			out = append(out, v.Name)
		}
	}
	return out, nil
}

// Reset removes every container (running ones killed), image and volume of
// the store, and the engine's run-time directory (event log, exit files,
// runtime state).
func Reset(ctx context.Context, e *container.Engine) error {
	var errs []error
	ctrs, err := e.List()
	if err != nil {
		return err
	}
	for _, c := range ctrs {
		if err := e.Remove(ctx, c.ID, container.RemoveOptions{Force: true, Volumes: true}); err != nil && !errors.Is(err, container.ErrNoSuchContainer) {
			errs = append(errs, err)
		}
	}
	// Containers of other tools sharing the store (buildah's, podman's).
	if rest, err := e.Store.Containers(); err == nil {
		for _, c := range rest {
			if _, err := e.Store.Unmount(c.ID, true); err != nil {
				logrus.Debugf("unmounting %s: %v", c.ID, err)
			}
			if err := e.Store.DeleteContainer(c.ID); err != nil && !errors.Is(err, storage.ErrContainerUnknown) {
				errs = append(errs, fmt.Errorf("removing storage container %s: %w", c.ID, err))
			}
		}
	}
	imgs, err := e.Store.Images()
	if err != nil {
		errs = append(errs, err)
	}
	for _, img := range imgs {
		if _, err := e.Store.DeleteImage(img.ID, true); err != nil && !errors.Is(err, storage.ErrImageUnknown) {
			errs = append(errs, fmt.Errorf("removing image %s: %w", img.ID, err))
		}
	}
	if err := os.RemoveAll(e.Volumes().Root); err != nil {
		errs = append(errs, err)
	}
	if err := os.RemoveAll(e.Dir); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
