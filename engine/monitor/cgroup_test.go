package monitor

import (
	"slices"
	"strings"
	"testing"
)

func TestParseCgroupRoots(t *testing.T) {
	mountinfo := `22 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard
30 22 0:26 / /sys/fs/cgroup rw,nosuid - tmpfs tmpfs rw,mode=755
31 30 0:27 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime - cgroup2 cgroup2 rw,nsdelegate
32 30 0:28 / /sys/fs/cgroup/systemd rw,nosuid - cgroup cgroup rw,xattr,name=systemd
33 30 0:29 / /sys/fs/cgroup/cpuset rw,nosuid - cgroup cgroup rw,cpuset
34 30 0:30 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid - cgroup cgroup rw,cpu,cpuacct
35 30 0:31 / /sys/fs/cgroup/memory rw,nosuid shared:9 - cgroup cgroup rw,memory
36 30 0:32 /sub /mnt/bound rw - cgroup cgroup rw,pids
37 30 0:33 / /mnt/with\040space rw - cgroup cgroup rw,blkio
`
	got, err := parseCgroupRoots(strings.NewReader(mountinfo))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"/sys/fs/cgroup/unified", "/sys/fs/cgroup/systemd", "/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup/memory", "/mnt/with space"}
	if !slices.Equal(got, want) {
		t.Fatalf("parseCgroupRoots = %q, want %q", got, want)
	}
}
