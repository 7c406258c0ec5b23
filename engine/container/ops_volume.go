package container

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/ocisuite/suite/engine/volume"
)

// VolumeInspect is podman's volume inspect shape.
type VolumeInspect struct {
	Name        string            `json:"Name"`
	Driver      string            `json:"Driver"`
	Mountpoint  string            `json:"Mountpoint"`
	CreatedAt   time.Time         `json:"CreatedAt"`
	Labels      map[string]string `json:"Labels"`
	Scope       string            `json:"Scope"`
	Options     map[string]string `json:"Options"`
	MountCount  int               `json:"MountCount"`
	NeedsCopyUp bool              `json:"NeedsCopyUp,omitempty"`
	Anonymous   bool              `json:"Anonymous,omitempty"`
	// UsedBy names the containers using the volume (not in podman's
	// JSON; used for dangling= and rm).
	UsedBy []string `json:"-"`
}

// volumeUsers maps each volume name to the containers whose record uses it.
func (e *Engine) volumeUsers() (map[string][]*Container, error) {
	ctrs, err := e.List()
	if err != nil {
		return nil, err
	}
	users := map[string][]*Container{}
	for _, c := range ctrs {
		for _, m := range c.Mounts {
			if m.Type == "volume" && m.Volume != "" {
				users[m.Volume] = append(users[m.Volume], c)
			}
		}
	}
	return users, nil
}

func inspectVolume(v *volume.Volume, users []*Container) VolumeInspect {
	d := VolumeInspect{
		Name: v.Name, Driver: v.Driver, Mountpoint: v.Mountpoint, CreatedAt: v.CreatedAt,
		Labels: v.Labels, Scope: "local", Options: v.Options, NeedsCopyUp: v.NeedsCopyUp,
		Anonymous: v.Anonymous,
	}
	for _, c := range users {
		d.UsedBy = append(d.UsedBy, c.Name)
		if c.Running() {
			d.MountCount++
		}
	}
	return d
}

// InspectVolumes describes the named volumes.
func (e *Engine) InspectVolumes(names []string) ([]VolumeInspect, error) {
	users, err := e.volumeUsers()
	if err != nil {
		return nil, err
	}
	var out []VolumeInspect
	for _, n := range names {
		v, err := e.Volumes().Get(n)
		if err != nil {
			return out, err
		}
		out = append(out, inspectVolume(v, users[v.Name]))
	}
	return out, nil
}

// ListVolumes lists the volumes matching every filter: name=GLOB (or a
// substring), label=KEY or label=KEY=VALUE, dangling=true|false (used by
// no container), driver=local.
func (e *Engine) ListVolumes(filters []string) ([]VolumeInspect, error) {
	type pred func(VolumeInspect) bool
	byKey := map[string][]pred{}
	for _, f := range filters {
		k, val, ok := strings.Cut(f, "=")
		if !ok {
			return nil, fmt.Errorf("invalid volume filter %q: want KEY=VALUE", f)
		}
		var p pred
		switch k {
		case "name":
			p = func(v VolumeInspect) bool {
				m, _ := path.Match(val, v.Name)
				return m || strings.Contains(v.Name, val)
			}
		case "label":
			lk, lv, hasValue := strings.Cut(val, "=")
			p = func(v VolumeInspect) bool {
				x, ok := v.Labels[lk]
				return ok && (!hasValue || x == lv)
			}
		case "dangling":
			want := val == "true" || val == "1"
			if !want && val != "false" && val != "0" {
				return nil, fmt.Errorf("invalid dangling filter value %q: want true or false", val)
			}
			p = func(v VolumeInspect) bool { return (len(v.UsedBy) == 0) == want }
		case "driver":
			p = func(v VolumeInspect) bool { return v.Driver == val }
		default:
			return nil, fmt.Errorf("invalid volume filter %q: want name, label, dangling or driver", k)
		}
		byKey[k] = append(byKey[k], p)
	}
	vols, err := e.Volumes().List()
	if err != nil {
		return nil, err
	}
	users, err := e.volumeUsers()
	if err != nil {
		return nil, err
	}
	out := []VolumeInspect{}
	for _, v := range vols {
		d := inspectVolume(v, users[v.Name])
		keep := true
		// Filters of one key are alternatives; different keys all apply.
		for _, ps := range byKey {
			hit := false
			for _, p := range ps {
				hit = hit || p(d)
			}
			keep = keep && hit
		}
		if keep {
			out = append(out, d)
		}
	}
	return out, nil
}

// RemoveVolume removes a volume. One that a container uses is refused
// with ErrInUse, unless force, which removes those containers first.
func (e *Engine) RemoveVolume(ctx context.Context, name string, force bool) error {
	v, err := e.Volumes().Get(name)
	if err != nil {
		return err
	}
	users, err := e.volumeUsers()
	if err != nil {
		return err
	}
	if u := users[v.Name]; len(u) > 0 {
		if !force {
			var ids []string
			for _, c := range u {
				ids = append(ids, c.ID)
			}
			return fmt.Errorf("volume %s is being used by the following container(s): %s: %w", v.Name, strings.Join(ids, ", "), volume.ErrInUse)
		}
		for _, c := range u {
			if err := e.Remove(ctx, c.ID, RemoveOptions{Force: true}); err != nil && !errors.Is(err, ErrNoSuchContainer) {
				return fmt.Errorf("removing container %s that uses volume %s: %w", c.Name, v.Name, err)
			}
		}
	}
	return e.Volumes().Remove(v.Name)
}

// PruneVolumes removes every volume no container uses (and that matches
// the filters) and returns their names.
func (e *Engine) PruneVolumes(ctx context.Context, filters []string) ([]string, error) {
	vols, err := e.ListVolumes(append(filters, "dangling=true"))
	if err != nil {
		return nil, err
	}
	var removed []string
	var errs []error
	for _, v := range vols {
		if err := e.RemoveVolume(ctx, v.Name, false); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, v.Name)
	}
	return removed, errors.Join(errs...)
}
