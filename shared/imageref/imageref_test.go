package imageref

import (
	_ "crypto/sha512" // go-digest knows sha384 and sha512 only when linked, as in the binaries
	"math/rand"
	"strings"
	"testing"

	"github.com/containers/image/v5/docker/reference"
)

var corpus = []string{
	"", "busybox", "busybox:latest", "library/busybox", "docker.io/busybox",
	"index.docker.io/busybox", "docker.io/library/busybox:1.36", "localhost/bb",
	"localhost/bb:v1", "localhost:5000/app/bb:tag", "127.0.0.1:5000/app/bb",
	"127.0.0.1:5000", "localhost:5000", "foo:123/bar", "foo:bar/baz", "foo/bar",
	"Foo/bar", "foo/Bar", "FOO", "a_b/c", "a.b/c", "a__b/c", "a___b", "a--b", "a-_b",
	"a.", ".a", "-a", "a-", "a//b", "a/", "/a", "a:", "a:-x", "a:_x", "a:x.y-z_",
	"a:" + strings.Repeat("t", 128), "a:" + strings.Repeat("t", 129),
	"quay.io/org/app@sha256:" + strings.Repeat("a", 64),
	"quay.io/org/app:v1@sha256:" + strings.Repeat("b", 64),
	"app@sha256:" + strings.Repeat("A", 64), "app@sha256:" + strings.Repeat("a", 63),
	"app@sha256:" + strings.Repeat("a", 32), "app@md5:" + strings.Repeat("a", 32),
	"app@sha512:" + strings.Repeat("c", 128), "app@sha384:" + strings.Repeat("d", 96),
	"app@sha256+b64u:" + strings.Repeat("a", 64), "app@sha256:" + strings.Repeat("g", 64),
	"app@@sha256:" + strings.Repeat("a", 64), "@sha256:" + strings.Repeat("a", 64),
	strings.Repeat("a", 64), strings.Repeat("a", 63), strings.Repeat("A", 64),
	"sha256:" + strings.Repeat("a", 64), strings.Repeat("a/", 130) + "a",
	strings.Repeat("x", 256), "my-registry.example.com:443/ns/img:1.0",
	"reg-.io/a", "-reg.io/a", "re_g.io/a", "reg.io:/a", "reg.io:x/a", "reg..io/a",
	"UPPER.io/lower", "localhost/UP", "a b", "a\tb", "ümlaut", "a:b:c", "a:b@c",
}

// TestMatchesDockerReference compares Parse and ParseNormalized with
// containers/image's docker/reference on the corpus and on random
// strings made of the grammar's characters.
func TestMatchesDockerReference(t *testing.T) {
	inputs := append([]string(nil), corpus...)
	rng := rand.New(rand.NewSource(1))
	const alphabet = "aB0._-/:@z9"
	for range 20000 {
		n := 1 + rng.Intn(14)
		b := make([]byte, n)
		for i := range b {
			b[i] = alphabet[rng.Intn(len(alphabet))]
		}
		inputs = append(inputs, string(b))
	}
	// Structured: DOMAIN/PATH:TAG@DIGEST with random parts.
	parts := []string{"", "a", "A", "a.b", "a-b", "a_b", "a__b", "a..b", "9", "x:5000", "x:", "localhost", "index.docker.io", "docker.io", "-", "_"}
	hex := strings.Repeat("0a", 32)
	for range 20000 {
		var b strings.Builder
		for i := range 1 + rng.Intn(4) {
			if i > 0 {
				b.WriteByte('/')
			}
			b.WriteString(parts[rng.Intn(len(parts))])
		}
		if rng.Intn(2) == 0 {
			b.WriteString(":" + parts[rng.Intn(len(parts))])
		}
		if rng.Intn(3) == 0 {
			b.WriteString("@sha256:" + hex[:rng.Intn(3)*32])
		}
		inputs = append(inputs, b.String())
	}
	for _, s := range inputs {
		compareParse(t, s)
		compareNormalized(t, s)
	}
}

func compareParse(t *testing.T, s string) {
	t.Helper()
	got, err := Parse(s)
	want, werr := reference.Parse(s)
	if failed(t, "Parse", s, err, werr) {
		return
	}
	if got.String() != want.String() {
		t.Fatalf("Parse(%q) = %q, docker/reference: %q", s, got, want)
	}
	if n, ok := want.(reference.Named); ok {
		if got.Name() != n.Name() || got.Domain != reference.Domain(n) || got.Path != reference.Path(n) {
			t.Fatalf("Parse(%q): domain %q path %q, docker/reference: %q %q", s, got.Domain, got.Path, reference.Domain(n), reference.Path(n))
		}
	}
}

func compareNormalized(t *testing.T, s string) {
	t.Helper()
	got, err := ParseNormalized(s)
	want, werr := reference.ParseNormalizedNamed(s)
	if failed(t, "ParseNormalized", s, err, werr) {
		return
	}
	if got.String() != want.String() || got.Domain != reference.Domain(want) || got.Path != reference.Path(want) {
		t.Fatalf("ParseNormalized(%q) = %q (%q, %q), docker/reference: %q", s, got, got.Domain, got.Path, want)
	}
	if g, w := got.WithDefaultTag().String(), reference.TagNameOnly(want).String(); g != w {
		t.Fatalf("WithDefaultTag(%q) = %q, docker/reference: %q", s, g, w)
	}
}

// failed checks that fn(s) failed exactly when docker/reference did, with
// the same message, and reports whether it failed.
func failed(t *testing.T, fn, s string, err, werr error) bool {
	t.Helper()
	if (err != nil) != (werr != nil) {
		t.Fatalf("%s(%q): error %v, docker/reference: %v", fn, s, err, werr)
	}
	if err != nil && err.Error() != werr.Error() {
		t.Fatalf("%s(%q): error %q, docker/reference: %q", fn, s, err, werr)
	}
	return err != nil
}
