package container

import (
	"fmt"
	"sort"

	"github.com/containers/storage/pkg/archive"
)

// Change is one path the container changed against its image.
type Change struct {
	Kind string // "A", "C" or "D", as podman prints them
	Path string
}

// Diff lists what the container's layer added, changed and deleted
// against its image's top layer, by path.
func (e *Engine) Diff(id string) ([]Change, error) {
	c, err := e.Lookup(id)
	if err != nil {
		return nil, err
	}
	sc, err := e.Store.Container(c.ID)
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", c.Name, err)
	}
	changes, err := e.Store.Changes("", sc.LayerID)
	if err != nil {
		return nil, fmt.Errorf("comparing %s with its image: %w", c.Name, err)
	}
	out := make([]Change, 0, len(changes))
	for _, ch := range changes {
		k := "C"
		switch ch.Kind {
		case archive.ChangeAdd:
			k = "A"
		case archive.ChangeDelete:
			k = "D"
		}
		out = append(out, Change{Kind: k, Path: ch.Path})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}
