//go:build !thin

package container

import (
	"context"
	"fmt"

	is "github.com/containers/image/v5/storage"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/sirupsen/logrus"
)

// imageConfigFromImage reads the config of an image that does not keep
// it under its ID (a Docker schema 1 image, whose config containers/image
// builds from the manifest) by opening the image.
func (e *Engine) imageConfigFromImage(ctx context.Context, id string) (*v1.Image, *Healthcheck, error) {
	ref, err := is.Transport.NewStoreReference(e.Store, nil, id)
	if err != nil {
		return nil, nil, err
	}
	img, err := ref.NewImage(ctx, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("reading image %s: %w", id, err)
	}
	defer img.Close()
	cfg, err := img.OCIConfig(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("reading config of image %s: %w", id, err)
	}
	blob, err := img.ConfigBlob(ctx)
	if err != nil {
		logrus.Debugf("reading the config blob of %s: %v", id, err)
		return cfg, nil, nil
	}
	return cfg, imageHealthcheck(blob), nil
}
