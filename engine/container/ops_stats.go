package container

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Stats are a container's resource use at one moment, read from its
// cgroup (v1 or v2) and its network namespace.
type Stats struct {
	ID, Name string
	// CPUNano is the CPU time used since start; CPUPercent is the share
	// of one CPU since the previous sample (or since start for the first).
	CPUNano    uint64
	CPUPercent float64
	AvgCPU     float64
	MemUsage   uint64
	MemLimit   uint64
	MemPercent float64
	NetInput   uint64
	NetOutput  uint64
	BlockInput uint64
	BlockOut   uint64
	PIDs       uint64
	UpTime     time.Duration
	At         time.Time
}

// cgroupRoot is where the cgroup file systems are mounted.
const cgroupRoot = "/sys/fs/cgroup"

// cgroupParent holds the containers' cgroups (each named by its ID) and
// the monitors' (see monitorCgroup), under each hierarchy's root.
const cgroupParent = "/ocisuite"

// cgroupUnified reports whether the host runs cgroup v2 only.
func cgroupUnified() bool {
	_, err := os.Stat(filepath.Join(cgroupRoot, "cgroup.controllers"))
	return err == nil
}

// ContainerStats samples a running container; prev (may be nil) is its
// previous sample, for the CPU share in between.
func (e *Engine) ContainerStats(ctx context.Context, id string, prev *Stats) (*Stats, error) {
	c, err := e.Lookup(id)
	if err != nil {
		return nil, err
	}
	if !c.Running() {
		return nil, errNotRunning(c)
	}
	cg := cgroupParent + "/" + c.ID
	s := &Stats{ID: c.ID, Name: c.Name, At: time.Now()}
	if cgroupUnified() {
		readV2(filepath.Join(cgroupRoot, cg), s)
	} else {
		readV1(cg, s)
	}
	if s.MemLimit == 0 {
		s.MemLimit = hostMemory()
	}
	if s.MemLimit > 0 {
		s.MemPercent = 100 * float64(s.MemUsage) / float64(s.MemLimit)
	}
	if c.State.Pid > 0 {
		s.NetInput, s.NetOutput = netIO(c.State.Pid)
	}
	if !c.State.StartedAt.IsZero() {
		s.UpTime = s.At.Sub(c.State.StartedAt)
	}
	if s.UpTime > 0 {
		s.AvgCPU = 100 * float64(s.CPUNano) / float64(s.UpTime.Nanoseconds())
	}
	s.CPUPercent = s.AvgCPU
	if prev != nil && prev.ID == s.ID && s.At.After(prev.At) && s.CPUNano >= prev.CPUNano {
		s.CPUPercent = 100 * float64(s.CPUNano-prev.CPUNano) / float64(s.At.Sub(prev.At).Nanoseconds())
	}
	return s, nil
}

func readUint(p string) uint64 {
	b, err := os.ReadFile(p)
	if err != nil {
		return 0
	}
	n, _ := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	return n
}

// keyed reads "key value" lines.
func keyed(p string) map[string]uint64 {
	m := map[string]uint64{}
	b, err := os.ReadFile(p)
	if err != nil {
		return m
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 2 {
			n, _ := strconv.ParseUint(f[1], 10, 64)
			m[f[0]] = n
		}
	}
	return m
}

func readV1(cg string, s *Stats) {
	mem := filepath.Join(cgroupRoot, "memory", cg)
	usage := readUint(filepath.Join(mem, "memory.usage_in_bytes"))
	// As podman and docker: the page cache that can be dropped is not use.
	if inactive, ok := keyed(filepath.Join(mem, "memory.stat"))["total_inactive_file"]; ok && inactive < usage {
		usage -= inactive
	}
	s.MemUsage = usage
	if limit := readUint(filepath.Join(mem, "memory.limit_in_bytes")); limit < hostMemory() {
		s.MemLimit = limit
	}
	s.CPUNano = readUint(filepath.Join(cgroupRoot, "cpuacct", cg, "cpuacct.usage"))
	s.PIDs = readUint(filepath.Join(cgroupRoot, "pids", cg, "pids.current"))
	b, err := os.ReadFile(filepath.Join(cgroupRoot, "blkio", cg, "blkio.throttle.io_service_bytes_recursive"))
	if err != nil {
		b, _ = os.ReadFile(filepath.Join(cgroupRoot, "blkio", cg, "blkio.throttle.io_service_bytes"))
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			continue
		}
		n, _ := strconv.ParseUint(f[2], 10, 64)
		switch f[1] {
		case "Read":
			s.BlockInput += n
		case "Write":
			s.BlockOut += n
		}
	}
}

func readV2(dir string, s *Stats) {
	usage := readUint(filepath.Join(dir, "memory.current"))
	if inactive, ok := keyed(filepath.Join(dir, "memory.stat"))["inactive_file"]; ok && inactive < usage {
		usage -= inactive
	}
	s.MemUsage = usage
	if b, err := os.ReadFile(filepath.Join(dir, "memory.max")); err == nil {
		if n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64); err == nil {
			s.MemLimit = n
		}
	}
	s.CPUNano = keyed(filepath.Join(dir, "cpu.stat"))["usage_usec"] * 1000
	s.PIDs = readUint(filepath.Join(dir, "pids.current"))
	b, _ := os.ReadFile(filepath.Join(dir, "io.stat"))
	for _, line := range strings.Split(string(b), "\n") {
		for _, kv := range strings.Fields(line)[min(1, len(strings.Fields(line))):] {
			k, v, _ := strings.Cut(kv, "=")
			n, _ := strconv.ParseUint(v, 10, 64)
			switch k {
			case "rbytes":
				s.BlockInput += n
			case "wbytes":
				s.BlockOut += n
			}
		}
	}
}

// hostMemory is the host's memory in bytes.
func hostMemory() uint64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			f := strings.Fields(v)
			if len(f) > 0 {
				n, _ := strconv.ParseUint(f[0], 10, 64)
				return n * 1024
			}
		}
	}
	return 0
}

// netIO sums the received and sent bytes of every interface but lo in
// the network namespace of pid.
func netIO(pid int) (rx, tx uint64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/dev", pid))
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		name, rest, ok := strings.Cut(line, ":")
		if !ok || strings.TrimSpace(name) == "lo" {
			continue
		}
		f := strings.Fields(rest)
		if len(f) < 9 {
			continue
		}
		r, _ := strconv.ParseUint(f[0], 10, 64)
		t, _ := strconv.ParseUint(f[8], 10, 64)
		rx += r
		tx += t
	}
	return rx, tx
}
