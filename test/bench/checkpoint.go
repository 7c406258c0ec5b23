package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/ocisuite/suite/test/fixture"
)

// Aim of migrate: memhog's longest pause during engine container migrate
// at most this share of its pause during podman's checkpoint --export +
// restore --import.
const (
	aimMigrateVsPodman = 1.0 / 3
	memhogMiB          = 512
	memhogDirty        = 5 // percent of the memory rewritten per second
)

// checkpointSample is one run of one tool with memhog in the container.
type checkpointSample struct {
	export, importT time.Duration
	size            int64
	pauseExport     time.Duration // memhog's longest pause across export + import
	pauseMigrate    time.Duration // and across migrate (engine only)
	pauseLazy       time.Duration // and across migrate --lazy-pages (engine only; 0: not run)
}

// ckptTool is engine or podman with its own store; engine has a second
// store as the migration's target.
type ckptTool struct {
	engineTool
	target []string // engine: the target store's global flags
}

// benchCheckpoint measures checkpoint --export / restore --import and
// migrate with memhog holding memhogMiB MiB and dirtying memhogDirty % of
// it per second, beside podman's checkpoint --export + restore --import.
func benchCheckpoint(t *tb, runs int) {
	dir := filepath.Join("..", "bin")
	if d := os.Getenv("SUITE_BIN_DIR"); d != "" {
		dir = d
	}
	ours, err := filepath.Abs(filepath.Join(dir, "engine"))
	if err != nil {
		t.Fatal(err)
	}
	memhog := filepath.Join(t.TempDir(), "memhog")
	build := exec.Command("go", "build", "-o", memhog, "github.com/ocisuite/suite/test/cmd/memhog")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building memhog: %v: %s", err, out)
	}
	archive := fixture.DockerArchive(t, fixture.Busybox(t), "localhost/bb:latest")
	store := func() []string {
		d := t.TempDir()
		return []string{"--root", filepath.Join(d, "root"), "--runroot", filepath.Join(d, "run"), "--storage-driver", "overlay"}
	}
	tools := []ckptTool{{engineTool: engineTool{name: "engine", path: ours, args: store()}, target: store()}}
	mustRun(t, ours, append(tools[0].target, "load", "-i", archive)...)
	if p, err := exec.LookPath("podman"); err == nil {
		// podman runs runc with an environment of its own: the wrapper
		// gives its CRIU what the engine gives its own, CRIU_FAULT=130
		// (no hardware breakpoints, which this VM never delivers: the
		// dump hangs without it) and a PATH to find criu.
		wrapper := filepath.Join(t.TempDir(), "runc")
		script := "#!/bin/sh\nexport CRIU_FAULT=130 PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\nexec runc \"$@\"\n"
		if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
		tools = append(tools, ckptTool{engineTool: engineTool{
			name: "podman", path: p,
			args: append(store(), "--runtime", wrapper, "--cgroup-manager", "cgroupfs", "--events-backend", "file"),
			run:  []string{"--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"},
		}})
	} else {
		fmt.Println("podman is not on PATH: the checkpoint comparison is skipped, only engine is measured")
	}
	for _, tl := range tools {
		mustRun(t, tl.path, tl.cmd("load", "-i", archive)...)
	}
	results := map[string][]checkpointSample{}
	for i := 0; i < runs; i++ {
		for j := range tools {
			tl := tools[(i+j)%len(tools)]
			s := benchCheckpointOnce(t, tl, memhog)
			results[tl.name] = append(results[tl.name], s)
			fmt.Fprintf(os.Stderr, "bench: run %d/%d %-7s checkpoint --export %7s (%d MB)  restore --import %7s  pause %7s  migrate pause %7s  --lazy-pages %7s\n",
				i+1, runs, tl.name, round(s.export), s.size>>20, round(s.importT), round(s.pauseExport), round(s.pauseMigrate), round(s.pauseLazy))
		}
	}
	reportCheckpoint(results, runs)
}

// startMemhog runs memhog in a new container name and resets its pause
// measurement.
func startMemhog(t *tb, tl engineTool, global []string, name, memhog string) {
	args := append(append([]string{"create", "--name", name, "--network", "none"}, tl.run...), "localhost/bb", "/memhog", "-mib", strconv.Itoa(memhogMiB), "-dirty", strconv.Itoa(memhogDirty))
	mustRun(t, tl.path, append(append([]string{}, global...), args...)...)
	mustRun(t, tl.path, append(append([]string{}, global...), "cp", memhog, name+":/memhog")...)
	mustRun(t, tl.path, append(append([]string{}, global...), "start", name)...)
	waitMemhog(t, tl.path, global, name, regexp.MustCompile(`memhog: ready`), 0)
	memhogPause(t, tl.path, global, name)
}

var memhogLine = regexp.MustCompile(`memhog: maxgap_ms=([0-9.]+) verify=(\S+)`)

// memhogPause asks memhog for its longest pause since the last report and
// fails when its memory lost its pattern.
func memhogPause(t *tb, path string, global []string, name string) time.Duration {
	logs := func() string {
		out, _ := exec.Command(path, append(append([]string{}, global...), "logs", name)...).Output()
		return string(out)
	}
	before := len(memhogLine.FindAllString(logs(), -1))
	mustRun(t, path, append(append([]string{}, global...), "kill", "-s", "USR1", name)...)
	m := waitMemhog(t, path, global, name, memhogLine, before+1)
	if m[2] != "ok" {
		t.Fatalf("%s: memhog's memory in %s: %s", filepath.Base(path), name, m[2])
	}
	ms, _ := strconv.ParseFloat(m[1], 64)
	return time.Duration(ms * float64(time.Millisecond))
}

// waitMemhog waits for the n-th line matching re in the log (n = 0: any).
func waitMemhog(t *tb, path string, global []string, name string, re *regexp.Regexp, n int) []string {
	deadline := time.Now().Add(60 * time.Second)
	for {
		out, _ := exec.Command(path, append(append([]string{}, global...), "logs", name)...).Output()
		all := re.FindAllStringSubmatch(string(out), -1)
		if len(all) > 0 && len(all) >= n {
			return all[len(all)-1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no %q in the log of %s: %s", filepath.Base(path), re, name, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func benchCheckpointOnce(t *tb, tl ckptTool, memhog string) checkpointSample {
	var s checkpointSample
	file := filepath.Join(t.TempDir(), "checkpoint.tar")
	startMemhog(t, tl.engineTool, tl.args, "hog", memhog)
	s.export = timed(t, tl.path, tl.cmd("container", "checkpoint", "--export", file, "hog")...)
	if st, err := os.Stat(file); err == nil {
		s.size = st.Size()
	}
	restoreIn := tl.args // podman: the same store, under another name
	if tl.target != nil {
		restoreIn = tl.target
	}
	s.importT = timed(t, tl.path, append(append([]string{}, restoreIn...), "container", "restore", "--import", file, "--name", "hog2")...)
	s.pauseExport = memhogPause(t, tl.path, restoreIn, "hog2")
	mustRun(t, tl.path, tl.cmd("rm", "-a", "-f", "-t", "0")...)
	if tl.target != nil {
		mustRun(t, tl.path, append(append([]string{}, tl.target...), "rm", "-a", "-f", "-t", "0")...)
		os.Remove(file)
		startMemhog(t, tl.engineTool, tl.args, "hog", memhog)
		to := strings.Join(append([]string{tl.path}, tl.target...), " ")
		mustRun(t, tl.path, tl.cmd("container", "migrate", "--to", to, "hog")...)
		s.pauseMigrate = memhogPause(t, tl.path, tl.target, "hog")
		// Back, post-copy: the copy runs before its memory is there.
		back := strings.Join(append([]string{tl.path}, tl.args...), " ")
		lazy := append(append([]string{}, tl.target...), "container", "migrate", "--lazy-pages", "--to", back, "hog")
		if out, err := exec.Command(tl.path, lazy...).CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "bench: migrate --lazy-pages: %v: %s", err, out)
			mustRun(t, tl.path, append(append([]string{}, tl.target...), "rm", "-a", "-f", "-t", "0")...)
		} else {
			s.pauseLazy = memhogPause(t, tl.path, tl.args, "hog")
		}
		mustRun(t, tl.path, tl.cmd("rm", "-a", "-f", "-t", "0")...)
		mustRun(t, tl.path, append(append([]string{}, tl.target...), "rm", "-a", "-f", "-t", "0")...)
	}
	return s
}

func reportCheckpoint(results map[string][]checkpointSample, runs int) {
	ours, theirs := results["engine"], results["podman"]
	med := func(ss []checkpointSample, f func(checkpointSample) float64) float64 {
		v := make([]float64, len(ss))
		for i, s := range ss {
			v[i] = f(s)
		}
		return median(v)
	}
	fmt.Printf("\n%-52s %10s %10s %7s\n", fmt.Sprintf("checkpoint, memhog %d MiB dirtying %d%%/s, median of %d run(s)", memhogMiB, memhogDirty, runs), "engine", "podman", "ratio")
	row := func(name string, f func(checkpointSample) float64, unit string) {
		o := med(ours, f)
		if len(theirs) == 0 {
			fmt.Printf("%-52s %9.3f%s %10s\n", name, o, unit, "-")
			return
		}
		th := med(theirs, f)
		fmt.Printf("%-52s %9.3f%s %9.3f%s %7.2f\n", name, o, unit, th, unit, o/th)
	}
	sec := func(f func(checkpointSample) time.Duration) func(checkpointSample) float64 {
		return func(s checkpointSample) float64 { return f(s).Seconds() }
	}
	row("checkpoint --export (zstd)", sec(func(s checkpointSample) time.Duration { return s.export }), "s")
	row("archive size (MB)", func(s checkpointSample) float64 { return float64(s.size) / 1e6 }, " ")
	row("restore --import", sec(func(s checkpointSample) time.Duration { return s.importT }), "s")
	row("longest pause, checkpoint --export + restore --import", sec(func(s checkpointSample) time.Duration { return s.pauseExport }), "s")
	migrate := med(ours, sec(func(s checkpointSample) time.Duration { return s.pauseMigrate }))
	fmt.Printf("%-52s %9.3fs %10s\n", "longest pause, migrate (engine)", migrate, "-")
	var lazy []checkpointSample
	for _, s := range ours {
		if s.pauseLazy > 0 {
			lazy = append(lazy, s)
		}
	}
	lazyPause := 0.0
	if len(lazy) > 0 {
		lazyPause = med(lazy, sec(func(s checkpointSample) time.Duration { return s.pauseLazy }))
		fmt.Printf("%-52s %9.3fs %10s\n", fmt.Sprintf("longest pause, migrate --lazy-pages (%d run(s))", len(lazy)), lazyPause, "-")
	} else {
		fmt.Printf("%-52s %10s %10s\n", "longest pause, migrate --lazy-pages", "failed", "-")
	}
	if len(theirs) > 0 {
		podman := med(theirs, sec(func(s checkpointSample) time.Duration { return s.pauseExport }))
		verdict := func(r float64) string {
			if r > aimMigrateVsPodman {
				return "MISS"
			}
			return "PASS"
		}
		fmt.Printf("%-52s %21s %7.2f  ≤ %.2f %s\n", "migrate pause vs podman export+import pause", "", migrate/podman, aimMigrateVsPodman, verdict(migrate/podman))
		if lazyPause > 0 {
			fmt.Printf("%-52s %21s %7.2f  ≤ %.2f %s\n", "migrate --lazy-pages pause vs podman's", "", lazyPause/podman, aimMigrateVsPodman, verdict(lazyPause/podman))
		}
	}
}
