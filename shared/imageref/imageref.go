// Package imageref parses image references ("[DOMAIN/]PATH[:TAG][@DIGEST]")
// by the grammar of containers/image's docker/reference, and normalizes
// them as podman does ("busybox" → "docker.io/library/busybox"). It scans
// instead of matching regular expressions: the thin engine, which looks
// up local images on every run, links it instead of docker/reference,
// whose expressions cost some 3 ms to compile at every start.
package imageref

import (
	"errors"
	"fmt"
	"strings"
)

// NameTotalLengthMax is the longest name (domain and path) accepted.
const NameTotalLengthMax = 255

// The errors docker/reference gives, with its messages.
var (
	ErrInvalidFormat     = errors.New("invalid reference format")
	ErrNameContainsUpper = errors.New("repository name must be lowercase")
	ErrNameEmpty         = errors.New("repository name must have at least one component")
	ErrNameTooLong       = fmt.Errorf("repository name must not be more than %v characters", NameTotalLengthMax)
	ErrDigestInvalid     = errors.New("invalid checksum digest format")
	ErrDigestLength      = errors.New("invalid checksum digest length")
	ErrDigestUnsupported = errors.New("unsupported digest algorithm")
	errRemoteNameUpper   = errors.New("invalid reference format: repository name must be lowercase")
)

const (
	errHexRepositoryName  = "invalid repository name (%s), cannot specify 64-byte hexadecimal strings"
	defaultDomain         = "docker.io"
	legacyDefaultDomain   = "index.docker.io"
	officialRepoNamespace = "library"
	defaultTag            = "latest"
)

// Ref is a parsed reference. Domain is "" for a reference parsed without
// normalization whose name has no domain part; Tag and Digest are "" when
// absent.
type Ref struct {
	Domain string
	Path   string
	Tag    string
	Digest string // "algorithm:hex"
}

// Name is the repository: DOMAIN/PATH, or PATH without a domain.
func (r Ref) Name() string {
	if r.Domain == "" {
		return r.Path
	}
	return r.Domain + "/" + r.Path
}

// String is the whole reference: NAME[:TAG][@DIGEST].
func (r Ref) String() string {
	s := r.Name()
	if r.Tag != "" {
		s += ":" + r.Tag
	}
	if r.Digest != "" {
		s += "@" + r.Digest
	}
	return s
}

// WithDefaultTag gives a reference with neither tag nor digest the tag
// "latest" (docker/reference's TagNameOnly).
func (r Ref) WithDefaultTag() Ref {
	if r.Tag == "" && r.Digest == "" {
		r.Tag = defaultTag
	}
	return r
}

// Parse parses s as docker/reference's Parse does: no default domain,
// no default tag; the first component is the domain when it can be one
// and a path follows.
func Parse(s string) (Ref, error) {
	if s == "" {
		return Ref{}, ErrNameEmpty
	}
	r, ok := parse(s)
	if !ok {
		if _, ok := parse(strings.ToLower(s)); ok {
			return Ref{}, ErrNameContainsUpper
		}
		return Ref{}, ErrInvalidFormat
	}
	if len(r.Name()) > NameTotalLengthMax {
		return Ref{}, ErrNameTooLong
	}
	if r.Digest != "" {
		if err := validateDigest(r.Digest); err != nil {
			return Ref{}, err
		}
	}
	return r, nil
}

// ParseNormalized parses s as docker/reference's ParseNormalizedNamed
// does: a name without a domain is on docker.io, and a one-component
// path there is under "library/".
func ParseNormalized(s string) (Ref, error) {
	if len(s) == 64 && isLowerHex(s) {
		return Ref{}, fmt.Errorf(errHexRepositoryName, s)
	}
	domain, remainder := splitDockerDomain(s)
	remote := remainder
	if i := strings.IndexByte(remainder, ':'); i >= 0 {
		remote = remainder[:i]
	}
	if strings.ToLower(remote) != remote {
		return Ref{}, errRemoteNameUpper
	}
	return Parse(domain + "/" + remainder)
}

func splitDockerDomain(name string) (domain, remainder string) {
	i := strings.IndexByte(name, '/')
	if i == -1 || (!strings.ContainsAny(name[:i], ".:") && name[:i] != "localhost") {
		domain, remainder = defaultDomain, name
	} else {
		domain, remainder = name[:i], name[i+1:]
	}
	if domain == legacyDefaultDomain {
		domain = defaultDomain
	}
	if domain == defaultDomain && !strings.Contains(remainder, "/") {
		remainder = officialRepoNamespace + "/" + remainder
	}
	return domain, remainder
}

// parse splits and checks s against the grammar, without the length and
// digest-algorithm checks.
func parse(s string) (Ref, bool) {
	var r Ref
	name := s
	if i := strings.IndexByte(s, '@'); i >= 0 {
		name, r.Digest = s[:i], s[i+1:]
		if !isDigestPattern(r.Digest) {
			return Ref{}, false
		}
	}
	// A colon after the last slash starts the tag; one before it can
	// only be the domain's port.
	if i := strings.LastIndexByte(name, ':'); i >= 0 && i > strings.LastIndexByte(name, '/') {
		name, r.Tag = name[:i], name[i+1:]
		if !isTag(r.Tag) {
			return Ref{}, false
		}
	}
	// As the expression's optional domain group, a first component that
	// can be a domain is one when a valid path follows.
	if first, rest, ok := strings.Cut(name, "/"); ok && isDomain(first) && isPath(rest) {
		r.Domain, r.Path = first, rest
		return r, true
	}
	if !isPath(name) {
		return Ref{}, false
	}
	r.Path = name
	return r, true
}

// isPath: components separated by "/", each of lower-case letters and
// digits, runs of which may be joined by ".", "_", "__" or any number of
// "-".
func isPath(s string) bool {
	for {
		comp, rest, more := strings.Cut(s, "/")
		if !isPathComponent(comp) {
			return false
		}
		if !more {
			return true
		}
		s = rest
	}
}

func isPathComponent(s string) bool {
	if s == "" || !isLowerAlnum(s[0]) || !isLowerAlnum(s[len(s)-1]) {
		return false
	}
	for i := 0; i < len(s); {
		if isLowerAlnum(s[i]) {
			i++
			continue
		}
		// A separator, between two alphanumerics (the ends are).
		j := i
		for j < len(s) && !isLowerAlnum(s[j]) {
			j++
		}
		sep := s[i:j]
		if sep != "." && sep != "_" && sep != "__" && strings.Trim(sep, "-") != "" {
			return false
		}
		i = j
	}
	return true
}

// isDomain: dot-separated components of letters, digits and inner
// hyphens, then an optional ":PORT".
func isDomain(s string) bool {
	host, port, hasPort := strings.Cut(s, ":")
	if hasPort && (port == "" || strings.Trim(port, "0123456789") != "") {
		return false
	}
	for {
		comp, rest, more := strings.Cut(host, ".")
		if comp == "" || comp[0] == '-' || comp[len(comp)-1] == '-' {
			return false
		}
		for i := 0; i < len(comp); i++ {
			if c := comp[i]; !isAlnum(c) && c != '-' {
				return false
			}
		}
		if !more {
			return true
		}
		host = rest
	}
}

// isTag: a word character, then up to 127 word characters, "." or "-".
func isTag(s string) bool {
	if s == "" || len(s) > 128 || !isWord(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !isWord(c) && c != '.' && c != '-' {
			return false
		}
	}
	return true
}

// isDigestPattern: ALGORITHM:HEX, the algorithm letter-led components
// joined by "-", "_", "+" or ".", the hex at least 32 digits.
func isDigestPattern(s string) bool {
	alg, hex, ok := strings.Cut(s, ":")
	if !ok || len(hex) < 32 {
		return false
	}
	for i := 0; i < len(hex); i++ {
		if !isHexDigit(hex[i]) {
			return false
		}
	}
	start := true // at the start of a component: a letter must follow
	for i := 0; i < len(alg); i++ {
		c := alg[i]
		switch {
		case start:
			if !isLetter(c) {
				return false
			}
			start = false
		case c == '-' || c == '_' || c == '+' || c == '.':
			start = true
		case !isAlnum(c):
			return false
		}
	}
	return !start
}

// validateDigest checks what go-digest's Parse does: a known algorithm
// and lower-case hex of its length.
func validateDigest(d string) error {
	alg, hex, _ := strings.Cut(d, ":")
	var size int
	switch alg {
	case "sha256":
		size = 64
	case "sha384":
		size = 96
	case "sha512":
		size = 128
	default:
		return ErrDigestUnsupported
	}
	if len(hex) != size {
		return ErrDigestLength
	}
	if !isLowerHex(hex) {
		return ErrDigestInvalid
	}
	return nil
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func isHexDigit(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}
func isLowerAlnum(c byte) bool { return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' }
func isLetter(c byte) bool     { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
func isAlnum(c byte) bool      { return isLetter(c) || '0' <= c && c <= '9' }
func isWord(c byte) bool       { return isAlnum(c) || c == '_' }
