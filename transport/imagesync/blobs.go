package imagesync

import (
	"context"
	"io"
	"sync"

	"github.com/containers/image/v5/types"
	digest "github.com/opencontainers/go-digest"
)

// blobLocks serialises the upload of one blob to one destination
// repository across the images a sync copies in parallel: the second image
// that needs a blob waits for the first upload, then reuses it.
type blobLocks struct {
	mu    sync.Mutex
	locks map[string]*sync.Mutex
}

func newBlobLocks() *blobLocks { return &blobLocks{locks: map[string]*sync.Mutex{}} }

func (b *blobLocks) get(repo string, d digest.Digest) *sync.Mutex {
	b.mu.Lock()
	defer b.mu.Unlock()
	k := repo + "@" + d.String()
	l, ok := b.locks[k]
	if !ok {
		l = &sync.Mutex{}
		b.locks[k] = l
	}
	return l
}

// lockedRef is a destination reference whose blob uploads go through locks.
type lockedRef struct {
	types.ImageReference
	repo  string
	locks *blobLocks
}

func (r lockedRef) NewImageDestination(ctx context.Context, sys *types.SystemContext) (types.ImageDestination, error) {
	d, err := r.ImageReference.NewImageDestination(ctx, sys)
	if err != nil {
		return nil, err
	}
	return &lockedDest{ImageDestination: d, repo: r.repo, locks: r.locks, held: map[digest.Digest]*sync.Mutex{}}, nil
}

type lockedDest struct {
	types.ImageDestination
	repo  string
	locks *blobLocks
	mu    sync.Mutex
	held  map[digest.Digest]*sync.Mutex
}

// TryReusingBlob takes the blob's lock; when the blob cannot be reused, the
// lock stays held until PutBlob has uploaded it.
func (d *lockedDest) TryReusingBlob(ctx context.Context, info types.BlobInfo, cache types.BlobInfoCache, canSubstitute bool) (bool, types.BlobInfo, error) {
	if info.Digest == "" {
		return d.ImageDestination.TryReusingBlob(ctx, info, cache, canSubstitute)
	}
	l := d.locks.get(d.repo, info.Digest)
	l.Lock()
	ok, res, err := d.ImageDestination.TryReusingBlob(ctx, info, cache, canSubstitute)
	if ok || err != nil {
		l.Unlock()
		return ok, res, err
	}
	d.mu.Lock()
	d.held[info.Digest] = l
	d.mu.Unlock()
	return false, types.BlobInfo{}, nil
}

// PutBlob uploads under the blob's lock.
func (d *lockedDest) PutBlob(ctx context.Context, stream io.Reader, info types.BlobInfo, cache types.BlobInfoCache, isConfig bool) (types.BlobInfo, error) {
	if info.Digest == "" {
		return d.ImageDestination.PutBlob(ctx, stream, info, cache, isConfig)
	}
	d.mu.Lock()
	l, held := d.held[info.Digest]
	delete(d.held, info.Digest)
	d.mu.Unlock()
	if !held {
		l = d.locks.get(d.repo, info.Digest)
		l.Lock()
	}
	defer l.Unlock()
	return d.ImageDestination.PutBlob(ctx, stream, info, cache, isConfig)
}

// Close releases any lock a failed copy left held.
func (d *lockedDest) Close() error {
	d.mu.Lock()
	for k, l := range d.held {
		l.Unlock()
		delete(d.held, k)
	}
	d.mu.Unlock()
	return d.ImageDestination.Close()
}
