package e2e

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ocisuite/suite/test/bin"
	"github.com/ocisuite/suite/test/fixture"
)

func TestEngineSystemInfoVersion(t *testing.T) {
	e := containerStore(t)
	e.must(t, "run", "-d", "--name", "up", "bb", "sleep", "1000")
	e.must(t, "create", "--name", "down", "bb", "true")
	var in struct {
		Host struct {
			Kernel, OS, Arch, CgroupVersion string
			CPUs                            int
			MemTotal                        int64
			OCIRuntime                      struct{ Name, Path, Version string }
			Conmon                          struct{ Path, Version string }
		}
		Store struct {
			GraphRoot, RunRoot, GraphDriverName string
			ImageStore                          struct{ Number int }
			ContainerStore                      struct{ Number, Running, Paused, Stopped int }
		}
		Registries map[string]any
	}
	if err := json.Unmarshal([]byte(e.must(t, "info", "--format", "json").Stdout), &in); err != nil {
		t.Fatal(err)
	}
	var uts unix.Utsname
	unix.Uname(&uts)
	cg := "v1"
	var st unix.Statfs_t
	if unix.Statfs("/sys/fs/cgroup", &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
		cg = "v2"
	}
	h := in.Host
	if h.Kernel != unix.ByteSliceToString(uts.Release[:]) || h.OS != "linux" || h.Arch == "" || h.CPUs < 1 || h.MemTotal <= 0 || h.CgroupVersion != cg {
		t.Fatalf("info host: %+v (want cgroup %s)", h, cg)
	}
	if h.OCIRuntime.Name != "runc" || !strings.Contains(h.OCIRuntime.Version, "runc version") || !strings.Contains(h.Conmon.Version, "conmon version") || h.Conmon.Path == "" {
		t.Fatalf("info runtime/conmon: %+v %+v", h.OCIRuntime, h.Conmon)
	}
	s := in.Store
	if s.GraphRoot != e.root || s.RunRoot != e.runroot || s.GraphDriverName != "overlay" || s.ImageStore.Number != 1 ||
		s.ContainerStore.Number != 2 || s.ContainerStore.Running != 1 || s.ContainerStore.Stopped != 1 {
		t.Fatalf("info store: %+v", s)
	}
	if _, ok := in.Registries["search"]; !ok {
		t.Fatalf("info registries: %v", in.Registries)
	}
	// netavark is installed by the test setup (the engine's bridge networks).
	if out := e.must(t, "info", "--format", "{{.Host.NetworkBackend}}").Stdout; out != "netavark\n" {
		t.Fatalf("info --format {{.Host.NetworkBackend}}: %q", out)
	}
	if out := e.must(t, "info", "--format", "{{.Store.GraphRoot}} {{.Host.CgroupsVersion}}").Stdout; out != e.root+" "+cg+"\n" {
		t.Fatalf("info --format: %q", out)
	}
	if out := e.must(t, "system", "info").Stdout; !strings.Contains(out, "graphRoot: "+e.root) || !strings.Contains(out, "cgroupVersion: "+cg) {
		t.Fatalf("info (YAML): %s", out)
	}
	if res := e.run(t, "info", "--format", "{{.Nope}"); res.Code != 125 {
		t.Fatalf("info with a bad template: exit %d", res.Code)
	}

	out := e.must(t, "version").Stdout
	if !strings.Contains(out, "Version:") || !strings.Contains(out, "Go Version:") || !strings.Contains(out, "OS/Arch:") {
		t.Fatalf("version: %s", out)
	}
	var v struct {
		Client struct{ Version, OsArch string }
	}
	if err := json.Unmarshal([]byte(e.must(t, "version", "--format", "json").Stdout), &v); err != nil || v.Client.Version == "" {
		t.Fatalf("version --format json: %v %+v", err, v)
	}
	if out := e.must(t, "version", "--format", "{{.Client.Version}}").Stdout; out != v.Client.Version+"\n" {
		t.Fatalf("version --format: %q", out)
	}
}

func TestEngineSystemEvents(t *testing.T) {
	e := containerStore(t)
	before := time.Now()
	id := strings.TrimSpace(e.must(t, "run", "-d", "--name", "ev", "-l", "team=a", "bb", "sleep", "1000").Stdout)
	e.must(t, "stop", "-t", "0", "ev")
	e.must(t, "rm", "ev")
	e.must(t, "run", "--rm", "--name", "other", "bb", "true") // exits by itself: died comes from cleanup

	var statuses []string
	sc := bufio.NewScanner(strings.NewReader(e.must(t, "events", "--stream=false", "--filter", "container=ev", "--format", "json").Stdout))
	for sc.Scan() {
		var ev struct {
			ID, Name, Status, Type string
			Time                   int64 `json:"time"`
			ContainerExitCode      *int
		}
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("events json line %q: %v", sc.Text(), err)
		}
		if ev.ID != id || ev.Name != "ev" || ev.Type != "container" || ev.Time < before.Unix()-1 {
			t.Fatalf("event %+v", ev)
		}
		if ev.Status == "died" && (ev.ContainerExitCode == nil || *ev.ContainerExitCode != 137) {
			t.Fatalf("died event without the exit code: %s", sc.Text())
		}
		statuses = append(statuses, ev.Status)
	}
	if got := strings.Join(statuses, " "); got != "create start died stop remove" {
		t.Fatalf("events of ev: %q", got)
	}
	// Default line: TIME container STATUS ID (image=…, name=…, labels).
	out := e.must(t, "events", "--stream=false", "--filter", "event=start", "--filter", "label=team=a").Stdout
	lines := strings.Split(strings.TrimSpace(out), "\n")
	// The image as resolved, as in podman; filters take it as given too.
	if len(lines) != 1 || !strings.Contains(lines[0], " container start "+id+" (image=localhost/bb:latest, name=ev") || !strings.Contains(lines[0], "team=a)") {
		t.Fatalf("events default format: %q", out)
	}
	for _, img := range []string{"bb", "localhost/bb", "localhost/bb:latest"} {
		if out := e.must(t, "events", "--stream=false", "--filter", "image="+img, "--filter", "event=start", "--format", "{{.Name}}").Stdout; out != "ev\nother\n" {
			t.Fatalf("events --filter image=%s: %q", img, out)
		}
	}
	if out := e.must(t, "events", "--stream=false", "--filter", "status=died", "--format", "{{.Name}} {{.ContainerExitCode}}").Stdout; out != "ev 137\nother 0\n" {
		t.Fatalf("events --filter status=died --format: %q", out)
	}
	if out := e.must(t, "events", "--stream=false", "--filter", "type=image").Stdout; out != "" {
		t.Fatalf("events --filter type=image: %q", out)
	}
	if out := e.must(t, "events", "--stream=false", "--since", "1h", "--filter", "container=other", "--format", "{{.Status}}").Stdout; out != "create\nstart\ndied\nremove\n" {
		t.Fatalf("events --since 1h: %q", out)
	}
	if out := e.must(t, "events", "--stream=false", "--since", time.Now().Add(time.Hour).Format(time.RFC3339)).Stdout; out != "" {
		t.Fatalf("events --since the future: %q", out)
	}
	if out := e.must(t, "events", "--stream=false", "--until", strconv.FormatInt(before.Add(-time.Minute).Unix(), 10)).Stdout; out != "" {
		t.Fatalf("events --until the past: %q", out)
	}
	if res := e.run(t, "events", "--filter", "colour=red"); res.Code != 125 {
		t.Fatalf("events with a bad filter: exit %d", res.Code)
	} else {
		assertOneLine(t, res.Stderr, "colour")
	}

	// Streaming (the default): new events appear until interrupted.
	cmd := bin.Cmd(t, "engine", e.args([]string{"events", "--filter", "event=create", "--format", "{{.Name}}"})...)
	cmd.Env = append(os.Environ(), e.env...)
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 10)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			got <- sc.Text()
		}
		close(got)
	}()
	e.must(t, "create", "--name", "streamed", "bb", "true")
	for {
		select {
		case name := <-got:
			if name != "streamed" {
				continue // past create events (ev, other)
			}
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			t.Fatal("a new event did not appear in the stream")
		}
		break
	}
	cmd.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("events after SIGINT: %v", err)
		}
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatal("events did not stop on SIGINT")
	}
}

func TestEngineSystemDfPrune(t *testing.T) {
	e := containerStore(t)
	e.load(t, fixture.MultiLayer(t, 1, 1<<20), "localhost/extra:1")
	e.must(t, "run", "-d", "--name", "up", "-v", "used:/data", "bb", "sleep", "1000")
	e.must(t, "run", "--name", "done", "-v", "unused:/data", "bb", "sh", "-c", "echo x > /data/f")
	e.must(t, "rm", "done") // "unused" stays, no container mounts it

	out := e.must(t, "system", "df").Stdout
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 || strings.Join(strings.Fields(lines[0]), " ") != "TYPE TOTAL ACTIVE SIZE RECLAIMABLE" ||
		!strings.HasPrefix(strings.Join(strings.Fields(lines[1]), " "), "Images 2 1 ") ||
		!strings.HasPrefix(strings.Join(strings.Fields(lines[2]), " "), "Containers 1 1 ") ||
		!strings.HasPrefix(strings.Join(strings.Fields(lines[3]), " "), "Local Volumes 2 1 ") {
		t.Fatalf("system df:\n%s", out)
	}
	var rows []struct {
		Type           string
		Total, Active  int
		RawSize        int64
		RawReclaimable int64
	}
	if err := json.Unmarshal([]byte(e.must(t, "system", "df", "--format", "json").Stdout), &rows); err != nil || len(rows) != 3 {
		t.Fatalf("system df --format json: %v %v", err, rows)
	}
	if rows[0].RawReclaimable < 1<<20 || rows[0].RawSize <= rows[0].RawReclaimable || rows[2].RawReclaimable != 2 {
		t.Fatalf("system df sizes: %+v", rows)
	}
	if out := e.must(t, "system", "df", "--format", "{{.Type}}={{.Total}}").Stdout; out != "Images=2\nContainers=1\nLocal Volumes=2\n" {
		t.Fatalf("system df --format: %q", out)
	}
	out = e.must(t, "system", "df", "-v").Stdout
	for _, want := range []string{"Images space usage:", "localhost/extra", "Containers space usage:", "up", "Local Volumes space usage:", "unused"} {
		if !strings.Contains(out, want) {
			t.Fatalf("system df -v lacks %q:\n%s", want, out)
		}
	}

	e.must(t, "create", "--name", "stopped", "bb", "true")
	// Without -f it asks, and "n" keeps everything.
	res := e.stdin(t, []byte("n\n"), "system", "prune")
	if res.Code != 0 || !strings.Contains(res.Stdout, "Are you sure") || e.run(t, "container", "exists", "stopped").Code != 0 {
		t.Fatalf("prune answered n: exit %d %q", res.Code, res.Stdout)
	}
	// Dangling images only: the tagged unused image stays; volumes stay.
	res = e.must(t, "system", "prune", "-f")
	if !strings.Contains(res.Stdout, "Deleted Containers") || !strings.Contains(res.Stdout, "Total reclaimed space:") {
		t.Fatalf("system prune -f: %q", res.Stdout)
	}
	if e.run(t, "container", "exists", "stopped").Code != 1 || e.run(t, "container", "exists", "up").Code != 0 {
		t.Fatal("system prune removed the wrong containers")
	}
	if e.run(t, "image", "exists", "localhost/extra:1").Code != 0 {
		t.Fatal("system prune without -a removed a tagged image")
	}
	res = e.stdin(t, []byte("y\n"), "system", "prune", "-a", "--volumes")
	if res.Code != 0 || !strings.Contains(res.Stdout, "Deleted Volumes\nunused\n") || !strings.Contains(res.Stdout, "Deleted Images") {
		t.Fatalf("system prune -a --volumes: exit %d %q", res.Code, res.Stdout)
	}
	if e.run(t, "image", "exists", "localhost/extra:1").Code != 1 || e.run(t, "image", "exists", "bb").Code != 0 {
		t.Fatal("system prune -a: wrong images removed")
	}
	if _, err := os.Stat(filepath.Join(e.root, "volumes", "used")); err != nil {
		t.Fatal("system prune --volumes removed a volume in use")
	}

	// reset: nothing left, the run-time state gone.
	e.must(t, "system", "reset", "-f")
	if out := e.must(t, "ps", "-aq").Stdout; out != "" {
		t.Fatalf("after reset, ps -a: %q", out)
	}
	if out := e.must(t, "images", "-q").Stdout; out != "" {
		t.Fatalf("after reset, images: %q", out)
	}
	if _, err := os.Stat(filepath.Join(e.root, "volumes", "used")); err == nil {
		t.Fatal("after reset a volume is left")
	}
	if out := e.must(t, "events", "--stream=false").Stdout; out != "" {
		t.Fatalf("after reset the event log is left: %q", out)
	}
}

// stateFile is the engine's state file of a container.
func (e *engineStore) stateFile(id string) string {
	return filepath.Join(e.root, "overlay-containers", id, "userdata", "engine-state.json")
}

// killUnderneath kills a container's monitor, then its process, as a crash
// or a reboot would: no exit file, no cleanup.
func killUnderneath(t *testing.T, in inspected) {
	t.Helper()
	syscall.Kill(in.State.ConmonPid, syscall.SIGKILL)
	waitFor(t, func() bool { _, err := os.Stat("/proc/" + strconv.Itoa(in.State.ConmonPid)); return err != nil })
	syscall.Kill(in.State.Pid, syscall.SIGKILL)
	waitFor(t, func() bool { _, err := os.Stat("/proc/" + strconv.Itoa(in.State.Pid)); return err != nil })
}

func TestEngineSystemCheck(t *testing.T) {
	e := containerStore(t)
	if res := e.must(t, "system", "check"); res.Stdout != "" {
		t.Fatalf("check of a sound store: %q", res.Stdout)
	}
	// Running per the record, but the monitor and process are gone.
	e.must(t, "run", "-d", "--name", "lost", "bb", "sleep", "1000")
	lost := e.waitStatus(t, "lost", "running")
	killUnderneath(t, lost)
	// A corrupt state file.
	e.must(t, "create", "--name", "corrupt", "bb", "true")
	corrupt := e.inspect(t, "corrupt")
	os.WriteFile(e.stateFile(corrupt.ID), []byte("{not json"), 0o600)
	// An exit file of a container that no longer exists.
	ghost := strings.Repeat("ab", 32)
	os.WriteFile(filepath.Join(e.runroot, "engine", "exits", ghost), []byte("0"), 0o600)

	res := e.run(t, "system", "check")
	if res.Code != 125 {
		t.Fatalf("check with problems: exit %d\n%s", res.Code, res.Combined())
	}
	assertOneLine(t, res.Stderr, "3 problem(s)", "--repair")
	for _, want := range []string{lost.ID[:12] + " (lost): state is running but its monitor", corrupt.ID[:12] + " (corrupt): state file is corrupt", "exit-file " + ghost + ": "} {
		if !strings.Contains(res.Stdout, want) {
			t.Fatalf("check output lacks %q:\n%s", want, res.Stdout)
		}
	}
	if n := len(strings.Split(strings.TrimSpace(res.Stdout), "\n")); n != 3 {
		t.Fatalf("check printed %d lines:\n%s", n, res.Stdout)
	}
	res = e.must(t, "system", "check", "--repair")
	if strings.Count(res.Stdout, ": repaired") != 3 {
		t.Fatalf("check --repair:\n%s", res.Stdout)
	}
	if in := e.inspect(t, "lost"); in.State.Status != "exited" {
		t.Fatalf("after repair lost is %s", in.State.Status)
	}
	if out := e.must(t, "system", "check").Stdout; out != "" {
		t.Fatalf("check after repair: %q", out)
	}
	// Repaired containers work again.
	e.must(t, "start", "lost")
	e.waitStatus(t, "lost", "running")
	e.must(t, "rm", "-f", "lost", "corrupt")
}

func TestEngineSystemStartAfterReboot(t *testing.T) {
	e := containerStore(t)
	e.must(t, "run", "-d", "--name", "always", "--restart", "always", "bb", "sleep", "1000")
	e.must(t, "run", "-d", "--name", "never", "bb", "sleep", "1000")
	for _, name := range []string{"always", "never"} {
		in := e.waitStatus(t, name, "running")
		killUnderneath(t, in)
		// A new boot: the record still says running, from another boot.
		p := e.stateFile(in.ID)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var st map[string]any
		json.Unmarshal(b, &st)
		st["bootID"] = "00000000-0000-0000-0000-000000000000"
		b, _ = json.Marshal(st)
		os.WriteFile(p, b, 0o600)
		if in := e.inspect(t, name); in.State.Status != "exited" {
			t.Fatalf("%s after the reboot: %s", name, in.State.Status)
		}
	}
	out := e.must(t, "start", "--all", "--filter", "restart-policy=always").Stdout
	if strings.TrimSpace(out) != e.inspect(t, "always").ID {
		t.Fatalf("start --all --filter printed %q", out)
	}
	e.waitStatus(t, "always", "running")
	if in := e.inspect(t, "never"); in.State.Status != "exited" {
		t.Fatalf("a container without the policy was started: %s", in.State.Status)
	}
	if res := e.run(t, "start", "--all", "--filter", "bogus=1"); res.Code != 125 {
		t.Fatalf("start --filter bogus: exit %d", res.Code)
	}
}
