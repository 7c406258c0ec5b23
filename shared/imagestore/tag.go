//go:build !thin

package imagestore

import (
	"fmt"
	"slices"

	"github.com/containers/storage"
)

// Tag adds names to the local image name; each new name is normalized
// (NormalizeName) and moves from any image that had it.
func Tag(s storage.Store, name string, newNames []string) error {
	f, err := Lookup(s, name)
	if err != nil {
		return err
	}
	var add []string
	for _, n := range newNames {
		named, err := NormalizeName(n)
		if err != nil {
			return err
		}
		add = append(add, named.String())
	}
	if err := s.AddNames(f.ID, add); err != nil {
		return fmt.Errorf("tagging %s: %w", shortID(f.ID), err)
	}
	return nil
}

// Untag removes names from the local image name; with no names, all of
// them. A name the image does not have is an error.
func Untag(s storage.Store, name string, names []string) ([]string, error) {
	f, err := Lookup(s, name)
	if err != nil {
		return nil, err
	}
	var drop []string
	if len(names) == 0 {
		drop = slices.Clone(f.Names)
	}
	for _, n := range names {
		named, err := NormalizeName(n)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(f.Names, named.String()) {
			// A short name given for a stored name ("busybox" for
			// docker.io/library/busybox:latest) is matched as Lookup does.
			g, err := Lookup(s, n)
			if err != nil || g.ID != f.ID || g.Name == "" {
				return nil, fmt.Errorf("%s: tag %s: %w", shortID(f.ID), n, ErrNotFound)
			}
			drop = append(drop, g.Name)
			continue
		}
		drop = append(drop, named.String())
	}
	if len(drop) == 0 {
		return nil, nil
	}
	if err := s.RemoveNames(f.ID, drop); err != nil {
		return nil, fmt.Errorf("untagging %s: %w", shortID(f.ID), err)
	}
	return drop, nil
}
