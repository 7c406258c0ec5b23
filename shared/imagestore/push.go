//go:build !thin

package imagestore

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/containers/image/v5/docker"
	"github.com/containers/image/v5/manifest"
	"github.com/containers/image/v5/transports"
	"github.com/containers/image/v5/types"
	"github.com/containers/storage"
	digest "github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"

	shimage "github.com/ocisuite/suite/shared/image"
)

// PushOptions control Push.
type PushOptions struct {
	Sys shimage.SystemOptions
	// Format is "oci", "v2s2" or "v2s1"; "" keeps the stored format.
	Format           string
	RemoveSignatures bool
	Progress         io.Writer
	RetryTimes       int
	PolicyPath       string
}

// ManifestType maps podman's --format names to manifest MIME types.
func ManifestType(format string) (string, error) {
	switch format {
	case "":
		return "", nil
	case "oci":
		return imgspecv1.MediaTypeImageManifest, nil
	case "v2s2", "docker":
		return manifest.DockerV2Schema2MediaType, nil
	case "v2s1":
		return manifest.DockerV2Schema1SignedMediaType, nil
	}
	return "", fmt.Errorf("invalid manifest format %q: want oci, v2s2 or v2s1", format)
}

// Push copies the local image name to dest: a registry name
// ("registry.example/app:1", "docker://…") or TRANSPORT:DETAILS; dest ""
// pushes to the registry the image's name says. It returns the digest of
// the written manifest.
func Push(ctx context.Context, s storage.Store, name, dest string, o PushOptions) (digest.Digest, error) {
	mime, err := ManifestType(o.Format)
	if err != nil {
		return "", err
	}
	f, err := Lookup(s, name)
	if err != nil {
		return "", err
	}
	if dest == "" {
		dest = name
		if f.Name != "" {
			dest = f.Name
		}
	}
	dst, err := destReference(dest)
	if err != nil {
		return "", err
	}
	src, err := storeRef(s, f.Image)
	if err != nil {
		return "", err
	}
	sys, err := o.Sys.SystemContext()
	if err != nil {
		return "", err
	}
	if o.Progress != nil {
		fmt.Fprintf(o.Progress, "Pushing %s to %s\n", shortID(f.ID), transports.ImageName(dst))
	}
	res, err := shimage.Copy(ctx, src, dst, shimage.CopyOptions{
		SourceCtx:             sys,
		DestCtx:               sys,
		PolicyPath:            o.PolicyPath,
		ForceManifestMIMEType: mime,
		RemoveSignatures:      o.RemoveSignatures,
		RetryTimes:            o.RetryTimes,
		Progress:              o.Progress,
	})
	if err != nil {
		return "", err
	}
	return res.Digest, nil
}

// destReference parses a push destination: TRANSPORT:DETAILS or a registry
// name.
func destReference(dest string) (types.ImageReference, error) {
	if t, _, ok := strings.Cut(dest, ":"); ok && t != "docker" && transports.Get(t) != nil {
		return shimage.ParseReference(dest)
	}
	ref, err := docker.ParseReference("//" + strings.TrimPrefix(dest, "docker://"))
	if err != nil {
		return nil, fmt.Errorf("invalid destination %q: %w", dest, err)
	}
	return ref, nil
}
