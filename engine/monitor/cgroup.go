package monitor

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
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
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	return parseCgroupRoots(b), nil
}

// parseCgroupRoots reads the cgroup mounts out of a mountinfo file: "ID
// PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - TYPE SOURCE
// SUPEROPTIONS". Only hierarchies mounted at their root are kept.
func parseCgroupRoots(mountinfo []byte) []string {
	var roots []string
	sc := bufio.NewScanner(bytes.NewReader(mountinfo))
	for sc.Scan() {
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		f, g := strings.Fields(pre), strings.Fields(post)
		if len(f) < 5 || len(g) < 3 || f[3] != "/" {
			continue
		}
		switch g[0] {
		case "cgroup2":
		case "cgroup":
			if slices.Contains(strings.Split(g[2], ","), "cpuset") {
				continue
			}
		default:
			continue
		}
		roots = append(roots, unescapeMountinfo(f[4]))
	}
	return roots
}

// unescapeMountinfo undoes mountinfo's octal escapes (\040 for a space).
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
