//go:build !thin

package container

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/containers/image/v5/docker/reference"
	"github.com/containers/image/v5/manifest"
	istorage "github.com/containers/image/v5/storage"
	"github.com/containers/image/v5/types"
	digest "github.com/opencontainers/go-digest"
	imgspecs "github.com/opencontainers/image-spec/specs-go"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/sirupsen/logrus"

	shimage "github.com/ocisuite/suite/shared/image"
	"github.com/ocisuite/suite/shared/imagestore"
)

// CommitOptions are commit's options.
type CommitOptions struct {
	// Name is the new image's reference ("" leaves it unnamed).
	Name string
	// Changes are Containerfile instructions applied to the configuration
	// (as image.ApplyChanges).
	Changes []string
	Message string
	Author  string
	// Pause freezes a running container while its layer is read.
	Pause bool
	// Format is "oci" (default) or "docker".
	Format   string
	Progress io.Writer
}

// Commit makes an image of the container: its image's layers plus one
// layer holding what the container changed, the container's command,
// environment, working directory, user and labels as the configuration
// (then the changes), and a history entry. It returns the image ID.
func (e *Engine) Commit(ctx context.Context, id string, o CommitOptions) (string, error) {
	var forceMIME string
	switch o.Format {
	case "", "oci":
	case "docker":
		forceMIME = manifest.DockerV2Schema2MediaType
	default:
		return "", fmt.Errorf("invalid format %q: want oci or docker", o.Format)
	}
	var named reference.Named
	if o.Name != "" {
		var err error
		if named, err = imagestore.NormalizeName(o.Name); err != nil {
			return "", err
		}
	}
	c, layer, cleanup, err := e.diffLayer(ctx, id, o.Pause)
	if err != nil {
		return "", err
	}
	defer cleanup()

	imgRef, err := istorage.Transport.NewStoreReference(e.Store, nil, c.ImageID)
	if err != nil {
		return "", err
	}
	base, err := imgRef.NewImageSource(ctx, nil)
	if err != nil {
		return "", fmt.Errorf("reading image %s of %s: %w", c.ImageID, c.Name, err)
	}
	defer base.Close()
	cfg, _, err := e.imageConfig(ctx, c.ImageID)
	if err != nil {
		return "", err
	}
	now := time.Now().UTC()
	ic := &cfg.Config
	ic.Env = slices.Clone(c.Env)
	ic.Entrypoint = slices.Clone(c.Entrypoint)
	ic.Cmd = slices.Clone(c.Command)
	ic.WorkingDir = c.WorkDir
	ic.User = c.User
	ic.Labels = c.Labels
	if err := imagestore.ApplyChanges(ic, o.Changes); err != nil {
		return "", err
	}
	cfg.Created = &now
	if o.Author != "" {
		cfg.Author = o.Author
	}
	cfg.RootFS.Type = "layers"
	cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, layer.digest)
	cfg.History = append(cfg.History, v1.History{
		Created: &now, Author: o.Author, Comment: o.Message,
		CreatedBy: strings.Join(append(slices.Clone(c.Entrypoint), c.Command...), " "),
	})
	configBlob, err := json.Marshal(cfg)
	if err != nil {
		return "", err
	}
	manBlob, err := commitManifest(ctx, base, configBlob, layer)
	if err != nil {
		return "", err
	}
	src := &commitSource{ImageSource: base, manifest: manBlob, config: configBlob, configDigest: digest.FromBytes(configBlob), layer: layer}
	var dst types.ImageReference
	tmpName := ""
	if named != nil {
		dst, err = istorage.Transport.NewStoreReference(e.Store, named, "")
	} else {
		b := make([]byte, 8)
		_, _ = rand.Read(b)
		tmpName = "localhost/engine-commit-tmp:" + hex.EncodeToString(b)
		var n reference.Named
		if n, err = reference.ParseNormalizedNamed(tmpName); err == nil {
			dst, err = istorage.Transport.NewStoreReference(e.Store, n, "")
		}
	}
	if err != nil {
		return "", err
	}
	if _, err := shimage.Copy(ctx, commitRef{ImageReference: imgRef, src: src}, dst, shimage.CopyOptions{
		InsecurePolicy: true, Progress: o.Progress, ForceManifestMIMEType: forceMIME,
	}); err != nil {
		return "", fmt.Errorf("committing %s: %w", c.Name, err)
	}
	_, img, err := istorage.ResolveReference(dst)
	if err != nil {
		return "", fmt.Errorf("finding the committed image: %w", err)
	}
	if tmpName != "" {
		if err := e.Store.RemoveNames(img.ID, []string{tmpName}); err != nil {
			logrus.Warnf("removing the temporary name %s: %v", tmpName, err)
		}
	}
	e.event(c, "commit")
	return img.ID, nil
}

// diffFile is the container's layer as an uncompressed tar in a file.
type diffFile struct {
	path   string
	digest digest.Digest
	size   int64
}

// diffLayer writes the container's changes to a temporary file, with the
// container paused meanwhile if asked and running.
func (e *Engine) diffLayer(ctx context.Context, id string, pause bool) (*Container, *diffFile, func(), error) {
	c, unlock, err := e.acquireOp(ctx, id, "commit")
	if err != nil {
		return nil, nil, nil, err
	}
	defer unlock()
	if pause && c.State.Status == StatusRunning {
		if err := e.Runtime.Pause(ctx, c.ID); err != nil {
			return nil, nil, nil, fmt.Errorf("pausing %s: %w", c.Name, err)
		}
		defer func() {
			if err := e.Runtime.Resume(ctx, c.ID); err != nil {
				logrus.Warnf("resuming %s: %v", c.Name, err)
			}
		}()
	}
	sc, err := e.Store.Container(c.ID)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("container %s: %w", c.Name, err)
	}
	f, err := os.CreateTemp("", "engine-commit-*.tar")
	if err != nil {
		return nil, nil, nil, err
	}
	cleanup := func() { os.Remove(f.Name()) }
	changes, err := e.Store.Changes("", sc.LayerID)
	if err == nil {
		// As for checkpoints: a layer filled by an import is read from
		// its mounted files when the store's recorded diff no longer fits.
		err = e.layerDiff(c, sc.LayerID, changes, f)
	}
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	dg := digest.Canonical.Digester()
	var n int64
	if err == nil {
		n, err = io.Copy(dg.Hash(), f)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		cleanup()
		return nil, nil, nil, fmt.Errorf("reading the changes of %s: %w", c.Name, err)
	}
	return c, &diffFile{path: f.Name(), digest: dg.Digest(), size: n}, cleanup, nil
}

// ociLayerTypes maps layer media types to OCI's.
var ociLayerTypes = map[string]string{
	manifest.DockerV2Schema2LayerMediaType:            v1.MediaTypeImageLayerGzip,
	manifest.DockerV2SchemaLayerMediaTypeUncompressed: v1.MediaTypeImageLayer,
	v1.MediaTypeImageLayerGzip:                        v1.MediaTypeImageLayerGzip,
	v1.MediaTypeImageLayer:                            v1.MediaTypeImageLayer,
	v1.MediaTypeImageLayerZstd:                        v1.MediaTypeImageLayerZstd,
}

// commitManifest is an OCI manifest of the base image's layers and the new
// one, with configBlob as the configuration.
func commitManifest(ctx context.Context, base types.ImageSource, configBlob []byte, layer *diffFile) ([]byte, error) {
	b, mt, err := base.GetManifest(ctx, nil)
	if err != nil {
		return nil, err
	}
	m, err := manifest.FromBlob(b, mt)
	if err != nil {
		return nil, fmt.Errorf("reading the manifest of the container's image: %w", err)
	}
	var layers []v1.Descriptor
	for _, l := range m.LayerInfos() {
		t, ok := ociLayerTypes[l.MediaType]
		if !ok {
			return nil, fmt.Errorf("the image has a layer of type %s, which commit cannot carry over", l.MediaType)
		}
		layers = append(layers, v1.Descriptor{MediaType: t, Digest: l.Digest, Size: l.Size})
	}
	layers = append(layers, v1.Descriptor{MediaType: v1.MediaTypeImageLayer, Digest: layer.digest, Size: layer.size})
	out := v1.Manifest{
		Versioned: imgspecs.Versioned{SchemaVersion: 2},
		MediaType: v1.MediaTypeImageManifest,
		Config:    v1.Descriptor{MediaType: v1.MediaTypeImageConfig, Digest: digest.FromBytes(configBlob), Size: int64(len(configBlob))},
		Layers:    layers,
	}
	return json.Marshal(out)
}

// commitSource is the base image's source with a new manifest, config and
// top layer; every other blob comes from the base (and the store already
// has them, so a copy into it reuses them).
type commitSource struct {
	types.ImageSource
	manifest, config []byte
	configDigest     digest.Digest
	layer            *diffFile
}

func (s *commitSource) GetManifest(ctx context.Context, instance *digest.Digest) ([]byte, string, error) {
	if instance != nil {
		return nil, "", errors.New("commit source has one manifest")
	}
	return s.manifest, v1.MediaTypeImageManifest, nil
}

func (s *commitSource) GetBlob(ctx context.Context, info types.BlobInfo, cache types.BlobInfoCache) (io.ReadCloser, int64, error) {
	switch info.Digest {
	case s.configDigest:
		return io.NopCloser(strings.NewReader(string(s.config))), int64(len(s.config)), nil
	case s.layer.digest:
		f, err := os.Open(s.layer.path)
		if err != nil {
			return nil, 0, err
		}
		return f, s.layer.size, nil
	}
	return s.ImageSource.GetBlob(ctx, info, cache)
}

func (s *commitSource) HasThreadSafeGetBlob() bool { return false }

func (s *commitSource) GetSignatures(context.Context, *digest.Digest) ([][]byte, error) {
	return nil, nil
}

func (s *commitSource) LayerInfosForCopy(context.Context, *digest.Digest) ([]types.BlobInfo, error) {
	return nil, nil
}

// Close leaves the base open: Commit closes it.
func (s *commitSource) Close() error { return nil }

// commitRef is the base image's reference whose source is the commit.
type commitRef struct {
	types.ImageReference
	src *commitSource
}

func (r commitRef) NewImageSource(context.Context, *types.SystemContext) (types.ImageSource, error) {
	return r.src, nil
}
