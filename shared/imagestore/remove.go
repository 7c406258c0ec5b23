package imagestore

import (
	"errors"
	"fmt"
	"slices"
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
	if _, err := s.DeleteImage(img.ID, true); err != nil {
		return fmt.Errorf("removing image %s: %w", shortID(img.ID), err)
	}
	rep.Untagged = append(rep.Untagged, img.Names...)
	rep.Deleted = append(rep.Deleted, img.ID)
	return nil
}

// Prune removes dangling images (no names) that no container uses, or,
// with all, every image no container uses. It repeats until nothing more
// goes, and returns the removed IDs.
func Prune(s storage.Store, all bool) ([]string, error) {
	var removed []string
	for {
		images, err := s.Images()
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
			if used[img.ID] || (!all && len(img.Names) > 0) || slices.Contains(removed, img.ID) {
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
