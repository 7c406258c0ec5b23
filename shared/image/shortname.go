package image

import (
	"fmt"

	"github.com/containers/image/v5/docker/reference"
	"github.com/containers/image/v5/pkg/shortnames"
	"github.com/containers/image/v5/types"
)

// Candidates resolves a name a user typed for a registry image
// ("busybox", "library/busybox:1", "registry.example/app") into the fully
// qualified references to try, in order, the way podman and buildah do:
// a fully qualified name is itself; a short name goes through the
// registries.conf aliases, then unqualified-search-registries, honouring
// short-name-mode. The description says where the candidates came from.
func Candidates(sys *types.SystemContext, name string) ([]reference.Named, string, error) {
	resolved, err := shortnames.Resolve(sys, name)
	if err != nil {
		return nil, "", fmt.Errorf("resolving %q: %w", name, err)
	}
	out := make([]reference.Named, 0, len(resolved.PullCandidates))
	for _, c := range resolved.PullCandidates {
		out = append(out, c.Value)
	}
	if len(out) == 0 {
		return nil, "", fmt.Errorf("resolving %q: no registries to try (set unqualified-search-registries or an alias in registries.conf)", name)
	}
	return out, resolved.Description(), nil
}
