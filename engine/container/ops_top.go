package container

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/moby/sys/user"
	"golang.org/x/sys/unix"
)

// DefaultTopDescriptors are podman top's default columns.
var DefaultTopDescriptors = []string{"user", "pid", "ppid", "%cpu", "elapsed", "tty", "time", "command"}

// topColumns are the ps(1) format descriptors top knows, with podman's
// column titles; aliases share a title.
var topColumns = map[string]string{
	"user": "USER", "ruser": "RUSER", "uid": "UID", "group": "GROUP", "rgroup": "RGROUP", "gid": "GID",
	"pid": "PID", "ppid": "PPID", "hpid": "HPID", "hppid": "HPPID", "pgid": "PGID", "%cpu": "%CPU", "pcpu": "%CPU",
	"elapsed": "ELAPSED", "etime": "ELAPSED", "tty": "TTY", "time": "TIME", "cputime": "TIME",
	"command": "COMMAND", "args": "COMMAND", "comm": "COMMAND", "nice": "NI", "ni": "NI",
	"vsz": "VSZ", "rss": "RSS", "stat": "STAT", "state": "STATE", "%mem": "%MEM", "pmem": "%MEM",
}

// Top lists the container's processes by the ps descriptors given
// (DefaultTopDescriptors for none); the first row is the header.
func (e *Engine) Top(ctx context.Context, id string, descriptors []string) ([][]string, error) {
	c, err := e.Lookup(id)
	if err != nil {
		return nil, err
	}
	if !c.Running() {
		return nil, errNotRunning(c)
	}
	if len(descriptors) == 0 {
		descriptors = DefaultTopDescriptors
	}
	// podman accepts "pid,user" as one argument too.
	var ds []string
	for _, d := range descriptors {
		for _, x := range strings.Split(d, ",") {
			if x = strings.TrimSpace(x); x != "" {
				ds = append(ds, x)
			}
		}
	}
	header := make([]string, len(ds))
	for i, d := range ds {
		t, ok := topColumns[d]
		if !ok {
			return nil, fmt.Errorf("unknown top descriptor %q", d)
		}
		header[i] = t
	}
	pids, err := e.Runtime.Pids(ctx, c.ID)
	if err != nil {
		return nil, fmt.Errorf("listing the processes of %s: %w", c.Name, err)
	}
	users := idNames(c.State.Mountpoint)
	rows := [][]string{header}
	for _, pid := range pids {
		p, err := readProc(pid)
		if err != nil {
			continue // gone meanwhile
		}
		row := make([]string, len(ds))
		for i, d := range ds {
			row[i] = p.field(d, users)
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// proc is what /proc tells about one process.
type proc struct {
	pid, ppid, pgid   int // as the host sees them
	nsPid, nsPpid     int // as the container sees them: 0 for a parent outside it
	state             string
	comm              string
	args              []string
	uid, gid          int
	ruid, rgid        int
	utime, stime      uint64 // clock ticks
	start             uint64 // clock ticks after boot
	nice              int
	vsize             uint64
	ttyNr             int
	memTotalKB, rssKB uint64
}

const clockTicks = 100 // USER_HZ on Linux

func readProc(pid int) (*proc, error) {
	dir := filepath.Join("/proc", strconv.Itoa(pid))
	stat, err := os.ReadFile(filepath.Join(dir, "stat"))
	if err != nil {
		return nil, err
	}
	s := string(stat)
	lp, rp := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if lp < 0 || rp < lp {
		return nil, fmt.Errorf("malformed %s/stat", dir)
	}
	p := &proc{pid: pid, comm: s[lp+1 : rp]}
	f := strings.Fields(s[rp+1:])
	if len(f) < 22 {
		return nil, fmt.Errorf("malformed %s/stat", dir)
	}
	// Fields after comm, from state (field 3 of proc(5)) on.
	num := func(i int) uint64 { n, _ := strconv.ParseUint(f[i], 10, 64); return n }
	p.state = f[0]
	p.ppid = int(num(1))
	p.pgid = int(num(2))
	tty, _ := strconv.Atoi(f[4])
	p.ttyNr = tty
	p.utime, p.stime = num(11), num(12)
	nice, _ := strconv.Atoi(f[16])
	p.nice = nice
	p.start = num(19)
	p.vsize = num(20)
	if cmdline, err := os.ReadFile(filepath.Join(dir, "cmdline")); err == nil {
		p.args = strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
	}
	if status, err := os.ReadFile(filepath.Join(dir, "status")); err == nil {
		for _, line := range strings.Split(string(status), "\n") {
			k, v, _ := strings.Cut(line, ":")
			fs := strings.Fields(v)
			switch {
			case k == "Uid" && len(fs) >= 2:
				p.ruid, _ = strconv.Atoi(fs[0])
				p.uid, _ = strconv.Atoi(fs[1])
			case k == "Gid" && len(fs) >= 2:
				p.rgid, _ = strconv.Atoi(fs[0])
				p.gid, _ = strconv.Atoi(fs[1])
			case k == "VmRSS" && len(fs) >= 1:
				p.rssKB, _ = strconv.ParseUint(fs[0], 10, 64)
			case k == "NSpid" && len(fs) >= 1:
				p.nsPid, _ = strconv.Atoi(fs[len(fs)-1])
				p.nsPpid = nsParent(p.ppid, len(fs))
			}
		}
	}
	if mi, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(mi), "\n") {
			if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				fs := strings.Fields(v)
				if len(fs) > 0 {
					p.memTotalKB, _ = strconv.ParseUint(fs[0], 10, 64)
				}
				break
			}
		}
	}
	return p, nil
}

// nsParent is host process ppid's PID in the innermost of its PID
// namespaces when its child's NSpid line has depth entries (the same
// namespace), or 0: the parent is outside the container.
func nsParent(ppid, depth int) int {
	status, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(ppid), "status"))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "NSpid:"); ok {
			fs := strings.Fields(v)
			if len(fs) != depth {
				return 0
			}
			n, _ := strconv.Atoi(fs[len(fs)-1])
			return n
		}
	}
	return 0
}

// names maps the container's uids and gids to names from its own
// /etc/passwd and /etc/group.
type names struct{ users, groups map[int]string }

func idNames(rootfs string) names {
	n := names{users: map[int]string{}, groups: map[int]string{}}
	if rootfs == "" {
		return n
	}
	if p, err := secureJoin(rootfs, "/etc/passwd"); err == nil {
		if us, err := user.ParsePasswdFile(p); err == nil {
			for _, u := range us {
				if _, ok := n.users[u.Uid]; !ok {
					n.users[u.Uid] = u.Name
				}
			}
		}
	}
	if p, err := secureJoin(rootfs, "/etc/group"); err == nil {
		if gs, err := user.ParseGroupFile(p); err == nil {
			for _, g := range gs {
				if _, ok := n.groups[g.Gid]; !ok {
					n.groups[g.Gid] = g.Name
				}
			}
		}
	}
	return n
}

func nameOr(m map[int]string, id int) string {
	if s, ok := m[id]; ok {
		return s
	}
	return strconv.Itoa(id)
}

func (p *proc) elapsed() time.Duration {
	var info unix.Sysinfo_t
	if unix.Sysinfo(&info) != nil {
		return 0
	}
	return time.Duration(info.Uptime)*time.Second - time.Duration(p.start)*time.Second/clockTicks
}

func (p *proc) field(d string, n names) string {
	cpu := time.Duration(p.utime+p.stime) * time.Second / clockTicks
	switch d {
	case "user":
		return nameOr(n.users, p.uid)
	case "ruser":
		return nameOr(n.users, p.ruid)
	case "uid":
		return strconv.Itoa(p.uid)
	case "group":
		return nameOr(n.groups, p.gid)
	case "rgroup":
		return nameOr(n.groups, p.rgid)
	case "gid":
		return strconv.Itoa(p.gid)
	case "pid":
		if p.nsPid > 0 {
			return strconv.Itoa(p.nsPid)
		}
		return strconv.Itoa(p.pid)
	case "ppid":
		if p.nsPid > 0 {
			return strconv.Itoa(p.nsPpid)
		}
		return strconv.Itoa(p.ppid)
	case "hpid":
		return strconv.Itoa(p.pid)
	case "hppid":
		return strconv.Itoa(p.ppid)
	case "pgid":
		return strconv.Itoa(p.pgid)
	case "%cpu", "pcpu":
		el := p.elapsed()
		if el <= 0 {
			return "0.000"
		}
		return strconv.FormatFloat(100*cpu.Seconds()/el.Seconds(), 'f', 3, 64)
	case "%mem", "pmem":
		if p.memTotalKB == 0 {
			return "0.0"
		}
		return strconv.FormatFloat(100*float64(p.rssKB)/float64(p.memTotalKB), 'f', 1, 64)
	case "elapsed", "etime":
		return p.elapsed().Truncate(time.Millisecond).String()
	case "time", "cputime":
		return cpu.String()
	case "tty":
		if p.ttyNr == 0 {
			return "?"
		}
		major, minor := unix.Major(uint64(p.ttyNr)), unix.Minor(uint64(p.ttyNr))
		if major == 136 {
			return fmt.Sprintf("pts/%d", minor)
		}
		return fmt.Sprintf("%d:%d", major, minor)
	case "command", "args":
		if len(p.args) == 0 || p.args[0] == "" {
			return "[" + p.comm + "]"
		}
		return strings.Join(p.args, " ")
	case "comm":
		return p.comm
	case "nice", "ni":
		return strconv.Itoa(p.nice)
	case "vsz":
		return strconv.FormatUint(p.vsize/1024, 10)
	case "rss":
		return strconv.FormatUint(p.rssKB, 10)
	case "stat", "state":
		return p.state
	}
	return ""
}
