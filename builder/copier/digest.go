package copier

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// Digest returns a content digest ("sha256:...") of exactly what
// Copy(srcRoot, sources, ..., o) reads: the selected entries (after ignore
// rules, --exclude and --parents filtering) with their paths as laid out
// at the destination, types, permission bits, owners when
// o.PreserveOwnership is set, extended attributes, link targets, device
// numbers and file contents. Modification times do not count, as in
// BuildKit's cache keys, and neither do files Copy would not read. The
// options themselves (--chown, --chmod, the destination) are not hashed.
func Digest(srcRoot string, sources []string, o Options) (string, error) {
	srcRoot, err := absRoot("source", srcRoot)
	if err != nil {
		return "", err
	}
	units, exclude, err := plan(srcRoot, sources, &o)
	if err != nil {
		return "", err
	}
	d := &digester{h: sha256.New(), o: &o, buf: make([]byte, 1<<20)}
	for _, u := range units {
		if !u.info.IsDir() {
			d.str("file")
			if err := d.entry(&entry{src: u.src, rel: u.name, info: u.info}); err != nil {
				return "", fmt.Errorf("%s %s: %w", o.cmd(), u.arg, hideRoots(err, srcRoot, ""))
			}
			continue
		}
		d.str("dir")
		f := filters{ignore: o.Ignore.matcher(), exclude: exclude, include: u.include}
		n, err := walkUnit(u, f, d)
		if err != nil {
			return "", fmt.Errorf("%s %s: %w", o.cmd(), u.arg, hideRoots(err, srcRoot, ""))
		}
		if u.include != nil && n == 0 {
			return "", fmt.Errorf("%s %s: no source files match pattern %q in %s", o.cmd(), u.arg, u.include.patterns[0].text, o.sourceName())
		}
		d.str("end")
	}
	return "sha256:" + hex.EncodeToString(d.h.Sum(nil)), nil
}

// digester hashes entries in an unambiguous encoding: every string and
// content is preceded by its length.
type digester struct {
	h   hash.Hash
	o   *Options
	buf []byte
	num [8]byte
}

func (d *digester) uint(n uint64) {
	binary.BigEndian.PutUint64(d.num[:], n)
	d.h.Write(d.num[:])
}

func (d *digester) str(s string) {
	d.uint(uint64(len(s)))
	io.WriteString(d.h, s)
}

func (d *digester) enterDir(e *entry) error { return d.entry(e) }
func (d *digester) leaveDir(*entry) error   { return nil }
func (d *digester) leaf(e *entry) error     { return d.entry(e) }

func (d *digester) entry(e *entry) error {
	st, ok := e.info.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Errorf("%s: no file status", e.src)
	}
	d.str(e.rel)
	d.uint(uint64(st.Mode)) // type and permission bits
	if d.o.PreserveOwnership {
		d.uint(uint64(st.Uid))
		d.uint(uint64(st.Gid))
	}
	names := xattrs(e.src)
	d.uint(uint64(len(names)))
	for _, n := range names {
		v, _ := getXattr(e.src, n)
		d.str(n)
		d.str(string(v))
	}
	m := e.info.Mode()
	switch {
	case m.IsRegular():
		f, err := os.Open(e.src)
		if err != nil {
			return err
		}
		defer f.Close()
		size := e.info.Size()
		d.uint(uint64(size))
		n, err := io.CopyBuffer(d.h, io.LimitReader(f, size), d.buf)
		if err != nil {
			return err
		}
		if n != size {
			return fmt.Errorf("%s changed while being read", e.src)
		}
	case m&fs.ModeSymlink != 0:
		link, err := os.Readlink(e.src)
		if err != nil {
			return err
		}
		d.str(link)
	case m&fs.ModeDevice != 0:
		d.uint(uint64(st.Rdev))
	}
	return nil
}
