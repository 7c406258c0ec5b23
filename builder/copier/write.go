package copier

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	securejoin "github.com/cyphar/filepath-securejoin"
	"golang.org/x/sys/unix"
)

// fileID identifies an inode, to keep hard links of one copy linked.
type fileID struct {
	dev, ino uint64
}

// writer copies units into a container root filesystem.
type writer struct {
	o     *Options
	links map[fileID]string // source inode -> first host path written for it

	// per directory unit
	root  string // host path of the directory the unit is copied into
	croot string // its container path, for messages
}

func statOwner(fi fs.FileInfo) (int, int, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, false
	}
	return int(st.Uid), int(st.Gid), true
}

// copyUnit copies u to dest, a container path as the user wrote it
// (absolute, a trailing "/" meaning a directory).
func (w *writer) copyUnit(u *unit, rootfs, dest string, exclude *matcher) error {
	if !u.info.IsDir() {
		if w.o.Extract && u.info.Mode().IsRegular() {
			ok, err := isArchive(u.src)
			if err != nil {
				return err
			}
			if ok {
				return extract(u.src, rootfs, path.Clean("/"+dest), w.o)
			}
		}
		return w.copyFile(u, rootfs, dest)
	}
	dest = path.Clean("/" + dest)

	// A directory's contents are merged into dest. When dest is made
	// here, it takes the source directory's mode and owner as a copied
	// directory would (BuildKit); an existing one keeps its own.
	existed, err := existsIn(rootfs, dest)
	if err != nil {
		return err
	}
	root, err := mkdirAllIn(rootfs, dest, w.o.mode(u.info.Mode()), w.o.dirOwner())
	if err != nil {
		return err
	}
	if !existed {
		uid, gid := w.o.owner(u.info)
		if err := os.Lchown(root, uid, gid); err != nil {
			return err
		}
	}
	w.root, w.croot = root, dest
	f := filters{ignore: w.o.Ignore.matcher(), exclude: exclude, include: u.include}
	n, err := walkUnit(u, f, w)
	if err != nil {
		return err
	}
	if u.include != nil && n == 0 {
		return fmt.Errorf("no source files match pattern %q in %s", u.include.patterns[0].text, w.o.sourceName())
	}
	// BuildKit leaves the destination directory with the source
	// directory's times.
	return setTimes(root, u.info)
}

// copyFile copies the non-directory unit u to dest.
func (w *writer) copyFile(u *unit, rootfs, dest string) error {
	target, ctarget, err := fileTarget(rootfs, dest, u.name, w.o)
	if err != nil {
		return err
	}
	return w.writeLeaf(&entry{src: u.src, info: u.info}, target, ctarget)
}

// containerPath returns the container path of host, a path inside rootfs.
func containerPath(rootfs, host string) string {
	rel, err := filepath.Rel(rootfs, host)
	if err != nil || rel == "." {
		return "/"
	}
	return path.Clean("/" + filepath.ToSlash(rel))
}

func (w *writer) target(e *entry) (string, string) {
	return filepath.Join(w.root, filepath.FromSlash(e.rel)), path.Join(w.croot, e.rel)
}

func (w *writer) enterDir(e *entry) error {
	target, ctarget := w.target(e)
	fi, err := os.Lstat(target)
	switch {
	case err == nil && fi.IsDir():
		return nil
	case err == nil:
		return fmt.Errorf("cannot copy to non-directory: %s", ctarget)
	case !errors.Is(err, fs.ErrNotExist):
		return err
	}
	return os.Mkdir(target, 0o700)
}

func (w *writer) leaveDir(e *entry) error {
	target, _ := w.target(e)
	return w.setMeta(target, e)
}

func (w *writer) leaf(e *entry) error {
	target, ctarget := w.target(e)
	return w.writeLeaf(e, target, ctarget)
}

// writeLeaf writes the non-directory e at target, whose parent is a real
// directory inside the root filesystem, replacing what is there unless it
// is a directory.
func (w *writer) writeLeaf(e *entry, target, ctarget string) error {
	if fi, err := os.Lstat(target); err == nil {
		if fi.IsDir() {
			return fmt.Errorf("cannot replace directory %s with a file", ctarget)
		}
		if err := os.Remove(target); err != nil {
			return err
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	m := e.info.Mode()
	switch {
	case m.IsRegular():
		st, _ := e.info.Sys().(*syscall.Stat_t)
		if st != nil && st.Nlink > 1 {
			id := fileID{dev: uint64(st.Dev), ino: st.Ino}
			if first, ok := w.links[id]; ok {
				if err := os.Link(first, target); err == nil {
					return nil
				}
			}
			w.links[id] = target
		}
		if err := copyContent(e.src, target); err != nil {
			return err
		}
	case m&fs.ModeSymlink != 0:
		link, err := os.Readlink(e.src)
		if err != nil {
			return err
		}
		if err := os.Symlink(link, target); err != nil {
			return err
		}
	case m&(fs.ModeDevice|fs.ModeNamedPipe|fs.ModeSocket) != 0:
		st, ok := e.info.Sys().(*syscall.Stat_t)
		if !ok {
			return fmt.Errorf("%s: no device number", ctarget)
		}
		if err := unix.Mknod(target, st.Mode, int(st.Rdev)); err != nil {
			return &fs.PathError{Op: "mknod", Path: target, Err: err}
		}
	default:
		return fmt.Errorf("%s: unsupported file type %s", ctarget, m.Type())
	}
	return w.setMeta(target, e)
}

func copyContent(src, target string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// setMeta gives target the owner, mode, extended attributes and times of
// the copied entry e, as the options say.
func (w *writer) setMeta(target string, e *entry) error {
	uid, gid := w.o.owner(e.info)
	if err := os.Lchown(target, uid, gid); err != nil {
		return err
	}
	if e.info.Mode()&fs.ModeSymlink == 0 {
		if err := os.Chmod(target, w.o.mode(e.info.Mode())); err != nil {
			return err
		}
	}
	copyXattrs(e.src, target)
	return setTimes(target, e.info)
}

// setTimes sets the access and modification times of target (not
// following a link) to those of fi.
func setTimes(target string, fi fs.FileInfo) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	ts := []unix.Timespec{unix.NsecToTimespec(st.Atim.Nano()), unix.NsecToTimespec(st.Mtim.Nano())}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, target, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return &fs.PathError{Op: "utimes", Path: target, Err: err}
	}
	return nil
}

// copiedXattr reports whether an extended attribute is copied: SELinux
// labels belong to the host, not to the image.
func copiedXattr(name string) bool {
	return name != "security.selinux"
}

// xattrs returns the extended attributes of p (not following a link) that
// are copied, in sorted order. Errors mean no attributes.
func xattrs(p string) []string {
	size, err := unix.Llistxattr(p, nil)
	if err != nil || size <= 0 {
		return nil
	}
	buf := make([]byte, size)
	size, err = unix.Llistxattr(p, buf)
	if err != nil {
		return nil
	}
	var names []string
	for _, n := range strings.Split(string(buf[:size]), "\x00") {
		if n != "" && copiedXattr(n) {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return names
}

func getXattr(p, name string) ([]byte, error) {
	size, err := unix.Lgetxattr(p, name, nil)
	if err != nil {
		return nil, err
	}
	buf := make([]byte, size)
	size, err = unix.Lgetxattr(p, name, buf)
	if err != nil {
		return nil, err
	}
	return buf[:size], nil
}

// copyXattrs copies extended attributes, best effort as BuildKit does (a
// destination file system or a user namespace may refuse some).
func copyXattrs(src, target string) {
	for _, n := range xattrs(src) {
		v, err := getXattr(src, n)
		if err != nil {
			continue
		}
		_ = unix.Lsetxattr(target, n, v, 0)
	}
}

// existsIn reports whether the container path cpath exists in root
// (symbolic links followed inside it).
func existsIn(root, cpath string) (bool, error) {
	h, err := securejoin.SecureJoin(root, cpath)
	if err != nil {
		return false, err
	}
	if _, err := os.Lstat(h); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		return false, err
	}
	return true, nil
}

// mkdirAllIn makes sure the container path cpath is a directory inside
// root, creating what is missing (the last component with mode last, the
// others 0755, all owned by owner), and returns its host path. Symbolic
// links on the way are followed inside root.
func mkdirAllIn(root, cpath string, last fs.FileMode, owner Owner) (string, error) {
	return mkdirAllDepth(root, cpath, last, owner, 0)
}

func mkdirAllDepth(root, cpath string, last fs.FileMode, owner Owner, depth int) (string, error) {
	if depth > 16 {
		return "", &fs.PathError{Op: "mkdir", Path: cpath, Err: syscall.ELOOP}
	}
	cpath = path.Clean("/" + cpath)
	host := root
	if cpath == "/" {
		return host, nil
	}
	comps := strings.Split(cpath[1:], "/")
	cur := "/"
	for i, c := range comps {
		cur = path.Join(cur, c)
		h, err := securejoin.SecureJoin(root, cur)
		if err != nil {
			return "", err
		}
		fi, err := os.Lstat(h)
		if err == nil {
			if !fi.IsDir() {
				return "", fmt.Errorf("%s exists and is not a directory", cur)
			}
			host = h
			continue
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		if resolved := containerPath(root, h); resolved != cur {
			// A dangling link: make its target's parents first.
			if _, err := mkdirAllDepth(root, path.Dir(resolved), 0o755, owner, depth+1); err != nil {
				return "", err
			}
		}
		mode := fs.FileMode(0o755)
		if i == len(comps)-1 {
			mode = last
		}
		if err := os.Mkdir(h, 0o700); err != nil {
			if !errors.Is(err, fs.ErrExist) {
				return "", err
			}
		} else {
			if err := os.Lchown(h, owner.UID, owner.GID); err != nil {
				return "", err
			}
			if err := os.Chmod(h, mode); err != nil {
				return "", err
			}
		}
		host = h
	}
	return host, nil
}

// hideRoots rewrites host paths in err's path errors to paths relative to
// the roots, so messages name what the user knows.
func hideRoots(err error, srcRoot, rootfs string) error {
	if err == nil {
		return nil
	}
	fix := func(p string) string {
		switch {
		case rootfs != "" && (p == rootfs || strings.HasPrefix(p, rootfs+"/")):
			return containerPath(rootfs, p)
		case srcRoot != "" && (p == srcRoot || strings.HasPrefix(p, srcRoot+"/")):
			rel, _ := filepath.Rel(srcRoot, p)
			return rel
		}
		return p
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		pe.Path = fix(pe.Path)
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		le.Old, le.New = fix(le.Old), fix(le.New)
	}
	return err
}
