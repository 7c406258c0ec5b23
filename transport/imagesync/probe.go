package imagesync

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/containers/image/v5/copy"
	"github.com/containers/image/v5/docker"
	"github.com/containers/image/v5/docker/reference"
	cimage "github.com/containers/image/v5/image"
	"github.com/containers/image/v5/manifest"
	"github.com/containers/image/v5/types"
	"github.com/docker/distribution/registry/api/errcode"
	v2 "github.com/docker/distribution/registry/api/v2"
	digest "github.com/opencontainers/go-digest"

	"github.com/ocisuite/suite/shared/image"
)

// destTags lists each destination repository's tags once, so that images
// whose tag is not there yet need no HEAD request at the destination.
type destTags struct {
	lists memo[string, map[string]bool] // nil: unknown, ask with HEAD
}

// has reports whether the repository's tag list is known and, if so,
// whether it holds the item's tag.
func (d *destTags) has(ctx context.Context, it item, o Options) (known, present bool) {
	ref := unwrap(it.dst)
	named := ref.DockerReference()
	tagged, ok := named.(reference.NamedTagged)
	if !ok {
		return false, false
	}
	tags, _ := d.lists.get(named.Name(), func() (map[string]bool, error) {
		tags, err := docker.GetRepositoryTags(ctx, o.DestCtx, ref)
		if err != nil {
			var ec errcode.Error
			if errors.As(err, &ec) && ec.Code == v2.ErrorCodeNameUnknown {
				return map[string]bool{}, nil
			}
			return nil, nil
		}
		return tagSet(tags), nil
	})
	if tags == nil {
		return false, false
	}
	return true, tags[tagged.Tag()]
}

// tagSet is a repository's tag list as a set.
func tagSet(tags []string) map[string]bool {
	set := make(map[string]bool, len(tags))
	for _, t := range tags {
		set[t] = true
	}
	return set
}

// probe compares the source's manifest digest (HEAD, or the file of a dir:
// image) with the destination's (HEAD, or the file). A source that is a
// list copied without --all is read once more (one GET of the list) when
// the destination has another digest, to find the platform image a copy
// would write. With a forced manifest type an image is only skipped when
// the source already has that type.
func (d *destTags) probe(ctx context.Context, it item, o Options) probeResult {
	src, err := sourceDigest(ctx, it)
	if err != nil {
		return probeResult{} // the copy reports the error
	}
	res := probeResult{key: src}
	if it.repo != "" {
		if known, present := d.has(ctx, it, o); known && !present {
			return res
		}
	}
	dst, err := destDigest(ctx, it, o)
	if err != nil || dst == "" {
		return res
	}
	forced := o.Copy.ForceManifestMIMEType
	if dst == src && forced == "" {
		res.have = dst
		return res
	}
	if dst != src && o.Copy.ImageListSelection != copy.CopySystemImage {
		return res
	}
	b, mimeType, err := sourceManifest(ctx, it)
	if err != nil {
		return res
	}
	mimeType = manifest.NormalizedMIMEType(mimeType)
	if dst == src {
		if mimeType == forced {
			res.have = dst
		}
		return res
	}
	if !manifest.MIMETypeIsMultiImage(mimeType) {
		return res
	}
	list, err := manifest.ListFromBlob(b, mimeType)
	if err != nil {
		return res
	}
	inst, err := list.ChooseInstance(it.src.Sys)
	if err != nil || inst != dst {
		return res
	}
	if forced != "" {
		if _, t, err := sourceInstanceManifest(ctx, it, inst); err != nil || manifest.NormalizedMIMEType(t) != forced {
			return res
		}
	}
	res.have = dst
	return res
}

// sourceDigest is the source's manifest digest, by HEAD for a registry.
func sourceDigest(ctx context.Context, it item) (digest.Digest, error) {
	switch it.src.Ref.Transport().Name() {
	case "docker":
		return docker.GetDigest(ctx, it.src.Sys, it.src.Ref)
	case "dir":
		return fileDigest(filepath.Join(it.src.Ref.StringWithinTransport(), "manifest.json"))
	}
	return "", fmt.Errorf("no digest for %s", transportString(it.src.Ref))
}

// destDigest is the destination's manifest digest, or "" when it has no
// image there.
func destDigest(ctx context.Context, it item, o Options) (digest.Digest, error) {
	ref := unwrap(it.dst)
	switch ref.Transport().Name() {
	case "docker":
		return docker.GetDigest(ctx, o.DestCtx, ref)
	case "dir":
		d, err := fileDigest(filepath.Join(ref.StringWithinTransport(), "manifest.json"))
		if errors.Is(err, os.ErrNotExist) {
			return "", nil
		}
		return d, err
	}
	return "", nil
}

func fileDigest(p string) (digest.Digest, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return "", err
	}
	return manifest.Digest(b)
}

// sourceManifest reads the source's manifest (one GET for a registry).
func sourceManifest(ctx context.Context, it item) ([]byte, string, error) {
	return sourceInstanceManifest(ctx, it, "")
}

func sourceInstanceManifest(ctx context.Context, it item, instance digest.Digest) ([]byte, string, error) {
	src, err := it.src.Ref.NewImageSource(ctx, it.src.Sys)
	if err != nil {
		return nil, "", err
	}
	defer src.Close()
	var d *digest.Digest
	if instance != "" {
		d = &instance
	}
	return src.GetManifest(ctx, d)
}

// retag writes manifest under the item's destination tag, after checking
// that the trust policy accepts the item's own source reference (a policy
// can name tags).
func retag(ctx context.Context, it item, o Options, manifest []byte) error {
	if err := allowed(ctx, it, o); err != nil {
		return err
	}
	d, err := unwrap(it.dst).NewImageDestination(ctx, o.DestCtx)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.PutManifest(ctx, manifest, nil); err != nil {
		return err
	}
	return d.Commit(ctx, nil)
}

// allowed evaluates the trust policy for the item's source. The source is
// opened only if the policy needs to read it (a signature requirement), so
// that an accept-anything policy costs no request.
func allowed(ctx context.Context, it item, o Options) error {
	pc, err := image.PolicyContext(o.Copy.PolicyPath, o.Copy.InsecurePolicy, it.src.Sys)
	if err != nil {
		return err
	}
	defer func() { _ = pc.Destroy() }()
	src := &lazySource{ref: it.src.Ref, sys: it.src.Sys}
	defer src.Close()
	_, err = pc.IsRunningImageAllowed(ctx, cimage.UnparsedInstance(src, nil))
	return err
}

// lazySource is an ImageSource opened on first use.
type lazySource struct {
	ref  types.ImageReference
	sys  *types.SystemContext
	once sync.Once
	src  types.ImageSource
	err  error
}

func (s *lazySource) open(ctx context.Context) (types.ImageSource, error) {
	s.once.Do(func() { s.src, s.err = s.ref.NewImageSource(ctx, s.sys) })
	return s.src, s.err
}

func (s *lazySource) Reference() types.ImageReference { return s.ref }

func (s *lazySource) Close() error {
	if s.src != nil {
		return s.src.Close()
	}
	return nil
}

func (s *lazySource) GetManifest(ctx context.Context, instanceDigest *digest.Digest) ([]byte, string, error) {
	src, err := s.open(ctx)
	if err != nil {
		return nil, "", err
	}
	return src.GetManifest(ctx, instanceDigest)
}

func (s *lazySource) GetBlob(ctx context.Context, info types.BlobInfo, cache types.BlobInfoCache) (io.ReadCloser, int64, error) {
	src, err := s.open(ctx)
	if err != nil {
		return nil, 0, err
	}
	return src.GetBlob(ctx, info, cache)
}

func (s *lazySource) HasThreadSafeGetBlob() bool { return false }

func (s *lazySource) GetSignatures(ctx context.Context, instanceDigest *digest.Digest) ([][]byte, error) {
	src, err := s.open(ctx)
	if err != nil {
		return nil, err
	}
	return src.GetSignatures(ctx, instanceDigest)
}

func (s *lazySource) LayerInfosForCopy(ctx context.Context, instanceDigest *digest.Digest) ([]types.BlobInfo, error) {
	src, err := s.open(ctx)
	if err != nil {
		return nil, err
	}
	return src.LayerInfosForCopy(ctx, instanceDigest)
}

func unwrap(ref types.ImageReference) types.ImageReference {
	if s, ok := ref.(sharedRef); ok {
		return s.ImageReference
	}
	return ref
}
