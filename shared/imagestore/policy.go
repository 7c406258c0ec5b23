package imagestore

import (
	"fmt"
	"strings"
)

// Pull policies (podman's --policy).
const (
	PullAlways  = "always"
	PullMissing = "missing"
	PullNever   = "never"
	PullNewer   = "newer"
)

// ParsePullPolicy checks a --policy value; "" is "always".
func ParsePullPolicy(p string) (string, error) {
	switch strings.ToLower(p) {
	case "", PullAlways:
		return PullAlways, nil
	case PullMissing, "ifmissing", "ifnotpresent":
		return PullMissing, nil
	case PullNever:
		return PullNever, nil
	case PullNewer, "ifnewer":
		return PullNewer, nil
	}
	return "", fmt.Errorf("invalid pull policy %q: want always, missing, never or newer", p)
}
