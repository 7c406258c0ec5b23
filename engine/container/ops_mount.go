package container

import (
	"context"
	"fmt"
)

// MountRootfs mounts the container's root filesystem (again: mounts are
// counted) and returns its path on the host.
func (e *Engine) MountRootfs(id string) (string, error) {
	c, unlock, err := e.acquireOp(context.Background(), id, "mount")
	if err != nil {
		return "", err
	}
	defer unlock()
	p, err := e.Store.Mount(c.ID, "")
	if err != nil {
		return "", fmt.Errorf("mounting the root filesystem of %s: %w", c.Name, err)
	}
	e.event(c, "mount")
	return p, nil
}

// UnmountRootfs releases one mount of the container's root filesystem
// (every mount with force). The mount a running container uses is never
// released.
func (e *Engine) UnmountRootfs(id string, force bool) error {
	c, unlock, err := e.acquireOp(context.Background(), id, "umount")
	if err != nil {
		return err
	}
	defer unlock()
	n, err := e.Store.Mounted(c.ID)
	if err != nil {
		return fmt.Errorf("container %s: %w", c.Name, err)
	}
	if n == 0 {
		return nil
	}
	if c.Running() || c.State.Status == StatusCreated {
		if n <= 1 {
			return fmt.Errorf("container %s is %s: its root filesystem stays mounted: %w", c.Name, c.State.Status, ErrInvalidState)
		}
		force = false // keep the runtime's own mount
	}
	if _, err := e.Store.Unmount(c.ID, force); err != nil {
		return fmt.Errorf("unmounting the root filesystem of %s: %w", c.Name, err)
	}
	e.event(c, "unmount")
	return nil
}

// MountedContainer is one line of "mount" with no arguments.
type MountedContainer struct {
	ID, Name, Mountpoint string
}

// Mounted lists the containers whose root filesystem is mounted.
func (e *Engine) Mounted() ([]MountedContainer, error) {
	ctrs, err := e.List()
	if err != nil {
		return nil, err
	}
	var out []MountedContainer
	for _, c := range ctrs {
		n, err := e.Store.Mounted(c.ID)
		if err != nil || n == 0 {
			continue
		}
		sc, err := e.Store.Container(c.ID)
		if err != nil {
			continue
		}
		l, err := e.Store.Layer(sc.LayerID)
		if err != nil || l.MountPoint == "" {
			continue
		}
		out = append(out, MountedContainer{ID: c.ID, Name: c.Name, Mountpoint: l.MountPoint})
	}
	return out, nil
}
