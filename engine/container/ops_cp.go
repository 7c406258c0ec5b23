package container

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/containers/storage/pkg/archive"
	"github.com/containers/storage/pkg/chrootarchive"
	"github.com/sirupsen/logrus"
)

// CopyOptions are cp's: each side is a host path, "CONTAINER:PATH", or
// "-" (a tar stream on Stdin for the source, on Stdout for the target).
type CopyOptions struct {
	Source, Target string
	Stdin          io.Reader
	Stdout         io.Writer
}

// copyEnd is one side of a copy: a directory tree root (the container's
// root filesystem, or "/" for the host) and a path within it.
type copyEnd struct {
	root string // "" for the host
	path string // as given (inside the container for a container end)
	ctr  *Container
	// mounts are the container's volumes, binds and (running) tmpfs
	// mounts, longest destination first: a path below one is resolved in
	// the mount's host directory, not in the root filesystem.
	mounts []cpMount
}

type cpMount struct{ dest, host string }

// cpMounts lists where c's mounts are on the host.
func (e *Engine) cpMounts(c *Container) []cpMount {
	var out []cpMount
	for _, m := range c.Mounts {
		dest := path.Clean("/" + m.Destination)
		switch m.Type {
		case "bind":
			out = append(out, cpMount{dest, m.Source})
		case "volume":
			if v, err := e.Volumes().Get(m.Volume); err == nil && v.Mountpoint != "" {
				out = append(out, cpMount{dest, v.Mountpoint})
			}
		case "tmpfs":
			// Only the container's mount namespace has it.
			if c.State.Status == StatusRunning && c.State.Pid > 0 {
				out = append(out, cpMount{dest, fmt.Sprintf("/proc/%d/root%s", c.State.Pid, dest)})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i].dest) > len(out[j].dest) })
	return out
}

// base is the host directory p is resolved in (the root filesystem or a
// mount's directory) and p relative to it.
func (c copyEnd) base(p string) (string, string) {
	clean := path.Clean("/" + p)
	for _, m := range c.mounts {
		if clean == m.dest || strings.HasPrefix(clean, m.dest+"/") {
			return m.host, "/" + strings.TrimPrefix(clean, m.dest)
		}
	}
	return c.root, clean
}

// chroot is the directory archives for p are made or unpacked chrooted
// into: the root filesystem, or the mount p is in.
func (c copyEnd) chroot(p string) string {
	root, rel := c.base(p)
	if rel == "/" && root != c.root {
		// The mount point itself: its parent holds it.
		return filepath.Dir(root)
	}
	return root
}

// SplitCopyPath splits "CONTAINER:PATH"; a host path (no colon, a slash
// before the first colon, or a leading "." or "/") gives ctr "".
func SplitCopyPath(arg string) (ctr, p string) {
	i := strings.IndexByte(arg, ':')
	if i <= 0 || strings.Contains(arg[:i], "/") || strings.HasPrefix(arg, ".") {
		return "", arg
	}
	return arg[:i], arg[i+1:]
}

// Copy copies between the host and a container, in either direction, as
// podman cp does. Paths in the container are resolved inside its root
// filesystem (symlinks included) and never lead out of it; archives are
// unpacked chrooted into their target, so no entry lands outside it. A
// stopped container's root filesystem is mounted for the copy.
func (e *Engine) Copy(ctx context.Context, o CopyOptions) error {
	sc, sp := SplitCopyPath(o.Source)
	tc, tp := SplitCopyPath(o.Target)
	switch {
	case sc != "" && tc != "":
		return errors.New("copying between containers is not supported: copy to the host first")
	case sc == "" && tc == "":
		return errors.New("one of source and target must be CONTAINER:PATH")
	}
	var src, dst copyEnd
	src.path, dst.path = sp, tp
	for _, end := range []struct {
		name string
		e    *copyEnd
	}{{sc, &src}, {tc, &dst}} {
		if end.name == "" {
			continue
		}
		// The operation marker is held for the copy: the exit command's cleanup of a
		// container that just stopped would otherwise unmount the root
		// filesystem under the copy.
		c, unlock, err := e.acquireOp(ctx, end.name, "cp")
		if err != nil {
			return err
		}
		defer unlock()
		root, err := e.Store.Mount(c.ID, "")
		if err != nil {
			return fmt.Errorf("mounting the root filesystem of %s: %w", c.Name, err)
		}
		defer func() {
			if _, err := e.Store.Unmount(c.ID, false); err != nil {
				logrus.Warnf("unmounting %s: %v", c.ID, err)
			}
		}()
		if !filepath.IsAbs(end.e.path) {
			end.e.path = "/" + end.e.path
		}
		end.e.root, end.e.ctr, end.e.mounts = root, c, e.cpMounts(c)
	}
	return copyTree(src, dst, o.Stdin, o.Stdout)
}

// resolve gives the host path of p: inside the root for a container end.
func (c copyEnd) resolve(p string) (string, error) {
	if c.root == "" {
		return filepath.Abs(p)
	}
	root, rel := c.base(p)
	return secureJoin(root, rel)
}

func (c copyEnd) String() string {
	if c.ctr != nil {
		return c.ctr.Name + ":" + c.path
	}
	return c.path
}

func copyTree(src, dst copyEnd, stdin io.Reader, stdout io.Writer) error {
	var tarStream io.Reader
	var srcIsDir bool
	contentOnly := strings.HasSuffix(src.path, "/.") // "dir/." copies what is in dir
	name := filepath.Base(filepath.Clean(src.path))
	if src.path == "-" && src.ctr == nil {
		if dst.path == "-" {
			return errors.New("source and target cannot both be -")
		}
		tarStream, srcIsDir, contentOnly = stdin, true, true
	} else {
		hp, err := src.resolve(src.path)
		if err != nil {
			return err
		}
		st, err := os.Stat(hp)
		if err != nil {
			return fmt.Errorf("copying from %s: %w", src, errNotExist(err))
		}
		srcIsDir = st.IsDir()
		if strings.HasSuffix(src.path, "/") && !srcIsDir {
			return fmt.Errorf("copying from %s: not a directory", src)
		}
		if name == "/" || name == "." {
			contentOnly = srcIsDir
		}
		target := name
		if dst.path != "-" {
			target, err = targetName(dst, name, srcIsDir, contentOnly)
			if err != nil {
				return err
			}
		}
		opts := &archive.TarOptions{Compression: archive.Uncompressed}
		dir := hp
		if !contentOnly {
			dir = filepath.Dir(hp)
			opts.IncludeFiles = []string{filepath.Base(hp)}
			opts.RebaseNames = map[string]string{filepath.Base(hp): target}
		}
		root := dir
		if src.ctr != nil {
			root = src.chroot(src.path)
		}
		rc, err := chrootarchive.Tar(dir, opts, root)
		if err != nil {
			return fmt.Errorf("copying from %s: %w", src, err)
		}
		defer rc.Close()
		tarStream = rc
	}
	if dst.path == "-" && dst.ctr == nil {
		if _, err := io.Copy(stdout, tarStream); err != nil {
			return fmt.Errorf("writing the archive of %s: %w", src, err)
		}
		return nil
	}
	// Unpack into the target directory: the target itself for a tar
	// stream, a content-only copy, or an existing directory; else its
	// parent (the entry is already renamed to the target's name).
	dir := dst.path
	switch st, err := statEnd(dst, dst.path); {
	case src.path == "-" && src.ctr == nil:
		if err != nil {
			return fmt.Errorf("copying to %s: %w", dst, errNotExist(err))
		}
		if !st.IsDir() {
			return fmt.Errorf("copying a tar archive to %s: not a directory", dst)
		}
	case contentOnly:
		if err == nil && !st.IsDir() {
			return fmt.Errorf("copying a directory to %s: the target is a file", dst)
		}
		if err := mkdirEnd(dst, dst.path); err != nil {
			return err
		}
	case err != nil || !st.IsDir():
		dir = filepath.Dir(filepath.Clean(dst.path))
	}
	hd, err := dst.resolve(dir)
	if err != nil {
		return err
	}
	if st, err := os.Stat(hd); err != nil || !st.IsDir() {
		return fmt.Errorf("copying to %s: %s is not a directory", dst, dir)
	}
	opts := &archive.TarOptions{NoOverwriteDirNonDir: true}
	root := hd
	if dst.ctr != nil {
		root = dst.chroot(dir)
	}
	if err := chrootarchive.UntarWithRoot(tarStream, hd, opts, root); err != nil {
		return fmt.Errorf("copying to %s: %w", dst, err)
	}
	return nil
}

// targetName is the name the source gets in the target's directory:
// its own name inside an existing directory, else the target's name.
func targetName(dst copyEnd, name string, srcIsDir, contentOnly bool) (string, error) {
	st, err := statEnd(dst, dst.path)
	switch {
	case err == nil && st.IsDir():
		return name, nil
	case err == nil:
		if srcIsDir {
			return "", fmt.Errorf("copying a directory to %s: the target is a file", dst)
		}
		return filepath.Base(filepath.Clean(dst.path)), nil
	case errors.Is(err, os.ErrNotExist):
		if strings.HasSuffix(dst.path, "/") && !srcIsDir {
			return "", fmt.Errorf("copying to %s: the directory does not exist", dst)
		}
		parent := filepath.Dir(filepath.Clean(dst.path))
		if pst, err := statEnd(dst, parent); err != nil || !pst.IsDir() {
			return "", fmt.Errorf("copying to %s: the directory %s does not exist", dst, parent)
		}
		return filepath.Base(filepath.Clean(dst.path)), nil
	default:
		return "", fmt.Errorf("copying to %s: %w", dst, err)
	}
}

func statEnd(c copyEnd, p string) (os.FileInfo, error) {
	hp, err := c.resolve(p)
	if err != nil {
		return nil, err
	}
	return os.Stat(hp)
}

func mkdirEnd(c copyEnd, p string) error {
	hp, err := c.resolve(p)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(hp, 0o755); err != nil {
		return fmt.Errorf("copying to %s: %w", c, err)
	}
	return nil
}

func errNotExist(err error) error {
	if errors.Is(err, os.ErrNotExist) {
		return errors.New("no such file or directory")
	}
	return err
}
