package volume

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/containers/storage/pkg/archive"
	"github.com/containers/storage/pkg/chrootarchive"
	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

// ErrInUse is returned for a volume that a container uses.
var ErrInUse = errors.New("volume is being used")

// Options of the local driver, as podman's: type (a filesystem type for
// mount(2), or "bind"), device (what is mounted; the host directory for
// bind), o (mount options), and copy/nocopy.
var knownOptions = map[string]bool{"type": true, "device": true, "o": true, "copy": true, "nocopy": true}

// CheckOptions validates the local driver's -o options.
func CheckOptions(o map[string]string) error {
	for k := range o {
		if !knownOptions[k] {
			return fmt.Errorf("invalid volume option %q for the local driver: want type, device, o, copy or nocopy", k)
		}
	}
	typ, dev := o["type"], o["device"]
	switch {
	case typ == "bind":
		if dev == "" {
			return errors.New("volume option type=bind needs device=HOST-DIR")
		}
		if !filepath.IsAbs(dev) {
			return fmt.Errorf("volume option device=%s: the host directory must be an absolute path", dev)
		}
		st, err := os.Stat(dev)
		if err != nil {
			return fmt.Errorf("volume option device=%s: %w", dev, err)
		}
		if !st.IsDir() {
			return fmt.Errorf("volume option device=%s: not a directory", dev)
		}
	case typ == "" && (dev != "" || o["o"] != ""):
		return errors.New("volume options device= and o= need type=")
	case typ == "tmpfs" && dev == "":
	case typ != "" && dev == "":
		return fmt.Errorf("volume option type=%s needs device=", typ)
	}
	return nil
}

// Path is the host directory holding the volume's data: the device of a
// bind volume, else its mount point.
func (v *Volume) Path() string {
	if v.Options["type"] == "bind" {
		return v.Options["device"]
	}
	return v.Mountpoint
}

// Mount makes a volume with a filesystem type ready for a container: a
// tmpfs (or other device) is mounted on the volume's mount point once, and
// shared by every container using the volume until the last of them
// stops (Unmount), as podman does.
// It returns the host directory to bind into containers.
func (s Store) Mount(v *Volume) (string, error) {
	typ := v.Options["type"]
	if typ == "" || typ == "bind" {
		return v.Path(), nil
	}
	if mounted(v.Mountpoint) {
		return v.Mountpoint, nil
	}
	dev := v.Options["device"]
	if dev == "" {
		dev = typ
	}
	var flags uintptr
	var data []string
	for _, opt := range strings.Split(v.Options["o"], ",") {
		switch opt {
		case "":
		case "ro":
			flags |= unix.MS_RDONLY
		case "nosuid":
			flags |= unix.MS_NOSUID
		case "nodev":
			flags |= unix.MS_NODEV
		case "noexec":
			flags |= unix.MS_NOEXEC
		default:
			data = append(data, opt)
		}
	}
	if err := unix.Mount(dev, v.Mountpoint, typ, flags, strings.Join(data, ",")); err != nil {
		return "", fmt.Errorf("mounting volume %s (type=%s device=%s o=%s): %w", v.Name, typ, dev, v.Options["o"], err)
	}
	return v.Mountpoint, nil
}

// Unmount undoes Mount when no container uses the volume any more.
func (s Store) Unmount(v *Volume) error { return unmount(v) }

// unmount undoes Mount; a mount point with nothing mounted is left as is.
func unmount(v *Volume) error {
	if typ := v.Options["type"]; typ == "" || typ == "bind" || !mounted(v.Mountpoint) {
		return nil
	}
	if err := unix.Unmount(v.Mountpoint, unix.MNT_DETACH); err != nil {
		return fmt.Errorf("unmounting volume %s: %w", v.Name, err)
	}
	return nil
}

// mounted reports whether something is mounted at dir.
func mounted(dir string) bool {
	ok, err := mountinfo.Mounted(dir)
	return err == nil && ok
}

// Export writes the volume's content as a tar stream.
func (s Store) Export(name string, w io.Writer) error {
	v, err := s.Get(name)
	if err != nil {
		return err
	}
	dir, err := s.Mount(v)
	if err != nil {
		return err
	}
	rc, err := archive.TarWithOptions(dir, &archive.TarOptions{Compression: archive.Uncompressed})
	if err != nil {
		return fmt.Errorf("exporting volume %s: %w", name, err)
	}
	defer rc.Close()
	if _, err := io.Copy(w, rc); err != nil {
		return fmt.Errorf("exporting volume %s: %w", name, err)
	}
	return nil
}

// Import unpacks a tar stream (plain or compressed) into the volume; no
// entry lands outside the volume's directory.
func (s Store) Import(name string, r io.Reader) error {
	v, err := s.Get(name)
	if err != nil {
		return err
	}
	dir, err := s.Mount(v)
	if err != nil {
		return err
	}
	if err := chrootarchive.Untar(r, dir, &archive.TarOptions{}); err != nil {
		return fmt.Errorf("importing into volume %s: %w", name, err)
	}
	if v.NeedsCopyUp {
		// Imported content replaces what the image would have given.
		return s.CopiedUp(v)
	}
	return nil
}
