package copier

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
	"golang.org/x/sys/unix"
)

// decompress returns the decompressed content of r, recognising gzip,
// bzip2, xz and zstd from the first bytes; anything else is returned as is.
func decompress(r *bufio.Reader) (io.ReadCloser, error) {
	magic, _ := r.Peek(6)
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b, 0x08}):
		return gzip.NewReader(r)
	case bytes.HasPrefix(magic, []byte("BZh")):
		return io.NopCloser(bzip2.NewReader(r)), nil
	case bytes.HasPrefix(magic, []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}):
		x, err := xz.NewReader(r)
		if err != nil {
			return nil, err
		}
		return io.NopCloser(x), nil
	case bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		d, err := zstd.NewReader(r)
		if err != nil {
			return nil, err
		}
		return d.IOReadCloser(), nil
	}
	return io.NopCloser(r), nil
}

// isArchive reports whether the regular file p is a tar archive, possibly
// compressed: whether a first tar header can be read from it.
func isArchive(p string) (bool, error) {
	f, err := os.Open(p)
	if err != nil {
		return false, err
	}
	defer f.Close()
	r, err := decompress(bufio.NewReader(f))
	if err != nil {
		return false, nil
	}
	defer r.Close()
	_, err = tar.NewReader(r).Next()
	return err == nil, nil
}

// extract unpacks the archive src into the container directory dest, as
// if chrooted there: entry names and link targets that climb out with ".."
// or are absolute stay inside dest, and symbolic links extracted are
// followed inside dest only. Entries keep the archive's owners unless
// o.Chown is set.
func extract(src, rootfs, dest string, o *Options) error {
	dir, err := mkdirAllIn(rootfs, dest, 0o755, o.dirOwner())
	if err != nil {
		return err
	}
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	r, err := decompress(bufio.NewReaderSize(f, 1<<16))
	if err != nil {
		return fmt.Errorf("reading archive: %w", err)
	}
	defer r.Close()
	x := &extractor{dir: dir, dest: dest, o: o}
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("reading archive: %w", err)
		}
		if err := x.entry(tr, hdr); err != nil {
			return err
		}
	}
	// Directory times last: extracting into them changed them.
	for i := len(x.dirs) - 1; i >= 0; i-- {
		d := x.dirs[i]
		if err := setHeaderTimes(d.path, d.hdr); err != nil {
			return err
		}
	}
	return nil
}

type extractor struct {
	dir  string // host path of the extraction directory
	dest string // its container path
	o    *Options
	dirs []extractedDir
}

type extractedDir struct {
	path string
	hdr  *tar.Header
}

func (x *extractor) entry(tr *tar.Reader, hdr *tar.Header) error {
	name := path.Clean("/" + filepath.ToSlash(hdr.Name))
	if name == "/" {
		return nil
	}
	cname := path.Join(x.dest, name)
	parent, err := mkdirAllIn(x.dir, path.Dir(name), 0o755, x.o.dirOwner())
	if err != nil {
		return fmt.Errorf("extracting %s: %w", cname, err)
	}
	target := filepath.Join(parent, path.Base(name))
	exists := false
	if fi, err := os.Lstat(target); err == nil {
		switch {
		case fi.IsDir() && hdr.Typeflag == tar.TypeDir:
			exists = true
		case fi.IsDir():
			return fmt.Errorf("extracting %s: cannot overwrite directory with non-directory", cname)
		default:
			if err := os.Remove(target); err != nil {
				return err
			}
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}

	switch hdr.Typeflag {
	case tar.TypeDir:
		if !exists {
			if err := os.Mkdir(target, 0o700); err != nil {
				return err
			}
		}
		x.dirs = append(x.dirs, extractedDir{path: target, hdr: hdr})
	case tar.TypeReg:
		out, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, tr); err != nil {
			out.Close()
			return fmt.Errorf("extracting %s: %w", cname, err)
		}
		if err := out.Close(); err != nil {
			return err
		}
	case tar.TypeSymlink:
		if err := os.Symlink(hdr.Linkname, target); err != nil {
			return err
		}
	case tar.TypeLink:
		old, err := securejoin.SecureJoin(x.dir, path.Clean("/"+filepath.ToSlash(hdr.Linkname)))
		if err != nil {
			return err
		}
		if fi, err := os.Lstat(old); err != nil || fi.IsDir() {
			return fmt.Errorf("extracting %s: hard link target %s is not a file extracted before it", cname, hdr.Linkname)
		}
		return os.Link(old, target)
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		mode := uint32(hdr.Mode & 0o7777)
		switch hdr.Typeflag {
		case tar.TypeChar:
			mode |= unix.S_IFCHR
		case tar.TypeBlock:
			mode |= unix.S_IFBLK
		default:
			mode |= unix.S_IFIFO
		}
		dev := unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor))
		if err := unix.Mknod(target, mode, int(dev)); err != nil {
			if errors.Is(err, unix.EPERM) {
				return nil // no devices without privileges, as Docker
			}
			return &fs.PathError{Op: "mknod", Path: target, Err: err}
		}
	default:
		return nil
	}

	uid, gid := hdr.Uid, hdr.Gid
	if x.o.Chown != nil {
		uid, gid = x.o.Chown.UID, x.o.Chown.GID
	}
	if err := os.Lchown(target, uid, gid); err != nil {
		return err
	}
	if hdr.Typeflag != tar.TypeSymlink {
		if err := os.Chmod(target, chmodBits(os.FileMode(hdr.Mode&0o7777))); err != nil {
			return err
		}
	}
	for k, v := range hdr.PAXRecords {
		if n, ok := strings.CutPrefix(k, "SCHILY.xattr."); ok && copiedXattr(n) {
			_ = unix.Lsetxattr(target, n, []byte(v), 0)
		}
	}
	if hdr.Typeflag == tar.TypeDir {
		return nil
	}
	return setHeaderTimes(target, hdr)
}

func setHeaderTimes(target string, hdr *tar.Header) error {
	atime := hdr.AccessTime
	if atime.IsZero() {
		atime = hdr.ModTime
	}
	return setTimesAt(target, atime, hdr.ModTime)
}

func setTimesAt(target string, atime, mtime time.Time) error {
	ts := []unix.Timespec{timespec(atime), timespec(mtime)}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, target, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return &fs.PathError{Op: "utimes", Path: target, Err: err}
	}
	return nil
}

func timespec(t time.Time) unix.Timespec {
	return unix.Timespec{Sec: t.Unix(), Nsec: int64(t.Nanosecond())}
}
