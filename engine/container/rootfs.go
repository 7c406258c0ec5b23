package container

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/containers/storage/pkg/unshare"
	"golang.org/x/sys/unix"
)

// usernsRootfsDir holds, for containers with their own user namespace,
// a bind mount of the root filesystem at a path every user can traverse:
// the runtime mounts the root inside the new namespace, where the
// container's root may not search the store's 0700 directories.
func usernsRootfsDir() string {
	if unshare.GetRootlessUID() != 0 {
		return filepath.Join("/tmp", fmt.Sprintf("ocisuite-%d", unshare.GetRootlessUID()), "rootfs")
	}
	return "/run/ocisuite-rootfs"
}

// exposeRootfs bind-mounts mountpoint where a mapped root can reach it.
func exposeRootfs(id, mountpoint string) (string, error) {
	dir := usernsRootfsDir()
	if err := os.MkdirAll(dir, 0o711); err != nil {
		return "", err
	}
	for d := dir; d != "/" && d != "/tmp" && d != "/run"; d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o711); err != nil {
			return "", err
		}
	}
	target := filepath.Join(dir, id)
	if err := os.Mkdir(target, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return "", err
	}
	if err := unix.Mount(mountpoint, target, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return "", fmt.Errorf("bind-mounting the root filesystem for the user namespace: %w", err)
	}
	return target, nil
}

// hideRootfs undoes exposeRootfs; a container without one is left alone.
func hideRootfs(id string) {
	target := filepath.Join(usernsRootfsDir(), id)
	if _, err := os.Stat(target); err != nil {
		return
	}
	_ = unix.Unmount(target, unix.MNT_DETACH)
	_ = os.Remove(target)
}
