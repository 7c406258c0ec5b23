//go:build !thin

package imagestore

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/containers/image/v5/copy"
	"github.com/containers/image/v5/docker"
	"github.com/containers/image/v5/docker/reference"
	istorage "github.com/containers/image/v5/storage"
	"github.com/containers/image/v5/transports"
	"github.com/containers/image/v5/types"
	"github.com/containers/storage"

	shimage "github.com/ocisuite/suite/shared/image"
)

// PullOptions control Pull.
type PullOptions struct {
	// Sys are the registry options (--creds, --tls-verify, --authfile, …).
	Sys shimage.SystemOptions
	// Policy is always, missing, never or newer.
	Policy string
	// AllTags pulls every tag of the repository.
	AllTags bool
	// OS, Arch and Variant choose from a multi-platform image.
	OS, Arch, Variant string
	// Progress receives "Trying to pull …" and the copy's steps; nil: quiet.
	Progress io.Writer
	// RetryTimes: see shared/image.CopyOptions.
	RetryTimes int
	// PolicyPath is the trust policy (policy.json) to use; "" the default.
	PolicyPath string
}

func (o PullOptions) systemContext() (*types.SystemContext, error) {
	so := o.Sys
	if o.OS != "" {
		so.OverrideOS = o.OS
	}
	if o.Arch != "" {
		so.OverrideArch = o.Arch
	}
	if o.Variant != "" {
		so.OverrideVariant = o.Variant
	}
	return so.SystemContext()
}

// Pull pulls name into the store and returns the pulled (or, by policy,
// already present) images. name is a registry image (short or fully
// qualified, optionally "docker://…"), or an image in another transport
// ("docker-archive:…", "oci-archive:…", "oci:…", "dir:…"). A short name
// is tried at each candidate from registries.conf (aliases, then
// unqualified-search-registries) until one succeeds. A failed pull leaves
// no image behind: containers/storage commits the image only once all of
// it has arrived.
func Pull(ctx context.Context, s storage.Store, name string, o PullOptions) ([]*storage.Image, error) {
	policy, err := ParsePullPolicy(o.Policy)
	if err != nil {
		return nil, err
	}
	sys, err := o.systemContext()
	if err != nil {
		return nil, err
	}
	if t, _, ok := strings.Cut(name, ":"); ok && t != "docker" && transports.Get(t) != nil {
		res, err := Load(ctx, s, name, LoadOptions{Sys: o.Sys, Progress: o.Progress, PolicyPath: o.PolicyPath})
		if err != nil {
			return nil, err
		}
		return res.Images, nil
	}
	name = strings.TrimPrefix(name, "docker://")

	if policy == PullMissing || policy == PullNever {
		if f, err := Lookup(s, name); err == nil {
			return []*storage.Image{f.Image}, nil
		}
		if policy == PullNever {
			return nil, fmt.Errorf("%s: %w (pull policy is never)", name, ErrNotFound)
		}
	}

	candidates, desc, err := shimage.Candidates(sys, name)
	if err != nil {
		return nil, err
	}
	if o.AllTags {
		r, err := reference.Parse(name)
		if err != nil {
			return nil, fmt.Errorf("invalid image name %q: %w", name, err)
		}
		_, tagged := r.(reference.Tagged)
		_, digested := r.(reference.Digested)
		if tagged || digested {
			return nil, fmt.Errorf("%s: --all-tags takes a repository without a tag or digest", name)
		}
	}
	var errs []string
	for _, c := range candidates {
		if o.AllTags {
			imgs, err := pullAllTags(ctx, s, sys, reference.TrimNamed(c), o)
			if err == nil {
				return imgs, nil
			}
			errs = append(errs, fmt.Sprintf("%s: %v", reference.TrimNamed(c), err))
			continue
		}
		img, err := pullOne(ctx, s, sys, c, policy, o)
		if err == nil {
			return []*storage.Image{img}, nil
		}
		if ctx.Err() != nil || len(candidates) == 1 {
			return nil, err
		}
		errs = append(errs, fmt.Sprintf("%s: %v", c, err))
	}
	return nil, fmt.Errorf("pulling %s (%s): every candidate failed: %s", name, desc, strings.Join(errs, "; "))
}

func pullAllTags(ctx context.Context, s storage.Store, sys *types.SystemContext, repo reference.Named, o PullOptions) ([]*storage.Image, error) {
	ref, err := docker.NewReference(reference.TagNameOnly(repo))
	if err != nil {
		return nil, err
	}
	tags, err := docker.GetRepositoryTags(ctx, sys, ref)
	if err != nil {
		return nil, fmt.Errorf("listing the tags of %s: %w", repo, err)
	}
	var out []*storage.Image
	for _, tag := range tags {
		t, err := reference.WithTag(repo, tag)
		if err != nil {
			return out, err
		}
		img, err := pullOne(ctx, s, sys, t, PullAlways, o)
		if err != nil {
			return out, err
		}
		out = append(out, img)
	}
	return out, nil
}

// pullOne copies one fully qualified registry image into the store.
func pullOne(ctx context.Context, s storage.Store, sys *types.SystemContext, named reference.Named, policy string, o PullOptions) (*storage.Image, error) {
	named = reference.TagNameOnly(named)
	src, err := docker.NewReference(named)
	if err != nil {
		return nil, err
	}
	if policy == PullNewer {
		if f, ok := lookupStored(s, named); ok {
			d, err := docker.GetDigest(ctx, sys, src)
			if err == nil && hasDigest(f.Image, d) {
				return f.Image, nil
			}
		}
	}
	dst, err := istorage.Transport.NewStoreReference(s, named, "")
	if err != nil {
		return nil, err
	}
	if o.Progress != nil {
		fmt.Fprintf(o.Progress, "Trying to pull %s...\n", named)
	}
	_, err = shimage.Copy(ctx, src, dst, shimage.CopyOptions{
		SourceCtx:          sys,
		DestCtx:            sys,
		PolicyPath:         o.PolicyPath,
		ImageListSelection: copy.CopySystemImage,
		RetryTimes:         o.RetryTimes,
		Progress:           o.Progress,
	})
	if err != nil {
		return nil, err
	}
	img, err := s.Image(named.String())
	if err != nil {
		return nil, fmt.Errorf("finding %s after pulling it: %w", named, err)
	}
	return img, nil
}
