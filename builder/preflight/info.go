package preflight

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"github.com/containers/storage"

	"github.com/ocisuite/suite/shared/userns"
)

// Info is `builder info`'s report, with buildah info's keys.
type Info struct {
	Host  HostInfo  `json:"host"`
	Store StoreInfo `json:"store"`
}

// HostInfo describes the machine and the user the builder acts for.
type HostInfo struct {
	OS            string     `json:"os"`
	Arch          string     `json:"arch"`
	Kernel        string     `json:"kernel"`
	Hostname      string     `json:"hostname"`
	CPUs          int        `json:"cpus"`
	Rootless      bool       `json:"rootless"`
	IDMappings    IDMappings `json:"IDMappings"`
	CgroupVersion string     `json:"CgroupVersion"`
	OCIRuntime    string     `json:"OCIRuntime"`
}

// IDMappings are this process's user namespace maps (identity for root).
type IDMappings struct {
	UIDMap []IDMap `json:"uidmap"`
	GIDMap []IDMap `json:"gidmap"`
}

// IDMap is one line of /proc/self/uid_map or gid_map.
type IDMap struct {
	ContainerID int `json:"container_id"`
	HostID      int `json:"host_id"`
	Size        int `json:"size"`
}

// StoreInfo describes the store and the driver chosen for it.
type StoreInfo struct {
	GraphRoot         string   `json:"GraphRoot"`
	RunRoot           string   `json:"RunRoot"`
	GraphDriverName   string   `json:"GraphDriverName"`
	GraphOptions      []string `json:"GraphOptions"`
	GraphDriverReason string   `json:"GraphDriverReason"`
	ImageStore        Count    `json:"ImageStore"`
	ContainerStore    Count    `json:"ContainerStore"`
}

// Count counts images or containers.
type Count struct {
	Number int `json:"number"`
}

// Host reports the machine; runtimePath is the OCI runtime found ("" if
// none).
func Host(runtimePath string) HostInfo {
	h := HostInfo{
		OS:         runtime.GOOS,
		Arch:       runtime.GOARCH,
		CPUs:       runtime.NumCPU(),
		Rootless:   userns.Rootless(),
		OCIRuntime: runtimePath,
		IDMappings: IDMappings{UIDMap: readIDMap("/proc/self/uid_map"), GIDMap: readIDMap("/proc/self/gid_map")},
	}
	h.Hostname, _ = os.Hostname()
	var uts syscall.Utsname
	if syscall.Uname(&uts) == nil {
		var b strings.Builder
		for _, c := range uts.Release {
			if c == 0 {
				break
			}
			b.WriteByte(byte(c))
		}
		h.Kernel = b.String()
	}
	h.CgroupVersion = "v1"
	if isCgroup2("/sys/fs/cgroup") {
		h.CgroupVersion = "v2"
	}
	return h
}

// StoreReport describes the open store s; reason is why its driver was
// chosen.
func StoreReport(s storage.Store, reason string) (StoreInfo, error) {
	si := StoreInfo{
		GraphRoot:         s.GraphRoot(),
		RunRoot:           s.RunRoot(),
		GraphDriverName:   s.GraphDriverName(),
		GraphOptions:      s.GraphOptions(),
		GraphDriverReason: reason,
	}
	if si.GraphOptions == nil {
		si.GraphOptions = []string{}
	}
	images, err := s.Images()
	if err != nil {
		return si, err
	}
	containers, err := s.Containers()
	if err != nil {
		return si, err
	}
	si.ImageStore.Number, si.ContainerStore.Number = len(images), len(containers)
	return si, nil
}

func readIDMap(file string) []IDMap {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil
	}
	maps := []IDMap{}
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Fields(l)
		if len(f) != 3 {
			continue
		}
		c, err1 := strconv.Atoi(f[0])
		h, err2 := strconv.Atoi(f[1])
		n, err3 := strconv.Atoi(f[2])
		if err1 == nil && err2 == nil && err3 == nil {
			maps = append(maps, IDMap{ContainerID: c, HostID: h, Size: n})
		}
	}
	return maps
}
