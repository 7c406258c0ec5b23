package container

import (
	"path/filepath"

	"golang.org/x/sys/unix"
)

// fsTopdirFlag is ext2/3/4's "top of directory hierarchies" inode flag
// (chattr +T, FS_TOPDIR_FL).
const fsTopdirFlag = 0x00020000

// spreadContainerDirs marks the directories that get one subdirectory per
// container (the store's layers and containers, the bundles, the runtime's
// state) as tops of directory hierarchies, which is what each container's
// subtree is: ext4 then places each new one in a block group of its own
// choosing instead of its parent's.
//
// It matters on ext4 without a journal, where allocating an inode skips,
// one by one, every inode of the group freed in the last minute or more
// (the kernel's recently_deleted). A run --rm makes and frees some sixty
// inodes: with all of them in one group, that scan grew with every
// container run before it (and with the other tools' files there), up to
// a tenth of the run's time. Other file systems ignore the flag, or refuse
// it, which is ignored too.
func (e *Engine) spreadContainerDirs() {
	driver := e.Store.GraphDriverName()
	for _, d := range []string{
		filepath.Join(e.Store.GraphRoot(), driver),
		filepath.Join(e.Store.GraphRoot(), driver+"-containers"),
		filepath.Join(e.Store.RunRoot(), driver+"-containers"),
		e.Runtime.Root,
	} {
		setTopdir(d)
	}
}

// setTopdir sets the flag on directory d unless it is set already.
func setTopdir(d string) {
	fd, err := unix.Open(d, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	if err != nil {
		return
	}
	defer unix.Close(fd)
	flags, err := unix.IoctlGetUint32(fd, unix.FS_IOC_GETFLAGS)
	if err != nil || flags&fsTopdirFlag != 0 {
		return
	}
	_ = unix.IoctlSetPointerInt(fd, unix.FS_IOC_SETFLAGS, int(flags|fsTopdirFlag))
}
