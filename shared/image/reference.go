package image

import (
	"fmt"
	"strings"

	"github.com/containers/image/v5/transports"
	"github.com/containers/image/v5/transports/alltransports"
	"github.com/containers/image/v5/types"
)

// ParseReference parses "TRANSPORT:DETAILS" (docker://, oci:, oci-archive:,
// docker-archive:, dir:, containers-storage:, …) with a one-line error that
// names the input.
func ParseReference(s string) (types.ImageReference, error) {
	name, _, ok := strings.Cut(s, ":")
	if !ok || name == "" {
		return nil, fmt.Errorf("invalid image reference %q: no transport (want TRANSPORT:DETAILS, transports: %s)", s, strings.Join(transportNames(), ", "))
	}
	if transports.Get(name) == nil {
		return nil, fmt.Errorf("invalid image reference %q: unknown transport %q (transports: %s)", s, name, strings.Join(transportNames(), ", "))
	}
	ref, err := alltransports.ParseImageName(s)
	if err != nil {
		return nil, fmt.Errorf("invalid image reference %q: %w", s, err)
	}
	return ref, nil
}

func transportNames() []string {
	var names []string
	for _, n := range transports.ListNames() {
		if n == "docker" {
			n = "docker://"
		} else {
			n += ":"
		}
		names = append(names, n)
	}
	return names
}
