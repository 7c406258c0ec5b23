package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/containers/image/v5/docker/reference"
	"github.com/containers/image/v5/manifest"
	"github.com/containers/image/v5/types"
	digest "github.com/opencontainers/go-digest"
	"github.com/sirupsen/logrus"

	"github.com/ocisuite/suite/shared/retry"
)

// Destination returns ref, a docker:// reference, with a destination that
// writes blobs and manifests with a Client, so that the retry rule covers
// them too: containers/image's own docker destination does not retry a
// request with a body (a blob upload, a manifest PUT) answered 429 Too
// Many Requests, and returns that error without the server's Retry-After.
// A manifest PUT is retried in place; a failed upload's error carries the
// Retry-After (see Client.Upload) for the caller's retry of the copy.
// Blob lookups and mounts, signatures and everything else are left to
// containers/image's destination, and so is all of it for a registry the
// Client does not handle.
//
// containers/image reaches a wrapped destination through its public
// interface only, so that it cannot store sigstore signatures there and
// reuses no blob when the copy requires a compression format: use the
// reference only for copies that need neither.
func Destination(ref types.ImageReference) types.ImageReference {
	return destRef{ImageReference: ref}
}

type destRef struct{ types.ImageReference }

func (r destRef) NewImageDestination(ctx context.Context, sys *types.SystemContext) (types.ImageDestination, error) {
	inner, err := r.ImageReference.NewImageDestination(ctx, sys)
	if err != nil {
		return nil, err
	}
	named := r.DockerReference()
	if named == nil {
		return inner, nil
	}
	return &destination{ImageDestination: inner, sys: sys, named: named}, nil
}

// destination is the destination of a destRef.
type destination struct {
	types.ImageDestination
	sys   *types.SystemContext
	named reference.Named

	mu   sync.Mutex
	c    *Client
	cerr error
	top  digest.Digest // of the last manifest written for the reference itself
}

// client is the Client for the destination's registry, made at first
// use; nil for a registry the Client does not handle.
func (d *destination) client(ctx context.Context) (*Client, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.c == nil && d.cerr == nil {
		d.c, d.cerr = New(ctx, d.sys, reference.Domain(d.named), retry.Options{})
		if errors.Is(d.cerr, ErrUnsupported) {
			logrus.Debugf("writing to %s with containers/image: %v", d.named.Name(), d.cerr)
		}
	}
	if errors.Is(d.cerr, ErrUnsupported) {
		return nil, nil
	}
	return d.c, d.cerr
}

func (d *destination) Close() error {
	d.mu.Lock()
	if d.c != nil {
		d.c.Close()
	}
	d.mu.Unlock()
	return d.ImageDestination.Close()
}

func (d *destination) PutBlob(ctx context.Context, stream io.Reader, info types.BlobInfo, cache types.BlobInfoCache, isConfig bool) (types.BlobInfo, error) {
	c, err := d.client(ctx)
	if err != nil {
		return types.BlobInfo{}, err
	}
	if c == nil || (info.Digest == "" && d.sys != nil && d.sys.DockerRegistryPushPrecomputeDigests) {
		return d.ImageDestination.PutBlob(ctx, stream, info, cache, isConfig)
	}
	dg, size, err := c.Upload(ctx, reference.Path(d.named), stream, info.Digest, info.Size)
	if err != nil {
		return types.BlobInfo{}, err
	}
	// As containers/image's destination records it, for mounts by later
	// copies.
	cache.RecordKnownLocation(d.Reference().Transport(), types.BICTransportScope{Opaque: reference.Domain(d.named)}, dg, types.BICLocationReference{Opaque: d.named.Name()})
	return types.BlobInfo{Digest: dg, Size: size}, nil
}

func (d *destination) PutManifest(ctx context.Context, m []byte, instanceDigest *digest.Digest) error {
	c, err := d.client(ctx)
	if err != nil {
		return err
	}
	if c == nil {
		return d.ImageDestination.PutManifest(ctx, m, instanceDigest)
	}
	dg, err := manifest.Digest(m)
	if err != nil {
		return err
	}
	ref := dg.String()
	if instanceDigest != nil {
		if ok, err := manifest.MatchesDigest(m, *instanceDigest); err != nil || !ok {
			return fmt.Errorf("writing a manifest of %s as %s: its digest is %s (%v)", d.named.Name(), instanceDigest, dg, err)
		}
		ref = instanceDigest.String()
	} else {
		d.mu.Lock()
		d.top = dg
		d.mu.Unlock()
		switch n := d.named.(type) {
		case reference.Tagged:
			ref = n.Tag()
		case reference.Digested:
			ref = n.Digest().String()
		}
	}
	if err := c.PutManifest(ctx, reference.Path(d.named), ref, m, manifest.GuessMIMEType(m)); err != nil {
		err = fmt.Errorf("uploading manifest %s to %s: %w", ref, d.named.Name(), err)
		if manifestRejected(err) {
			return types.ManifestTypeRejectedError{Err: err}
		}
		return err
	}
	return nil
}

// manifestRejected reports whether err is a registry's refusal of a
// manifest's format, after which containers/image tries another format;
// the same errors as containers/image's destination.
func manifestRejected(err error) bool {
	var he *HTTPError
	if !errors.As(err, &he) {
		return false
	}
	switch he.Code {
	case "MANIFEST_INVALID", "TAG_INVALID":
		return true
	case "UNSUPPORTED": // AWS ECR, for an OCI manifest without a media type
		return strings.Contains(he.Message, "Invalid JSON syntax")
	}
	return false
}

// PutSignatures stores signatures with containers/image's destination,
// naming the manifest it did not write itself.
func (d *destination) PutSignatures(ctx context.Context, signatures [][]byte, instanceDigest *digest.Digest) error {
	if instanceDigest == nil {
		d.mu.Lock()
		top := d.top
		d.mu.Unlock()
		if top != "" {
			instanceDigest = &top
		}
	}
	return d.ImageDestination.PutSignatures(ctx, signatures, instanceDigest)
}
