// Package atomicfile replaces small files atomically: a reader sees the
// old content or the new one, never a mix.
//
// The usual way, a rename over the old file, is costly on ext4: a rename
// that replaces a file makes ext4 allocate the new file's blocks at once
// (its auto_da_alloc heuristic), and the old file's blocks are freed in
// the same call. On a file system mounted with online discard and no
// journal the free waits for the device (0.5–1 ms here, per file). So the
// new file is exchanged with the old one (renameat2 RENAME_EXCHANGE),
// which allocates nothing, and the old one is unlinked: a file written
// moments ago has no blocks yet (delayed allocation), so nothing is freed.
package atomicfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Write writes data to path atomically, through a temporary file of its
// own beside it (path.RANDOM.tmp): concurrent writers, in one process or
// several, never share one, and the last to replace path wins.
func Write(path string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil && perm != 0o600 { // CreateTemp makes it 0600
		err = f.Chmod(perm)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = Replace(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// Replace puts the file tmp in path's place atomically and removes the
// file path named before. tmp is gone when Replace returns nil.
func Replace(tmp, path string) error {
	err := unix.Renameat2(unix.AT_FDCWD, tmp, unix.AT_FDCWD, path, unix.RENAME_EXCHANGE)
	switch {
	case err == nil:
		// tmp now names the old file.
		if err := os.Remove(tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("removing the replaced %s: %w", path, err)
		}
		return nil
	case errors.Is(err, unix.ENOENT), errors.Is(err, unix.EINVAL), errors.Is(err, unix.ENOSYS), errors.Is(err, unix.EOPNOTSUPP):
		// No old file to exchange with, or a file system (or kernel)
		// without exchange: a plain rename.
		return os.Rename(tmp, path)
	default:
		return &os.LinkError{Op: "exchange", Old: tmp, New: path, Err: err}
	}
}
