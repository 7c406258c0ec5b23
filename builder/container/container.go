// Package container holds the builder's working containers, as buildah has
// them: a storage container made from an image (or from nothing, for
// "scratch"), the image configuration being built, commands run in it with
// the OCI runtime in the foreground, and commit into a new image. The
// Containerfile executor (builder/build) and the buildah-style verbs
// (from, run, copy, config, commit, …) both work through it.
package container

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/containers/storage"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	digest "github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/sirupsen/logrus"

	"github.com/ocisuite/suite/config"
	shimage "github.com/ocisuite/suite/shared/image"
	"github.com/ocisuite/suite/shared/imagestore"
	"github.com/ocisuite/suite/shared/oci"
	"github.com/ocisuite/suite/shared/userns"
)

// recordKind marks a storage container as a builder's working container
// (the engine ignores containers whose metadata is not its own).
const recordKind = "ocisuite-builder/v1"

// Errors callers decide on with errors.Is.
var (
	ErrNoSuchContainer = errors.New("no such working container")
	ErrNameInUse       = errors.New("name is already in use")
)

// Record is what the builder keeps of a working container, as the storage
// container's metadata.
type Record struct {
	Kind string `json:"kind"`
	// FromImage is the image as the user named it; "scratch" for none.
	FromImage   string `json:"from_image"`
	FromImageID string `json:"from_image_id,omitempty"`
	// Config is the image configuration commit writes: the base image's,
	// with the changes made since (history included).
	Config dockerspec.DockerOCIImage `json:"config"`
	// Format is the image format commit writes by default: oci or docker.
	Format string `json:"format,omitempty"`
	// Created is when the working container was made.
	Created time.Time `json:"created"`
}

// Container is a working container.
type Container struct {
	Record
	ID, Name string
	m        *Manager
}

// Manager makes and finds working containers in one store.
type Manager struct {
	Store    storage.Store
	Runtime  *oci.Runtime
	Settings config.Engine
	// Sys is how registries are reached when an image is pulled.
	Sys shimage.SystemOptions
	// Rootless is set when the builder runs in an unprivileged user's
	// namespace (shared/userns).
	Rootless bool
	// Progress receives pull progress; nil is quiet.
	Progress io.Writer
}

// NewManager sets up a manager for store with the settings' runtime (or
// runtimeName, a name or path).
func NewManager(store storage.Store, settings config.Engine, runtimeName string) (*Manager, error) {
	name := runtimeName
	if name == "" {
		name = settings.Runtime
	}
	rt, err := oci.Find(name, settings.Runtimes)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(store.RunRoot(), "builder", "runc")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	return &Manager{
		Store:    store,
		Runtime:  &oci.Runtime{Path: rt, Root: dir},
		Settings: settings,
		Rootless: userns.Rootless(),
	}, nil
}

// FromOptions control From.
type FromOptions struct {
	// Name of the working container; "" gives IMAGE-working-container
	// (with a number appended when taken), as buildah names them.
	Name string
	// Pull is the pull policy: always, missing (default), never, newer.
	Pull string
	// Format is the default commit format: oci (default) or docker.
	Format string
	// Platform chooses from a multi-platform image ("" = native).
	OS, Arch, Variant string
}

// Scratch is the name of the empty base image.
const Scratch = "scratch"

// From makes a working container from image (pulled as o.Pull says), or
// from nothing for "scratch".
func (m *Manager) From(ctx context.Context, image string, o FromOptions) (*Container, error) {
	format := o.Format
	if format == "" {
		format = "oci"
	}
	if format != "oci" && format != "docker" {
		return nil, fmt.Errorf("invalid format %q: want oci or docker", format)
	}
	rec := Record{Kind: recordKind, FromImage: image, Format: format, Created: time.Now().UTC()}
	var imageID string
	if image == Scratch {
		rec.Config = ScratchConfig()
	} else {
		img, err := m.resolveImage(ctx, image, o)
		if err != nil {
			return nil, err
		}
		imageID = img.ID
		rec.FromImageID = img.ID
		if rec.Config, err = ImageConfig(ctx, m.Store, img.ID); err != nil {
			return nil, err
		}
	}
	name := o.Name
	if name == "" {
		var err error
		if name, err = m.freeName(image); err != nil {
			return nil, err
		}
	}
	meta, err := json.Marshal(rec)
	if err != nil {
		return nil, err
	}
	sc, err := m.Store.CreateContainer("", []string{name}, imageID, "", string(meta), nil)
	if err != nil {
		if errors.Is(err, storage.ErrDuplicateName) {
			return nil, fmt.Errorf("%s: %w", name, ErrNameInUse)
		}
		return nil, fmt.Errorf("creating working container from %s: %w", image, err)
	}
	logrus.Debugf("builder: working container %s (%s) from %s", name, sc.ID[:12], image)
	return &Container{Record: rec, ID: sc.ID, Name: name, m: m}, nil
}

// ResolveImage finds or pulls image by the pull policy ("" is missing).
func (m *Manager) ResolveImage(ctx context.Context, image, policy string) (*storage.Image, error) {
	return m.resolveImage(ctx, image, FromOptions{Pull: policy})
}

// FromImageID makes an unnamed working container on a local image (""
// for none) with cfg as its configuration, for one build step.
func (m *Manager) FromImageID(ctx context.Context, imageID string, cfg dockerspec.DockerOCIImage, format string) (*Container, error) {
	rec := Record{Kind: recordKind, FromImage: imageID, FromImageID: imageID, Config: cfg, Format: format, Created: time.Now().UTC()}
	if imageID == "" {
		rec.FromImage = Scratch
	}
	meta, err := json.Marshal(rec)
	if err != nil {
		return nil, err
	}
	sc, err := m.Store.CreateContainer("", nil, imageID, "", string(meta), nil)
	if err != nil {
		return nil, fmt.Errorf("creating a build container: %w", err)
	}
	return &Container{Record: rec, ID: sc.ID, Name: sc.ID[:12], m: m}, nil
}

// resolveImage finds or pulls image by the pull policy.
func (m *Manager) resolveImage(ctx context.Context, image string, o FromOptions) (*storage.Image, error) {
	policy := o.Pull
	if policy == "" {
		policy = imagestore.PullMissing
	}
	policy, err := imagestore.ParsePullPolicy(policy)
	if err != nil {
		return nil, err
	}
	if policy == imagestore.PullMissing || policy == imagestore.PullNever {
		if f, err := imagestore.Lookup(m.Store, image); err == nil {
			return f.Image, nil
		}
	}
	imgs, err := imagestore.Pull(ctx, m.Store, image, imagestore.PullOptions{
		Sys: m.Sys, Policy: policy, OS: o.OS, Arch: o.Arch, Variant: o.Variant, Progress: m.Progress,
	})
	if err != nil {
		return nil, err
	}
	if len(imgs) == 0 {
		return nil, fmt.Errorf("%s: %w", image, imagestore.ErrNotFound)
	}
	return imgs[0], nil
}

// freeName is buildah's default name: the image's last path element and
// "-working-container", then -1, -2, … when taken.
func (m *Manager) freeName(image string) (string, error) {
	base := image
	if i := strings.LastIndex(base, "/"); i >= 0 {
		base = base[i+1:]
	}
	base, _, _ = strings.Cut(base, "@")
	base, _, _ = strings.Cut(base, ":")
	if base == "" || len(base) == 64 {
		base = "image"
	}
	base += "-working-container"
	for i := 0; i < 10000; i++ {
		name := base
		if i > 0 {
			name = fmt.Sprintf("%s-%d", base, i)
		}
		if _, err := m.Store.Container(name); errors.Is(err, storage.ErrContainerUnknown) {
			return name, nil
		}
	}
	return "", fmt.Errorf("no free name for a working container from %s", image)
}

// ScratchConfig is the configuration of an image made from nothing.
func ScratchConfig() dockerspec.DockerOCIImage {
	var c dockerspec.DockerOCIImage
	c.OS = runtime.GOOS
	c.Architecture = runtime.GOARCH
	c.RootFS.Type = "layers"
	c.RootFS.DiffIDs = []digest.Digest{}
	return c
}

// Lookup finds a working container by name or (short) ID.
func (m *Manager) Lookup(nameOrID string) (*Container, error) {
	sc, err := m.Store.Container(nameOrID)
	if err != nil {
		if errors.Is(err, storage.ErrContainerUnknown) {
			return nil, fmt.Errorf("%s: %w", nameOrID, ErrNoSuchContainer)
		}
		return nil, fmt.Errorf("%s: %w", nameOrID, err)
	}
	c, ok := m.decode(sc)
	if !ok {
		return nil, fmt.Errorf("%s is not a working container of the builder: %w", nameOrID, ErrNoSuchContainer)
	}
	return c, nil
}

// List returns every working container.
func (m *Manager) List() ([]*Container, error) {
	all, err := m.Store.Containers()
	if err != nil {
		return nil, err
	}
	var out []*Container
	for i := range all {
		if c, ok := m.decode(&all[i]); ok {
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b *Container) int { return a.Created.Compare(b.Created) })
	return out, nil
}

func (m *Manager) decode(sc *storage.Container) (*Container, bool) {
	var rec Record
	if sc.Metadata == "" || json.Unmarshal([]byte(sc.Metadata), &rec) != nil || rec.Kind != recordKind {
		return nil, false
	}
	name := ""
	if len(sc.Names) > 0 {
		name = sc.Names[0]
	}
	return &Container{Record: rec, ID: sc.ID, Name: name, m: m}, true
}

// Save writes the record back to the store.
func (c *Container) Save() error {
	meta, err := json.Marshal(c.Record)
	if err != nil {
		return err
	}
	if err := c.m.Store.SetMetadata(c.ID, string(meta)); err != nil {
		return fmt.Errorf("saving working container %s: %w", c.Name, err)
	}
	return nil
}

// Mount mounts the container's root filesystem and returns its path.
func (c *Container) Mount() (string, error) {
	p, err := c.m.Store.Mount(c.ID, "")
	if err != nil {
		return "", fmt.Errorf("mounting %s: %w", c.Name, err)
	}
	return p, nil
}

// Unmount releases one mount of the root filesystem (all with force).
func (c *Container) Unmount(force bool) error {
	if _, err := c.m.Store.Unmount(c.ID, force); err != nil {
		return fmt.Errorf("unmounting %s: %w", c.Name, err)
	}
	return nil
}

// MountPoint is where the root filesystem is mounted, "" when it is not.
func (c *Container) MountPoint() string {
	sc, err := c.m.Store.Container(c.ID)
	if err != nil {
		return ""
	}
	l, err := c.m.Store.Layer(sc.LayerID)
	if err != nil || l.MountCount == 0 {
		return ""
	}
	return l.MountPoint
}

// Remove unmounts and deletes the container and its layer.
func (c *Container) Remove() error {
	_, _ = c.m.Store.Unmount(c.ID, true)
	if err := c.m.Store.DeleteContainer(c.ID); err != nil && !errors.Is(err, storage.ErrContainerUnknown) {
		return fmt.Errorf("removing %s: %w", c.Name, err)
	}
	return nil
}

// AddHistory records a step that changed only the configuration.
func (c *Container) AddHistory(createdBy, comment string, at time.Time) {
	c.Config.History = append(c.Config.History, v1.History{
		Created: &at, CreatedBy: createdBy, Comment: comment, EmptyLayer: true,
	})
}
