package imagestore

import (
	"context"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/containers/image/v5/docker/reference"
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
	Dangling   bool
	ReadOnly   bool
	TopLayer   string
	layerChain map[string]bool
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
	// All includes intermediate images (dangling images that are the
	// parent of another image).
	All bool
	// Filters are podman's KEY=VALUE filters: reference, before, since,
	// dangling, label, id. Filters of one key are ORed, keys ANDed
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
	layers, err := s.Layers()
	if err != nil {
		return nil, fmt.Errorf("listing layers: %w", err)
	}
	parent := map[string]string{}
	for _, l := range layers {
		parent[l.ID] = l.Parent
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
		sum := Summary{
			ID: img.ID, Names: img.Names, Digest: img.Digest, Digests: img.Digests,
			Created: img.Created, Containers: used[img.ID], Dangling: len(img.Names) == 0,
			ReadOnly: img.ReadOnly, TopLayer: img.TopLayer, layerChain: map[string]bool{},
		}
		for l := parent[img.TopLayer]; l != ""; l = parent[l] {
			sum.layerChain[l] = true
		}
		if size, err := s.ImageSize(img.ID); err == nil {
			sum.Size = size
		}
		if cfg, err := imageConfig(ctx, s, img); err == nil {
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
		if !o.All && sum.Dangling && isParent(sum, all) {
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

// isParent reports whether another image is built on sum's top layer.
func isParent(sum Summary, all []Summary) bool {
	for _, x := range all {
		if x.ID != sum.ID && x.layerChain[sum.TopLayer] {
			return true
		}
	}
	return false
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
			return nil, fmt.Errorf("invalid filter %q: want reference, before, since, dangling, label, id, readonly or containers", k)
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
