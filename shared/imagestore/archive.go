//go:build !thin

package imagestore

import (
	"archive/tar"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/containers/image/v5/copy"
	"github.com/containers/image/v5/directory"
	"github.com/containers/image/v5/docker/archive"
	"github.com/containers/image/v5/docker/reference"
	"github.com/containers/image/v5/manifest"
	ociarchive "github.com/containers/image/v5/oci/archive"
	ocilayout "github.com/containers/image/v5/oci/layout"
	istorage "github.com/containers/image/v5/storage"
	"github.com/containers/image/v5/types"
	"github.com/containers/storage"
	starchive "github.com/containers/storage/pkg/archive"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"

	shimage "github.com/ocisuite/suite/shared/image"
)

// Save formats (podman save --format).
const (
	FormatDockerArchive = "docker-archive"
	FormatOCIArchive    = "oci-archive"
	FormatOCIDir        = "oci-dir"
	FormatDockerDir     = "docker-dir"
)

// SaveOptions control Save.
type SaveOptions struct {
	// Format is docker-archive (default), oci-archive, oci-dir or docker-dir.
	Format string
	// Output is the file (archives) or directory (dir formats) to write.
	Output string
	// MultiImage writes several images into one docker-archive.
	MultiImage bool
	// Compress compresses layers in the directory formats.
	Compress bool
	// Progress receives the copy's steps; nil: quiet.
	Progress io.Writer
}

// Save writes local images to o.Output. Several images need
// docker-archive with MultiImage; each is stored under the name it was
// asked for (or its first name when asked for by ID).
func Save(ctx context.Context, s storage.Store, names []string, o SaveOptions) error {
	if o.Format == "" {
		o.Format = FormatDockerArchive
	}
	if o.Output == "" {
		return errors.New("no output given")
	}
	if len(names) == 0 {
		return errors.New("no image given")
	}
	if len(names) > 1 && !(o.Format == FormatDockerArchive && o.MultiImage) {
		return fmt.Errorf("saving several images needs --format docker-archive and --multi-image-archive")
	}
	copyOpts := shimage.CopyOptions{InsecurePolicy: true, Progress: o.Progress}
	if o.Format == FormatDockerArchive && o.MultiImage {
		w, err := archive.NewWriter(nil, o.Output)
		if err != nil {
			return fmt.Errorf("creating %s: %w", o.Output, err)
		}
		for _, n := range names {
			f, err := Lookup(s, n)
			if err != nil {
				_ = w.Close()
				return err
			}
			src, err := storeRef(s, f.Image)
			if err != nil {
				_ = w.Close()
				return err
			}
			var dst types.ImageReference
			tagged := saveName(f)
			if tagged == nil {
				_ = w.Close()
				return fmt.Errorf("%s has no name: a multi-image archive needs names", n)
			}
			if dst, err = w.NewReference(tagged); err != nil {
				_ = w.Close()
				return err
			}
			if _, err := shimage.Copy(ctx, src, dst, copyOpts); err != nil {
				_ = w.Close()
				return err
			}
		}
		return w.Close()
	}
	f, err := Lookup(s, names[0])
	if err != nil {
		return err
	}
	src, err := storeRef(s, f.Image)
	if err != nil {
		return err
	}
	tagged := saveName(f)
	var dst types.ImageReference
	switch o.Format {
	case FormatDockerArchive:
		dst, err = archive.NewReference(o.Output, tagged)
	case FormatOCIArchive:
		dst, err = ociarchive.NewReference(o.Output, refName(tagged))
		copyOpts.ForceManifestMIMEType = imgspecv1.MediaTypeImageManifest
	case FormatOCIDir:
		dst, err = ocilayout.NewReference(o.Output, refName(tagged))
		copyOpts.ForceManifestMIMEType = imgspecv1.MediaTypeImageManifest
	case FormatDockerDir:
		dst, err = directory.NewReference(o.Output)
		copyOpts.ForceManifestMIMEType = manifest.DockerV2Schema2MediaType
	default:
		return fmt.Errorf("invalid format %q: want docker-archive, oci-archive, oci-dir or docker-dir", o.Format)
	}
	if err != nil {
		return err
	}
	if (o.Format == FormatOCIDir || o.Format == FormatDockerDir) && !o.Compress {
		copyOpts.DestCtx = &types.SystemContext{DirForceDecompress: true, OCIAcceptUncompressedLayers: true}
	} else if o.Format == FormatDockerDir {
		copyOpts.DestCtx = &types.SystemContext{DirForceCompress: true}
	}
	_, err = shimage.Copy(ctx, src, dst, copyOpts)
	return err
}

// saveName is the name an image is saved under: the one it was found by,
// else its first name; nil for an image without names.
func saveName(f Found) reference.NamedTagged {
	n := f.Name
	if n == "" && len(f.Names) > 0 {
		n = f.Names[0]
	}
	if n == "" {
		return nil
	}
	named, err := reference.ParseNormalizedNamed(n)
	if err != nil {
		return nil
	}
	if t, ok := reference.TagNameOnly(named).(reference.NamedTagged); ok {
		return t
	}
	return nil
}

func refName(t reference.NamedTagged) string {
	if t == nil {
		return ""
	}
	return t.String()
}

// LoadOptions control Load.
type LoadOptions struct {
	Sys        shimage.SystemOptions
	Progress   io.Writer
	PolicyPath string
}

// LoadResult lists what Load stored.
type LoadResult struct {
	// Names are the names the images were stored under, or "sha256:ID"
	// for an image without one.
	Names  []string
	Images []*storage.Image
}

// Load reads the images of an archive or layout into the store. input is
// a path (a docker-archive or oci-archive tar, an OCI layout or a dir:
// directory, recognised by their contents) or TRANSPORT:DETAILS.
func Load(ctx context.Context, s storage.Store, input string, o LoadOptions) (LoadResult, error) {
	sys, err := o.Sys.SystemContext()
	if err != nil {
		return LoadResult{}, err
	}
	copyOpts := shimage.CopyOptions{SourceCtx: sys, PolicyPath: o.PolicyPath, Progress: o.Progress}
	transport, path, ok := strings.Cut(input, ":")
	if !ok || !knownLoadTransport(transport) {
		transport, path = detectFormat(input), input
		if transport == "" {
			return LoadResult{}, fmt.Errorf("%s: not a docker-archive, oci-archive, OCI layout or dir: image", input)
		}
	}
	switch transport {
	case "docker-archive":
		return loadDockerArchive(ctx, s, path, sys, copyOpts)
	case "oci-archive", "oci":
		file, image, _ := strings.Cut(path, ":")
		var src types.ImageReference
		if transport == "oci" {
			src, err = ocilayout.NewReference(file, image)
		} else {
			src, err = ociarchive.NewReference(file, image)
		}
		if err != nil {
			return LoadResult{}, err
		}
		name := image
		if name == "" {
			name = ociRefName(transport, file)
		}
		return loadOne(ctx, s, src, loadName(name), copyOpts)
	case "dir":
		src, err := directory.NewReference(path)
		if err != nil {
			return LoadResult{}, err
		}
		return loadOne(ctx, s, src, nil, copyOpts)
	}
	return LoadResult{}, fmt.Errorf("%s: cannot load from transport %q", input, transport)
}

func knownLoadTransport(t string) bool {
	switch t {
	case "docker-archive", "oci-archive", "oci", "dir":
		return true
	}
	return false
}

// detectFormat recognises a path's format by its contents.
func detectFormat(path string) string {
	st, err := os.Stat(path)
	if err != nil {
		return ""
	}
	if st.IsDir() {
		if _, err := os.Stat(path + "/index.json"); err == nil {
			return "oci"
		}
		if _, err := os.Stat(path + "/manifest.json"); err == nil {
			return "dir"
		}
		return ""
	}
	names := tarNames(path, 200)
	switch {
	case names["manifest.json"]:
		return "docker-archive"
	case names["index.json"] || names["oci-layout"]:
		return "oci-archive"
	}
	return ""
}

// tarNames lists up to max entry names of a (possibly compressed) tar.
func tarNames(path string, max int) map[string]bool {
	out := map[string]bool{}
	f, err := os.Open(path)
	if err != nil {
		return out
	}
	defer f.Close()
	r, err := starchive.DecompressStream(f)
	if err != nil {
		return out
	}
	defer r.Close()
	tr := tar.NewReader(r)
	for i := 0; i < max; i++ {
		h, err := tr.Next()
		if err != nil {
			break
		}
		out[strings.TrimPrefix(h.Name, "./")] = true
	}
	return out
}

// ociRefName reads the org.opencontainers.image.ref.name annotation of the
// only image of an OCI layout or archive ("" when absent or ambiguous).
func ociRefName(transport, path string) string {
	var b []byte
	if transport == "oci" {
		b, _ = os.ReadFile(path + "/index.json")
	} else {
		f, err := os.Open(path)
		if err != nil {
			return ""
		}
		defer f.Close()
		tr := tar.NewReader(f)
		for {
			h, err := tr.Next()
			if err != nil {
				return ""
			}
			if strings.TrimPrefix(h.Name, "./") == "index.json" {
				b, _ = io.ReadAll(io.LimitReader(tr, 4<<20))
				break
			}
		}
	}
	var idx imgspecv1.Index
	if json.Unmarshal(b, &idx) != nil || len(idx.Manifests) != 1 {
		return ""
	}
	return idx.Manifests[0].Annotations[imgspecv1.AnnotationRefName]
}

// loadName turns an archive's name for an image into the stored name: a
// qualified name as is, "name:tag" under localhost/, a bare tag not at all.
func loadName(name string) reference.Named {
	if name == "" {
		return nil
	}
	if !strings.ContainsAny(name, "/:") {
		// A bare tag ("latest"), as oci layouts often carry, names no
		// repository: the image is loaded by ID.
		return nil
	}
	n, err := NormalizeName(name)
	if err != nil {
		return nil
	}
	return n
}

func loadDockerArchive(ctx context.Context, s storage.Store, path string, sys *types.SystemContext, copyOpts shimage.CopyOptions) (LoadResult, error) {
	r, err := archive.NewReader(sys, path)
	if err != nil {
		return LoadResult{}, fmt.Errorf("reading %s: %w", path, err)
	}
	defer r.Close()
	list, err := r.List()
	if err != nil {
		return LoadResult{}, fmt.Errorf("reading %s: %w", path, err)
	}
	var res LoadResult
	for _, refs := range list {
		var names []reference.Named
		for _, ref := range refs {
			if n := ref.DockerReference(); n != nil {
				names = append(names, n)
			}
		}
		var first reference.Named
		if len(names) > 0 {
			first = names[0]
		}
		one, err := loadOne(ctx, s, refs[0], first, copyOpts)
		if err != nil {
			return res, err
		}
		img := one.Images[0]
		res.Images = append(res.Images, img)
		res.Names = append(res.Names, one.Names...)
		for _, n := range names[min(1, len(names)):] {
			if err := s.AddNames(img.ID, []string{n.String()}); err != nil {
				return res, fmt.Errorf("tagging %s as %s: %w", shortID(img.ID), n, err)
			}
			res.Names = append(res.Names, n.String())
		}
	}
	return res, nil
}

// loadOne copies src into the store under name (none when nil).
func loadOne(ctx context.Context, s storage.Store, src types.ImageReference, name reference.Named, copyOpts shimage.CopyOptions) (LoadResult, error) {
	var dst types.ImageReference
	var err error
	if name != nil {
		dst, err = istorage.Transport.NewStoreReference(s, name, "")
	} else {
		// No name: the image is known by its ID, the config's digest.
		dst, err = tempNameRef(s)
	}
	if err != nil {
		return LoadResult{}, err
	}
	copyOpts.ImageListSelection = copy.CopySystemImage
	if _, err := shimage.Copy(ctx, src, dst, copyOpts); err != nil {
		return LoadResult{}, err
	}
	_, img, err := istorage.ResolveReference(dst)
	if err != nil {
		return LoadResult{}, fmt.Errorf("finding the loaded image: %w", err)
	}
	if name == nil {
		if err := dropTempName(s, img); err != nil {
			return LoadResult{}, err
		}
		return LoadResult{Names: []string{"sha256:" + img.ID}, Images: []*storage.Image{img}}, nil
	}
	return LoadResult{Names: []string{name.String()}, Images: []*storage.Image{img}}, nil
}

// tempTagRepo names an image while it is copied into the store with no
// name of its own (containers/storage references need a name or an ID).
const tempTagRepo = "localhost/engine-unnamed-tmp"

func tempNameRef(s storage.Store) (types.ImageReference, error) {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	n, err := reference.ParseNormalizedNamed(tempTagRepo + ":" + hex.EncodeToString(b))
	if err != nil {
		return nil, err
	}
	return istorage.Transport.NewStoreReference(s, n, "")
}

// dropTempName removes the temporary names tempNameRef gave img.
func dropTempName(s storage.Store, img *storage.Image) error {
	var tmp []string
	var keep []string
	for _, n := range img.Names {
		if strings.HasPrefix(n, tempTagRepo+":") {
			tmp = append(tmp, n)
		} else {
			keep = append(keep, n)
		}
	}
	if len(tmp) == 0 {
		return nil
	}
	if err := s.RemoveNames(img.ID, tmp); err != nil {
		return fmt.Errorf("removing the temporary name of %s: %w", shortID(img.ID), err)
	}
	img.Names = keep
	return nil
}
