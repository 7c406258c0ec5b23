package copier

import (
	"context"
	_ "crypto/sha256" // digest algorithms
	_ "crypto/sha512"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/opencontainers/go-digest"
)

// Fetch downloads rawURL for ADD into the container root filesystem mounted
// at rootfs. A dest ending with "/" or naming an existing directory gets
// the file under the last element of the URL path ("__unnamed__" without
// one); otherwise dest is the file. With checksum ("sha256:..."), content
// whose digest differs is refused and nothing is written. The file has
// mode 0600 (or o.Chmod), belongs to o.Chown or 0:0, gets the
// Last-Modified time when the server sends one, and is never extracted.
func Fetch(ctx context.Context, rawURL, checksum, rootfs, dest string, o Options) (err error) {
	if rootfs, err = absRoot("destination root", rootfs); err != nil {
		return err
	}
	defer func() { err = hideRoots(err, "", rootfs) }()

	var want digest.Digest
	if checksum != "" {
		if want, err = digest.Parse(checksum); err != nil {
			return fmt.Errorf("ADD %s: invalid checksum %q: %w", rawURL, checksum, err)
		}
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return fmt.Errorf("ADD %s: %w", rawURL, err)
	}
	name := "__unnamed__"
	if base := path.Base(u.Path); base != "." && base != "/" && base != "" {
		name = base
	}

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return fmt.Errorf("ADD %s: %w", rawURL, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("ADD %s: %w", rawURL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("ADD %s: unexpected HTTP status %s", rawURL, resp.Status)
	}

	tmp, err := os.CreateTemp(rootfs, ".add-download-")
	if err != nil {
		return fmt.Errorf("ADD %s: %w", rawURL, err)
	}
	tmpName := tmp.Name()
	defer func() {
		tmp.Close()
		if tmpName != "" {
			os.Remove(tmpName)
		}
	}()
	algo := digest.Canonical
	if want != "" {
		algo = want.Algorithm()
	}
	d := algo.Digester()
	if _, err := io.Copy(io.MultiWriter(tmp, d.Hash()), resp.Body); err != nil {
		return fmt.Errorf("ADD %s: downloading: %w", rawURL, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("ADD %s: %w", rawURL, err)
	}
	if got := d.Digest(); want != "" && got != want {
		return fmt.Errorf("ADD %s: checksum mismatch: expected %s, got %s", rawURL, want, got)
	}

	mode := fs.FileMode(0o600)
	if o.Chmod != nil {
		mode = chmodBits(*o.Chmod)
	}
	owner := o.dirOwner()
	if err := os.Chown(tmpName, owner.UID, owner.GID); err != nil {
		return fmt.Errorf("ADD %s: %w", rawURL, err)
	}
	if err := os.Chmod(tmpName, mode); err != nil {
		return fmt.Errorf("ADD %s: %w", rawURL, err)
	}
	if lm := resp.Header.Get("Last-Modified"); lm != "" {
		if t, err := http.ParseTime(lm); err == nil {
			if err := setTimesAt(tmpName, t, t); err != nil {
				return fmt.Errorf("ADD %s: %w", rawURL, err)
			}
		}
	}

	target, ctarget, err := fileTarget(rootfs, dest, name, &o)
	if err != nil {
		return fmt.Errorf("ADD %s: %w", rawURL, err)
	}
	if fi, err := os.Lstat(target); err == nil && fi.IsDir() {
		return fmt.Errorf("ADD %s: cannot replace directory %s with a file", rawURL, ctarget)
	}
	if err := os.Rename(tmpName, target); err != nil {
		if !errors.Is(err, syscall.EXDEV) {
			return fmt.Errorf("ADD %s: %w", rawURL, err)
		}
		// Another file system below rootfs: copy instead.
		fi, err := os.Lstat(tmpName)
		if err != nil {
			return fmt.Errorf("ADD %s: %w", rawURL, err)
		}
		w := &writer{o: &Options{Chown: &owner, Chmod: &mode}, links: map[fileID]string{}}
		if err := w.writeLeaf(&entry{src: tmpName, info: fi}, target, ctarget); err != nil {
			return fmt.Errorf("ADD %s: %w", rawURL, err)
		}
		return nil
	}
	tmpName = ""
	return nil
}

// fileTarget returns where a file named name copied to the container path
// dest goes (host and container paths), creating the directories on the
// way: dest/name when dest ends with "/" or is a directory, else dest
// (where its symbolic links lead inside rootfs).
func fileTarget(rootfs, dest, name string, o *Options) (string, string, error) {
	dest = filepath.ToSlash(dest)
	dirDest := strings.HasSuffix(dest, "/") || strings.HasSuffix(dest, "/.") || dest == "."
	dest = path.Clean("/" + dest)
	if dirDest {
		dir, err := mkdirAllIn(rootfs, dest, 0o755, o.dirOwner())
		if err != nil {
			return "", "", err
		}
		return filepath.Join(dir, name), path.Join(dest, name), nil
	}
	h, err := securejoin.SecureJoin(rootfs, dest)
	if err != nil {
		return "", "", err
	}
	if fi, err := os.Stat(h); err == nil && fi.IsDir() {
		return filepath.Join(h, name), path.Join(dest, name), nil
	}
	ctarget := containerPath(rootfs, h)
	dir, err := mkdirAllIn(rootfs, path.Dir(ctarget), 0o755, o.dirOwner())
	if err != nil {
		return "", "", err
	}
	return filepath.Join(dir, path.Base(ctarget)), ctarget, nil
}
