//go:build !thin

package imagestore

import (
	"context"
	"encoding/json"
	"fmt"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/containers/image/v5/docker/reference"
	"github.com/containers/image/v5/manifest"
	"github.com/containers/storage"
	digest "github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// Summary describes a local image for listing.
type Summary struct {
	ID         string
	Names      []string
	Digest     digest.Digest
	Digests    []digest.Digest
	Created    time.Time
	Size       int64
	Labels     map[string]string
	Containers int
	// Dangling: the image has no name and no image is built on it.
	Dangling bool
	// Intermediate: the image has no name and an image is built on it
	// (a build step's, kept for the layer cache).
	Intermediate bool
	// Parent is the ID of the image this one is built on, if stored.
	Parent   string
	ReadOnly bool
	TopLayer string
}

// RepoTag is one name of an image split for the table.
type RepoTag struct {
	Repository string
	Tag        string
	// Digest is the repository digest (name@digest) of this name, if any.
	Digest digest.Digest
}

// RepoTags splits the image's names; an image without names gives one
// "<none>" "<none>" entry.
func (s Summary) RepoTags() []RepoTag {
	var out []RepoTag
	for _, n := range s.Names {
		named, err := reference.ParseNormalizedNamed(n)
		if err != nil {
			continue
		}
		rt := RepoTag{Repository: named.Name(), Tag: "<none>", Digest: s.Digest}
		if t, ok := named.(reference.Tagged); ok {
			rt.Tag = t.Tag()
		}
		out = append(out, rt)
	}
	if len(out) == 0 {
		out = append(out, RepoTag{Repository: "<none>", Tag: "<none>", Digest: s.Digest})
	}
	return out
}

// RepoDigests are the "repository@digest" names of the image.
func (s Summary) RepoDigests() []string {
	seen := map[string]bool{}
	var out []string
	for _, n := range s.Names {
		named, err := reference.ParseNormalizedNamed(n)
		if err != nil {
			continue
		}
		for _, d := range s.Digests {
			rd := named.Name() + "@" + d.String()
			if !seen[rd] {
				seen[rd] = true
				out = append(out, rd)
			}
		}
	}
	return out
}

// ListOptions control List.
type ListOptions struct {
	// All includes intermediate images (images without a name that
	// another image is built on, as the build steps' images are).
	All bool
	// Filters are podman's KEY=VALUE filters: reference, before, since,
	// dangling, intermediate, label, id, readonly, containers. Filters of one key are ORed, keys ANDed
	// (label ANDed with itself, as in podman).
	Filters []string
	// Sort is created (newest first, the default), id, repository, size
	// or tag.
	Sort string
}

// List returns the local images matching o.
func List(ctx context.Context, s storage.Store, o ListOptions) ([]Summary, error) {
	images, err := s.Images()
	if err != nil {
		return nil, fmt.Errorf("listing images: %w", err)
	}
	fam, err := newFamily(s, images)
	if err != nil {
		return nil, err
	}
	ctrs, err := s.Containers()
	if err != nil {
		return nil, fmt.Errorf("listing containers: %w", err)
	}
	used := map[string]int{}
	for _, c := range ctrs {
		used[c.ImageID]++
	}
	all := make([]Summary, 0, len(images))
	for i := range images {
		img := &images[i]
		unnamed := len(img.Names) == 0
		sum := Summary{
			ID: img.ID, Names: img.Names, Digest: img.Digest, Digests: img.Digests,
			Created: img.Created, Containers: used[img.ID], ReadOnly: img.ReadOnly, TopLayer: img.TopLayer,
			Dangling: unnamed && !fam.hasChildren(img.ID), Intermediate: unnamed && fam.hasChildren(img.ID),
			Parent: fam.parent(img.ID),
		}
		if size, err := s.ImageSize(img.ID); err == nil {
			sum.Size = size
		}
		cfg := fam.configs[img.ID]
		if cfg == nil {
			cfg, _ = imageConfig(ctx, s, img)
		}
		if cfg != nil {
			sum.Labels = cfg.Config.Labels
			if cfg.Created != nil && sum.Created.IsZero() {
				sum.Created = *cfg.Created
			}
		}
		all = append(all, sum)
	}
	filter, err := parseFilters(o.Filters, all, s)
	if err != nil {
		return nil, err
	}
	var out []Summary
	for _, sum := range all {
		if !o.All && sum.Intermediate {
			continue
		}
		if filter(sum) {
			out = append(out, sum)
		}
	}
	if err := sortSummaries(out, o.Sort); err != nil {
		return nil, err
	}
	return out, nil
}

// family knows which stored images are built on which, as podman's layer
// tree does: a child stands on its parent's top layer, or on the same top
// layer, and its configuration extends the parent's, the same layer diff
// IDs first and the same history entries first, with more after. (Podman
// wants exactly one more history entry; a build here commits an image per
// filesystem step only, so configuration steps after the last one add
// several.)
type family struct {
	configs  map[string]*imgspecv1.Image // by image ID; nil when unreadable
	children map[string][]string         // image ID → IDs of its children
	parents  map[string]string           // image ID → its closest parent
}

// newFamily reads the configurations of images and relates them.
func newFamily(s storage.Store, images []storage.Image) (*family, error) {
	layers, err := s.Layers()
	if err != nil {
		return nil, fmt.Errorf("listing layers: %w", err)
	}
	parentLayer := map[string]string{}
	for _, l := range layers {
		parentLayer[l.ID] = l.Parent
	}
	f := &family{configs: map[string]*imgspecv1.Image{}, children: map[string][]string{}, parents: map[string]string{}}
	onLayer := map[string][]*storage.Image{} // by top layer ("" for none)
	for i := range images {
		img := &images[i]
		f.configs[img.ID] = storedConfig(s, img)
		onLayer[img.TopLayer] = append(onLayer[img.TopLayer], img)
	}
	for i := range images {
		child := &images[i]
		cc := f.configs[child.ID]
		if cc == nil {
			continue
		}
		// Candidates: the images on the same top layer and, when the
		// child has one, those on the layer below it.
		cands := onLayer[child.TopLayer]
		if child.TopLayer != "" {
			cands = append(slices.Clip(cands), onLayer[parentLayer[child.TopLayer]]...)
		}
		best := -1
		for _, p := range cands {
			pc := f.configs[p.ID]
			if p.ID == child.ID || pc == nil || !extends(cc, pc) {
				continue
			}
			f.children[p.ID] = append(f.children[p.ID], child.ID)
			if len(pc.History) > best {
				best = len(pc.History)
				f.parents[child.ID] = p.ID
			}
		}
	}
	return f, nil
}

func (f *family) hasChildren(id string) bool { return len(f.children[id]) > 0 }
func (f *family) parent(id string) string    { return f.parents[id] }

// extends reports whether child's configuration is parent's with more
// history after it: parent's layers first, parent's history entries
// first and at least one entry more.
func extends(child, parent *imgspecv1.Image) bool {
	if len(parent.History) == 0 || len(child.History) <= len(parent.History) ||
		len(child.RootFS.DiffIDs) < len(parent.RootFS.DiffIDs) {
		return false
	}
	for i, d := range parent.RootFS.DiffIDs {
		if child.RootFS.DiffIDs[i] != d {
			return false
		}
	}
	for i, h := range parent.History {
		c := child.History[i]
		if (h.Created == nil) != (c.Created == nil) || (h.Created != nil && !h.Created.Equal(*c.Created)) ||
			h.CreatedBy != c.CreatedBy || h.Author != c.Author || h.Comment != c.Comment || h.EmptyLayer != c.EmptyLayer {
			return false
		}
	}
	return true
}

// storedConfig reads an image's configuration from the store's record:
// stored under its digest, which is the image ID for every image but
// those pulled by a schema 1 manifest; else by the manifest's config
// digest. It is nil when there is none (schema 1) or it cannot be read.
func storedConfig(s storage.Store, img *storage.Image) *imgspecv1.Image {
	b, err := s.ImageBigData(img.ID, "sha256:"+img.ID)
	if err != nil {
		mb, merr := s.ImageBigData(img.ID, storage.ImageDigestBigDataKey)
		if merr != nil {
			return nil
		}
		m, merr := manifest.FromBlob(mb, manifest.GuessMIMEType(mb))
		if merr != nil || m.ConfigInfo().Digest == "" {
			return nil
		}
		if b, err = s.ImageBigData(img.ID, m.ConfigInfo().Digest.String()); err != nil {
			return nil
		}
	}
	var cfg imgspecv1.Image
	if json.Unmarshal(b, &cfg) != nil {
		return nil
	}
	return &cfg
}

func sortSummaries(out []Summary, by string) error {
	first := func(s Summary) RepoTag { return s.RepoTags()[0] }
	var less func(a, b Summary) bool
	switch by {
	case "", "created":
		less = func(a, b Summary) bool { return a.Created.After(b.Created) }
	case "id":
		less = func(a, b Summary) bool { return a.ID < b.ID }
	case "repository":
		less = func(a, b Summary) bool { return first(a).Repository < first(b).Repository }
	case "tag":
		less = func(a, b Summary) bool { return first(a).Tag < first(b).Tag }
	case "size":
		less = func(a, b Summary) bool { return a.Size < b.Size }
	default:
		return fmt.Errorf("invalid --sort %q: want created, id, repository, size or tag", by)
	}
	sort.SliceStable(out, func(i, j int) bool { return less(out[i], out[j]) })
	return nil
}

// parseFilters builds the predicate of podman's image filters.
func parseFilters(filters []string, all []Summary, s storage.Store) (func(Summary) bool, error) {
	byKey := map[string][]string{}
	var keys []string
	for _, f := range filters {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return nil, fmt.Errorf("invalid filter %q: want KEY=VALUE", f)
		}
		if _, seen := byKey[k]; !seen {
			keys = append(keys, k)
		}
		byKey[k] = append(byKey[k], v)
	}
	var preds []func(Summary) bool
	for _, k := range keys {
		vals := byKey[k]
		var one func(Summary, string) bool
		and := false
		switch k {
		case "reference":
			one = matchReference
		case "id":
			one = func(x Summary, v string) bool { return strings.HasPrefix(x.ID, strings.TrimPrefix(v, "sha256:")) }
		case "dangling":
			for _, v := range vals {
				if _, err := strconv.ParseBool(v); err != nil {
					return nil, fmt.Errorf("invalid filter dangling=%s: want true or false", v)
				}
			}
			one = func(x Summary, v string) bool { b, _ := strconv.ParseBool(v); return x.Dangling == b }
		case "intermediate":
			for _, v := range vals {
				if _, err := strconv.ParseBool(v); err != nil {
					return nil, fmt.Errorf("invalid filter intermediate=%s: want true or false", v)
				}
			}
			one = func(x Summary, v string) bool { b, _ := strconv.ParseBool(v); return x.Intermediate == b }
		case "label":
			and = true
			one = func(x Summary, v string) bool {
				lk, lv, hasValue := strings.Cut(v, "=")
				got, ok := x.Labels[lk]
				return ok && (!hasValue || got == lv)
			}
		case "before", "since":
			times := map[string]time.Time{}
			for _, v := range vals {
				f, err := Lookup(s, v)
				if err != nil {
					return nil, fmt.Errorf("filter %s=%s: %w", k, v, err)
				}
				created := f.Created
				for _, x := range all {
					if x.ID == f.ID {
						created = x.Created
					}
				}
				times[v] = created
			}
			before := k == "before"
			one = func(x Summary, v string) bool {
				if before {
					return x.Created.Before(times[v])
				}
				return x.Created.After(times[v])
			}
		case "readonly":
			one = func(x Summary, v string) bool { b, _ := strconv.ParseBool(v); return x.ReadOnly == b }
		case "containers":
			one = func(x Summary, v string) bool { b, _ := strconv.ParseBool(v); return (x.Containers > 0) == b }
		default:
			return nil, fmt.Errorf("invalid filter %q: want reference, before, since, dangling, intermediate, label, id, readonly or containers", k)
		}
		preds = append(preds, func(x Summary) bool {
			for _, v := range vals {
				m := one(x, v)
				if and && !m {
					return false
				}
				if !and && m {
					return true
				}
			}
			return and
		})
	}
	return func(x Summary) bool {
		for _, p := range preds {
			if !p(x) {
				return false
			}
		}
		return true
	}, nil
}

// matchReference matches a reference= pattern (a glob, optionally with
// ":tag") against an image's names, fully qualified or by their trailing
// path components: "busybox", "*box:latest", "docker.io/library/busy*"
// and "library/busybox" all match docker.io/library/busybox:latest.
func matchReference(x Summary, pattern string) bool {
	for _, n := range x.Names {
		named, err := reference.ParseNormalizedNamed(n)
		if err != nil {
			continue
		}
		tag := ""
		if t, ok := named.(reference.Tagged); ok {
			tag = t.Tag()
		}
		repo := named.Name()
		parts := strings.Split(repo, "/")
		for i := range parts {
			suffix := strings.Join(parts[i:], "/")
			for _, cand := range []string{suffix, suffix + ":" + tag} {
				if ok, _ := path.Match(pattern, cand); ok {
					return true
				}
			}
		}
	}
	return false
}

// imageConfig reads an image's OCI configuration from the store.
func imageConfig(ctx context.Context, s storage.Store, img *storage.Image) (*imgspecv1.Image, error) {
	ref, err := storeRef(s, img)
	if err != nil {
		return nil, err
	}
	i, err := ref.NewImage(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer i.Close()
	return i.OCIConfig(ctx)
}
