//go:build !thin

package imagestore

import (
	"errors"
	"fmt"
	"strings"

	"github.com/containers/storage"
)

// RemoveOptions control Remove.
type RemoveOptions struct {
	// Force removes the containers using an image, and an image by ID
	// that has several names.
	Force bool
	// All removes every image.
	All bool
	// Ignore skips images that do not exist.
	Ignore bool
}

// RemoveReport says what Remove did, in order.
type RemoveReport struct {
	Untagged []string
	Deleted  []string
	// Containers are the storage containers removed with Force.
	Containers []string
}

// Remove removes local images, as podman rmi does: by name, an image with
// other names only loses that name ("Untagged"); otherwise (or by ID) the
// image goes with all its names ("Deleted"). An image used by a container
// is refused (ErrInUse) unless Force, which removes the containers too.
// It carries on past a failing image and returns every error.
func Remove(s storage.Store, names []string, o RemoveOptions) (RemoveReport, []error) {
	var rep RemoveReport
	var errs []error
	if o.All {
		images, err := s.Images()
		if err != nil {
			return rep, []error{err}
		}
		names = names[:0:0]
		for _, img := range images {
			names = append(names, img.ID)
		}
	}
	for _, n := range names {
		f, err := Lookup(s, n)
		if err != nil {
			if o.Ignore && errors.Is(err, ErrNotFound) {
				continue
			}
			if errors.Is(err, ErrNotFound) && o.All {
				continue // removed with an earlier one
			}
			errs = append(errs, err)
			continue
		}
		if f.Name != "" && len(f.Names) > 1 && !o.All {
			if err := s.RemoveNames(f.ID, []string{f.Name}); err != nil {
				errs = append(errs, fmt.Errorf("untagging %s: %w", f.Name, err))
				continue
			}
			rep.Untagged = append(rep.Untagged, f.Name)
			continue
		}
		if f.Name == "" && len(f.Names) > 1 && !o.Force && !o.All {
			errs = append(errs, fmt.Errorf("unable to delete image %q by ID with more than one tag (%s): please force removal", shortID(f.ID), strings.Join(f.Names, ", ")))
			continue
		}
		if err := removeImage(s, f.Image, o.Force, &rep); err != nil {
			errs = append(errs, err)
		}
	}
	return rep, errs
}

// removeImage deletes img, then its parent when that is left without a
// name and without children and no container uses it, and so on down, as
// podman does (a build's step images go with the image built). An image
// that other images are built on is untagged and its record deleted, but
// not reported deleted: its layers stay for its children.
func removeImage(s storage.Store, img *storage.Image, force bool, rep *RemoveReport) error {
	ctrs, err := containersOf(s, img.ID)
	if err != nil {
		return err
	}
	if len(ctrs) > 0 && !force {
		ids := make([]string, len(ctrs))
		for i, c := range ctrs {
			ids[i] = shortID(c.ID)
		}
		return fmt.Errorf("image %s is used by container(s) %s: %w (remove them first, or use --force)", shortID(img.ID), strings.Join(ids, ", "), ErrInUse)
	}
	for _, c := range ctrs {
		if err := s.DeleteContainer(c.ID); err != nil {
			return fmt.Errorf("removing container %s of image %s: %w", shortID(c.ID), shortID(img.ID), err)
		}
		rep.Containers = append(rep.Containers, c.ID)
	}
	for {
		fam, err := storeFamily(s)
		if err != nil {
			return err
		}
		if _, err := s.DeleteImage(img.ID, true); err != nil {
			return fmt.Errorf("removing image %s: %w", shortID(img.ID), err)
		}
		rep.Untagged = append(rep.Untagged, img.Names...)
		if !fam.hasChildren(img.ID) {
			rep.Deleted = append(rep.Deleted, img.ID)
		}
		parentID := fam.parent(img.ID)
		if parentID == "" {
			return nil
		}
		parent, err := s.Image(parentID)
		if err != nil || len(parent.Names) > 0 || parent.ReadOnly || len(fam.children[parentID]) > 1 {
			return nil
		}
		if ctrs, err := containersOf(s, parentID); err != nil || len(ctrs) > 0 {
			return nil
		}
		img = parent
	}
}

// storeFamily relates the store's images.
func storeFamily(s storage.Store) (*family, error) {
	images, err := s.Images()
	if err != nil {
		return nil, err
	}
	return newFamily(s, images)
}

// Prune removes dangling images (no name, no image built on them) that no
// container uses, round after round, so that a chain of build steps' images
// under an image removed goes too; the intermediate images of named ones
// stay (they are the layer cache). With all, it removes every image no
// container uses. It returns the removed IDs.
func Prune(s storage.Store, all bool) ([]string, error) {
	var removed []string
	for {
		images, err := s.Images()
		if err != nil {
			return removed, err
		}
		fam, err := newFamily(s, images)
		if err != nil {
			return removed, err
		}
		used := map[string]bool{}
		ctrs, err := s.Containers()
		if err != nil {
			return removed, err
		}
		for _, c := range ctrs {
			used[c.ImageID] = true
		}
		n := len(removed)
		for _, img := range images {
			if used[img.ID] || img.ReadOnly || (!all && (len(img.Names) > 0 || fam.hasChildren(img.ID))) {
				continue
			}
			if _, err := s.DeleteImage(img.ID, true); err != nil {
				return removed, fmt.Errorf("removing image %s: %w", shortID(img.ID), err)
			}
			removed = append(removed, img.ID)
		}
		if len(removed) == n {
			return removed, nil
		}
	}
}
