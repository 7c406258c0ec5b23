package inspect

import (
	"context"
	"fmt"
	"strings"

	"github.com/containers/image/v5/docker"
	"github.com/containers/image/v5/docker/archive"
	"github.com/containers/image/v5/docker/reference"
	"github.com/containers/image/v5/types"

	"github.com/ocisuite/suite/shared/retry"
)

// TagList is skopeo's list-tags JSON. Repository is empty for an archive,
// whose Tags are full references ("docker.io/library/busybox:latest").
type TagList struct {
	Repository string `json:",omitempty"`
	Tags       []string
}

// ListTags lists the tags of "docker://REPOSITORY" (no tag, no digest) or
// the references stored in "docker-archive:PATH".
func ListTags(ctx context.Context, name string, sys *types.SystemContext, r retry.Options) (*TagList, error) {
	if repo, ok := strings.CutPrefix(name, "docker://"); ok {
		return registryTags(ctx, name, repo, sys, r)
	}
	if path, ok := strings.CutPrefix(name, "docker-archive:"); ok {
		return archiveTags(name, path, sys)
	}
	return nil, fmt.Errorf("listing the tags of %q: only docker://REPOSITORY and docker-archive:PATH have tags", name)
}

func registryTags(ctx context.Context, name, repo string, sys *types.SystemContext, r retry.Options) (*TagList, error) {
	named, err := reference.ParseNormalizedNamed(repo)
	if err != nil {
		return nil, fmt.Errorf("listing the tags of %q: %w", name, err)
	}
	if !reference.IsNameOnly(named) {
		return nil, fmt.Errorf("listing the tags of %q: give a repository without a tag or digest", name)
	}
	ref, err := docker.NewReference(reference.TagNameOnly(named))
	if err != nil {
		return nil, fmt.Errorf("listing the tags of %q: %w", name, err)
	}
	var tags []string
	err = retry.Do(ctx, r, func() error {
		var err error
		tags, err = docker.GetRepositoryTags(ctx, sys, ref)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("listing the tags of %s: %w", named.Name(), err)
	}
	if tags == nil {
		tags = []string{}
	}
	return &TagList{Repository: named.Name(), Tags: tags}, nil
}

func archiveTags(name, path string, sys *types.SystemContext) (*TagList, error) {
	// As in docker-archive:PATH[:REFERENCE], PATH ends at the first colon.
	path, _, _ = strings.Cut(path, ":")
	if path == "" {
		return nil, fmt.Errorf("listing the tags of %q: no archive path", name)
	}
	rd, err := archive.NewReader(sys, path)
	if err != nil {
		return nil, fmt.Errorf("listing the tags of %s: %w", name, err)
	}
	defer rd.Close()
	images, err := rd.List()
	if err != nil {
		return nil, fmt.Errorf("listing the tags of %s: %w", name, err)
	}
	tags := []string{}
	for _, refs := range images {
		for _, ref := range refs {
			if nt, ok := ref.DockerReference().(reference.NamedTagged); ok {
				tags = append(tags, nt.String())
			}
		}
	}
	return &TagList{Tags: tags}, nil
}
