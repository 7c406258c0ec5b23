//go:build !thin

package imagestore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/containers/storage"
	digest "github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// Data is podman's "image inspect" JSON shape.
type Data struct {
	ID           string                 `json:"Id"`
	Digest       digest.Digest          `json:"Digest"`
	RepoTags     []string               `json:"RepoTags"`
	RepoDigests  []string               `json:"RepoDigests"`
	Parent       string                 `json:"Parent"`
	Comment      string                 `json:"Comment"`
	Created      *time.Time             `json:"Created"`
	Config       *imgspecv1.ImageConfig `json:"Config"`
	Version      string                 `json:"Version"`
	Author       string                 `json:"Author"`
	Architecture string                 `json:"Architecture"`
	Os           string                 `json:"Os"`
	Variant      string                 `json:"Variant,omitempty"`
	Size         int64                  `json:"Size"`
	VirtualSize  int64                  `json:"VirtualSize"`
	GraphDriver  DriverData             `json:"GraphDriver"`
	RootFS       RootFS                 `json:"RootFS"`
	Labels       map[string]string      `json:"Labels"`
	Annotations  map[string]string      `json:"Annotations"`
	ManifestType string                 `json:"ManifestType"`
	User         string                 `json:"User"`
	History      []imgspecv1.History    `json:"History"`
	NamesHistory []string               `json:"NamesHistory"`
}

// DriverData names the storage driver and its data for the top layer.
type DriverData struct {
	Name string            `json:"Name"`
	Data map[string]string `json:"Data"`
}

// RootFS lists the image's layer diff IDs.
type RootFS struct {
	Type   string          `json:"Type"`
	Layers []digest.Digest `json:"Layers"`
}

// Inspect describes the local image name.
func Inspect(ctx context.Context, s storage.Store, name string) (*Data, error) {
	f, err := Lookup(s, name)
	if err != nil {
		return nil, err
	}
	ref, err := storeRef(s, f.Image)
	if err != nil {
		return nil, err
	}
	img, err := ref.NewImage(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("reading image %s: %w", shortID(f.ID), err)
	}
	defer img.Close()
	cfg, err := img.OCIConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the configuration of %s: %w", shortID(f.ID), err)
	}
	manBlob, mime, err := img.Manifest(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the manifest of %s: %w", shortID(f.ID), err)
	}
	annotations := map[string]string{}
	if mime == imgspecv1.MediaTypeImageManifest {
		var m imgspecv1.Manifest
		if json.Unmarshal(manBlob, &m) == nil {
			for k, v := range m.Annotations {
				annotations[k] = v
			}
		}
	}
	d := &Data{
		ID:           f.ID,
		Digest:       f.Digest,
		RepoTags:     []string{},
		RepoDigests:  []string{},
		Created:      cfg.Created,
		Config:       &cfg.Config,
		Author:       cfg.Author,
		Architecture: cfg.Architecture,
		Os:           cfg.OS,
		Variant:      cfg.Variant,
		Labels:       cfg.Config.Labels,
		Annotations:  annotations,
		ManifestType: mime,
		User:         cfg.Config.User,
		History:      cfg.History,
		NamesHistory: f.NamesHistory,
		RootFS:       RootFS{Type: cfg.RootFS.Type, Layers: cfg.RootFS.DiffIDs},
		GraphDriver:  DriverData{Name: s.GraphDriverName(), Data: map[string]string{}},
	}
	if d.History == nil {
		d.History = []imgspecv1.History{}
	}
	if d.NamesHistory == nil {
		d.NamesHistory = []string{}
	}
	if n := len(cfg.History); n > 0 {
		d.Comment = cfg.History[n-1].Comment
	}
	sum := Summary{Names: f.Names, Digest: f.Digest, Digests: f.Digests}
	d.RepoTags = append(d.RepoTags, f.Names...)
	d.RepoDigests = append(d.RepoDigests, sum.RepoDigests()...)
	if size, err := s.ImageSize(f.ID); err == nil {
		d.Size, d.VirtualSize = size, size
	}
	if f.TopLayer != "" {
		if drv, err := s.GraphDriver(); err == nil {
			if md, err := drv.Metadata(f.TopLayer); err == nil {
				d.GraphDriver.Data = md
			}
		}
	}
	return d, nil
}

// HistoryEntry is one line of "history", newest first.
type HistoryEntry struct {
	// ID is the image ID for the newest entry, "<missing>" for the others.
	ID         string
	Created    time.Time
	CreatedBy  string
	Size       int64
	Comment    string
	Tags       []string
	EmptyLayer bool
}

// History returns the image's history, newest first, with each entry's
// layer size.
func History(ctx context.Context, s storage.Store, name string) ([]HistoryEntry, error) {
	f, err := Lookup(s, name)
	if err != nil {
		return nil, err
	}
	cfg, err := imageConfig(ctx, s, f.Image)
	if err != nil {
		return nil, fmt.Errorf("reading the configuration of %s: %w", shortID(f.ID), err)
	}
	// The image's layers, bottom first.
	var sizes []int64
	for id := f.TopLayer; id != ""; {
		l, err := s.Layer(id)
		if err != nil {
			break
		}
		sizes = append([]int64{l.UncompressedSize}, sizes...)
		id = l.Parent
	}
	var out []HistoryEntry
	li := 0
	for _, h := range cfg.History {
		e := HistoryEntry{ID: "<missing>", CreatedBy: h.CreatedBy, Comment: h.Comment, EmptyLayer: h.EmptyLayer}
		if h.Created != nil {
			e.Created = *h.Created
		}
		if !h.EmptyLayer {
			if li < len(sizes) {
				e.Size = sizes[li]
			}
			li++
		}
		out = append([]HistoryEntry{e}, out...)
	}
	if len(out) == 0 {
		e := HistoryEntry{ID: "<missing>"}
		if cfg.Created != nil {
			e.Created = *cfg.Created
		}
		out = append(out, e)
	}
	out[0].ID = f.ID
	out[0].Tags = f.Names
	return out, nil
}

// Exists reports whether a local image matches name.
func Exists(s storage.Store, name string) (bool, error) {
	_, err := Lookup(s, name)
	if err == nil {
		return true, nil
	}
	if IsNotFound(err) {
		return false, nil
	}
	return false, err
}
