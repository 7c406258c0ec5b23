// Package names checks the names users give to networks and volumes, and
// the hex IDs of containers and images.
package names

// Valid reports whether s is a valid network or volume name, as podman
// has them: [a-zA-Z0-9][a-zA-Z0-9_.-]*. (A loop, not a regexp: a
// package-level regexp is compiled at every command's start.)
func Valid(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || c != '_' && c != '.' && c != '-') {
			return false
		}
	}
	return s != ""
}

// Hex reports whether s is made of lower-case hex digits only, as the IDs
// (and ID prefixes) of containers and images are; "" is not.
func Hex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return s != ""
}
