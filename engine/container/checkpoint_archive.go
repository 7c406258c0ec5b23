//go:build !thin

package container

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/containers/image/v5/docker/reference"
	"github.com/containers/storage"
	"github.com/containers/storage/pkg/archive"
	"github.com/sirupsen/logrus"

	"github.com/ocisuite/suite/engine/network"
	"github.com/ocisuite/suite/engine/volume"
	"github.com/ocisuite/suite/shared/cli"
	"github.com/ocisuite/suite/shared/imagestore"
	"github.com/ocisuite/suite/shared/oci"
)

// The checkpoint archive is one tar (compressed or not):
//
//	manifest.json      archiveManifest, the first entry
//	image/docker-archive.tar  the base image (checkpoint --include-image)
//	checkpoint/…       CRIU's images
//	spec.json          the OCI spec the container ran with (for reference)
//	rootfs-diff.tar    the container layer's changes (store.Diff, whiteouts included)
//	deleted.json       the paths the container deleted from its image
//	index.json         every entry above with its size and SHA-256, the last entry
//
// The index at the end tells a complete archive from a truncated one. A
// pre-checkpoint archive (checkpoint --pre-checkpoint --export) has only
// the manifest, CRIU's images and the index.
//
// An archive that needs more of its reader than version 1 did (an
// included image, a pre-checkpoint, a checkpoint made on top of one) is
// version 2, which older engines refuse in one line; the rest stay
// version 1.
const (
	archiveVersion  = 2
	archiveVersion1 = 1
	archiveManifest = "manifest.json"
	archiveIndex    = "index.json"
	archiveDiff     = "rootfs-diff.tar"
	archiveDeleted  = "deleted.json"
	archiveSpec     = "spec.json"
	archiveImages   = "checkpoint"
	archiveVolumes  = "volumes"
)

// ErrBadArchive is an archive that cannot be imported.
var ErrBadArchive = errors.New("bad checkpoint archive")

// CheckpointManifest is manifest.json.
type CheckpointManifest struct {
	Version int       `json:"version"`
	Engine  string    `json:"engine"`
	Created time.Time `json:"created"`
	Image   string    `json:"image"`   // the image's name
	ImageID string    `json:"imageID"` // and ID, which the target must have
	// ImageDigest is the image's manifest digest, pulled by when the
	// target lacks the image.
	ImageDigest string `json:"imageDigest,omitempty"`
	// RootfsIgnored: the archive has no root filesystem changes
	// (checkpoint --ignore-rootfs).
	RootfsIgnored bool `json:"rootfsIgnored,omitempty"`
	// Volumes are the named volumes whose content is in volumes/NAME.tar.
	Volumes []string `json:"volumes,omitempty"`
	// ImageArchive is the entry holding the base image (archiveImage),
	// "" when the image is not in the archive.
	ImageArchive string `json:"imageArchive,omitempty"`
	// PreCheckpoint: the archive holds a pre-checkpoint (memory only);
	// WithPrevious: its checkpoint was made on top of one, which restore
	// needs as --import-previous.
	PreCheckpoint bool   `json:"preCheckpoint,omitempty"`
	WithPrevious  bool   `json:"withPrevious,omitempty"`
	CRIU          string `json:"criu,omitempty"`
	Config        Config `json:"config"`
	// Host is what the source host had (restore compares it with its own).
	Host HostFacts `json:"host"`
}

type indexEntry struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

func archiveCompression(name string) (archive.Compression, error) {
	switch name {
	case "", "zstd":
		return archive.Zstd, nil
	case "gzip":
		return archive.Gzip, nil
	case "none":
		return archive.Uncompressed, nil
	}
	return 0, fmt.Errorf("--compress %q: use zstd, gzip or none", name)
}

// archiveWriter writes tar entries and records them for the index.
type archiveWriter struct {
	tw    *tar.Writer
	index []indexEntry
}

func (a *archiveWriter) add(name string, size int64, mode int64, r io.Reader) error {
	if err := a.tw.WriteHeader(&tar.Header{Name: name, Size: size, Mode: mode, Typeflag: tar.TypeReg, ModTime: time.Now()}); err != nil {
		return err
	}
	h := sha256.New()
	n, err := io.Copy(a.tw, io.TeeReader(r, h))
	if err != nil {
		return fmt.Errorf("writing %s into the archive: %w", name, err)
	}
	if n != size {
		return fmt.Errorf("writing %s into the archive: %d bytes instead of %d", name, n, size)
	}
	a.index = append(a.index, indexEntry{Name: name, Size: size, SHA256: hex.EncodeToString(h.Sum(nil))})
	return nil
}

func (a *archiveWriter) addBytes(name string, b []byte) error {
	return a.add(name, int64(len(b)), 0o600, strings.NewReader(string(b)))
}

func (a *archiveWriter) addFile(name, p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	return a.add(name, st.Size(), 0o600, f)
}

// exportCheckpoint writes c's checkpoint (images in imgDir) and root
// filesystem changes as one archive at dest, atomically.
func (e *Engine) exportCheckpoint(c *Container, imgDir, dest string, o CheckpointOptions) error {
	comp, err := archiveCompression(o.Compress)
	if err != nil {
		return err
	}
	return writeFileAtomic(dest, func(w io.Writer) error {
		return e.writeArchive(c, imgDir, w, comp, o)
	})
}

// writeFileAtomic writes dest (mode 0600) through write: a temporary file
// beside it renamed when complete.
func writeFileAtomic(dest string, write func(io.Writer) error) error {
	abs, err := filepath.Abs(dest)
	if err != nil {
		return err
	}
	out, err := os.CreateTemp(filepath.Dir(abs), "."+filepath.Base(abs)+".*")
	if err != nil {
		return fmt.Errorf("--export %s: %w", dest, err)
	}
	done := false
	defer func() {
		if !done {
			out.Close()
			os.Remove(out.Name())
		}
	}()
	if err := write(out); err != nil {
		return err
	}
	if err := out.Sync(); err != nil {
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	if err := os.Chmod(out.Name(), 0o600); err != nil {
		return err
	}
	if err := os.Rename(out.Name(), abs); err != nil {
		return fmt.Errorf("--export %s: %w", dest, err)
	}
	done = true
	return nil
}

// writeArchive writes c's checkpoint (images in imgDir) and root
// filesystem changes as one archive to w.
func (e *Engine) writeArchive(c *Container, imgDir string, w io.Writer, comp archive.Compression, o CheckpointOptions) error {
	sc, err := e.Store.Container(c.ID)
	if err != nil {
		return err
	}
	m := CheckpointManifest{Version: archiveVersion1, Engine: cli.Version, Created: time.Now().UTC(), Image: c.ImageName, ImageID: c.ImageID, Config: c.Config, RootfsIgnored: o.IgnoreRootfs, WithPrevious: o.WithPrevious}
	if o.imageFile != "" {
		m.ImageArchive = archiveImage
	}
	if m.ImageArchive != "" || m.WithPrevious {
		m.Version = archiveVersion
	}
	if o.configure != nil {
		m.Config = o.configure(c)
	}
	var volFiles map[string]string
	if !o.IgnoreVolumes {
		var cleanup func()
		if m.Volumes, volFiles, cleanup, err = e.exportVolumes(c, filepath.Dir(imgDir)); err != nil {
			return err
		}
		defer cleanup()
	}
	if m.Image == "" {
		m.Image = c.Image
	}
	if img, err := e.Store.Image(c.ImageID); err == nil {
		m.ImageDigest = img.Digest.String()
	}
	_, v, _ := FindCRIU()
	if v > 0 {
		m.CRIU = criuVersionString(v)
	}
	m.Host = e.hostFacts(context.Background(), v)
	mb, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	// The layer's diff first into a file: a tar entry needs its size.
	diffFile, err := os.CreateTemp(filepath.Dir(imgDir), "rootfs-diff-*.tar")
	if err != nil {
		return err
	}
	defer os.Remove(diffFile.Name())
	defer diffFile.Close()
	deleted := []string{}
	if o.IgnoreRootfs {
		// An empty tar: the entry stays, with nothing to apply.
		if err := tar.NewWriter(diffFile).Close(); err != nil {
			return err
		}
	} else {
		changes, err := e.Store.Changes("", sc.LayerID)
		if err != nil {
			return fmt.Errorf("listing the root filesystem changes of %s: %w", c.Name, err)
		}
		if err := e.layerDiff(c, sc.LayerID, changes, diffFile); err != nil {
			return fmt.Errorf("reading the root filesystem changes of %s: %w", c.Name, err)
		}
		for _, ch := range changes {
			if ch.Kind == archive.ChangeDelete {
				deleted = append(deleted, ch.Path)
			}
		}
	}
	db, _ := json.Marshal(deleted)

	cw, err := archive.CompressStream(w, comp)
	if err != nil {
		return err
	}
	a := &archiveWriter{tw: tar.NewWriter(cw)}
	if err := a.addBytes(archiveManifest, mb); err != nil {
		return err
	}
	// The image goes first: a target that lacks it loads it while CRIU's
	// images arrive.
	if o.imageFile != "" {
		if err := a.addFile(archiveImage, o.imageFile); err != nil {
			return err
		}
	}
	if err := a.addImages(imgDir); err != nil {
		return err
	}
	if bundle, err := e.bundle(c.ID); err == nil {
		if _, err := os.Stat(filepath.Join(bundle, "config.json")); err == nil {
			if err := a.addFile(archiveSpec, filepath.Join(bundle, "config.json")); err != nil {
				return err
			}
		}
	}
	if _, err := diffFile.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if err := a.addFile(archiveDiff, diffFile.Name()); err != nil {
		return err
	}
	if err := a.addBytes(archiveDeleted, db); err != nil {
		return err
	}
	for _, v := range m.Volumes {
		if err := a.addFile(archiveVolumes+"/"+v+".tar", volFiles[v]); err != nil {
			return err
		}
	}
	if err := a.close(); err != nil {
		return err
	}
	return cw.Close()
}

// addImages adds CRIU's images in imgDir under checkpoint/ (its regular
// files: not the parent link of a checkpoint made on a pre-checkpoint,
// which the import makes again).
func (a *archiveWriter) addImages(imgDir string) error {
	ents, err := os.ReadDir(imgDir)
	if err != nil {
		return err
	}
	for _, ent := range ents {
		if !ent.Type().IsRegular() {
			continue
		}
		if err := a.addFile(archiveImages+"/"+ent.Name(), filepath.Join(imgDir, ent.Name())); err != nil {
			return err
		}
	}
	return nil
}

// close writes the index and ends the tar.
func (a *archiveWriter) close() error {
	ib, err := json.Marshal(a.index)
	if err != nil {
		return err
	}
	if err := a.tw.WriteHeader(&tar.Header{Name: archiveIndex, Size: int64(len(ib)), Mode: 0o600, Typeflag: tar.TypeReg, ModTime: time.Now()}); err != nil {
		return err
	}
	if _, err := a.tw.Write(ib); err != nil {
		return err
	}
	return a.tw.Close()
}

// archiveName checks an entry's name: one of the archive's files, or a
// file directly under checkpoint/; nothing absolute or climbing out.
func archiveName(name string) (string, error) {
	clean := path.Clean(strings.TrimPrefix(name, "./"))
	if path.IsAbs(name) || clean == ".." || strings.HasPrefix(clean, "../") || slices.Contains(strings.Split(name, "/"), "..") {
		return "", fmt.Errorf("%w: entry %q escapes the archive's root", ErrBadArchive, name)
	}
	switch clean {
	case archiveManifest, archiveIndex, archiveDiff, archiveDeleted, archiveSpec, archiveImage:
		return clean, nil
	}
	dir, base := path.Split(clean)
	if dir == archiveImages+"/" && base != "" {
		return clean, nil
	}
	if dir == archiveVolumes+"/" && strings.HasSuffix(base, ".tar") && len(base) > len(".tar") {
		return clean, nil
	}
	return "", fmt.Errorf("%w: unexpected entry %q", ErrBadArchive, name)
}

// readArchive unpacks a checkpoint archive into dir, checking every entry
// against the index at its end; it returns the manifest.
func readArchive(r io.Reader, dir string) (*CheckpointManifest, error) {
	return readArchiveNotify(r, dir, archiveHooks{})
}

// archiveHooks are called while an archive is read, before the rest of it
// (which may still be truncated or corrupt) has been checked against the
// index.
type archiveHooks struct {
	// manifest gets the manifest as soon as it is read.
	manifest func(*CheckpointManifest)
	// entry gets each entry once it is unpacked at p.
	entry func(name, p string)
}

// readArchiveNotify is readArchive calling hooks.
func readArchiveNotify(r io.Reader, dir string, hooks archiveHooks) (*CheckpointManifest, error) {
	dr, err := archive.DecompressStream(r)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadArchive, err)
	}
	defer dr.Close()
	truncated := func(err error) error {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return fmt.Errorf("%w: the archive is truncated", ErrBadArchive)
		}
		return fmt.Errorf("%w: the archive is truncated or corrupt (%v)", ErrBadArchive, err)
	}
	tr := tar.NewReader(dr)
	var m *CheckpointManifest
	seen := map[string]indexEntry{}
	var index []indexEntry
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, truncated(err)
		}
		if index != nil {
			return nil, fmt.Errorf("%w: entry %q after the index", ErrBadArchive, hdr.Name)
		}
		if hdr.Typeflag == tar.TypeDir {
			if d := strings.TrimSuffix(path.Clean(hdr.Name), "/"); d != archiveImages && d != archiveVolumes && d != path.Dir(archiveImage) {
				if _, err := archiveName(hdr.Name); err != nil {
					return nil, err
				}
				return nil, fmt.Errorf("%w: unexpected directory %q", ErrBadArchive, hdr.Name)
			}
			continue
		}
		name, err := archiveName(hdr.Name)
		if err != nil {
			return nil, err
		}
		if hdr.Typeflag != tar.TypeReg {
			return nil, fmt.Errorf("%w: entry %q is not a regular file", ErrBadArchive, hdr.Name)
		}
		if m == nil && name != archiveManifest {
			return nil, fmt.Errorf("%w: no %s at its start (not a checkpoint archive?)", ErrBadArchive, archiveManifest)
		}
		if name == archiveIndex {
			b, err := io.ReadAll(io.LimitReader(tr, 16<<20))
			if err != nil {
				return nil, truncated(err)
			}
			if err := json.Unmarshal(b, &index); err != nil {
				return nil, fmt.Errorf("%w: corrupt index: %v", ErrBadArchive, err)
			}
			if index == nil {
				index = []indexEntry{}
			}
			continue
		}
		if _, dup := seen[name]; dup {
			return nil, fmt.Errorf("%w: entry %q appears twice", ErrBadArchive, name)
		}
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return nil, err
		}
		f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			return nil, err
		}
		h := sha256.New()
		n, err := io.Copy(io.MultiWriter(f, h), tr)
		f.Close()
		if err != nil {
			return nil, truncated(err)
		}
		seen[name] = indexEntry{Name: name, Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}
		if name == archiveManifest {
			b, err := os.ReadFile(p)
			if err != nil {
				return nil, err
			}
			m = &CheckpointManifest{}
			if err := json.Unmarshal(b, m); err != nil {
				return nil, fmt.Errorf("%w: corrupt %s: %v", ErrBadArchive, archiveManifest, err)
			}
			if m.Version < archiveVersion1 || m.Version > archiveVersion {
				return nil, fmt.Errorf("%w: archive version %d (engine %s), this engine reads versions %d to %d", ErrBadArchive, m.Version, m.Engine, archiveVersion1, archiveVersion)
			}
			if m.ImageArchive != "" && m.ImageArchive != archiveImage {
				return nil, fmt.Errorf("%w: its manifest names image archive %q, not %s", ErrBadArchive, m.ImageArchive, archiveImage)
			}
			if hooks.manifest != nil {
				hooks.manifest(m)
			}
			continue
		}
		if name == archiveImage && m.ImageArchive == "" {
			return nil, fmt.Errorf("%w: %s is not listed in its manifest", ErrBadArchive, archiveImage)
		}
		if hooks.entry != nil {
			hooks.entry(name, p)
		}
	}
	if m == nil {
		return nil, fmt.Errorf("%w: no %s (not a checkpoint archive?)", ErrBadArchive, archiveManifest)
	}
	if index == nil {
		return nil, fmt.Errorf("%w: the archive is truncated (no index at its end)", ErrBadArchive)
	}
	for _, want := range index {
		got, ok := seen[want.Name]
		if !ok {
			return nil, fmt.Errorf("%w: %s is missing", ErrBadArchive, want.Name)
		}
		if got != want {
			return nil, fmt.Errorf("%w: %s does not match the index (corrupt archive)", ErrBadArchive, want.Name)
		}
		delete(seen, want.Name)
	}
	for name := range seen {
		return nil, fmt.Errorf("%w: %s is not in the index", ErrBadArchive, name)
	}
	if !hasImages(filepath.Join(dir, archiveImages)) {
		return nil, fmt.Errorf("%w: no CRIU images in it", ErrBadArchive)
	}
	if _, err := os.Stat(filepath.Join(dir, archiveDiff)); err != nil && !m.PreCheckpoint {
		return nil, fmt.Errorf("%w: no %s in it", ErrBadArchive, archiveDiff)
	}
	if _, err := os.Stat(filepath.Join(dir, archiveImage)); err != nil && m.ImageArchive != "" {
		return nil, fmt.Errorf("%w: %s is missing", ErrBadArchive, archiveImage)
	}
	return m, nil
}

// RestoreImport creates a container from a checkpoint archive in this
// store and restores it. The container is created as soon as the manifest
// is read and removed again when the rest of the archive turns out bad or
// anything after fails.
func (e *Engine) RestoreImport(ctx context.Context, r io.Reader, o RestoreOptions) (*RestoreResult, error) {
	criuPath, _, err := FindCRIU()
	if err != nil {
		return nil, err
	}
	if e.Rootless {
		return nil, errors.New("restore needs root: rootless containers cannot be restored yet")
	}
	tmp, err := os.MkdirTemp(e.Store.GraphRoot(), "engine-import-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	var prev *previous
	if o.ImportPrevious != "" {
		if prev, err = readPrevious(o.ImportPrevious, filepath.Join(tmp, "previous")); err != nil {
			return nil, err
		}
	}
	// The container is created from the manifest, the archive's first
	// entry, while the rest (CRIU's images) is still arriving: a streamed
	// migration's container is frozen meanwhile. An image the archive
	// carries is loaded as soon as it has arrived, when this store lacks it.
	var (
		created sync.WaitGroup
		c       *Container
		loaded  string // the image ID the import loaded, removed on failure
		cerr    error
	)
	image := make(chan string, 1)
	dir := filepath.Join(tmp, "archive")
	m, err := readArchiveNotify(r, dir, archiveHooks{
		manifest: func(m *CheckpointManifest) {
			created.Add(1)
			go func() {
				defer created.Done()
				c, loaded, cerr = e.importContainer(ctx, m, prev, image, o)
			}()
		},
		entry: func(name, p string) {
			if name == archiveImage {
				image <- p
			}
		},
	})
	close(image)
	created.Wait()
	removeLoaded := func() {
		if loaded != "" {
			e.removeLoadedImage(loaded)
		}
	}
	if err != nil {
		if c != nil {
			if rerr := e.Remove(context.WithoutCancel(ctx), c.ID, RemoveOptions{Force: true, Volumes: true}); rerr != nil {
				logrus.Warnf("removing container %s after the failed restore: %v", c.Name, rerr)
			}
		}
		removeLoaded()
		return nil, err
	}
	if cerr != nil {
		return nil, cerr
	}
	ok := false
	var volumes []string // created by the import
	defer func() {
		if !ok {
			if err := e.Remove(context.WithoutCancel(ctx), c.ID, RemoveOptions{Force: true, Volumes: true}); err != nil {
				logrus.Warnf("removing container %s after the failed restore: %v", c.Name, err)
			}
			removeLoaded()
			for _, v := range volumes {
				if err := e.Volumes().Remove(v); err != nil && !errors.Is(err, volume.ErrNoSuchVolume) {
					logrus.Warnf("removing volume %s after the failed restore: %v", v, err)
				}
			}
		}
	}()
	res, err := e.importInto(ctx, c, m, dir, prev, criuPath, o, &volumes)
	if err != nil {
		return nil, e.keepRestoreLog(c, err)
	}
	ok = true
	return res, nil
}

// importContainer checks the archive's source host against this one and
// its pre-checkpoint (if any), finds its image (an image the archive
// carries arrives on image) and creates the container an import
// restores into. loaded is the ID of an image it loaded from the archive.
func (e *Engine) importContainer(ctx context.Context, m *CheckpointManifest, prev *previous, image <-chan string, o RestoreOptions) (c *Container, loaded string, err error) {
	_, v, _ := FindCRIU()
	if err := mismatch(m.Host, e.hostFacts(ctx, v)); err != nil {
		return nil, "", err
	}
	if err := checkPrevious(m, prev); err != nil {
		return nil, "", err
	}
	imageID, loaded, err := e.checkpointImage(ctx, m, image)
	if err != nil {
		return nil, "", err
	}
	defer func() {
		if err != nil && loaded != "" {
			e.removeLoadedImage(loaded)
			loaded = ""
		}
	}()
	cfg := m.Config
	cfg.ID = ""
	cfg.LogPath = ""
	cfg.AutoRemove = false
	if o.Name != "" {
		cfg.Name = o.Name
	}
	if o.Publish != nil {
		cfg.Ports = o.Publish
	}
	if (o.IgnoreStaticIP || o.IgnoreStaticMAC) && len(cfg.NetworkOptions) > 0 {
		opts := make(map[string]network.Options, len(cfg.NetworkOptions))
		for k, v := range cfg.NetworkOptions {
			if o.IgnoreStaticIP {
				v.IP, v.IP6 = "", ""
			}
			if o.IgnoreStaticMAC {
				v.MAC = ""
			}
			opts[k] = v
		}
		cfg.NetworkOptions = opts
	}
	c, err = e.Create(ctx, CreateOptions{
		Config:       cfg,
		ResolveImage: func(context.Context, string) (string, string, error) { return imageID, m.Image, nil },
	})
	return c, loaded, err
}

// checkpointImage finds the archive's image here: by ID, or by name only
// when the name is the same image. An image missing here is loaded from
// the archive when it carries it (its path arrives on image), else pulled
// through registries.conf (mirrors included), by its recorded digest
// first, then by its name, and must have the recorded ID. loaded is the
// ID of an image loaded from the archive.
func (e *Engine) checkpointImage(ctx context.Context, m *CheckpointManifest, image <-chan string) (id, loaded string, err error) {
	if img, err := e.Store.Image(m.ImageID); err == nil && img.ID == m.ImageID {
		return img.ID, "", nil
	}
	if m.Image != "" {
		if found, err := imagestore.Lookup(e.Store, m.Image); err == nil {
			return "", "", fmt.Errorf("image %s here is %.12s, not %.12s that the checkpoint was made from", m.Image, found.ID, m.ImageID)
		}
	}
	if m.ImageArchive != "" {
		p, ok := <-image
		if !ok {
			return "", "", fmt.Errorf("%w: %s is missing", ErrBadArchive, archiveImage)
		}
		id, err := e.loadEmbeddedImage(ctx, m, p)
		if err != nil {
			return "", "", err
		}
		return id, id, nil
	}
	id, err = e.pullCheckpointImage(ctx, m)
	return id, "", err
}

// pullCheckpointImage pulls the archive's image by its digest, then by
// its name.
func (e *Engine) pullCheckpointImage(ctx context.Context, m *CheckpointManifest) (string, error) {
	missing := fmt.Errorf("image %s (%.12s) that the checkpoint was made from is not in this store: load or pull it first, or checkpoint with --include-image", m.Image, m.ImageID)
	if m.Image == "" || strings.HasPrefix(m.Image, "localhost/") || strings.HasPrefix(m.Image, "sha256:") {
		return "", missing
	}
	var refs []string
	if named, err := imagestore.NormalizeName(m.Image); err == nil && m.ImageDigest != "" {
		refs = append(refs, reference.TrimNamed(named).String()+"@"+m.ImageDigest)
	}
	refs = append(refs, m.Image)
	had := map[string]bool{}
	if imgs, err := e.Store.Images(); err == nil {
		for _, img := range imgs {
			had[img.ID] = true
		}
	}
	var errs []string
	for _, ref := range refs {
		imgs, err := imagestore.Pull(ctx, e.Store, ref, imagestore.PullOptions{Policy: "missing"})
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		for _, img := range imgs {
			if img.ID == m.ImageID {
				return img.ID, nil
			}
		}
		errs = append(errs, fmt.Sprintf("%s is %.12s, not %.12s", ref, imgs[0].ID, m.ImageID))
		// Not the checkpoint's image: it would stand in the way as a
		// same-named image with another ID.
		for _, img := range imgs {
			if had[img.ID] {
				continue
			}
			if _, rerrs := imagestore.Remove(e.Store, []string{img.ID}, imagestore.RemoveOptions{}); len(rerrs) > 0 {
				logrus.Warnf("removing %s pulled for the restore: %v", ref, rerrs[0])
			}
		}
	}
	return "", fmt.Errorf("image %s (%.12s) that the checkpoint was made from is not in this store and pulling it failed (checkpoint with --include-image for a target without registry access): %s", m.Image, m.ImageID, strings.Join(errs, "; "))
}

// importInto fills the new container c from the unpacked archive in dir
// (and its pre-checkpoint prev) and restores it.
func (e *Engine) importInto(ctx context.Context, c *Container, m *CheckpointManifest, dir string, prev *previous, criuPath string, o RestoreOptions, created *[]string) (*RestoreResult, error) {
	if !o.IgnoreRootfs && !m.RootfsIgnored {
		sc, err := e.Store.Container(c.ID)
		if err != nil {
			return nil, err
		}
		f, err := os.Open(filepath.Join(dir, archiveDiff))
		if err != nil {
			return nil, err
		}
		_, err = e.Store.ApplyDiff(sc.LayerID, f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("applying the root filesystem changes: %w", err)
		}
		var deleted []string
		if b, err := os.ReadFile(filepath.Join(dir, archiveDeleted)); err == nil {
			if err := json.Unmarshal(b, &deleted); err != nil {
				return nil, fmt.Errorf("%w: corrupt %s: %v", ErrBadArchive, archiveDeleted, err)
			}
		}
		if err := e.removeDeleted(c, deleted); err != nil {
			return nil, err
		}
	}
	if !o.IgnoreVolumes {
		if err := e.importVolumes(m, dir, created); err != nil {
			return nil, err
		}
	}
	imgDir, err := e.checkpointDir(c.ID)
	if err != nil {
		return nil, err
	}
	if err := os.RemoveAll(imgDir); err != nil {
		return nil, err
	}
	if err := os.Rename(filepath.Join(dir, archiveImages), imgDir); err != nil {
		return nil, err
	}
	if prev != nil {
		if err := e.installPrevious(c, prev, imgDir); err != nil {
			return nil, err
		}
	}
	cur, release, err := e.acquireOp(ctx, c.ID, "restore")
	if err != nil {
		return nil, err
	}
	defer release()
	c = cur
	c.State = State{Status: StatusExited, Checkpointed: true}
	if err := e.writeState(c.ID, c.State); err != nil {
		return nil, err
	}
	return e.restore(ctx, c, criuPath, o)
}

// removeDeleted removes what the source container had deleted, where the
// applied diff left it (its whiteouts normally have).
func (e *Engine) removeDeleted(c *Container, deleted []string) error {
	if len(deleted) == 0 {
		return nil
	}
	mnt, err := e.Store.Mount(c.ID, "")
	if err != nil {
		return err
	}
	defer func() { _, _ = e.Store.Unmount(c.ID, false) }()
	for _, d := range deleted {
		p, err := secureJoin(mnt, d)
		if err != nil || p == mnt {
			continue
		}
		if _, err := os.Lstat(p); err == nil {
			if err := os.RemoveAll(p); err != nil {
				return fmt.Errorf("removing %s deleted in the source: %w", d, err)
			}
		}
	}
	return nil
}

// keepRestoreLog copies CRIU's restore log of a container about to be
// removed to the engine's directory, and points the error at the copy.
func (e *Engine) keepRestoreLog(c *Container, err error) error {
	var ce *oci.CRIUError
	if !errors.As(err, &ce) || ce.Log == "" {
		return err
	}
	b, rerr := os.ReadFile(ce.Log)
	if rerr != nil {
		return err
	}
	dir := filepath.Join(e.Dir, "criu-logs")
	if os.MkdirAll(dir, 0o700) != nil {
		return err
	}
	p := filepath.Join(dir, c.ID[:12]+"-restore.log")
	if os.WriteFile(p, b, 0o600) == nil {
		ce.Log = p
	}
	return err
}

// layerDiff writes the container layer's changes as a tar to f. A layer
// filled by an import's ApplyDiff carries that diff's tar-split, which
// store.Diff replays and checks against files changed since ("file
// integrity checksum failed"); such a layer's changes are read from its
// mounted root filesystem instead.
func (e *Engine) layerDiff(c *Container, layerID string, changes []archive.Change, f *os.File) error {
	uncompressed := archive.Uncompressed
	rc, err := e.Store.Diff("", layerID, &storage.DiffOptions{Compression: &uncompressed})
	if err == nil {
		_, err = io.Copy(f, rc)
		rc.Close()
	}
	if err == nil || len(c.UIDMap) > 0 {
		return err
	}
	logrus.Debugf("store.Diff of %s: %v: reading its changes from the mounted layer", c.Name, err)
	if err := f.Truncate(0); err != nil {
		return err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	mnt, err := e.Store.Mount(c.ID, "")
	if err != nil {
		return err
	}
	defer func() { _, _ = e.Store.Unmount(c.ID, false) }()
	rc, err = archive.ExportChanges(mnt, changes, nil, nil)
	if err != nil {
		return err
	}
	defer rc.Close()
	_, err = io.Copy(f, rc)
	return err
}
