package monitor

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/moby/sys/mountinfo"
)

// moveToCgroup moves process pid into the cgroup at path (relative to each
// hierarchy's root) in every cgroup hierarchy mounted here, making the
// directories it needs. Podman does this with its conmon under the cgroupfs
// manager ("/libpod_parent/conmon"): the monitors are counted apart from
// the caller's session and from the containers. cpuset's hierarchy is left
// out: a new cpuset has no CPUs and takes no process until it is given
// some, and a monitor needs no cpuset of its own.
//
// The first write into a cgroup.procs file waits for an RCU grace period
// (the kernel's cgroup_threadgroup_rwsem, 7 to 18 ms here). A write that
// comes meanwhile, runc's own for the container, waits only for the rest
// of that grace period, and for about one more grace period after the
// last write any such write goes through at once. Begun as conmon is
// launched, this move takes most of that wait off runc's path; see
// docs/benchmarks.md.
func moveToCgroup(path string, pid int) error {
	roots, err := cgroupRoots()
	if err != nil {
		return err
	}
	var errs []error
	for _, root := range roots {
		dir := filepath.Join(root, path)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0); err != nil {
			errs = append(errs, fmt.Errorf("moving conmon (PID %d) into %s: %w", pid, dir, err))
		}
	}
	return errors.Join(errs...)
}

// cgroupRoots lists the mount points of this mount namespace's cgroup
// hierarchies (cgroup v1 and v2), cpuset's excepted.
func cgroupRoots() ([]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseCgroupRoots(f)
}

// parseCgroupRoots reads the cgroup mounts out of a mountinfo file. Only
// hierarchies mounted at their root are kept.
func parseCgroupRoots(r io.Reader) ([]string, error) {
	mounts, err := mountinfo.GetMountsFromReader(r, func(m *mountinfo.Info) (skip, stop bool) {
		switch m.FSType {
		case "cgroup2":
		case "cgroup":
			if slices.Contains(strings.Split(m.VFSOptions, ","), "cpuset") {
				return true, false
			}
		default:
			return true, false
		}
		return m.Root != "/", false
	})
	if err != nil {
		return nil, err
	}
	roots := make([]string, len(mounts))
	for i, m := range mounts {
		roots[i] = m.Mountpoint
	}
	return roots, nil
}
