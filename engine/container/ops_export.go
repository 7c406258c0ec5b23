package container

import (
	"context"
	"fmt"
	"io"

	"github.com/containers/storage/pkg/archive"
)

// Export writes the container's root filesystem as a tar stream (running
// or not), as `podman export` does; volumes and bind mounts are not in it.
func (e *Engine) Export(ctx context.Context, id string, w io.Writer) error {
	c, unlock, err := e.acquireOp(ctx, id, "export")
	if err != nil {
		return err
	}
	defer unlock()
	mountpoint, err := e.Store.Mount(c.ID, "")
	if err != nil {
		return fmt.Errorf("mounting the root filesystem of %s: %w", c.Name, err)
	}
	defer e.Store.Unmount(c.ID, false)
	rc, err := archive.TarWithOptions(mountpoint, &archive.TarOptions{Compression: archive.Uncompressed})
	if err != nil {
		return fmt.Errorf("exporting %s: %w", c.Name, err)
	}
	defer rc.Close()
	if _, err := io.Copy(w, rc); err != nil {
		return fmt.Errorf("exporting %s: %w", c.Name, err)
	}
	return ctx.Err()
}
