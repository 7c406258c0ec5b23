// Command bench measures transport side by side with skopeo (when skopeo is
// on PATH) against real registries on 127.0.0.1, engine beside podman and
// builder beside buildah (when installed), and prints medians and ratios
// against the project's aims. Run it with
// `make bench`, or `make bench BENCHFLAGS=-quick` for a smoke run.
//
// See docs/benchmarks.md for what is measured and the latest figures.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/ocisuite/suite/test/fixture"
	"github.com/ocisuite/suite/test/registry"
)

// Aims: the largest acceptable ratio transport/skopeo of the median times.
const (
	aimFresh  = 1.0
	aimRepeat = 0.5
	aimSync   = 1.0 / 3 // "at least 3× faster"
)

// bigRepo is where the multi-layer image lives, at the source and the
// destination.
const bigRepo = "bench/big:1"

type tool struct {
	name string
	path string
}

// sample is one run of one tool.
type sample struct {
	start, fresh, repeat, sync time.Duration
	srcReqs, dstReqs           int // HTTP requests of the repeat copy
	syncReqs                   int // HTTP requests of the sync, source + destination
	syncUploads                int // blob upload requests (PATCH, PUT) of the sync
	// CPU time (user + system) the sync took in the tool, the source
	// registry and the destination registry.
	syncCPU, srcCPU, dstCPU time.Duration
}

type bench struct {
	t       *tb
	ctx     context.Context
	tools   []tool
	src     *registry.Registry
	common  []string // flags both tools get for every command
	verbose bool     // print each command's requests by kind
}

func main() {
	runs := flag.Int("runs", 5, "runs per measurement and tool")
	verbose := flag.Bool("v", false, "print the HTTP requests of each repeat copy and sync by kind, and the CPU time of each sync")
	only := flag.String("only", "", "measure only `tool`: transport, engine, builder or checkpoint (default all)")
	quick := flag.Bool("quick", false, "smoke run: one run, a 5×4 MB image and a 10 MB build context (an explicit -runs wins)")
	flag.Parse()
	layerSize := int64(40 << 20)
	contextFiles := 50
	if *quick {
		layerSize, contextFiles = 4<<20, 10
		runsSet := false
		flag.Visit(func(f *flag.Flag) { runsSet = runsSet || f.Name == "runs" })
		if !runsSet {
			*runs = 1
		}
	}
	if *runs < 1 {
		fmt.Fprintln(os.Stderr, "bench: -runs must be at least 1")
		os.Exit(2)
	}

	t, err := newTB()
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(1)
	}
	ctx, cancel := context.WithCancel(context.Background())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		s := <-sig
		t.interrupted.Store(true)
		cancel()
		fmt.Fprintf(os.Stderr, "bench: %v: stopping registries and cleaning up\n", s)
		t.cleanup()
		os.Exit(130)
	}()

	switch *only {
	case "", "transport":
	case "engine":
		benchEngine(t, *runs)
		t.cleanup()
		return
	case "builder":
		benchBuilder(t, *runs, contextFiles)
		t.cleanup()
		return
	case "checkpoint":
		benchCheckpoint(t, *runs)
		t.cleanup()
		return
	default:
		fmt.Fprintf(os.Stderr, "bench: -only %q: want transport, engine, builder or checkpoint\n", *only)
		t.cleanup()
		os.Exit(2)
	}
	b := &bench{t: t, ctx: ctx, verbose: *verbose, common: []string{"--src-tls-verify=false", "--dest-tls-verify=false", "--retry-times", "0"}}
	b.findTools()
	b.header(*runs, layerSize)

	fmt.Fprintln(os.Stderr, "bench: preparing the source registry")
	b.src = registry.Start(t, registry.Options{Flavour: registry.Plain})
	fixture.Push(t, fixture.MultiLayer(t, 5, layerSize), b.src.Ref(bigRepo), b.src.SystemContext())
	images, err := syncImages(t.TempDir())
	if err != nil {
		t.Fatalf("writing the sync images: %v", err)
	}
	for _, img := range images {
		fixture.Push(t, img, b.src.Ref("bench/app:"+img.Tag), b.src.SystemContext())
	}

	results := map[string][]sample{}
	for i := 0; i < *runs; i++ {
		for j := range b.tools {
			// Alternate which tool goes first, run by run.
			tl := b.tools[(i+j)%len(b.tools)]
			s := b.run(tl)
			results[tl.name] = append(results[tl.name], s)
			fmt.Fprintf(os.Stderr, "bench: run %d/%d %-9s fresh %7s  repeat %7s (%d requests)  sync %7s\n",
				i+1, *runs, tl.name, round(s.fresh), round(s.repeat), s.srcReqs+s.dstReqs, round(s.sync))
		}
	}
	report(results, *runs, layerSize)
	if *only != "transport" {
		benchEngine(t, *runs)
		benchBuilder(t, *runs, contextFiles)
		benchCheckpoint(t, *runs)
	}
	t.cleanup()
}

// findTools resolves bin/transport and skopeo.
func (b *bench) findTools() {
	dir := os.Getenv("SUITE_BIN_DIR")
	if dir == "" {
		dir = filepath.Join("..", "bin")
	}
	ours, err := filepath.Abs(filepath.Join(dir, "transport"))
	if err != nil {
		b.t.Fatal(err)
	}
	if _, err := os.Stat(ours); err != nil {
		b.t.Fatalf("%s is missing (run make build): %v", ours, err)
	}
	b.tools = []tool{{"transport", ours}}
	if p, err := exec.LookPath("skopeo"); err == nil {
		b.tools = append(b.tools, tool{"skopeo", p})
	} else {
		fmt.Println("skopeo is not on PATH: the comparison is skipped, only transport is measured")
	}
}

// header prints what is run where.
func (b *bench) header(runs int, layerSize int64) {
	fmt.Printf("date:      %s\n", time.Now().Format("2006-01-02 15:04 MST"))
	fmt.Printf("machine:   %s, %d cores, %s/%s\n", cpuModel(), runtime.NumCPU(), runtime.GOOS, runtime.GOARCH)
	for _, tl := range b.tools {
		out, _ := exec.Command(tl.path, "--version").Output()
		fmt.Printf("%-11s%s (%s)\n", tl.name+":", strings.TrimSpace(string(out)), tl.path)
	}
	order := ""
	if len(b.tools) > 1 {
		order = ", tools alternating"
	}
	fmt.Printf("runs:      %d per tool%s; image 5×%d MB; sync %d tags\n\n", runs, order, layerSize>>20, syncTags)
}

// run measures one tool once: a fresh copy, the same copy again, and a sync,
// each against a registry started empty for it.
func (b *bench) run(tl tool) sample {
	var s sample
	s.start = b.timeRun(tl, []string{"--version"})
	dst, stop := b.freshRegistry()
	copyArgs := append(append([]string{"copy"}, b.common...), b.src.Ref(bigRepo), dst.Ref(bigRepo))
	s.fresh = b.timeRun(tl, copyArgs)
	if code := dst.ManifestStatus("bench/big", "1"); code != 200 {
		b.t.Fatalf("%s copy: the destination answers %d for the manifest, want 200", tl.name, code)
	}
	src0, dst0 := settle(b.src, dst)
	s.repeat = b.timeRun(tl, copyArgs)
	src1, dst1 := settle(b.src, dst)
	s.srcReqs, s.dstReqs = len(src1)-len(src0), len(dst1)-len(dst0)
	b.logRequests(tl.name+" repeat copy", src1[len(src0):], dst1[len(dst0):])
	stop()

	dst, stop = b.freshRegistry()
	syncArgs := append(append([]string{"sync", "--src", "docker", "--dest", "docker"}, b.common...),
		b.src.Addr+"/bench/app", dst.Addr+"/mirror")
	src0, dst0 = settle(b.src, dst)
	srcCPU0, dstCPU0 := registryCPU(b.src), registryCPU(dst)
	s.sync, s.syncCPU = b.timeRunCPU(tl, syncArgs)
	src1, dst1 = settle(b.src, dst)
	s.srcCPU, s.dstCPU = registryCPU(b.src)-srcCPU0, registryCPU(dst)-dstCPU0
	if b.verbose {
		fmt.Fprintf(os.Stderr, "bench:   %s sync: wall %s, CPU %s in the tool, %s in the source registry, %s in the destination registry\n",
			tl.name, round(s.sync), round(s.syncCPU), round(s.srcCPU), round(s.dstCPU))
	}
	s.syncReqs = len(src1) - len(src0) + len(dst1) - len(dst0)
	for _, q := range dst1[len(dst0):] {
		if q.IsBlobUpload() {
			s.syncUploads++
		}
	}
	b.logRequests(tl.name+" sync", src1[len(src0):], dst1[len(dst0):])
	for i := 0; i < syncTags; i++ {
		if code := dst.ManifestStatus("mirror/app", syncTag(i)); code != 200 {
			b.t.Fatalf("%s sync: the destination answers %d for mirror/app:%s, want 200", tl.name, code, syncTag(i))
		}
	}
	stop()
	return s
}

// freshRegistry starts an empty registry; stop stops it and removes its
// storage.
func (b *bench) freshRegistry() (*registry.Registry, func()) {
	dir := b.t.TempDir()
	r := registry.Start(b.t, registry.Options{Flavour: registry.Plain, Dir: dir})
	return r, func() {
		r.Stop()
		os.RemoveAll(dir)
	}
}

// timeRun runs the tool and returns its wall-clock time; a failure is fatal.
func (b *bench) timeRun(tl tool, args []string) time.Duration {
	d, _ := b.timeRunCPU(tl, args)
	return d
}

// timeRunCPU runs the tool and returns its wall-clock time and the CPU time
// (user + system) it used; a failure is fatal.
func (b *bench) timeRunCPU(tl tool, args []string) (time.Duration, time.Duration) {
	cmd := exec.CommandContext(b.ctx, tl.path, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	d := time.Since(start)
	if err != nil {
		b.t.Fatalf("%s %s: %v\n%s", tl.name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return d, cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
}

// registryCPU is the CPU time (user + system) the registry's
// docker-registry process has used so far, from /proc/PID/stat; 0 when it
// cannot be found. The process is the one serving the config file next to
// the registry's log.
func registryCPU(r *registry.Registry) time.Duration {
	config := filepath.Join(filepath.Dir(r.LogPath), "config.yml")
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !bytes.HasSuffix(bytes.TrimRight(cmdline, "\x00"), []byte("\x00"+config)) {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			return 0
		}
		// Fields after the parenthesised command name: state is field 3,
		// utime and stime are fields 14 and 15, in clock ticks (100/s).
		_, rest, _ := strings.Cut(string(stat), ") ")
		f := strings.Fields(rest)
		if len(f) < 13 {
			return 0
		}
		var ut, st int64
		fmt.Sscan(f[11], &ut)
		fmt.Sscan(f[12], &st)
		return time.Duration(ut+st) * 10 * time.Millisecond
	}
	return 0
}

// settle waits until the registries' access logs stop growing (a line is
// written after the response is sent) and returns their requests so far.
func settle(src, dst *registry.Registry) (srcReqs, dstReqs []registry.Request) {
	for i := 0; i < 50; i++ {
		time.Sleep(100 * time.Millisecond)
		s, d := src.Requests(), dst.Requests()
		if i > 0 && len(s) == len(srcReqs) && len(d) == len(dstReqs) {
			break
		}
		srcReqs, dstReqs = s, d
	}
	return srcReqs, dstReqs
}

// logRequests prints, with -v, the requests a command made by kind.
func (b *bench) logRequests(what string, src, dst []registry.Request) {
	if !b.verbose {
		return
	}
	for _, side := range []struct {
		name string
		reqs []registry.Request
	}{{"source", src}, {"destination", dst}} {
		n := map[string]int{}
		for _, q := range side.reqs {
			n[fmt.Sprintf("%s %s %d", q.Method, requestKind(q.Path), q.Status)]++
		}
		keys := make([]string, 0, len(n))
		for k := range n {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = fmt.Sprintf("%s ×%d", k, n[k])
		}
		fmt.Fprintf(os.Stderr, "bench:   %s, %s: %d requests: %s\n", what, side.name, len(side.reqs), strings.Join(parts, ", "))
	}
}

// requestKind names the registry API endpoint of path.
func requestKind(path string) string {
	switch {
	case path == "/v2/":
		return "/v2/"
	case strings.Contains(path, "/manifests/"):
		return "manifest"
	case strings.Contains(path, "/blobs/uploads/") && strings.Contains(path, "mount="):
		return "mount"
	case strings.Contains(path, "/blobs/uploads/"):
		return "upload"
	case strings.Contains(path, "/blobs/"):
		return "blob"
	case strings.Contains(path, "/tags/list"):
		return "tags/list"
	}
	return path
}

// report prints the table of medians, ratios and aims.
func report(results map[string][]sample, runs int, layerSize int64) {
	ours, theirs := results["transport"], results["skopeo"]
	has := len(theirs) > 0
	dur := func(ss []sample, f func(sample) time.Duration) float64 {
		v := make([]float64, len(ss))
		for i, s := range ss {
			v[i] = f(s).Seconds()
		}
		return median(v)
	}
	count := func(ss []sample, f func(sample) int) float64 {
		v := make([]float64, len(ss))
		for i, s := range ss {
			v[i] = float64(f(s))
		}
		return median(v)
	}
	fmt.Printf("%-44s %10s %10s %7s  %s\n", fmt.Sprintf("median of %d run(s)", runs), "transport", "skopeo", "ratio", "aim")
	// line prints a time row; aim 0 is a row for information, without one.
	line := func(name string, f func(sample) time.Duration, aim float64) {
		o := dur(ours, f)
		if !has {
			if aim == 0 {
				fmt.Printf("%-44s %9.3fs %10s\n", name, o, "-")
				return
			}
			fmt.Printf("%-44s %9.3fs %10s %7s  ≤ %.2f n/a\n", name, o, "-", "-", aim)
			return
		}
		th := dur(theirs, f)
		ratio := o / th
		if aim == 0 {
			fmt.Printf("%-44s %9.3fs %9.3fs %7.2f\n", name, o, th, ratio)
			return
		}
		verdict := "PASS"
		if ratio > aim {
			verdict = "MISS"
		}
		fmt.Printf("%-44s %9.3fs %9.3fs %7.2f  ≤ %.2f %s\n", name, o, th, ratio, aim, verdict)
	}
	reqs := func(name string, f func(sample) int) {
		o := count(ours, f)
		if !has {
			fmt.Printf("%-44s %10.0f %10s\n", name, o, "-")
			return
		}
		th := count(theirs, f)
		ratio := "-"
		if th > 0 {
			ratio = fmt.Sprintf("%.2f", o/th)
		}
		fmt.Printf("%-44s %10.0f %10.0f %7s\n", name, o, th, ratio)
	}
	line("process start and exit (--version)", func(s sample) time.Duration { return s.start }, 0)
	line(fmt.Sprintf("fresh copy, 5×%d MB, registry→registry", layerSize>>20), func(s sample) time.Duration { return s.fresh }, aimFresh)
	line("repeat copy, every blob at the destination", func(s sample) time.Duration { return s.repeat }, aimRepeat)
	reqs("  HTTP requests, source + destination", func(s sample) int { return s.srcReqs + s.dstReqs })
	reqs("  HTTP requests, source", func(s sample) int { return s.srcReqs })
	reqs("  HTTP requests, destination", func(s sample) int { return s.dstReqs })
	line(fmt.Sprintf("sync, %d tags, fresh destination", syncTags), func(s sample) time.Duration { return s.sync }, aimSync)
	reqs("  HTTP requests, source + destination", func(s sample) int { return s.syncReqs })
	reqs("  blob upload requests (PATCH, PUT)", func(s sample) int { return s.syncUploads })
	line("  CPU time in the tool", func(s sample) time.Duration { return s.syncCPU }, 0)
	line("  CPU time in the source registry", func(s sample) time.Duration { return s.srcCPU }, 0)
	line("  CPU time in the destination registry", func(s sample) time.Duration { return s.dstCPU }, 0)
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func round(d time.Duration) time.Duration { return d.Round(time.Millisecond) }

// cpuModel is the "model name" of /proc/cpuinfo, or "unknown CPU".
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}
