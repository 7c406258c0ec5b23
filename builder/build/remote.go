package build

import (
	"context"
	"fmt"
	"strings"

	"github.com/sirupsen/logrus"

	"github.com/ocisuite/suite/shared/imagestore"
)

// cacheTag is the tag a step's image has in a --cache-to repository.
func cacheTag(repo, key string) string {
	return strings.TrimPrefix(repo, "docker://") + ":" + strings.TrimPrefix(key, "sha256:")
}

// pullCached looks for a step in the --cache-from repositories and pulls
// it; the pulled image gets the key, so the next build finds it locally.
// A miss is not an error.
func (b *builder) pullCached(ctx context.Context, key string) string {
	for _, repo := range b.o.CacheFrom {
		ref := cacheTag(repo, key)
		imgs, err := imagestore.Pull(ctx, b.m.Store, "docker://"+ref, imagestore.PullOptions{Sys: b.m.Sys, Policy: imagestore.PullAlways})
		if err != nil || len(imgs) == 0 {
			logrus.Debugf("build cache: %s: %v", ref, err)
			continue
		}
		id := imgs[0].ID
		if err := b.m.Store.SetMetadata(id, cacheMetadata(key)); err != nil {
			logrus.Debugf("build cache: recording the key of %s: %v", id, err)
		}
		// The cache tag is not a name users want in their image list.
		if err := b.m.Store.RemoveNames(id, imgs[0].Names); err != nil {
			logrus.Debugf("build cache: %v", err)
		}
		return id
	}
	return ""
}

// pushCached pushes a step's image to the --cache-to repositories.
func (b *builder) pushCached(ctx context.Context, key, id string) error {
	for _, repo := range b.o.CacheTo {
		ref := cacheTag(repo, key)
		if _, err := imagestore.Push(ctx, b.m.Store, id, "docker://"+ref, imagestore.PushOptions{Sys: b.m.Sys}); err != nil {
			return fmt.Errorf("pushing the build cache to %s: %w", ref, err)
		}
		logrus.Debugf("build cache: pushed %s", ref)
	}
	return nil
}
