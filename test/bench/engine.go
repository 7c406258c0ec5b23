package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ocisuite/suite/test/fixture"
)

// Aims of the engine: ratios of median times.
const (
	aimRunVsFloor  = 2.0 // run --rm within 2× a bare runc run
	aimRunVsPodman = 0.4 // run --rm at most 0.4× podman's
	aimPsVsPodman  = 0.5 // ps -a with 50 containers
	aimExecPodman  = 0.5 // exec CTR true
	aimNetVsPodman = 0.5 // bridge networking: run --rm, run -d -p to first HTTP answer, 20 on a network
	netMany        = 20
	engineMany     = 50
	// runRmPerRun is how many samples of run --rm (and of the floor) each
	// run takes per tool.
	runRmPerRun = 3
)

// engineTool is engine or podman with its own store.
type engineTool struct {
	name string
	path string
	args []string // global flags: the tool's own store
	run  []string // extra run flags (podman: limits this host allows)
}

func (e engineTool) cmd(args ...string) []string {
	return append(append([]string{}, e.args...), args...)
}

// engineSample is one run of one tool.
type engineSample struct {
	runD50, ps50, exec time.Duration
	monitorKB          int // resident memory per container monitor
	// Bridge networking: run --rm on the default network, run -d -p until
	// the published port answers, netMany containers on one user network.
	runRmBridge, publishHTTP, net20 time.Duration
}

// benchEngine measures engine side by side with podman (when installed)
// and a bare `runc run` of a prepared bundle as the floor.
func benchEngine(t *tb, runs int) {
	dir := filepath.Join("..", "bin")
	if d := os.Getenv("SUITE_BIN_DIR"); d != "" {
		dir = d
	}
	ours, err := filepath.Abs(filepath.Join(dir, "engine"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(ours); err != nil {
		t.Fatalf("%s is missing (run make build): %v", ours, err)
	}
	archive := fixture.DockerArchive(t, fixture.Busybox(t), "localhost/bb:latest")
	store := func(name string) []string {
		d := t.TempDir()
		return []string{"--root", filepath.Join(d, "root"), "--runroot", filepath.Join(d, "run"), "--storage-driver", "overlay"}
	}
	tools := []engineTool{{name: "engine", path: ours, args: store("engine")}}
	if p, err := exec.LookPath("podman"); err == nil {
		// podman's default limits cannot be set by a root without
		// CAP_SYS_RESOURCE; give it the caller's, as engine does.
		var nofile, nproc syscall.Rlimit
		syscall.Getrlimit(syscall.RLIMIT_NOFILE, &nofile)
		syscall.Getrlimit(6, &nproc) // RLIMIT_NPROC
		tools = append(tools, engineTool{
			name: "podman", path: p,
			args: append(store("podman"), "--runtime", "runc", "--cgroup-manager", "cgroupfs", "--events-backend", "file"),
			run:  []string{"--ulimit", fmt.Sprintf("nofile=%d:%d", nofile.Cur, nofile.Max), "--ulimit", fmt.Sprintf("nproc=%d:%d", min(nproc.Cur, 1024), min(nproc.Max, 1024))},
		})
	} else {
		fmt.Println("podman is not on PATH: the comparison is skipped, only engine and the runc floor are measured")
	}
	for _, tl := range tools {
		mustRun(t, tl.path, tl.cmd("load", "-i", archive)...)
	}
	floor := prepareFloor(t)
	// One untimed run of each first (each tool makes its run-time
	// directories on its first run), then the page cache is written out:
	// the samples should not pay for the writeback of what the loads, the
	// floor's bundle and these runs left dirty.
	floor()
	for _, tl := range tools {
		mustRun(t, tl.path, tl.cmd(append(append([]string{"run", "--rm", "--network", "none"}, tl.run...), "localhost/bb", "true")...)...)
	}
	syscall.Sync()

	// run --rm is sampled first, beside the floor: in each round the floor
	// and every tool once, in an order that rotates, so that each sample
	// has the same neighbours and none follows another tool's removal of
	// 50 containers (and the disk writeback it leaves).
	runRm := map[string][]float64{}
	var floorRuns []float64
	for i := 0; i < runs*runRmPerRun; i++ {
		for j := 0; j <= len(tools); j++ {
			k := (i + j) % (len(tools) + 1)
			if k == len(tools) {
				floorRuns = append(floorRuns, floor().Seconds())
				continue
			}
			tl := tools[k]
			d := timed(t, tl.path, tl.cmd(append(append([]string{"run", "--rm", "--network", "none"}, tl.run...), "localhost/bb", "true")...)...)
			runRm[tl.name] = append(runRm[tl.name], d.Seconds())
		}
		fmt.Fprintf(os.Stderr, "bench: run --rm round %d/%d: floor %7s", i+1, runs*runRmPerRun, round(time.Duration(floorRuns[i]*float64(time.Second))))
		for _, tl := range tools {
			fmt.Fprintf(os.Stderr, "  %s %7s", tl.name, round(time.Duration(runRm[tl.name][i]*float64(time.Second))))
		}
		fmt.Fprintln(os.Stderr)
	}

	results := map[string][]engineSample{}
	for i := 0; i < runs; i++ {
		for j := range tools {
			tl := tools[(i+j)%len(tools)]
			s := benchEngineOnce(t, tl)
			results[tl.name] = append(results[tl.name], s)
			fmt.Fprintf(os.Stderr, "bench: run %d/%d %-7s %d×run -d %7s  ps -a %7s  exec %7s  monitor %d KiB  bridge run --rm %7s  -p to HTTP %7s  %d on a network %7s\n",
				i+1, runs, tl.name, engineMany, round(s.runD50), round(s.ps50), round(s.exec), s.monitorKB,
				round(s.runRmBridge), round(s.publishHTTP), netMany, round(s.net20))
		}
	}
	reportEngine(results, runRm, floorRuns, runs)
}

func benchEngineOnce(t *tb, tl engineTool) engineSample {
	var s engineSample
	start := time.Now()
	for i := 0; i < engineMany; i++ {
		mustRun(t, tl.path, tl.cmd(append(append([]string{"run", "-d", "--network", "none", "--name", fmt.Sprintf("b%d", i)}, tl.run...), "localhost/bb", "sleep", "1000")...)...)
	}
	s.runD50 = time.Since(start)
	s.ps50 = timed(t, tl.path, tl.cmd("ps", "-a")...)
	s.exec = timed(t, tl.path, tl.cmd("exec", "b0", "true")...)
	s.monitorKB = conmonRSS(tl.args[1]) / engineMany
	mustRun(t, tl.path, tl.cmd("rm", "-a", "-f", "-t", "0")...)
	benchNetwork(t, tl, &s)
	return s
}

// benchNetwork measures bridge networking (rootful): only 127.0.0.1 and
// the engines' own bridges carry traffic.
func benchNetwork(t *tb, tl engineTool, s *engineSample) {
	s.runRmBridge = timed(t, tl.path, tl.cmd(append(append([]string{"run", "--rm", "--network", "bridge"}, tl.run...), "localhost/bb", "true")...)...)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	start := time.Now()
	mustRun(t, tl.path, tl.cmd(append(append([]string{"run", "-d", "--name", "web", "-p", fmt.Sprintf("127.0.0.1:%d:80", port)}, tl.run...),
		"localhost/bb", "sh", "-c", "mkdir -p /www && echo ok > /www/index.html && exec httpd -f -p 80 -h /www")...)...)
	c := &http.Client{Timeout: time.Second}
	for {
		resp, err := c.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Since(start) > 30*time.Second {
			t.Fatalf("%s: no answer on the published port %d: %v", tl.name, port, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	s.publishHTTP = time.Since(start)
	mustRun(t, tl.path, tl.cmd("rm", "-f", "-t", "0", "web")...)
	netName := fmt.Sprintf("bench-%s-%d", tl.name, os.Getpid())
	mustRun(t, tl.path, tl.cmd("network", "create", netName)...)
	start = time.Now()
	for i := 0; i < netMany; i++ {
		mustRun(t, tl.path, tl.cmd(append(append([]string{"run", "-d", "--network", netName, "--name", fmt.Sprintf("n%d", i)}, tl.run...), "localhost/bb", "sleep", "1000")...)...)
	}
	s.net20 = time.Since(start)
	mustRun(t, tl.path, tl.cmd("rm", "-a", "-f", "-t", "0")...)
	mustRun(t, tl.path, tl.cmd("network", "rm", netName)...)
}

// conmonRSS sums the resident memory (KiB) of the conmon processes of the
// store whose graph root is root.
func conmonRSS(root string) int {
	total := 0
	procs, _ := filepath.Glob("/proc/[0-9]*")
	for _, p := range procs {
		if comm, _ := os.ReadFile(p + "/comm"); strings.TrimSpace(string(comm)) != "conmon" {
			continue
		}
		if cmdline, _ := os.ReadFile(p + "/cmdline"); !bytes.Contains(cmdline, []byte(root)) {
			continue
		}
		status, _ := os.ReadFile(p + "/status")
		for _, l := range strings.Split(string(status), "\n") {
			if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
				n, _ := strconv.Atoi(strings.Fields(v)[0])
				total += n
			}
		}
	}
	return total
}

// prepareFloor unpacks the busybox image into a bundle and returns a
// function timing one `runc run` of `true` in it.
func prepareFloor(t *tb) func() time.Duration {
	img := fixture.Busybox(t)
	bundle := t.TempDir()
	rootfs := filepath.Join(bundle, "rootfs")
	if err := os.MkdirAll(rootfs, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, l := range img.Layers {
		blob := filepath.Join(img.Dir, "blobs", l.Algorithm().String(), l.Encoded())
		mustRun(t, "tar", "-xf", blob, "-C", rootfs)
	}
	mustRun(t, "runc", "spec", "--bundle", bundle)
	cfgPath := filepath.Join(bundle, "config.json")
	b, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	var spec map[string]any
	if err := json.Unmarshal(b, &spec); err != nil {
		t.Fatal(err)
	}
	proc := spec["process"].(map[string]any)
	proc["terminal"] = false
	proc["args"] = []string{"true"}
	delete(proc, "rlimits") // the caller's limits, as engine gives
	b, _ = json.Marshal(spec)
	if err := os.WriteFile(cfgPath, b, 0o644); err != nil {
		t.Fatal(err)
	}
	state := t.TempDir()
	n := 0
	return func() time.Duration {
		n++
		return timed(t, "runc", "--root", state, "run", "--bundle", bundle, fmt.Sprintf("floor-%d", n))
	}
}

func mustRun(t *tb, path string, args ...string) {
	timed(t, path, args...)
}

func timed(t *tb, path string, args ...string) time.Duration {
	cmd := exec.Command(path, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	d := time.Since(start)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(path), strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return d
}

// reportEngine prints the medians: of runs samples for most rows, of all
// the run --rm and floor samples for those two.
func reportEngine(results map[string][]engineSample, runRm map[string][]float64, floorRuns []float64, runs int) {
	ours, theirs := results["engine"], results["podman"]
	med := func(ss []engineSample, f func(engineSample) float64) float64 {
		v := make([]float64, len(ss))
		for i, s := range ss {
			v[i] = f(s)
		}
		return median(v)
	}
	fmt.Printf("\n%-40s %10s %10s %7s  %s\n", fmt.Sprintf("engine, median of %d run(s)", runs), "engine", "podman", "ratio", "aim")
	row := func(name string, f func(engineSample) float64, unit string, aim float64) {
		o := med(ours, f)
		if len(theirs) == 0 {
			fmt.Printf("%-40s %9.3f%s %10s\n", name, o, unit, "-")
			return
		}
		th := med(theirs, f)
		verdict := ""
		if aim > 0 {
			verdict = fmt.Sprintf("≤ %.2f PASS", aim)
			if o/th > aim {
				verdict = fmt.Sprintf("≤ %.2f MISS", aim)
			}
		}
		fmt.Printf("%-40s %9.3f%s %9.3f%s %7.2f  %s\n", name, o, unit, th, unit, o/th, verdict)
	}
	sec := func(f func(engineSample) time.Duration) func(engineSample) float64 {
		return func(s engineSample) float64 { return f(s).Seconds() }
	}
	run := median(runRm["engine"])
	if th := runRm["podman"]; len(th) > 0 {
		verdict := fmt.Sprintf("≤ %.2f PASS", aimRunVsPodman)
		if run/median(th) > aimRunVsPodman {
			verdict = fmt.Sprintf("≤ %.2f MISS", aimRunVsPodman)
		}
		fmt.Printf("%-40s %9.3fs %9.3fs %7.2f  %s (median of %d)\n", "run --rm --network none IMG true", run, median(th), run/median(th), verdict, len(th))
	} else {
		fmt.Printf("%-40s %9.3fs %10s (median of %d)\n", "run --rm --network none IMG true", run, "-", len(runRm["engine"]))
	}
	row(fmt.Sprintf("%d × run -d (sequential)", engineMany), sec(func(s engineSample) time.Duration { return s.runD50 }), "s", 0)
	row(fmt.Sprintf("ps -a with %d containers", engineMany), sec(func(s engineSample) time.Duration { return s.ps50 }), "s", aimPsVsPodman)
	row("exec CTR true", sec(func(s engineSample) time.Duration { return s.exec }), "s", aimExecPodman)
	row("monitor memory per container (KiB)", func(s engineSample) float64 { return float64(s.monitorKB) }, " ", 0)
	row("run --rm (default bridge network)", sec(func(s engineSample) time.Duration { return s.runRmBridge }), "s", aimNetVsPodman)
	row("run -d -p, to the first HTTP answer", sec(func(s engineSample) time.Duration { return s.publishHTTP }), "s", aimNetVsPodman)
	row(fmt.Sprintf("%d × run -d on one user network", netMany), sec(func(s engineSample) time.Duration { return s.net20 }), "s", aimNetVsPodman)
	floor := median(floorRuns)
	verdict := "PASS"
	if run/floor > aimRunVsFloor {
		verdict = "MISS"
	}
	fmt.Printf("%-40s %9.3fs %10s %7.2f  ≤ %.2f %s (engine / bare runc run)\n", "floor: runc run of a prepared bundle", floor, "", run/floor, aimRunVsFloor, verdict)
	fmt.Printf("%-40s %9.3fs %9.3fs\n", "  engine run --rm: fastest, slowest", slices.Min(runRm["engine"]), slices.Max(runRm["engine"]))
}
