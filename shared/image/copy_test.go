package image

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containers/image/v5/manifest"
	"github.com/containers/image/v5/signature"
	"github.com/containers/image/v5/types"
	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// ociLayout writes a one-layer image as an OCI layout tagged "t" and
// returns its directory and manifest digest.
func ociLayout(t *testing.T) (string, digest.Digest) {
	t.Helper()
	dir := t.TempDir()
	blob := func(b []byte) v1.Descriptor {
		d := digest.FromBytes(b)
		p := filepath.Join(dir, "blobs", "sha256", d.Encoded())
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return v1.Descriptor{Digest: d, Size: int64(len(b))}
	}
	var tarBuf bytes.Buffer
	tw := tar.NewWriter(&tarBuf)
	_ = tw.WriteHeader(&tar.Header{Name: "hello", Mode: 0o644, Size: 5, Typeflag: tar.TypeReg})
	_, _ = tw.Write([]byte("hello"))
	_ = tw.Close()
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write(tarBuf.Bytes())
	_ = zw.Close()
	layer := blob(gz.Bytes())
	layer.MediaType = v1.MediaTypeImageLayerGzip
	cfg, _ := json.Marshal(v1.Image{Platform: v1.Platform{OS: "linux", Architecture: "amd64"}, RootFS: v1.RootFS{Type: "layers", DiffIDs: []digest.Digest{digest.FromBytes(tarBuf.Bytes())}}})
	config := blob(cfg)
	config.MediaType = v1.MediaTypeImageConfig
	m, _ := json.Marshal(v1.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: v1.MediaTypeImageManifest, Config: config, Layers: []v1.Descriptor{layer}})
	md := blob(m)
	md.MediaType = v1.MediaTypeImageManifest
	md.Annotations = map[string]string{v1.AnnotationRefName: "t"}
	idx, _ := json.Marshal(v1.Index{Versioned: specs.Versioned{SchemaVersion: 2}, Manifests: []v1.Descriptor{md}})
	if err := os.WriteFile(filepath.Join(dir, "index.json"), idx, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, md.Digest
}

func TestCopyLocal(t *testing.T) {
	dir, want := ociLayout(t)
	src, err := ParseReference("oci:" + dir + ":t")
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out")
	dst, _ := ParseReference("oci:" + out + ":copied")
	var report bytes.Buffer
	res, err := Copy(context.Background(), src, dst, CopyOptions{InsecurePolicy: true, Progress: &report})
	if err != nil {
		t.Fatal(err)
	}
	if res.Digest != want || digest.FromBytes(res.Manifest) != want {
		t.Errorf("digest %s, want %s", res.Digest, want)
	}
	if !strings.Contains(report.String(), "Copying blob") || !strings.Contains(report.String(), "Writing manifest") {
		t.Errorf("progress report %q lacks the steps", report.String())
	}

	// A format change the digest cannot survive is refused, and nothing is written.
	conv := filepath.Join(t.TempDir(), "conv")
	dst, _ = ParseReference("oci:" + conv + ":x")
	_, err = Copy(context.Background(), src, dst, CopyOptions{InsecurePolicy: true, PreserveDigests: true, ForceManifestMIMEType: manifest.DockerV2Schema2MediaType})
	if err == nil || !strings.Contains(err.Error(), "preserving digests") {
		t.Fatalf("--preserve-digests with a conversion: %v", err)
	}
	if _, err := os.Stat(conv); !os.IsNotExist(err) {
		t.Errorf("refused copy created %s", conv)
	}
}

// TestCopyPolicyRejected: a rejecting policy stops the copy at once (no
// retries) with an error a caller can recognise.
func TestCopyPolicyRejected(t *testing.T) {
	dir, _ := ociLayout(t)
	policy := filepath.Join(t.TempDir(), "policy.json")
	if err := os.WriteFile(policy, []byte(`{"default":[{"type":"reject"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	src, _ := ParseReference("oci:" + dir + ":t")
	out := filepath.Join(t.TempDir(), "out")
	dst, _ := ParseReference("dir:" + out)
	_, err := Copy(context.Background(), src, dst, CopyOptions{PolicyPath: policy, RetryTimes: 3})
	var pre signature.PolicyRequirementError
	if !errors.As(err, &pre) || strings.Contains(err.Error(), "attempts") {
		t.Fatalf("rejected copy: %v", err)
	}
	if _, err := os.Stat(filepath.Join(out, "manifest.json")); !os.IsNotExist(err) {
		t.Errorf("rejected copy wrote a manifest: %v", err)
	}
	if _, err := PolicyContext(filepath.Join(t.TempDir(), "missing.json"), false, nil); err == nil || !strings.Contains(err.Error(), "trust policy") {
		t.Errorf("missing policy file: %v", err)
	}
}

func TestDestContext(t *testing.T) {
	if destContext(CopyOptions{}) != nil {
		t.Error("no options: want the nil context unchanged")
	}
	level := 3
	c := destContext(CopyOptions{DestCompressionLevel: &level})
	if c == nil || c.CompressionLevel == nil || *c.CompressionLevel != 3 || c.CompressionFormat != nil {
		t.Errorf("level only: %+v", c)
	}
}

// TestCopyDirectFunc: CopyOptions.Direct copies instead of containers/image;
// its ErrNotDirect leaves the copy to containers/image, its other errors end
// the copy.
func TestCopyDirectFunc(t *testing.T) {
	dir, want := ociLayout(t)
	src, _ := ParseReference("oci:" + dir + ":t")
	var calls int
	direct := func(res CopyResult, err error) func(context.Context, types.ImageReference, types.ImageReference, CopyOptions) (CopyResult, error) {
		return func(context.Context, types.ImageReference, types.ImageReference, CopyOptions) (CopyResult, error) {
			calls++
			return res, err
		}
	}
	for _, c := range []struct {
		name    string
		direct  func(context.Context, types.ImageReference, types.ImageReference, CopyOptions) (CopyResult, error)
		want    digest.Digest
		err     string
		written bool
	}{
		{"not direct", direct(CopyResult{}, fmt.Errorf("a list: %w", ErrNotDirect)), want, "", true},
		{"copied", direct(CopyResult{Digest: "sha256:0123"}, nil), "sha256:0123", "", false},
		{"failed", direct(CopyResult{}, errors.New("registry gone")), "", "registry gone", false},
	} {
		calls = 0
		out := filepath.Join(t.TempDir(), "out")
		dst, _ := ParseReference("dir:" + out)
		res, err := Copy(context.Background(), src, dst, CopyOptions{InsecurePolicy: true, Direct: c.direct})
		if c.err == "" && err != nil || c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)) {
			t.Fatalf("%s: error %v, want %q", c.name, err, c.err)
		}
		if res.Digest != c.want || calls != 1 {
			t.Errorf("%s: digest %s after %d calls, want %s after 1", c.name, res.Digest, calls, c.want)
		}
		if _, err := os.Stat(filepath.Join(out, "manifest.json")); (err == nil) != c.written {
			t.Errorf("%s: manifest written: %v, want %v", c.name, err == nil, c.written)
		}
	}
}
