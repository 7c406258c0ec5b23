package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestEngineOpsCp: cp both ways, into and out of directories, tar streams
// with -, a stopped container, and symlinks that resolve inside the
// container's root, never on the host.
func TestEngineOpsCp(t *testing.T) {
	e := containerStore(t)
	e.must(t, "run", "-d", "--name", "c", "bb", "sleep", "1000")
	e.waitStatus(t, "c", "running")
	host := t.TempDir()
	in := filepath.Join(host, "in.txt")
	os.WriteFile(in, []byte("to the container\n"), 0o644)

	// host → container: a new name, then into an existing directory.
	e.must(t, "cp", in, "c:/tmp/renamed.txt")
	e.must(t, "container", "cp", in, "c:/tmp")
	if out := e.must(t, "exec", "c", "cat", "/tmp/renamed.txt", "/tmp/in.txt").Stdout; out != "to the container\nto the container\n" {
		t.Fatalf("cp into the container: %q", out)
	}
	// A host directory goes in as a directory.
	sub := filepath.Join(host, "sub")
	os.MkdirAll(filepath.Join(sub, "deep"), 0o755)
	os.WriteFile(filepath.Join(sub, "deep", "f"), []byte("deep\n"), 0o644)
	e.must(t, "cp", sub, "c:/tmp")
	if out := e.must(t, "exec", "c", "cat", "/tmp/sub/deep/f").Stdout; out != "deep\n" {
		t.Fatalf("cp of a directory: %q", out)
	}
	// container → host: into a directory, and to a new name.
	e.must(t, "exec", "c", "sh", "-c", "echo from the container > /tmp/out.txt")
	e.must(t, "cp", "c:/tmp/out.txt", host)
	e.must(t, "cp", "c:/tmp/out.txt", filepath.Join(host, "named.txt"))
	for _, n := range []string{"out.txt", "named.txt"} {
		if b, _ := os.ReadFile(filepath.Join(host, n)); string(b) != "from the container\n" {
			t.Fatalf("cp out of the container to %s: %q", n, b)
		}
	}
	// Tar streams: out to stdout, in from stdin.
	res := e.must(t, "cp", "c:/tmp/out.txt", "-")
	if files := untarFiles(t, []byte(res.Stdout)); files["out.txt"] != "from the container\n" {
		t.Fatalf("cp to -: %v", files)
	}
	if res := e.stdin(t, tarOf(t, map[string]string{"fromtar.txt": "tar stream\n"}), "cp", "-", "c:/tmp"); res.Code != 0 {
		t.Fatalf("cp - c:/tmp: %d %s", res.Code, res.Stderr)
	}
	if out := e.must(t, "exec", "c", "cat", "/tmp/fromtar.txt").Stdout; out != "tar stream\n" {
		t.Fatalf("cp from stdin: %q", out)
	}

	// Symlinks resolve inside the container: /tmp/link → /etc/passwd is the
	// container's passwd, not the host's; writing through /tmp/etc → /etc
	// lands in the container's /etc.
	e.must(t, "exec", "c", "sh", "-c", "ln -s /etc/passwd /tmp/link && ln -s ../../../../../../etc /tmp/etc")
	ctrPasswd := e.must(t, "exec", "c", "cat", "/etc/passwd").Stdout
	hostPasswd, _ := os.ReadFile("/etc/passwd")
	if ctrPasswd == string(hostPasswd) {
		t.Fatal("the container's /etc/passwd is the host's: the test cannot tell them apart")
	}
	e.must(t, "cp", "c:/tmp/link", filepath.Join(host, "link"))
	if b, _ := os.ReadFile(filepath.Join(host, "link")); string(b) != ctrPasswd {
		t.Fatalf("cp of a symlink to /etc/passwd gave %q, want the container's %q", b, ctrPasswd)
	}
	e.must(t, "cp", in, "c:/tmp/etc/engine-cp-probe")
	if _, err := os.Stat("/etc/engine-cp-probe"); err == nil {
		os.Remove("/etc/engine-cp-probe")
		t.Fatal("cp through a symlink wrote to the host's /etc")
	}
	if out := e.must(t, "exec", "c", "cat", "/etc/engine-cp-probe").Stdout; out != "to the container\n" {
		t.Fatalf("cp through a symlink: %q", out)
	}
	// A tar entry climbing out with .. stays inside the container's root.
	e.stdin(t, tarOf(t, map[string]string{"../../../../../../../engine-cp-escape": "x"}), "cp", "-", "c:/tmp")
	if _, err := os.Stat("/engine-cp-escape"); err == nil {
		os.Remove("/engine-cp-escape")
		t.Fatal("a tar entry with .. was written outside the container")
	}

	// A stopped container: its root filesystem is mounted for the copy.
	e.must(t, "stop", "-t", "0", "c")
	e.must(t, "cp", in, "c:/tmp/while-stopped.txt")
	e.must(t, "cp", "c:/tmp/out.txt", filepath.Join(host, "stopped.txt"))
	if b, _ := os.ReadFile(filepath.Join(host, "stopped.txt")); string(b) != "from the container\n" {
		t.Fatalf("cp out of a stopped container: %q", b)
	}
	e.must(t, "start", "c")
	if out := e.must(t, "exec", "c", "cat", "/tmp/while-stopped.txt").Stdout; out != "to the container\n" {
		t.Fatalf("cp into a stopped container: %q", out)
	}
	res = e.run(t, "cp", "c:/no/such/file", host)
	if res.Code != 125 {
		t.Fatalf("cp of a missing file: exit %d", res.Code)
	}
	assertOneLine(t, res.Stderr, "/no/such/file")
}

// TestEngineOpsDiffCommit: diff lists A/C/D; commit (-c, -m, --author,
// -f docker, unnamed, --pause) makes an image that runs with the change;
// its VOLUME gives an anonymous volume that rm -v removes.
func TestEngineOpsDiffCommit(t *testing.T) {
	e := containerStore(t)
	e.must(t, "run", "--name", "d", "bb", "sh", "-c", "echo new > /newfile && rm /etc/group && echo x >> /etc/passwd")
	diff := e.must(t, "diff", "d").Stdout
	for _, want := range []string{"A /newfile\n", "D /etc/group\n", "C /etc/passwd\n", "C /etc\n"} {
		if !strings.Contains(diff, want) {
			t.Fatalf("diff lacks %q:\n%s", want, diff)
		}
	}
	var byKind map[string][]string
	if err := json.Unmarshal([]byte(e.must(t, "container", "diff", "--format", "json", "d").Stdout), &byKind); err != nil || !contains(byKind["added"], "/newfile") || !contains(byKind["deleted"], "/etc/group") {
		t.Fatalf("diff --format json: %v %v", err, byKind)
	}

	res := e.must(t, "commit", "-q", "-c", `CMD ["cat", "/newfile"]`, "-c", "VOLUME /data", "-c", "ENV COMMITTED=yes",
		"-m", "my commit message", "--author", "Ann Author", "d", "localhost/committed:1")
	id := strings.TrimSpace(res.Stdout)
	if !fullID.MatchString(id) || id != e.id(t, "localhost/committed:1") {
		t.Fatalf("commit printed %q", res.Stdout)
	}
	if out := e.must(t, "run", "--rm", "localhost/committed:1").Stdout; out != "new\n" {
		t.Fatalf("the committed image runs %q", out)
	}
	if out := e.must(t, "run", "--rm", "localhost/committed:1", "sh", "-c", "echo $COMMITTED; ls /etc/group 2>&1; true").Stdout; !strings.HasPrefix(out, "yes\n") || !strings.Contains(out, "No such file") {
		t.Fatalf("committed env and deletion: %q", out)
	}
	if hist := e.must(t, "history", "--format", "{{.Comment}}", "localhost/committed:1").Stdout; !strings.Contains(hist, "my commit message") {
		t.Fatalf("history lacks the commit message:\n%s", hist)
	}
	var img []struct {
		Author string
		Config struct{ Volumes map[string]any }
	}
	if err := json.Unmarshal([]byte(e.must(t, "image", "inspect", "localhost/committed:1").Stdout), &img); err != nil || len(img) != 1 || img[0].Author != "Ann Author" || img[0].Config.Volumes["/data"] == nil {
		t.Fatalf("image inspect: %v %+v", err, img)
	}
	// Unnamed, docker format, from a running container with and without pause.
	e.must(t, "run", "-d", "--name", "r", "bb", "sh", "-c", "echo running > /r; exec sleep 1000")
	e.waitStatus(t, "r", "running")
	unnamed := strings.TrimSpace(e.must(t, "commit", "-q", "r").Stdout)
	if !fullID.MatchString(unnamed) {
		t.Fatalf("unnamed commit printed %q", unnamed)
	}
	if out := e.must(t, "run", "--rm", unnamed, "cat", "/r").Stdout; out != "running\n" {
		t.Fatalf("the unnamed image: %q", out)
	}
	e.must(t, "commit", "-q", "--pause=false", "-f", "docker", "r", "localhost/docker-fmt")
	if out := e.must(t, "run", "--rm", "localhost/docker-fmt", "cat", "/r").Stdout; out != "running\n" {
		t.Fatalf("the docker-format image: %q", out)
	}
	if in := e.inspect(t, "r"); in.State.Status != "running" {
		t.Fatalf("after commit --pause the container is %s", in.State.Status)
	}
	if res := e.run(t, "commit", "-f", "nope", "r"); res.Code != 125 {
		t.Fatalf("commit -f nope: exit %d", res.Code)
	}

	// The image's VOLUME: an anonymous volume, kept by rm, removed by rm -v.
	anonVolume := func(name string) string {
		e.must(t, "create", "--name", name, "localhost/committed:1")
		for _, m := range e.inspect(t, name).Mounts {
			if m.Destination == "/data" && m.Type == "volume" && m.Name != "" {
				e.must(t, "start", name)
				e.must(t, "wait", name)
				return m.Name
			}
		}
		t.Fatalf("no anonymous volume at /data: %+v", e.inspect(t, name).Mounts)
		return ""
	}
	kept := anonVolume("a1")
	e.must(t, "rm", "a1")
	if res := e.run(t, "volume", "exists", kept); res.Code != 0 {
		t.Fatalf("rm without -v removed the anonymous volume")
	}
	gone := anonVolume("a2")
	if res := e.run(t, "volume", "exists", gone); res.Code != 0 {
		t.Fatalf("the anonymous volume was not created")
	}
	e.must(t, "rm", "-v", "a2")
	if res := e.run(t, "volume", "exists", gone); res.Code != 1 {
		t.Fatalf("rm -v left the anonymous volume %s", gone)
	}
}

// TestEngineOpsTopStatsUpdate: top with default and given descriptors,
// stats (--no-stream, json, templates, -a), update of a running container
// seen by inspect, the cgroup and stats.
func TestEngineOpsTopStatsUpdate(t *testing.T) {
	e := containerStore(t)
	id := strings.TrimSpace(e.must(t, "run", "-d", "--name", "t", "bb", "sleep", "1000").Stdout)
	e.waitStatus(t, "t", "running")
	top := strings.Split(strings.TrimSpace(e.must(t, "top", "t").Stdout), "\n")
	if len(top) != 2 || strings.Join(strings.Fields(top[0]), " ") != "USER PID PPID %CPU ELAPSED TTY TIME COMMAND" ||
		!strings.HasPrefix(top[1], "root ") || !strings.HasSuffix(top[1], "sleep 1000") {
		t.Fatalf("top:\n%s", strings.Join(top, "\n"))
	}
	// As podman's: pid and ppid as the container sees them (its first
	// process is 1, its parent outside is 0), hpid and hppid as the host.
	pid := e.inspect(t, "t").State.Pid
	if out := e.must(t, "container", "top", "t", "pid", "ppid", "comm,user", "hpid").Stdout; strings.Join(strings.Fields(out), " ") != "PID PPID COMMAND USER HPID 1 0 sleep root "+strconv.Itoa(pid) {
		t.Fatalf("top pid ppid comm,user hpid: %q", out)
	}
	// A process exec'd into a container (its parent, conmon, outside).
	e.must(t, "run", "-d", "--name", "t2", "bb", "sleep", "1000")
	e.must(t, "exec", "-d", "t2", "sleep", "999")
	waitFor(t, func() bool { return strings.Contains(e.run(t, "top", "t2", "pid", "args").Stdout, "sleep 999") })
	for _, l := range strings.Split(strings.TrimSpace(e.must(t, "top", "t2", "pid", "ppid", "hppid", "args").Stdout), "\n")[1:] {
		f := strings.Fields(l)
		if f[len(f)-1] == "999" && (f[0] == "1" || f[1] != "0" || f[2] == "0") {
			t.Fatalf("top of an exec'd process: %q", l)
		}
	}
	e.must(t, "rm", "-f", "-t", "0", "t2")
	if res := e.run(t, "top", "t", "bogus"); res.Code != 125 {
		t.Fatalf("top with an unknown descriptor: exit %d", res.Code)
	}

	type statsRow struct {
		JID           string `json:"id"`
		JName         string `json:"name"`
		MemUsageBytes uint64 `json:"mem_usage_bytes"`
		Mem           string `json:"mem_usage"`
		PIDs          string `json:"pids"`
		CPU           string `json:"cpu_percent"`
	}
	stats := func(args ...string) []statsRow {
		var rows []statsRow
		out := e.must(t, append([]string{"stats", "--no-stream", "--format", "json"}, args...)...).Stdout
		if err := json.Unmarshal([]byte(out), &rows); err != nil {
			t.Fatalf("stats json: %v: %s", err, out)
		}
		return rows
	}
	rows := stats()
	if len(rows) != 1 || rows[0].JName != "t" || rows[0].JID != id[:12] || rows[0].MemUsageBytes == 0 || rows[0].PIDs != "1" || !strings.HasSuffix(rows[0].CPU, "%") {
		t.Fatalf("stats --no-stream --format json: %+v", rows)
	}
	if out := e.must(t, "stats", "--no-stream", "--format", "{{.Name}} {{.PIDS}}", "t").Stdout; out != "t 1\n" {
		t.Fatalf("stats --format template: %q", out)
	}
	table := e.must(t, "stats", "--no-stream", "--no-trunc").Stdout
	if !strings.Contains(table, "MEM USAGE / LIMIT") || !strings.Contains(table, "CPU %") || !strings.Contains(table, id) {
		t.Fatalf("stats table:\n%s", table)
	}
	e.must(t, "create", "--name", "idle", "bb", "sh", "-c", "cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max")
	if rows := stats("-a"); len(rows) != 1 {
		t.Fatalf("stats -a with one running container: %+v", rows)
	}
	if res := e.run(t, "stats", "--no-stream", "idle"); res.Code != 125 {
		t.Fatalf("stats of a container that is not running: exit %d", res.Code)
	}

	e.must(t, "update", "--memory", "64m", "--pids-limit", "50", "--cpu-shares", "512", "--cpus", "0.5", "--cpuset-cpus", "0", "t")
	var in []struct {
		HostConfig struct {
			Memory     int64
			PidsLimit  int64
			CpuShares  uint64
			NanoCpus   int64
			CpusetCpus string
		}
	}
	if err := json.Unmarshal([]byte(e.must(t, "inspect", "t").Stdout), &in); err != nil || len(in) != 1 {
		t.Fatal(err)
	}
	if hc := in[0].HostConfig; hc.Memory != 64<<20 || hc.PidsLimit != 50 || hc.CpuShares != 512 || hc.NanoCpus != 5e8 || hc.CpusetCpus != "0" {
		t.Fatalf("inspect after update: %+v", hc)
	}
	cg := e.must(t, "exec", "t", "sh", "-c", "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max").Stdout
	if cg != "67108864\n50\n" {
		t.Fatalf("the container's cgroup after update: %q", cg)
	}
	if rows := stats("t"); len(rows) != 1 || !strings.HasSuffix(rows[0].Mem, "/ 67.1MB") {
		t.Fatalf("stats after update: %+v", rows)
	}
	// A stopped container's update is recorded and applies at its start.
	e.must(t, "update", "--memory", "32m", "idle")
	if out := e.must(t, "start", "-a", "idle").Stdout; out != "33554432\n" {
		t.Fatalf("memory limit after update of a stopped container: %q", out)
	}
	if res := e.run(t, "update", "t"); res.Code != 125 {
		t.Fatalf("update with nothing to change: exit %d", res.Code)
	}
}

// TestEngineOpsMountPort: mount prints the root filesystem's path and
// lists mounted containers (--notruncate); umount (-a, -f) releases it;
// port prints nothing (no port publishing) and exits 0.
func TestEngineOpsMountPort(t *testing.T) {
	e := containerStore(t)
	id := strings.TrimSpace(e.must(t, "create", "--name", "m", "bb", "true").Stdout)
	p := strings.TrimSpace(e.must(t, "mount", "m").Stdout)
	if b, err := os.ReadFile(filepath.Join(p, "etc", "passwd")); err != nil || !strings.HasPrefix(string(b), "root:") {
		t.Fatalf("mount printed %q: %v", p, err)
	}
	if out := e.must(t, "mount").Stdout; out != id[:12]+"  "+p+"\n" {
		t.Fatalf("mount with no container: %q", out)
	}
	if out := e.must(t, "mount", "--notruncate").Stdout; out != id+"  "+p+"\n" {
		t.Fatalf("mount --notruncate: %q", out)
	}
	e.must(t, "mount", "m") // twice mounted
	e.must(t, "umount", "m")
	if out := e.must(t, "mount").Stdout; out == "" {
		t.Fatal("one umount released both mounts")
	}
	e.must(t, "umount", "-f", "m")
	if out := e.must(t, "mount").Stdout; out != "" {
		t.Fatalf("after umount -f: %q", out)
	}
	if _, err := os.Stat(filepath.Join(p, "etc", "passwd")); err == nil {
		t.Fatal("the root filesystem is still mounted")
	}
	e.must(t, "container", "mount", "m")
	e.must(t, "umount", "-a")
	if out := e.must(t, "mount").Stdout; out != "" {
		t.Fatalf("after umount -a: %q", out)
	}
	// A running container's own mount stays.
	e.must(t, "run", "-d", "--name", "up", "bb", "sleep", "1000")
	e.waitStatus(t, "up", "running")
	if res := e.run(t, "umount", "up"); res.Code != 125 {
		t.Fatalf("umount of a running container: exit %d", res.Code)
	}
	if out := e.must(t, "exec", "up", "cat", "/etc/passwd").Stdout; !strings.HasPrefix(out, "root:") {
		t.Fatalf("the running container lost its root: %q", out)
	}

	for _, args := range [][]string{{"port", "m"}, {"port", "--all"}, {"container", "port", "-a"}} {
		if res := e.must(t, args...); res.Stdout != "" {
			t.Fatalf("%v printed %q", args, res.Stdout)
		}
	}
	if res := e.run(t, "port", "nope"); res.Code != 125 {
		t.Fatalf("port of a missing container: exit %d", res.Code)
	}
}
