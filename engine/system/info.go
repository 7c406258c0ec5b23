//go:build !thin

// Package system holds what the engine's system commands report and do over
// a whole store: info, disk usage, prune and reset. Only the full engine
// links it (the thin one hands these commands over).
package system

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ocisuite/suite/config"
	"github.com/ocisuite/suite/engine/container"
	"github.com/ocisuite/suite/engine/network"
)

// Info is podman info's shape (the fields users script against).
type Info struct {
	Host       Host           `json:"host" yaml:"host"`
	Store      Store          `json:"store" yaml:"store"`
	Registries map[string]any `json:"registries" yaml:"registries"`
	Version    Version        `json:"version" yaml:"version"`
}

// Host describes the machine.
type Host struct {
	Arch           string    `json:"arch" yaml:"arch"`
	OS             string    `json:"os" yaml:"os"`
	Kernel         string    `json:"kernel" yaml:"kernel"`
	Hostname       string    `json:"hostname" yaml:"hostname"`
	CgroupsVersion string    `json:"cgroupVersion" yaml:"cgroupVersion"`
	CgroupManager  string    `json:"cgroupManager" yaml:"cgroupManager"`
	CPUs           int       `json:"cpus" yaml:"cpus"`
	MemTotal       int64     `json:"memTotal" yaml:"memTotal"`
	MemFree        int64     `json:"memFree" yaml:"memFree"`
	SwapTotal      int64     `json:"swapTotal" yaml:"swapTotal"`
	SwapFree       int64     `json:"swapFree" yaml:"swapFree"`
	Uptime         string    `json:"uptime" yaml:"uptime"`
	Security       Security  `json:"security" yaml:"security"`
	OCIRuntime     Component `json:"ociRuntime" yaml:"ociRuntime"`
	Conmon         Component `json:"conmon" yaml:"conmon"`
	EventLogger    string    `json:"eventLogger" yaml:"eventLogger"`
	EventsLogFile  string    `json:"eventLogFilePath" yaml:"eventLogFilePath"`
	NetworkBackend string    `json:"networkBackend" yaml:"networkBackend"`
}

// Security is the host's security setup.
type Security struct {
	Rootless bool `json:"rootless" yaml:"rootless"`
}

// Component is a helper program.
type Component struct {
	Name    string `json:"name,omitempty" yaml:"name,omitempty"`
	Path    string `json:"path" yaml:"path"`
	Version string `json:"version" yaml:"version"`
}

// Store describes the storage.
type Store struct {
	ConfigFile      string         `json:"configFile" yaml:"configFile"`
	GraphRoot       string         `json:"graphRoot" yaml:"graphRoot"`
	RunRoot         string         `json:"runRoot" yaml:"runRoot"`
	GraphDriverName string         `json:"graphDriverName" yaml:"graphDriverName"`
	GraphOptions    []string       `json:"graphOptions" yaml:"graphOptions"`
	VolumePath      string         `json:"volumePath" yaml:"volumePath"`
	ImageStore      ImageCount     `json:"imageStore" yaml:"imageStore"`
	ContainerStore  ContainerCount `json:"containerStore" yaml:"containerStore"`
}

// ImageCount counts images.
type ImageCount struct {
	Number int `json:"number" yaml:"number"`
}

// ContainerCount counts the engine's containers by state.
type ContainerCount struct {
	Number  int `json:"number" yaml:"number"`
	Paused  int `json:"paused" yaml:"paused"`
	Running int `json:"running" yaml:"running"`
	Stopped int `json:"stopped" yaml:"stopped"`
}

// Version is the client's version, as podman version shows it.
type Version struct {
	APIVersion string `json:"APIVersion" yaml:"APIVersion"`
	Version    string `json:"Version" yaml:"Version"`
	GoVersion  string `json:"GoVersion" yaml:"GoVersion"`
	GitCommit  string `json:"GitCommit" yaml:"GitCommit"`
	Built      int64  `json:"Built" yaml:"Built"`
	BuiltTime  string `json:"BuiltTime" yaml:"BuiltTime"`
	OsArch     string `json:"OsArch" yaml:"OsArch"`
	Os         string `json:"Os" yaml:"Os"`
}

// ClientVersion is this binary's version record.
func ClientVersion(version string) Version {
	v := Version{APIVersion: version, Version: version, GoVersion: runtime.Version(), OsArch: runtime.GOOS + "/" + runtime.GOARCH, Os: runtime.GOOS}
	if exe, err := os.Executable(); err == nil {
		if st, err := os.Stat(exe); err == nil {
			v.Built = st.ModTime().Unix()
			v.BuiltTime = st.ModTime().Format("Mon Jan 2 15:04:05 2006")
		}
	}
	return v
}

// InfoOptions are what info reads besides the engine.
type InfoOptions struct {
	Version    string
	Registries *config.Registries // nil: no registries section
	ConfigFile string             // storage.conf in use
}

// GetInfo gathers podman info's report.
func GetInfo(ctx context.Context, e *container.Engine, o InfoOptions) (*Info, error) {
	in := &Info{Version: ClientVersion(o.Version)}
	h := &in.Host
	h.Arch, h.OS = runtime.GOARCH, runtime.GOOS
	var uts unix.Utsname
	if unix.Uname(&uts) == nil {
		h.Kernel = unix.ByteSliceToString(uts.Release[:])
	}
	h.Hostname, _ = os.Hostname()
	h.CgroupsVersion = CgroupVersion()
	h.CgroupManager = "cgroupfs"
	h.CPUs = runtime.NumCPU()
	var si unix.Sysinfo_t
	if unix.Sysinfo(&si) == nil {
		unit := int64(si.Unit)
		h.MemTotal, h.MemFree = int64(si.Totalram)*unit, int64(si.Freeram)*unit
		h.SwapTotal, h.SwapFree = int64(si.Totalswap)*unit, int64(si.Freeswap)*unit
		h.Uptime = (time.Duration(si.Uptime) * time.Second).String()
	}
	h.Security.Rootless = os.Geteuid() != 0
	h.OCIRuntime = Component{Name: filepath.Base(e.Runtime.Path), Path: e.Runtime.Path}
	if v, err := e.Runtime.Version(ctx); err == nil {
		h.OCIRuntime.Version = v
	}
	h.Conmon = Component{Path: e.Conmon, Version: firstLine(ctx, e.Conmon, "--version")}
	h.EventLogger, h.EventsLogFile = "file", e.EventLog()
	// Bridge networks go through netavark (network.NetavarkPath).
	h.NetworkBackend = "none"
	if _, err := os.Stat(network.NetavarkPath); err == nil {
		h.NetworkBackend = "netavark"
	}

	s := &in.Store
	s.ConfigFile = o.ConfigFile
	s.GraphRoot, s.RunRoot = e.Store.GraphRoot(), e.Store.RunRoot()
	s.GraphDriverName, s.GraphOptions = e.Store.GraphDriverName(), e.Store.GraphOptions()
	if s.GraphOptions == nil {
		s.GraphOptions = []string{}
	}
	s.VolumePath = e.Volumes().Root
	images, err := e.Store.Images()
	if err != nil {
		return nil, err
	}
	s.ImageStore.Number = len(images)
	ctrs, err := e.List()
	if err != nil {
		return nil, err
	}
	for _, c := range ctrs {
		s.ContainerStore.Number++
		switch c.State.Status {
		case container.StatusRunning, container.StatusStopping:
			s.ContainerStore.Running++
		case container.StatusPaused:
			s.ContainerStore.Paused++
		default:
			s.ContainerStore.Stopped++
		}
	}
	if r := o.Registries; r != nil {
		in.Registries = map[string]any{"search": nonNil(r.Search)}
		for _, reg := range r.Registry {
			mirrors := []map[string]any{}
			for _, m := range reg.Mirrors {
				mirrors = append(mirrors, map[string]any{"Location": m.Location, "Insecure": m.Insecure, "PullFromMirror": m.PullFromMirror})
			}
			in.Registries[reg.Prefix] = map[string]any{
				"Prefix": reg.Prefix, "Location": reg.Location, "Insecure": reg.Insecure,
				"Blocked": reg.Blocked, "MirrorByDigestOnly": reg.MirrorByDigestOnly, "Mirrors": mirrors,
			}
		}
	}
	return in, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// CgroupVersion is "v2" only on a unified hierarchy; a hybrid host (v1
// controllers, v2 at /sys/fs/cgroup/unified) is "v1", as podman says.
func CgroupVersion() string {
	var st unix.Statfs_t
	if unix.Statfs("/sys/fs/cgroup", &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
		return "v2"
	}
	return "v1"
}

func firstLine(ctx context.Context, prog string, args ...string) string {
	out, err := exec.CommandContext(ctx, prog, args...).Output()
	if err != nil {
		return ""
	}
	line, _, _ := strings.Cut(string(out), "\n")
	return strings.TrimSpace(line)
}
