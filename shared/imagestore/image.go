// Package imagestore holds what the engine and the builder do with images in the local store:
// pull and push through shared/image (the code transport uses), list,
// remove, tag, save, load, import, history, inspect, prune and search.
// Every function takes the opened containers/storage store; nothing here
// parses flags or prints tables.
package imagestore

import (
	"errors"
	"fmt"
	"strings"

	"github.com/containers/storage"
	digest "github.com/opencontainers/go-digest"

	"github.com/ocisuite/suite/shared/imageref"
	"github.com/ocisuite/suite/shared/names"
)

var (
	// ErrNotFound: no local image matches the name or ID.
	ErrNotFound = errors.New("image not known")
	// ErrInUse: a container uses the image.
	ErrInUse = errors.New("image is in use by a container")
	// ErrAmbiguous: an ID prefix matches more than one image.
	ErrAmbiguous = errors.New("more than one image matches")
)

// isHexID reports whether s can be an image ID or an ID's prefix: 3 to 64
// lower-case hex digits.
func isHexID(s string) bool { return len(s) >= 3 && len(s) <= 64 && names.Hex(s) }

// hasDomain reports whether name starts with a registry host.
func hasDomain(name string) bool {
	first, _, ok := strings.Cut(name, "/")
	return ok && (strings.ContainsAny(first, ".:") || first == "localhost")
}

// Found is a local image and the name it was found by ("" when found by ID).
type Found struct {
	*storage.Image
	// Name is the stored name that matched, "" when the image was found by
	// its ID.
	Name string
}

// Lookup finds a local image by full or short ID (with or without
// "sha256:"), by a stored name, or by a short name: "busybox" matches
// localhost/busybox:latest, docker.io/library/busybox:latest and any
// REGISTRY/…/busybox:latest, in that order, as podman does.
func Lookup(s storage.Store, name string) (Found, error) {
	id := strings.TrimPrefix(name, "sha256:")
	if isHexID(id) {
		img, err := s.Image(id)
		if err == nil && strings.HasPrefix(img.ID, id) {
			return Found{Image: img}, nil
		}
		if err != nil && !errors.Is(err, storage.ErrImageUnknown) {
			// containers/storage refuses an ID prefix that is not unique.
			return Found{}, fmt.Errorf("%s: %w: %v", name, ErrAmbiguous, err)
		}
		if strings.HasPrefix(name, "sha256:") {
			return Found{}, fmt.Errorf("%s: %w", name, ErrNotFound)
		}
	}
	ref, err := imageref.Parse(name)
	if err != nil {
		return Found{}, fmt.Errorf("%s: %w", name, ErrNotFound)
	}
	var candidates []string
	if hasDomain(name) {
		candidates = append(candidates, name)
	} else {
		candidates = append(candidates, "localhost/"+name, "docker.io/"+name)
	}
	for _, c := range candidates {
		n, err := imageref.ParseNormalized(c)
		if err != nil {
			continue
		}
		if f, ok := lookupNamed(s, n); ok {
			return f, nil
		}
	}
	if !hasDomain(name) {
		if f, ok := lookupShort(s, ref); ok {
			return f, nil
		}
	}
	return Found{}, fmt.Errorf("%s: %w", name, ErrNotFound)
}

// lookupNamed finds the image stored under exactly n (tag "latest" when
// n has neither tag nor digest; by repository and digest for a digest).
func lookupNamed(s storage.Store, n imageref.Ref) (Found, bool) {
	if n.Digest != "" {
		images, err := s.Images()
		if err != nil {
			return Found{}, false
		}
		for i := range images {
			img := &images[i]
			if !hasDigest(img, digest.Digest(n.Digest)) {
				continue
			}
			for _, nm := range img.Names {
				if p, err := imageref.ParseNormalized(nm); err == nil && p.Name() == n.Name() {
					return Found{Image: img, Name: nm}, true
				}
			}
		}
		return Found{}, false
	}
	name := n.WithDefaultTag().String()
	img, err := s.Image(name)
	if err != nil {
		return Found{}, false
	}
	return Found{Image: img, Name: name}, true
}

func hasDigest(img *storage.Image, d digest.Digest) bool {
	if img.Digest == d {
		return true
	}
	for _, x := range img.Digests {
		if x == d {
			return true
		}
	}
	return false
}

// lookupShort matches a short name against the repository paths of every
// stored name: "busybox" and "library/busybox" match
// docker.io/library/busybox:latest, "bb" matches 127.0.0.1:5000/app/bb.
func lookupShort(s storage.Store, ref imageref.Ref) (Found, bool) {
	path := ref.Name()
	tag := "latest"
	if ref.Tag != "" {
		tag = ref.Tag
	}
	dgst := digest.Digest(ref.Digest)
	if dgst != "" {
		tag = ""
	}
	images, err := s.Images()
	if err != nil {
		return Found{}, false
	}
	for i := range images {
		img := &images[i]
		if dgst != "" && !hasDigest(img, dgst) {
			continue
		}
		for _, nm := range img.Names {
			p, err := imageref.ParseNormalized(nm)
			if err != nil {
				continue
			}
			if p.Path != path && !strings.HasSuffix(p.Path, "/"+path) {
				continue
			}
			if tag != "" && p.Tag != tag {
				continue
			}
			return Found{Image: img, Name: nm}, true
		}
	}
	return Found{}, false
}
