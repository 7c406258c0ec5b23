package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"time"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocisuite/suite/test/fixture"
)

// syncTags is how many tags the sync measurement copies.
const syncTags = 20

// syncTag names the i-th tag of the sync repository.
func syncTag(i int) string { return fmt.Sprintf("t%02d", i) }

// syncImages writes an OCI layout with syncTags distinct small images, tagged
// syncTag(i): each is one of two base layers (1 MiB and 512 KiB) plus a
// 128 KiB layer of its own, so layers are shared between tags the way they
// are in a real repository, and no two tags are the same image.
func syncImages(dir string) ([]fixture.Image, error) {
	l := ociLayout{dir: dir}
	if err := os.MkdirAll(filepath.Join(dir, "blobs", "sha256"), 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644); err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewSource(20))
	bases := make([]layerBlob, 2)
	for i, size := range []int{1 << 20, 512 << 10} {
		b, err := l.layer(rng, fmt.Sprintf("base%d", i), size)
		if err != nil {
			return nil, err
		}
		bases[i] = b
	}
	var index v1.Index
	index.SchemaVersion = 2
	index.MediaType = v1.MediaTypeImageIndex
	images := make([]fixture.Image, syncTags)
	for i := range images {
		own, err := l.layer(rng, fmt.Sprintf("app%02d", i), 128<<10)
		if err != nil {
			return nil, err
		}
		md, err := l.image([]layerBlob{bases[i%2], own})
		if err != nil {
			return nil, err
		}
		md.Annotations = map[string]string{v1.AnnotationRefName: syncTag(i)}
		index.Manifests = append(index.Manifests, md)
		images[i] = fixture.Image{Dir: dir, Tag: syncTag(i), Digest: md.Digest}
	}
	b, err := json.Marshal(index)
	if err != nil {
		return nil, err
	}
	return images, os.WriteFile(filepath.Join(dir, "index.json"), b, 0o644)
}

type ociLayout struct{ dir string }

type layerBlob struct {
	desc   v1.Descriptor
	diffID digest.Digest
}

func (l ociLayout) blob(mediaType string, b []byte) (v1.Descriptor, error) {
	d := digest.FromBytes(b)
	if err := os.WriteFile(filepath.Join(l.dir, "blobs", "sha256", d.Encoded()), b, 0o644); err != nil {
		return v1.Descriptor{}, err
	}
	return v1.Descriptor{MediaType: mediaType, Digest: d, Size: int64(len(b))}, nil
}

// layer writes a gzip layer holding one file of size random bytes.
func (l ociLayout) layer(rng *rand.Rand, name string, size int) (layerBlob, error) {
	data := make([]byte, size)
	rng.Read(data)
	var raw bytes.Buffer
	tw := tar.NewWriter(&raw)
	h := &tar.Header{Name: name, Mode: 0o644, Typeflag: tar.TypeReg, Size: int64(size), ModTime: time.Unix(0, 0)}
	if err := tw.WriteHeader(h); err != nil {
		return layerBlob{}, err
	}
	if _, err := tw.Write(data); err != nil {
		return layerBlob{}, err
	}
	if err := tw.Close(); err != nil {
		return layerBlob{}, err
	}
	var gz bytes.Buffer
	zw, err := gzip.NewWriterLevel(&gz, gzip.BestSpeed)
	if err != nil {
		return layerBlob{}, err
	}
	if _, err := zw.Write(raw.Bytes()); err != nil {
		return layerBlob{}, err
	}
	if err := zw.Close(); err != nil {
		return layerBlob{}, err
	}
	desc, err := l.blob(v1.MediaTypeImageLayerGzip, gz.Bytes())
	return layerBlob{desc: desc, diffID: digest.FromBytes(raw.Bytes())}, err
}

// image writes the config and manifest of layers and returns the manifest's
// descriptor.
func (l ociLayout) image(layers []layerBlob) (v1.Descriptor, error) {
	cfg := v1.Image{
		Platform: v1.Platform{Architecture: "amd64", OS: "linux"},
		RootFS:   v1.RootFS{Type: "layers"},
	}
	m := v1.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: v1.MediaTypeImageManifest}
	for _, ly := range layers {
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, ly.diffID)
		m.Layers = append(m.Layers, ly.desc)
	}
	cb, err := json.Marshal(cfg)
	if err != nil {
		return v1.Descriptor{}, err
	}
	if m.Config, err = l.blob(v1.MediaTypeImageConfig, cb); err != nil {
		return v1.Descriptor{}, err
	}
	mb, err := json.Marshal(m)
	if err != nil {
		return v1.Descriptor{}, err
	}
	return l.blob(v1.MediaTypeImageManifest, mb)
}
