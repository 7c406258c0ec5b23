// Package oci turns a small, high-level description of a container into an
// OCI runtime spec, and runs OCI runtimes (runc). The engine's long-lived
// containers and the builder's RUN steps both go through it.
package oci

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/moby/sys/capability"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// NetworkMode says which network namespace a container gets.
type NetworkMode string

const (
	// NetworkNone is a new, empty network namespace (loopback only).
	NetworkNone NetworkMode = "none"
	// NetworkHost shares the host's network namespace.
	NetworkHost NetworkMode = "host"
)

// Spec is what a container needs, in the terms a user gives it.
type Spec struct {
	Rootfs   string
	ReadOnly bool
	Args     []string
	Env      []string
	Cwd      string
	// UID and GID the process runs as; AdditionalGids are supplementary.
	UID, GID       uint32
	AdditionalGids []uint32
	Umask          *uint32
	Terminal       bool
	Hostname       string

	// Mounts are added after the defaults; a mount on a default's
	// destination replaces it.
	Mounts []specs.Mount

	// Capabilities: Privileged gives all; otherwise Caps (the default set,
	// e.g. containers.conf's) plus CapAdd minus CapDrop ("ALL" allowed).
	Privileged      bool
	Caps            []string
	CapAdd, CapDrop []string
	NoNewPrivileges bool

	// Seccomp is the profile to apply; nil runs unconfined. DefaultSeccomp
	// gives the default profile for the final capability set.
	Seccomp *specs.LinuxSeccomp

	// Mask and Unmask adjust the default masked paths ("ALL" unmasks all).
	Mask, Unmask []string

	// Rlimits to set; none means the caller's own limits are inherited.
	Rlimits []specs.POSIXRlimit

	Network NetworkMode
	// NetNSPath joins an existing network namespace (overrides Network).
	NetNSPath string
	// HostPID and HostIPC share the host's namespaces.
	HostPID, HostIPC bool

	// Rootless is set when the runtime itself runs in an unprivileged
	// user's namespace: the host's sysfs cannot be mounted there.
	Rootless bool

	// UIDMappings and GIDMappings put the container in a user namespace.
	UIDMappings, GIDMappings []specs.LinuxIDMapping

	Resources   *specs.LinuxResources
	CgroupsPath string
	Annotations map[string]string
	Sysctl      map[string]string
	// ShmSize of /dev/shm in bytes; 0 gives 64 MiB.
	ShmSize int64
}

// DefaultMaskedPaths are hidden from containers (as podman does).
var DefaultMaskedPaths = []string{
	"/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
	"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
	"/sys/firmware", "/sys/fs/selinux", "/sys/dev/block", "/proc/interrupts",
}

// DefaultReadonlyPaths are read-only in containers (as podman does).
var DefaultReadonlyPaths = []string{
	"/proc/asound", "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
}

// Generate builds the runtime spec for s.
func Generate(s Spec) (*specs.Spec, error) {
	if len(s.Args) == 0 {
		return nil, fmt.Errorf("no command given")
	}
	cwd := s.Cwd
	if cwd == "" {
		cwd = "/"
	}
	if !filepath.IsAbs(cwd) {
		return nil, fmt.Errorf("working directory %q is not an absolute path", cwd)
	}
	caps, err := capabilities(s)
	if err != nil {
		return nil, err
	}
	capSet := &specs.LinuxCapabilities{
		Bounding: caps, Effective: caps, Permitted: caps,
	}
	if s.UID != 0 && !s.Privileged {
		// As podman: a non-root process keeps the bounding set, and holds
		// only the capabilities added explicitly.
		capSet.Effective, capSet.Permitted = nil, nil
		for _, c := range s.CapAdd {
			if n, err := NormalizeCap(c); err == nil && n != "ALL" && slices.Contains(caps, n) {
				capSet.Effective = append(capSet.Effective, n)
				capSet.Permitted = append(capSet.Permitted, n)
			}
		}
	}
	shm := s.ShmSize
	if shm <= 0 {
		shm = 64 << 20
	}
	spec := &specs.Spec{
		Version: specs.Version,
		Process: &specs.Process{
			Terminal:        s.Terminal,
			User:            specs.User{UID: s.UID, GID: s.GID, AdditionalGids: s.AdditionalGids, Umask: s.Umask},
			Args:            s.Args,
			Env:             s.Env,
			Cwd:             cwd,
			Capabilities:    capSet,
			Rlimits:         s.Rlimits,
			NoNewPrivileges: s.NoNewPrivileges,
		},
		Root:        &specs.Root{Path: s.Rootfs, Readonly: s.ReadOnly},
		Hostname:    s.Hostname,
		Annotations: s.Annotations,
		Linux: &specs.Linux{
			UIDMappings: s.UIDMappings,
			GIDMappings: s.GIDMappings,
			Sysctl:      s.Sysctl,
			Resources:   s.Resources,
			CgroupsPath: s.CgroupsPath,
			Seccomp:     s.Seccomp,
		},
	}
	if spec.Linux.Resources == nil {
		spec.Linux.Resources = &specs.LinuxResources{}
	}
	if !s.Privileged {
		// Deny every device but those runc creates itself.
		spec.Linux.Resources.Devices = append([]specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}}, spec.Linux.Resources.Devices...)
		spec.Linux.MaskedPaths = maskedPaths(s.Mask, s.Unmask)
		spec.Linux.ReadonlyPaths = readonlyPaths(s.Unmask)
	}

	userns := len(s.UIDMappings) > 0
	spec.Linux.Namespaces = []specs.LinuxNamespace{{Type: specs.MountNamespace}, {Type: specs.UTSNamespace}}
	if !s.HostPID {
		spec.Linux.Namespaces = append(spec.Linux.Namespaces, specs.LinuxNamespace{Type: specs.PIDNamespace})
	}
	if !s.HostIPC {
		spec.Linux.Namespaces = append(spec.Linux.Namespaces, specs.LinuxNamespace{Type: specs.IPCNamespace})
	}
	switch {
	case s.NetNSPath != "":
		spec.Linux.Namespaces = append(spec.Linux.Namespaces, specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: s.NetNSPath})
	case s.Network == NetworkHost:
	case s.Network == NetworkNone || s.Network == "":
		spec.Linux.Namespaces = append(spec.Linux.Namespaces, specs.LinuxNamespace{Type: specs.NetworkNamespace})
	default:
		return nil, fmt.Errorf("unsupported network mode %q", s.Network)
	}
	if userns {
		spec.Linux.Namespaces = append(spec.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
	}

	spec.Mounts = defaultMounts(s, shm, userns || s.Rootless)
	for _, m := range s.Mounts {
		spec.Mounts = slices.DeleteFunc(spec.Mounts, func(d specs.Mount) bool { return d.Destination == m.Destination })
		spec.Mounts = append(spec.Mounts, m)
	}
	return spec, nil
}

func defaultMounts(s Spec, shm int64, userns bool) []specs.Mount {
	sysOpts := []string{"nosuid", "noexec", "nodev", "ro"}
	mounts := []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}},
		{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", fmt.Sprintf("size=%d", shm)}},
		{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
	}
	if !userns {
		// gid=5 is the tty group, as in podman's default.
		mounts[2].Options = append(mounts[2].Options, "gid=5")
	}
	if userns && (s.Network == NetworkHost || s.NetNSPath != "") {
		// A user namespace cannot mount sysfs for a network namespace it
		// does not own (the host's, or one made before the container):
		// bind the host's read-only.
		mounts = append(mounts, specs.Mount{Destination: "/sys", Type: "bind", Source: "/sys", Options: []string{"rbind", "nosuid", "noexec", "nodev", "ro"}})
	} else {
		mounts = append(mounts,
			specs.Mount{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: sysOpts},
			specs.Mount{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"rprivate", "nosuid", "noexec", "nodev", "relatime", "ro"}},
		)
	}
	if s.Privileged {
		for i := range mounts {
			if mounts[i].Destination == "/sys" || mounts[i].Destination == "/sys/fs/cgroup" {
				mounts[i].Options = slices.DeleteFunc(slices.Clone(mounts[i].Options), func(o string) bool { return o == "ro" })
				mounts[i].Options = append(mounts[i].Options, "rw")
			}
		}
	}
	return mounts
}

func maskedPaths(mask, unmask []string) []string {
	if slices.Contains(unmask, "ALL") {
		return slices.Clone(mask)
	}
	var out []string
	for _, p := range DefaultMaskedPaths {
		if !unmasked(p, unmask) {
			out = append(out, p)
		}
	}
	for _, p := range mask {
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

func readonlyPaths(unmask []string) []string {
	if slices.Contains(unmask, "ALL") {
		return nil
	}
	var out []string
	for _, p := range DefaultReadonlyPaths {
		if !unmasked(p, unmask) {
			out = append(out, p)
		}
	}
	return out
}

// unmasked reports whether p matches one of the unmask patterns (globs, as
// podman's --security-opt unmask=/proc/*).
func unmasked(p string, unmask []string) bool {
	for _, u := range unmask {
		if ok, _ := filepath.Match(u, p); ok || u == p {
			return true
		}
	}
	return false
}

// AllCapabilities are the capabilities a privileged container can have:
// those in the caller's own bounding set (a root without CAP_SYS_RESOURCE,
// say, cannot give it away).
func AllCapabilities() []string {
	caps, err := capability.NewPid2(0)
	if err == nil {
		err = caps.Load()
	}
	var out []string
	for _, c := range knownCapabilities() {
		if err == nil && !caps.Get(capability.BOUNDING, capByName(c)) {
			continue
		}
		out = append(out, c)
	}
	return out
}

func capByName(name string) capability.Cap {
	for _, c := range capability.ListKnown() {
		if "CAP_"+strings.ToUpper(c.String()) == name {
			return c
		}
	}
	return 0
}

// knownCapabilities are every capability the running kernel knows.
func knownCapabilities() []string {
	var out []string
	last, err := capability.LastCap()
	for _, c := range capability.ListKnown() {
		if err == nil && c > last {
			continue
		}
		out = append(out, "CAP_"+strings.ToUpper(c.String()))
	}
	return out
}

// NormalizeCap turns "net_admin", "NET_ADMIN" or "CAP_NET_ADMIN" into
// "CAP_NET_ADMIN", and checks that the kernel knows it.
func NormalizeCap(c string) (string, error) {
	c = strings.ToUpper(strings.TrimSpace(c))
	if c == "ALL" {
		return c, nil
	}
	if !strings.HasPrefix(c, "CAP_") {
		c = "CAP_" + c
	}
	if !slices.Contains(knownCapabilities(), c) {
		return "", fmt.Errorf("unknown capability %q", c)
	}
	return c, nil
}

func capabilities(s Spec) ([]string, error) {
	if s.Privileged {
		return AllCapabilities(), nil
	}
	set := map[string]bool{}
	for _, c := range s.Caps {
		n, err := NormalizeCap(c)
		if err != nil {
			return nil, err
		}
		set[n] = true
	}
	for _, c := range s.CapDrop {
		n, err := NormalizeCap(c)
		if err != nil {
			return nil, fmt.Errorf("--cap-drop: %w", err)
		}
		if n == "ALL" {
			clear(set)
			continue
		}
		delete(set, n)
	}
	for _, c := range s.CapAdd {
		n, err := NormalizeCap(c)
		if err != nil {
			return nil, fmt.Errorf("--cap-add: %w", err)
		}
		if n == "ALL" {
			for _, a := range AllCapabilities() {
				set[a] = true
			}
			continue
		}
		set[n] = true
	}
	out := make([]string, 0, len(set))
	for c := range set {
		out = append(out, c)
	}
	slices.Sort(out)
	return out, nil
}
