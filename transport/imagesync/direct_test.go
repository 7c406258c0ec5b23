package imagesync

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/containers/image/v5/docker"
	"github.com/containers/image/v5/signature"
	digest "github.com/opencontainers/go-digest"
)

func TestSignatureFree(t *testing.T) {
	ref, err := docker.ParseReference("//registry.example/ns/app:1")
	if err != nil {
		t.Fatal(err)
	}
	accept := signature.PolicyRequirements{signature.NewPRInsecureAcceptAnything()}
	reject := signature.PolicyRequirements{signature.NewPRReject()}
	signedBy, err := signature.NewPRSignedByKeyPath(signature.SBKeyTypeGPGKeys, "/key.gpg", signature.NewPRMMatchRepoDigestOrExact())
	if err != nil {
		t.Fatal(err)
	}
	signed := signature.PolicyRequirements{signedBy}
	for _, c := range []struct {
		name   string
		policy signature.Policy
		want   bool
	}{
		{"accept anything", signature.Policy{Default: accept}, true},
		{"reject", signature.Policy{Default: reject}, true},
		{"signed by default", signature.Policy{Default: signed}, false},
		{"signed for the registry", signature.Policy{Default: accept, Transports: map[string]signature.PolicyTransportScopes{
			"docker": {"registry.example": signed}}}, false},
		{"signed for the repository, accepted for the image", signature.Policy{Default: signed, Transports: map[string]signature.PolicyTransportScopes{
			"docker": {"registry.example/ns/app": signed, "registry.example/ns/app:1": accept}}}, true},
		{"signed for another registry", signature.Policy{Default: accept, Transports: map[string]signature.PolicyTransportScopes{
			"docker": {"other.example": signed}}}, true},
	} {
		if got := signatureFree(&c.policy, ref); got != c.want {
			t.Errorf("%s: signatureFree = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestPlainManifest(t *testing.T) {
	const v2s2 = "application/vnd.docker.distribution.manifest.v2+json"
	layer := func(extra string) string {
		return `{"schemaVersion":2,"config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":1,"digest":"sha256:` +
			strings.Repeat("a", 64) + `"},"layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":1,"digest":"sha256:` +
			strings.Repeat("b", 64) + `"` + extra + `}]}`
	}
	for _, c := range []struct {
		name, m, mimeType string
		want              bool
	}{
		{"v2s2", layer(""), v2s2, true},
		{"foreign layer", layer(`,"urls":["https://example.test/l"]`), v2s2, false},
		{"index", `{"schemaVersion":2,"manifests":[]}`, "application/vnd.oci.image.index.v1+json", false},
		{"schema 1", `{"schemaVersion":1}`, "application/vnd.docker.distribution.manifest.v1+prettyjws", false},
		{"artifact", strings.Replace(layer(""), "application/vnd.docker.container.image.v1+json", "application/vnd.example.thing", 1), v2s2, false},
	} {
		if got := plainManifest([]byte(c.m), c.mimeType); got != c.want {
			t.Errorf("%s: plainManifest = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestVerifier(t *testing.T) {
	data := []byte("blob content")
	d := digest.FromBytes(data)
	read := func(b []byte, size int64) error {
		v := &verifier{rc: io.NopCloser(bytes.NewReader(b)), d: d, v: d.Verifier(), left: size}
		_, err := io.ReadAll(v)
		return err
	}
	if err := read(data, int64(len(data))); err != nil {
		t.Fatalf("matching blob: %v", err)
	}
	if err := read([]byte("blob contenT"), int64(len(data))); err == nil {
		t.Fatal("a blob with another digest passed")
	}
	if err := read(data, int64(len(data))+1); err == nil {
		t.Fatal("a short blob passed")
	}
}
