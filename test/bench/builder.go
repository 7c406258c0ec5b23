package main

import (
	"bytes"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/ocisuite/suite/test/fixture"
)

// Aims of the builder: ratios builder/buildah of the median times.
const (
	aimBuildCold      = 1.0 // empty cache, base image stored
	aimBuildUnchanged = 0.5 // the same build again: every step from the cache
	aimBuildOneFile   = 0.7 // one context file changed: COPY and the steps after it
)

// benchContainerfile has 5 RUN steps and a COPY of the whole context in
// the middle, so a changed context file rebuilds the COPY and 3 RUNs.
const benchContainerfile = `FROM localhost/bb:latest
RUN echo one > /one && mkdir -p /var/app
RUN for i in 1 2 3 4 5 6 7 8; do echo line $i >> /var/app/log; done
COPY . /ctx
RUN ls /ctx/data | wc -l > /count && cat /ctx/data/f00 > /dev/null
RUN tar -cf /ctx.tar /ctx/data/f01 /ctx/data/f02 2>/dev/null; ls -l /ctx.tar > /tarlist
RUN echo five > /five
`

// benchSteps is how many steps of benchContainerfile can come from the
// cache (5 RUN and the COPY).
const benchSteps = 6

// builderTool is builder or buildah with its own store per run.
type builderTool struct {
	name string
	path string
	// global flags before the command, given the store's directory.
	global func(dir string) []string
	// build flags after "build" (or "bud").
	build []string
	// load puts the base image into the store at dir.
	load func(dir string)
}

// builderSample is one run of one tool.
type builderSample struct {
	cold, unchanged, oneFile time.Duration
}

// benchBuilder measures builder build side by side with buildah bud (when
// installed), each on a store of its own (overlay), with a context of
// files×1 MB of random data. Both keep a layer per step (--layers, which
// buildah does not by default) and run RUN steps in the host's network.
func benchBuilder(t *tb, runs, files int) {
	dir := filepath.Join("..", "bin")
	if d := os.Getenv("SUITE_BIN_DIR"); d != "" {
		dir = d
	}
	abs := func(name string) string {
		p, err := filepath.Abs(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("%s is missing (run make build): %v", p, err)
		}
		return p
	}
	ours, engine := abs("builder"), abs("engine")
	archive := fixture.DockerArchive(t, fixture.Busybox(t), "localhost/bb:latest")
	store := func(d string) []string {
		return []string{"--root", filepath.Join(d, "root"), "--runroot", filepath.Join(d, "run"), "--storage-driver", "overlay"}
	}
	tools := []builderTool{{
		name: "builder", path: ours, global: store,
		build: []string{"build", "--layers", "--network", "host"},
		load:  func(d string) { mustRun(t, engine, append(store(d), "load", "-q", "-i", archive)...) },
	}}
	if p, err := exec.LookPath("buildah"); err == nil {
		tools = append(tools, builderTool{
			name: "buildah", path: p, global: store,
			build: []string{"bud", "--layers", "--network", "host", "--pull=never", "--isolation", "oci", "--runtime", "runc"},
			load:  func(d string) { mustRun(t, p, append(store(d), "pull", "-q", "docker-archive:"+archive)...) },
		})
	} else {
		fmt.Println("buildah is not on PATH: the comparison is skipped, only builder is measured")
	}
	ctx := builderContext(t, files)

	results := map[string][]builderSample{}
	for i := 0; i < runs; i++ {
		for j := range tools {
			tl := tools[(i+j)%len(tools)]
			s := benchBuilderOnce(t, tl, ctx, i)
			results[tl.name] = append(results[tl.name], s)
			fmt.Fprintf(os.Stderr, "bench: run %d/%d %-8s cold %7s  unchanged %7s  one file changed %7s\n",
				i+1, runs, tl.name, round(s.cold), round(s.unchanged), round(s.oneFile))
		}
	}
	reportBuilder(results, runs, files)
}

// builderContext writes the build context: the Containerfile and
// data/fNN, files×1 MB of random bytes seeded by the file count.
func builderContext(t *tb, files int) string {
	ctx := t.TempDir()
	if err := os.WriteFile(filepath.Join(ctx, "Containerfile"), []byte(benchContainerfile), 0o644); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(ctx, "data")
	if err := os.Mkdir(data, 0o755); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(int64(files)))
	buf := make([]byte, 1<<20)
	for i := 0; i < files; i++ {
		rng.Read(buf)
		if err := os.WriteFile(filepath.Join(data, fmt.Sprintf("f%02d", i)), buf, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return ctx
}

// benchBuilderOnce builds on a new store with the base image loaded: cold,
// unchanged, and after one context file changed (the change is undone
// after, so every run starts from the same context).
func benchBuilderOnce(t *tb, tl builderTool, ctx string, run int) builderSample {
	dir := t.TempDir()
	defer func() {
		mustRun(t, "sh", "-c", "grep -o ' "+dir+"[^ ]*' /proc/self/mounts | xargs -r -n1 umount -l")
		os.RemoveAll(dir)
	}()
	tl.load(dir)
	args := append(append(tl.global(dir), tl.build...), "-t", "localhost/bench:1", ctx)
	var s builderSample
	var out string
	s.cold, out = timedOutput(t, tl.path, args...)
	if n := strings.Count(out, "Using cache"); n != 0 {
		t.Fatalf("%s: the cold build took %d steps from the cache", tl.name, n)
	}
	s.unchanged, out = timedOutput(t, tl.path, args...)
	if n := strings.Count(out, "Using cache"); n != benchSteps {
		t.Fatalf("%s: the unchanged rebuild took %d steps from the cache, want %d:\n%s", tl.name, n, benchSteps, out)
	}
	changed := filepath.Join(ctx, "data", "f07")
	orig, err := os.ReadFile(changed)
	if err != nil {
		t.Fatal(err)
	}
	mod := bytes.Clone(orig)
	mod[len(mod)/2] ^= byte(run + 1)
	if err := os.WriteFile(changed, mod, 0o644); err != nil {
		t.Fatal(err)
	}
	s.oneFile, out = timedOutput(t, tl.path, args...)
	if err := os.WriteFile(changed, orig, 0o644); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out, "Using cache"); n != 2 {
		t.Fatalf("%s: the build after one file changed took %d steps from the cache, want 2 (the RUNs before the COPY):\n%s", tl.name, n, out)
	}
	return s
}

// timedOutput runs a command and returns its time and its output (stdout
// and stderr); a failure is fatal.
func timedOutput(t *tb, path string, args ...string) (time.Duration, string) {
	cmd := exec.Command(path, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	d := time.Since(start)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(path), strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return d, out.String()
}

func reportBuilder(results map[string][]builderSample, runs, files int) {
	ours, theirs := results["builder"], results["buildah"]
	med := func(ss []builderSample, f func(builderSample) time.Duration) float64 {
		v := make([]float64, len(ss))
		for i, s := range ss {
			v[i] = f(s).Seconds()
		}
		return median(v)
	}
	fmt.Printf("\n%-44s %10s %10s %7s  %s\n", fmt.Sprintf("builder, median of %d run(s)", runs), "builder", "buildah", "ratio", "aim")
	row := func(name string, f func(builderSample) time.Duration, aim float64) {
		o := med(ours, f)
		if len(theirs) == 0 {
			fmt.Printf("%-44s %9.3fs %10s %7s  ≤ %.2f n/a\n", name, o, "-", "-", aim)
			return
		}
		th := med(theirs, f)
		verdict := "PASS"
		if o/th > aim {
			verdict = "MISS"
		}
		fmt.Printf("%-44s %9.3fs %9.3fs %7.2f  ≤ %.2f %s\n", name, o, th, o/th, aim, verdict)
	}
	row(fmt.Sprintf("cold build, 5 RUN + COPY of %d MB", files), func(s builderSample) time.Duration { return s.cold }, aimBuildCold)
	row("unchanged rebuild (all from the cache)", func(s builderSample) time.Duration { return s.unchanged }, aimBuildUnchanged)
	row("rebuild after one context file changed", func(s builderSample) time.Duration { return s.oneFile }, aimBuildOneFile)
}
