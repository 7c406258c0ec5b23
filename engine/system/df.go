//go:build !thin

package system

import (
	"io/fs"
	"path/filepath"
	"time"

	"github.com/ocisuite/suite/engine/container"
)

// DiskUsage is system df's report.
type DiskUsage struct {
	Images     []ImageUsage
	Containers []ContainerUsage
	Volumes    []VolumeUsage
	// every image layer counted once, and those only unused images hold
	imagesSize, imagesReclaimable int64
}

// ImageUsage is one image's share of the disk.
type ImageUsage struct {
	ID         string
	Names      []string
	Created    time.Time
	Size       int64 // all its layers
	SharedSize int64 // layers other images use too
	UniqueSize int64
	Containers int
}

// ContainerUsage is one container's writable layer.
type ContainerUsage struct {
	ID      string
	Name    string
	Image   string
	Command []string
	Created time.Time
	Status  container.Status
	Running bool
	Size    int64
	Volumes int
}

// VolumeUsage is one local volume.
type VolumeUsage struct {
	Name  string
	Links int // containers that mount it
	Size  int64
}

// Summary is one row of system df's table.
type Summary struct {
	Type        string
	Total       int
	Active      int
	Size        int64
	Reclaimable int64
}

// GetDiskUsage measures images, containers and volumes.
func GetDiskUsage(e *container.Engine) (*DiskUsage, error) {
	s := e.Store
	layers, err := s.Layers()
	if err != nil {
		return nil, err
	}
	parent, size := map[string]string{}, map[string]int64{}
	for _, l := range layers {
		parent[l.ID] = l.Parent
		size[l.ID] = max(l.UncompressedSize, 0)
	}
	images, err := s.Images()
	if err != nil {
		return nil, err
	}
	storageCtrs, err := s.Containers()
	if err != nil {
		return nil, err
	}
	usedBy := map[string]int{}
	for _, c := range storageCtrs {
		usedBy[c.ImageID]++
	}
	chains := make([][]string, len(images))
	layerUsers := map[string]int{}
	for i, img := range images {
		for l := img.TopLayer; l != ""; l = parent[l] {
			chains[i] = append(chains[i], l)
			layerUsers[l]++
		}
	}
	du := &DiskUsage{}
	activeLayer := map[string]bool{}
	for i, img := range images {
		if usedBy[img.ID] > 0 {
			for _, l := range chains[i] {
				activeLayer[l] = true
			}
		}
	}
	for l := range layerUsers {
		du.imagesSize += size[l]
		if !activeLayer[l] {
			du.imagesReclaimable += size[l]
		}
	}
	for i, img := range images {
		u := ImageUsage{ID: img.ID, Names: img.Names, Created: img.Created, Containers: usedBy[img.ID]}
		for _, l := range chains[i] {
			u.Size += size[l]
			if layerUsers[l] > 1 {
				u.SharedSize += size[l]
			} else {
				u.UniqueSize += size[l]
			}
		}
		du.Images = append(du.Images, u)
	}
	ctrs, err := e.List()
	if err != nil {
		return nil, err
	}
	links := map[string]int{}
	for _, c := range ctrs {
		u := ContainerUsage{ID: c.ID, Name: c.Name, Image: c.ImageName, Command: append(append([]string{}, c.Entrypoint...), c.Command...), Created: c.Created, Status: c.State.Status, Running: c.Running()}
		if n, err := s.ContainerSize(c.ID); err == nil {
			u.Size = n
		}
		for _, m := range c.Mounts {
			if m.Type == "volume" && m.Volume != "" {
				u.Volumes++
				links[m.Volume]++
			}
		}
		du.Containers = append(du.Containers, u)
	}
	vols, err := e.Volumes().List()
	if err != nil {
		return nil, err
	}
	for _, v := range vols {
		du.Volumes = append(du.Volumes, VolumeUsage{Name: v.Name, Links: links[v.Name], Size: dirSize(filepath.Join(e.Volumes().Root, v.Name, "_data"))})
	}
	return du, nil
}

// Summaries are system df's three rows.
func (du *DiskUsage) Summaries() []Summary {
	img := Summary{Type: "Images", Size: du.imagesSize, Reclaimable: du.imagesReclaimable}
	for _, u := range du.Images {
		img.Total++
		if u.Containers > 0 {
			img.Active++
		}
	}
	ctr := Summary{Type: "Containers"}
	for _, u := range du.Containers {
		ctr.Total++
		ctr.Size += u.Size
		if u.Running {
			ctr.Active++
		} else {
			ctr.Reclaimable += u.Size
		}
	}
	vol := Summary{Type: "Local Volumes"}
	for _, u := range du.Volumes {
		vol.Total++
		vol.Size += u.Size
		if u.Links > 0 {
			vol.Active++
		} else {
			vol.Reclaimable += u.Size
		}
	}
	return []Summary{img, ctr, vol}
}

func dirSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}
