package imagesync

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/containers/image/v5/types"
	digest "github.com/opencontainers/go-digest"

	"github.com/ocisuite/suite/shared/image"
)

// TestCopyDirectNotDirect: CopyDirect leaves to containers/image, without
// contacting anything, a copy that is not between registries or whose
// options change or sign the image.
func TestCopyDirectNotDirect(t *testing.T) {
	ref := func(s string) types.ImageReference {
		r, err := image.ParseReference(s)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	reg, dir := ref("docker://127.0.0.1:1/a/b:1"), ref("dir:"+t.TempDir())
	for _, c := range []struct {
		name     string
		src, dst types.ImageReference
		opts     image.CopyOptions
	}{
		{"from a directory", dir, reg, image.CopyOptions{}},
		{"to a directory", reg, dir, image.CopyOptions{}},
		{"format", reg, reg, image.CopyOptions{ForceManifestMIMEType: "application/vnd.oci.image.manifest.v1+json"}},
		{"compression level", reg, reg, image.CopyOptions{DestCompressionLevel: new(int)}},
	} {
		_, err := CopyDirect(context.Background(), c.src, c.dst, c.opts)
		if !errors.Is(err, image.ErrNotDirect) {
			t.Errorf("%s: %v, want ErrNotDirect", c.name, err)
		}
	}
}

// TestReportLines: without a terminal a direct copy reports a line per
// blob as containers/image does, and a nil report is silent.
func TestReportLines(t *testing.T) {
	var buf bytes.Buffer
	r := newReport(&buf)
	b := types.BlobInfo{Digest: digest.FromString("layer"), Size: 5}
	tr := r.blob("blob", b)
	rc := tr.reader(io.NopCloser(strings.NewReader("layer")))
	if _, err := io.ReadAll(rc); err != nil {
		t.Fatal(err)
	}
	tr.done(nil)
	r.wait()
	r.printf("Writing manifest to image destination\n")
	want := "Copying blob " + b.Digest.String() + "\nWriting manifest to image destination\n"
	if buf.String() != want {
		t.Errorf("report %q, want %q", buf.String(), want)
	}

	var none *report
	none.printf("x")
	tr = none.blob("blob", b)
	tr.done(nil)
	none.wait()
	if newReport(nil) != nil {
		t.Error("newReport(nil) reports")
	}
}
