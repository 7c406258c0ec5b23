package imagesync

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/Masterminds/semver/v3"
	"github.com/containers/image/v5/directory"
	"github.com/containers/image/v5/docker"
	"github.com/containers/image/v5/docker/reference"
	"github.com/containers/image/v5/types"
	"gopkg.in/yaml.v3"
)

// Source is one image to copy, with the context to read it.
type Source struct {
	Ref types.ImageReference
	Sys *types.SystemContext
	// Suffix is the destination path suffix: "REGISTRY/REPO:TAG" for a
	// registry image, the path below the base directory for a dir: image.
	Suffix string
}

// RegistryConfig is one registry's entry in a sync YAML file.
type RegistryConfig struct {
	Images           map[string][]string `yaml:"images"`
	ImagesByTagRegex map[string]string   `yaml:"images-by-tag-regex"`
	ImagesBySemver   map[string]string   `yaml:"images-by-semver"`
	Credentials      struct {
		Username string `yaml:"username"`
		Password string `yaml:"password"`
	} `yaml:"credentials"`
	TLSVerify *bool  `yaml:"tls-verify"`
	CertDir   string `yaml:"cert-dir"`
}

// ParseYAML reads a sync YAML file: registry → images.
func ParseYAML(path string) (map[string]RegistryConfig, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	var cfg map[string]RegistryConfig
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		return nil, fmt.Errorf("parsing %s: %w", path, err)
	}
	return cfg, nil
}

// tagLister lists the tags of a repository (docker.GetRepositoryTags).
type tagLister func(ctx context.Context, sys *types.SystemContext, ref types.ImageReference) ([]string, error)

// DockerSources enumerates a "REGISTRY/REPO[:TAG|@DIGEST]" source: the
// image itself when it names one, every tag of the repository otherwise.
func DockerSources(ctx context.Context, name string, sys *types.SystemContext, list tagLister) ([]Source, error) {
	named, err := reference.ParseNormalizedNamed(name)
	if err != nil {
		return nil, fmt.Errorf("invalid source %q: %w", name, err)
	}
	if !reference.IsNameOnly(named) {
		ref, err := docker.NewReference(named)
		if err != nil {
			return nil, err
		}
		return []Source{{Ref: ref, Sys: sys, Suffix: named.String()}}, nil
	}
	return repoTags(ctx, named, sys, list, nil)
}

// repoTags lists the repository's tags, keeps those filter accepts (all
// when nil), and returns one source per tag, sorted.
func repoTags(ctx context.Context, named reference.Named, sys *types.SystemContext, list tagLister, filter func(string) bool) ([]Source, error) {
	repoRef, err := docker.NewReference(reference.TagNameOnly(named))
	if err != nil {
		return nil, err
	}
	tags, err := list(ctx, sys, repoRef)
	if err != nil {
		return nil, fmt.Errorf("listing the tags of %s: %w", named.Name(), err)
	}
	sort.Strings(tags)
	var out []Source
	for _, tag := range tags {
		if filter != nil && !filter(tag) {
			continue
		}
		tagged, err := reference.WithTag(named, tag)
		if err != nil {
			return nil, fmt.Errorf("tag %q of %s: %w", tag, named.Name(), err)
		}
		ref, err := docker.NewReference(tagged)
		if err != nil {
			return nil, err
		}
		out = append(out, Source{Ref: ref, Sys: sys, Suffix: tagged.String()})
	}
	return out, nil
}

// YAMLSources enumerates the images a sync YAML file names.
func YAMLSources(ctx context.Context, cfg map[string]RegistryConfig, base *types.SystemContext, list tagLister) ([]Source, error) {
	var regs []string
	for r := range cfg {
		regs = append(regs, r)
	}
	sort.Strings(regs)
	var out []Source
	for _, regName := range regs {
		rc := cfg[regName]
		sys := registrySys(base, rc)
		var repos []string
		for r := range rc.Images {
			repos = append(repos, r)
		}
		sort.Strings(repos)
		for _, repo := range repos {
			named, err := reference.ParseNormalizedNamed(regName + "/" + repo)
			if err != nil {
				return nil, fmt.Errorf("invalid repository %s/%s: %w", regName, repo, err)
			}
			if len(rc.Images[repo]) == 0 {
				srcs, err := repoTags(ctx, named, sys, list, nil)
				if err != nil {
					return nil, err
				}
				out = append(out, srcs...)
				continue
			}
			for _, tagOrDigest := range rc.Images[repo] {
				var r reference.Named
				if strings.Contains(tagOrDigest, ":") {
					r, err = reference.ParseNormalizedNamed(named.Name() + "@" + tagOrDigest)
				} else {
					r, err = reference.WithTag(named, tagOrDigest)
				}
				if err != nil {
					return nil, fmt.Errorf("image %s %s: %w", named.Name(), tagOrDigest, err)
				}
				ref, err := docker.NewReference(r)
				if err != nil {
					return nil, err
				}
				out = append(out, Source{Ref: ref, Sys: sys, Suffix: r.String()})
			}
		}
		for _, repo := range sortedKeys(rc.ImagesByTagRegex) {
			re, err := regexp.Compile(rc.ImagesByTagRegex[repo])
			if err != nil {
				return nil, fmt.Errorf("images-by-tag-regex for %s/%s: %w", regName, repo, err)
			}
			named, err := reference.ParseNormalizedNamed(regName + "/" + repo)
			if err != nil {
				return nil, err
			}
			srcs, err := repoTags(ctx, named, sys, list, re.MatchString)
			if err != nil {
				return nil, err
			}
			out = append(out, srcs...)
		}
		for _, repo := range sortedKeys(rc.ImagesBySemver) {
			c, err := semver.NewConstraint(rc.ImagesBySemver[repo])
			if err != nil {
				return nil, fmt.Errorf("images-by-semver for %s/%s: %w", regName, repo, err)
			}
			named, err := reference.ParseNormalizedNamed(regName + "/" + repo)
			if err != nil {
				return nil, err
			}
			srcs, err := repoTags(ctx, named, sys, list, func(tag string) bool {
				v, err := semver.NewVersion(tag)
				return err == nil && c.Check(v)
			})
			if err != nil {
				return nil, err
			}
			out = append(out, srcs...)
		}
	}
	return out, nil
}

func sortedKeys(m map[string]string) []string {
	var k []string
	for s := range m {
		k = append(k, s)
	}
	sort.Strings(k)
	return k
}

// registrySys applies a YAML registry entry's credentials and TLS settings.
func registrySys(base *types.SystemContext, rc RegistryConfig) *types.SystemContext {
	sys := types.SystemContext{}
	if base != nil {
		sys = *base
	}
	if rc.Credentials.Username != "" {
		sys.DockerAuthConfig = &types.DockerAuthConfig{Username: rc.Credentials.Username, Password: rc.Credentials.Password}
	}
	if rc.TLSVerify != nil {
		sys.DockerInsecureSkipTLSVerify = types.NewOptionalBool(!*rc.TLSVerify)
	}
	if rc.CertDir != "" {
		sys.DockerCertPath = rc.CertDir
	}
	return &sys
}

// DirSources finds every dir: image (a directory with manifest.json) below
// root.
func DirSources(root string, sys *types.SystemContext) ([]Source, error) {
	root = filepath.Clean(root)
	var out []Source
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		if _, err := os.Stat(filepath.Join(p, "manifest.json")); err != nil {
			return nil
		}
		ref, err := directory.NewReference(p)
		if err != nil {
			return err
		}
		suffix := strings.TrimPrefix(strings.TrimPrefix(p, root), "/")
		if suffix == "" {
			suffix = path.Base(root)
		}
		out = append(out, Source{Ref: ref, Sys: sys, Suffix: suffix})
		return filepath.SkipDir
	})
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", root, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no images (directories with manifest.json) below %s", root)
	}
	return out, nil
}
