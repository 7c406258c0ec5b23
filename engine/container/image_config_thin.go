//go:build thin

package container

import (
	"context"
	"errors"
	"fmt"

	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// ErrNeedsFullEngine: the thin engine cannot do this (it links none of
// containers/image); the full engine can, with the same command line.
var ErrNeedsFullEngine = errors.New("this needs the full engine")

// imageConfigFromImage: an image that does not keep its config under its
// ID is read by the full engine (see image_config.go).
func (e *Engine) imageConfigFromImage(_ context.Context, id string) (*v1.Image, *Healthcheck, error) {
	return nil, nil, fmt.Errorf("reading the config of image %s: %w", id, ErrNeedsFullEngine)
}
