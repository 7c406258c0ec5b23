package imagesync

import (
	"context"
	"errors"
	"fmt"

	"github.com/containers/image/v5/docker/reference"
	"github.com/containers/image/v5/pkg/blobinfocache"
	"github.com/containers/image/v5/transports"
	"github.com/containers/image/v5/types"

	"github.com/ocisuite/suite/shared/image"
	"github.com/ocisuite/suite/shared/registry"
)

// CopyDirect copies one image from a registry to a registry the way Sync
// copies its plain images (see direct): over one registry client per
// registry, each missing blob sent with one POST and one PUT, every
// request, uploads and the manifest PUT included, under the retry rule,
// a 429 waiting for the server's Retry-After. It shows its steps on
// opts.Progress as containers/image does (progress bars on a terminal,
// one line per step otherwise, the info log when Progress is nil).
//
// It is an image.CopyOptions.Direct function: for an image it does not
// copy (another transport, a list, signatures to copy or to check, format,
// compression or signing options, mirrors, a registry the client does not
// handle) it returns an error wrapping image.ErrNotDirect, and so it does
// for a source that is not found, so that containers/image reports it.
func CopyDirect(ctx context.Context, src, dst types.ImageReference, opts image.CopyOptions) (image.CopyResult, error) {
	srcNamed, ok1 := dockerNamed(src)
	dstNamed, ok2 := dockerNamed(dst)
	if !ok1 || !ok2 || !plainOptions(opts) || opts.SignIdentity != nil || !plainSource(srcNamed, opts.SourceCtx) {
		return image.CopyResult{}, errNotDirect
	}
	d := newDirect(Options{SourceKind: "docker", DestKind: "docker", DestCtx: opts.DestCtx, Copy: opts}, nil)
	defer d.close()
	what := fmt.Sprintf("copying %s to %s", transports.ImageName(src), transports.ImageName(dst))
	// A registry that cannot be reached fails the copy here, after the
	// retries, rather than again in containers/image.
	for _, e := range []struct {
		named reference.Named
		sys   *types.SystemContext
	}{{srcNamed, opts.SourceCtx}, {dstNamed, opts.DestCtx}} {
		if _, err := d.client(ctx, reference.Domain(e.named), e.sys); err != nil {
			if errors.Is(err, registry.ErrUnsupported) {
				return image.CopyResult{}, fmt.Errorf("%w: %w", errNotDirect, err)
			}
			return image.CopyResult{}, fmt.Errorf("%s: %w", what, err)
		}
	}
	d.report = newReport(image.ReportWriter(opts.Progress))
	d.cache = blobinfocache.DefaultCache(opts.DestCtx)
	// The SQLite cache stays open for the copy instead of being opened
	// for each lookup.
	if c, ok := d.cache.(interface {
		Open()
		Close()
	}); ok {
		c.Open()
		defer c.Close()
	}
	res, err := d.copyDirect(ctx, item{src: Source{Ref: src, Sys: opts.SourceCtx}, dst: dst}, opts)
	switch {
	case err == nil || errors.Is(err, errNotDirect):
		return res, err
	case registry.NotFound(err) && ctx.Err() == nil:
		return image.CopyResult{}, fmt.Errorf("%w: %w", errNotDirect, err)
	}
	return image.CopyResult{}, fmt.Errorf("%s: %w", what, err)
}
