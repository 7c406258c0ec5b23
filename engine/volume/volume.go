// Package volume keeps named volumes for the local driver, in podman's
// layout: GRAPHROOT/volumes/NAME/_data, with the volume's record beside it.
package volume

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/containers/storage/pkg/stringid"

	"github.com/ocisuite/suite/shared/atomicfile"
	"github.com/ocisuite/suite/shared/names"
)

// ErrNoSuchVolume and ErrExists are decided on with errors.Is.
var (
	ErrNoSuchVolume = errors.New("no such volume")
	ErrExists       = errors.New("volume already exists")
)

// Volume is a volume's record.
type Volume struct {
	Name       string            `json:"Name"`
	Driver     string            `json:"Driver"`
	Mountpoint string            `json:"Mountpoint"`
	CreatedAt  time.Time         `json:"CreatedAt"`
	Labels     map[string]string `json:"Labels"`
	Options    map[string]string `json:"Options"`
	Anonymous  bool              `json:"Anonymous,omitempty"`
	// NeedsCopyUp is true until the first container has copied the
	// image's content at the mount point into it.
	NeedsCopyUp bool `json:"NeedsCopyUp,omitempty"`
}

// Store holds the volumes under Root (GRAPHROOT/volumes).
type Store struct{ Root string }

func (s Store) dir(name string) string { return filepath.Join(s.Root, name) }

// Create makes a volume; an empty name gets a random one (anonymous).
func (s Store) Create(name string, labels, options map[string]string) (*Volume, error) {
	anon := name == ""
	if anon {
		name = stringid.GenerateRandomID()
	}
	if !names.Valid(name) {
		return nil, fmt.Errorf("invalid volume name %q: use letters, digits, '_', '.' and '-'", name)
	}
	if err := CheckOptions(options); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(s.Root, 0o700); err != nil {
		return nil, err
	}
	dir := s.dir(name)
	if err := os.Mkdir(dir, 0o700); err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("volume %s: %w", name, ErrExists)
		}
		return nil, fmt.Errorf("creating volume %s: %w", name, err)
	}
	v := &Volume{
		Name: name, Driver: "local", Mountpoint: filepath.Join(dir, "_data"),
		CreatedAt: time.Now().UTC(), Labels: labels, Options: options,
		Anonymous: anon, NeedsCopyUp: wantsCopyUp(options),
	}
	if v.Labels == nil {
		v.Labels = map[string]string{}
	}
	if v.Options == nil {
		v.Options = map[string]string{}
	}
	if err := os.Mkdir(v.Mountpoint, 0o755); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := s.save(v); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return v, nil
}

func (s Store) save(v *Volume) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(s.dir(v.Name), "volume.json"), b, 0o600)
}

// Get reads a volume's record.
func (s Store) Get(name string) (*Volume, error) {
	b, err := os.ReadFile(filepath.Join(s.dir(name), "volume.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", name, ErrNoSuchVolume)
	}
	if err != nil {
		return nil, err
	}
	var v Volume
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("volume %s: corrupt record: %w", name, err)
	}
	return &v, nil
}

// CopiedUp records that the image content was copied in.
func (s Store) CopiedUp(v *Volume) error {
	v.NeedsCopyUp = false
	return s.save(v)
}

// List returns every volume, by name.
func (s Store) List() ([]*Volume, error) {
	entries, err := os.ReadDir(s.Root)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []*Volume
	for _, e := range entries {
		if v, err := s.Get(e.Name()); err == nil {
			out = append(out, v)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Remove deletes a volume and its data (a bind volume's host directory is
// left alone; a mounted tmpfs is unmounted first).
func (s Store) Remove(name string) error {
	v, err := s.Get(name)
	if err != nil {
		return err
	}
	if err := unmount(v); err != nil {
		return err
	}
	return os.RemoveAll(s.dir(name))
}

// wantsCopyUp: a new volume gets the image's content unless it is a bind
// volume or was created with -o nocopy.
func wantsCopyUp(o map[string]string) bool {
	_, nocopy := o["nocopy"]
	return o["type"] != "bind" && !nocopy
}
