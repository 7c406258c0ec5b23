//go:build !thin

package imagestore

import (
	"errors"
	"fmt"
	"strings"

	"github.com/containers/image/v5/docker/reference"
	istorage "github.com/containers/image/v5/storage"
	"github.com/containers/image/v5/types"
	"github.com/containers/storage"

	"github.com/ocisuite/suite/shared/imageref"
)

// What only the full engine uses is here, out of the thin engine (see
// engine/cmd/engine/thin.go), which links none of containers/image.

// NormalizeName turns what a user typed for a local name into the fully
// qualified, tagged name podman stores: a name without a registry goes
// under "localhost/", a missing tag is "latest" ("app" →
// "localhost/app:latest", "docker.io/busybox" →
// "docker.io/library/busybox:latest").
func NormalizeName(name string) (reference.Named, error) {
	if strings.HasPrefix(name, "sha256:") || name == "" {
		return nil, fmt.Errorf("invalid image name %q", name)
	}
	if !hasDomain(name) {
		name = "localhost/" + name
	}
	named, err := reference.ParseNormalizedNamed(name)
	if err != nil {
		return nil, fmt.Errorf("invalid image name %q: %w", name, err)
	}
	return reference.TagNameOnly(named), nil
}

// storeRef is the containers-storage reference of a local image.
func storeRef(s storage.Store, img *storage.Image) (types.ImageReference, error) {
	return istorage.Transport.NewStoreReference(s, nil, img.ID)
}

// IsNotFound reports whether err says an image does not exist, locally
// (ErrNotFound) or in a registry.
func IsNotFound(err error) bool {
	return errors.Is(err, ErrNotFound) || errors.Is(err, istorage.ErrNoSuchImage)
}

// lookupStored finds the image stored under exactly n (see lookupNamed).
func lookupStored(s storage.Store, n reference.Named) (Found, bool) {
	r, err := imageref.ParseNormalized(n.String())
	if err != nil {
		return Found{}, false
	}
	return lookupNamed(s, r)
}

// containersOf returns the storage containers created from image id.
func containersOf(s storage.Store, id string) ([]storage.Container, error) {
	all, err := s.Containers()
	if err != nil {
		return nil, fmt.Errorf("listing containers: %w", err)
	}
	var out []storage.Container
	for _, c := range all {
		if c.ImageID == id {
			out = append(out, c)
		}
	}
	return out, nil
}

// shortID is the 12-character form of an image ID.
func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
