//go:build !thin

package imagestore

import (
	"testing"
	"time"

	digest "github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestExtends(t *testing.T) {
	at := func(s int) *time.Time { v := time.Unix(int64(s), 0); return &v }
	img := func(layers int, history ...string) *imgspecv1.Image {
		i := &imgspecv1.Image{}
		for n := 0; n < layers; n++ {
			i.RootFS.DiffIDs = append(i.RootFS.DiffIDs, digest.FromString(string(rune('a'+n))))
		}
		for n, h := range history {
			i.History = append(i.History, imgspecv1.History{Created: at(n), CreatedBy: h})
		}
		return i
	}
	base := img(1, "ADD base")
	step := img(2, "ADD base", "RUN make")
	final := img(2, "ADD base", "RUN make", "ENV A=b", "CMD x")
	other := img(2, "ADD base", "RUN test")
	for _, c := range []struct {
		name          string
		child, parent *imgspecv1.Image
		want          bool
	}{
		{"a filesystem step on its base", step, base, true},
		{"configuration steps on the same layer", final, step, true},
		{"two steps down", final, base, true},
		{"the parent is not its own child", step, step, false},
		{"a parent is no child", base, step, false},
		{"different history", other, step, false},
		{"one layer more", img(2, "ADD base", "RUN make", "CMD x"), img(1, "ADD base", "RUN make"), true},
		{"a layer that differs", img(2, "ADD base", "RUN make"), &imgspecv1.Image{RootFS: imgspecv1.RootFS{DiffIDs: []digest.Digest{"sha256:00"}}, History: base.History}, false},
		{"no history to match", step, img(1), false},
	} {
		if got := extends(c.child, c.parent); got != c.want {
			t.Errorf("%s: extends = %v, want %v", c.name, got, c.want)
		}
	}
}
