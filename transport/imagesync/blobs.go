package imagesync

import (
	"context"
	"io"
	"sync"

	"github.com/containers/image/v5/types"
	digest "github.com/opencontainers/go-digest"
)

// uploads coordinates the blob uploads of one sync, so that a blob that
// several images copied in parallel need is sent once per destination
// repository: while one image uploads a blob, the others wait, then find it
// at the destination.
//
// Nothing is held between calls: an upload is marked in flight only inside
// PutBlob, so that a copy which asks for a blob and then uploads something
// else (a layer compressed on the fly) can never block another copy.
type uploads struct {
	mu       sync.Mutex
	inflight map[string]chan struct{} // "repo@digest" → closed when the upload ends
}

func newUploads() *uploads { return &uploads{inflight: map[string]chan struct{}{}} }

func uploadKey(repo string, d digest.Digest) string { return repo + "@" + d.String() }

// wait returns once no upload of key is in flight.
func (u *uploads) wait(ctx context.Context, key string) error {
	for {
		u.mu.Lock()
		ch, busy := u.inflight[key]
		u.mu.Unlock()
		if !busy {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// begin waits until no upload of key is in flight, then marks one; the
// caller must call the returned function when its upload has ended.
func (u *uploads) begin(ctx context.Context, key string) (func(), error) {
	for {
		u.mu.Lock()
		ch, busy := u.inflight[key]
		if !busy {
			ch = make(chan struct{})
			u.inflight[key] = ch
			u.mu.Unlock()
			return func() {
				u.mu.Lock()
				delete(u.inflight, key)
				u.mu.Unlock()
				close(ch)
			}, nil
		}
		u.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// sharedRef is a registry destination whose blob uploads go through
// uploads. It also notes whether the last thing a copy did was writing the
// manifest (see failedAfterManifest).
type sharedRef struct {
	types.ImageReference
	repo    string
	uploads *uploads
	state   *destState
}

// destState records the last call a copy made on a sharedRef's destination.
type destState struct {
	mu            sync.Mutex
	afterManifest bool
}

func (s *destState) set(afterManifest bool) {
	s.mu.Lock()
	s.afterManifest = afterManifest
	s.mu.Unlock()
}

func newSharedRef(ref types.ImageReference, repo string, u *uploads) sharedRef {
	return sharedRef{ImageReference: ref, repo: repo, uploads: u, state: &destState{}}
}

// failedAfterManifest reports whether the most recent copy to r wrote its
// manifest and then made no further call on the destination: a copy that
// failed there failed while creating or storing signatures. containers/image
// reaches a wrapped destination through the public interface only, which can
// store "simple signing" signatures but not sigstore ones; such a copy is
// worth repeating with the unwrapped reference.
func (r sharedRef) failedAfterManifest() bool {
	r.state.mu.Lock()
	defer r.state.mu.Unlock()
	return r.state.afterManifest
}

// WrapDestination makes r an image.DestinationWrapper: Copy's wrapping
// goes inside, so that uploads still go through r's destination.
func (r sharedRef) WrapDestination(wrap func(types.ImageReference) types.ImageReference) types.ImageReference {
	r.ImageReference = wrap(r.ImageReference)
	return r
}

func (r sharedRef) NewImageDestination(ctx context.Context, sys *types.SystemContext) (types.ImageDestination, error) {
	d, err := r.ImageReference.NewImageDestination(ctx, sys)
	if err != nil {
		return nil, err
	}
	r.state.set(false)
	return &sharedDest{ImageDestination: d, ref: r}, nil
}

// sharedDest is the destination of a sharedRef.
type sharedDest struct {
	types.ImageDestination
	ref sharedRef
}

// TryReusingBlob waits for an upload of the same blob to the same
// repository by another image, then asks the destination.
func (d *sharedDest) TryReusingBlob(ctx context.Context, info types.BlobInfo, cache types.BlobInfoCache, canSubstitute bool) (bool, types.BlobInfo, error) {
	d.ref.state.set(false)
	if info.Digest != "" {
		if err := d.ref.uploads.wait(ctx, uploadKey(d.ref.repo, info.Digest)); err != nil {
			return false, types.BlobInfo{}, err
		}
	}
	return d.ImageDestination.TryReusingBlob(ctx, info, cache, canSubstitute)
}

// PutBlob uploads with the blob marked in flight. A registry destination
// checks for the blob before uploading it, so an image that waited here for
// another image's upload of the same blob sends nothing.
func (d *sharedDest) PutBlob(ctx context.Context, stream io.Reader, info types.BlobInfo, cache types.BlobInfoCache, isConfig bool) (types.BlobInfo, error) {
	d.ref.state.set(false)
	if info.Digest != "" {
		end, err := d.ref.uploads.begin(ctx, uploadKey(d.ref.repo, info.Digest))
		if err != nil {
			return types.BlobInfo{}, err
		}
		defer end()
	}
	return d.ImageDestination.PutBlob(ctx, stream, info, cache, isConfig)
}

func (d *sharedDest) PutManifest(ctx context.Context, m []byte, instanceDigest *digest.Digest) error {
	d.ref.state.set(false)
	if err := d.ImageDestination.PutManifest(ctx, m, instanceDigest); err != nil {
		return err
	}
	d.ref.state.set(true)
	return nil
}

func (d *sharedDest) PutSignatures(ctx context.Context, signatures [][]byte, instanceDigest *digest.Digest) error {
	d.ref.state.set(false)
	return d.ImageDestination.PutSignatures(ctx, signatures, instanceDigest)
}

func (d *sharedDest) Commit(ctx context.Context, unparsedToplevel types.UnparsedImage) error {
	d.ref.state.set(false)
	return d.ImageDestination.Commit(ctx, unparsedToplevel)
}
