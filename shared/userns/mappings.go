package userns

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Mode is a parsed --userns value.
type Mode struct {
	// Name is "host", "keep-id", "nomap", "auto" or "" (default: host).
	Name string
	// UID and GID are keep-id's uid= and gid= (default: the user's own).
	UID, GID int
	// Size is auto's size= (0: the store chooses).
	Size uint32
}

// ParseMode reads host, keep-id[:uid=N,gid=N], nomap, auto[:size=N].
func ParseMode(s string) (Mode, error) {
	name, opts, _ := strings.Cut(s, ":")
	m := Mode{Name: name, UID: -1, GID: -1}
	switch name {
	case "", "host", "keep-id", "nomap", "auto":
	default:
		return m, fmt.Errorf("invalid --userns %q: want host, keep-id[:uid=N,gid=N], nomap or auto[:size=N]", s)
	}
	if opts == "" {
		return m, nil
	}
	for _, o := range strings.Split(opts, ",") {
		k, v, _ := strings.Cut(o, "=")
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return m, fmt.Errorf("invalid --userns %q: %s is not a number", s, k)
		}
		switch {
		case name == "keep-id" && k == "uid":
			m.UID = int(n)
		case name == "keep-id" && k == "gid":
			m.GID = int(n)
		case name == "auto" && k == "size":
			m.Size = uint32(n)
		default:
			return m, fmt.Errorf("invalid --userns %q: unknown option %q", s, k)
		}
	}
	return m, nil
}

// NamespaceSize is the number of IDs of the calling process's user
// namespace, from /proc/self/uid_map (or gid_map).
func NamespaceSize(file string) (uint32, error) {
	f, err := os.Open(file)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var total uint64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) != 3 {
			continue
		}
		n, err := strconv.ParseUint(fields[2], 10, 32)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", file, err)
		}
		total += n
	}
	return uint32(min(total, 1<<32-1)), sc.Err()
}

// KeepID maps container ID id to namespace ID 0 — in a rootless user's
// namespace, the user on the host — and the rest of the namespace's size
// IDs around it, so files the user owns keep their owner inside.
func KeepID(id int, size uint32) []specs.LinuxIDMapping {
	c := uint32(id)
	out := []specs.LinuxIDMapping{}
	if c > 0 {
		out = append(out, specs.LinuxIDMapping{ContainerID: 0, HostID: 1, Size: c})
	}
	out = append(out, specs.LinuxIDMapping{ContainerID: c, HostID: 0, Size: 1})
	if size > c+1 {
		out = append(out, specs.LinuxIDMapping{ContainerID: c + 1, HostID: c + 1, Size: size - c - 1})
	}
	return out
}

// NoMap maps the container's IDs to the namespace's, leaving out ID 0 (the
// rootless user): the user's own files are unmapped inside.
func NoMap(size uint32) []specs.LinuxIDMapping {
	return []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1, Size: size - 1}}
}

// ParseMappings reads --uidmap/--gidmap values "container:host:size".
func ParseMappings(values []string) ([]specs.LinuxIDMapping, error) {
	var out []specs.LinuxIDMapping
	for _, v := range values {
		parts := strings.Split(v, ":")
		if len(parts) != 3 {
			return nil, fmt.Errorf("invalid ID mapping %q: want CONTAINER:HOST:SIZE", v)
		}
		var n [3]uint64
		for i, p := range parts {
			x, err := strconv.ParseUint(p, 10, 32)
			if err != nil {
				return nil, fmt.Errorf("invalid ID mapping %q: %q is not a number", v, p)
			}
			n[i] = x
		}
		if n[2] == 0 {
			return nil, fmt.Errorf("invalid ID mapping %q: size 0", v)
		}
		out = append(out, specs.LinuxIDMapping{ContainerID: uint32(n[0]), HostID: uint32(n[1]), Size: uint32(n[2])})
	}
	return out, nil
}
