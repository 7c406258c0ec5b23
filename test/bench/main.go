// Command bench measures transport side by side with skopeo (when it is
// installed) against real registries on 127.0.0.1, and prints medians and
// ratios. Run it with `make bench` (or `make bench BENCHFLAGS=-quick`).
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ocisuite/suite/test/fixture"
	"github.com/ocisuite/suite/test/registry"
)

// tb is the small part of testing.TB the harness uses, for a main program.
type tb struct {
	testing.TB
	cleanups []func()
	tmp      string
}

func (t *tb) Helper()                         {}
func (t *tb) Name() string                    { return "bench" }
func (t *tb) Logf(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }
func (t *tb) Log(args ...any)                 { fmt.Fprintln(os.Stderr, args...) }
func (t *tb) Errorf(format string, args ...any) {
	t.Fatalf(format, args...)
}
func (t *tb) Fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
	t.cleanup()
	os.Exit(1)
}
func (t *tb) Fatal(args ...any) { t.Fatalf("%s", fmt.Sprint(args...)) }
func (t *tb) Cleanup(f func())  { t.cleanups = append(t.cleanups, f) }
func (t *tb) TempDir() string {
	d, err := os.MkdirTemp(t.tmp, "t")
	if err != nil {
		t.Fatal(err)
	}
	return d
}
func (t *tb) cleanup() {
	for i := len(t.cleanups) - 1; i >= 0; i-- {
		t.cleanups[i]()
	}
	t.cleanups = nil
	fixture.Cleanup()
	os.RemoveAll(t.tmp)
}

type tool struct {
	name string
	path string
}

func main() {
	runs := flag.Int("runs", 5, "runs per measurement")
	quick := flag.Bool("quick", false, "one run, small images (a smoke test)")
	flag.Parse()
	layerSize := int64(40 << 20)
	if *quick {
		*runs, layerSize = 1, 4<<20
	}
	tmp, err := os.MkdirTemp("", "ocisuite-bench-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	t := &tb{tmp: tmp}
	defer t.cleanup()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() { <-sig; t.cleanup(); os.Exit(130) }()

	binDir := os.Getenv("SUITE_BIN_DIR")
	if binDir == "" {
		binDir, _ = filepath.Abs("../bin")
	}
	tools := []tool{{"transport", filepath.Join(binDir, "transport")}}
	if p, err := exec.LookPath("skopeo"); err == nil {
		tools = append(tools, tool{"skopeo", p})
	} else {
		fmt.Println("skopeo is not installed: the comparison is skipped, only transport is measured")
	}
	if _, err := os.Stat(tools[0].path); err != nil {
		t.Fatalf("%s missing (run make build): %v", tools[0].path, err)
	}

	src := registry.Start(t, registry.Options{})
	big := fixture.MultiLayer(t, 5, layerSize)
	fixture.Push(t, big, src.Ref("bench/big:1"), src.SystemContext())
	pushSyncRepo(t, src)

	tls := []string{"--src-tls-verify=false", "--dest-tls-verify=false"}
	fresh := map[string][]time.Duration{}
	repeat := map[string][]time.Duration{}
	requests := map[string]int{}
	syncT := map[string][]time.Duration{}
	for i := 0; i < *runs; i++ {
		for j := range tools {
			// Alternate which tool goes first, run by run.
			tl := tools[(i+j)%len(tools)]
			dst := registry.Start(t, registry.Options{})
			args := append([]string{"copy"}, append(tls, src.Ref("bench/big:1"), dst.Ref("bench/big:1"))...)
			fresh[tl.name] = append(fresh[tl.name], timeRun(t, tl, args))
			before := len(dst.Requests()) + len(src.Requests())
			repeat[tl.name] = append(repeat[tl.name], timeRun(t, tl, args))
			requests[tl.name] = len(dst.Requests()) + len(src.Requests()) - before
			dst.Stop()

			dst = registry.Start(t, registry.Options{})
			sargs := append([]string{"sync", "--src", "docker", "--dest", "docker"}, append(tls, src.Addr+"/bench/app", dst.Addr+"/mirror")...)
			syncT[tl.name] = append(syncT[tl.name], timeRun(t, tl, sargs))
			if n := countTags(dst); n != 20 {
				t.Fatalf("%s sync copied %d tags, want 20", tl.name, n)
			}
			dst.Stop()
		}
	}

	size := fmt.Sprintf("5×%d MB", layerSize>>20)
	fmt.Printf("\n%-40s %12s %12s %8s %s\n", "measurement (median of "+fmt.Sprint(*runs)+")", "transport", "skopeo", "ratio", "aim")
	row(fresh, "fresh registry→registry copy, "+size, 1.0)
	row(repeat, "repeat copy, every blob present", 0.5)
	fmt.Printf("%-40s %12d %12s\n", "  HTTP requests of the repeat copy", requests["transport"], optInt(requests, "skopeo"))
	row(syncT, "sync of 20 tags", 1.0/3)
}

func optInt(m map[string]int, k string) string {
	if v, ok := m[k]; ok {
		return fmt.Sprint(v)
	}
	return "-"
}

func row(m map[string][]time.Duration, name string, aim float64) {
	ours := median(m["transport"])
	theirs, ok := m["skopeo"]
	if !ok {
		fmt.Printf("%-40s %12s %12s\n", name, ours.Round(time.Millisecond), "-")
		return
	}
	ts := median(theirs)
	ratio := float64(ours) / float64(ts)
	verdict := "PASS"
	if ratio > aim {
		verdict = "MISS"
	}
	fmt.Printf("%-40s %12s %12s %8.2f ≤%.2f %s\n", name, ours.Round(time.Millisecond), ts.Round(time.Millisecond), ratio, aim, verdict)
}

func median(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func timeRun(t *tb, tl tool, args []string) time.Duration {
	cmd := exec.Command(tl.path, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	d := time.Since(start)
	if err != nil {
		t.Fatalf("%s %s: %v: %s", tl.name, strings.Join(args, " "), err, stderr.String())
	}
	return d
}

// pushSyncRepo fills bench/app with 20 tags: 10 of busybox, 5 of a
// two-layer image and 5 of a three-layer image (tags share layers).
func pushSyncRepo(t *tb, src *registry.Registry) {
	images := []fixture.Image{fixture.Busybox(t), fixture.MultiLayer(t, 2, 1<<20), fixture.MultiLayer(t, 3, 512<<10)}
	for i := 0; i < 20; i++ {
		img := images[0]
		if i >= 10 {
			img = images[1+(i-10)/5]
		}
		fixture.Push(t, img, src.Ref(fmt.Sprintf("bench/app:t%02d", i)), src.SystemContext())
	}
}

func countTags(reg *registry.Registry) int {
	n := 0
	for i := 0; i < 20; i++ {
		if reg.ManifestStatus("mirror/app", fmt.Sprintf("t%02d", i)) == 200 {
			n++
		}
	}
	return n
}
