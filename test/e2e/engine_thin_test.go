package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocisuite/suite/test/bin"
	"github.com/ocisuite/suite/test/fixture"
	"github.com/ocisuite/suite/test/registry"
)

// heldCommands are the command lines the thin engine (bin/engine) runs
// itself; it hands every other one to bin/engine-full.
var heldCommands = [][]string{
	{"run"}, {"create"}, {"start"}, {"stop"}, {"kill"}, {"rm"}, {"ps"},
	{"exec"}, {"logs"}, {"wait"}, {"inspect"}, {"healthcheck", "run"},
	{"container", "cleanup"},
}

// TestEngineThinBinary: bin/engine runs containers of local images
// alone, with the same commands and flags as bin/engine-full, and hands
// every other command line, and a run that must pull, to bin/engine-full.
func TestEngineThinBinary(t *testing.T) {
	thin := bin.Path(t, "engine")
	full := filepath.Join(filepath.Dir(thin), "engine-full")
	if _, err := os.Stat(full); err != nil {
		t.Fatalf("no engine-full beside %s (make build makes both): %v", thin, err)
	}

	// The same usage and flags for every command it holds.
	for _, c := range heldCommands {
		help := append(append([]string{}, c...), "--help")
		a, errA := exec.Command(thin, help...).Output()
		b, errB := exec.Command(full, help...).Output()
		if errA != nil || errB != nil {
			t.Fatalf("%s --help: thin %v, full %v", strings.Join(c, " "), errA, errB)
		}
		if string(a) != string(b) {
			t.Errorf("%s --help differs between engine and engine-full:\n%s\n---\n%s", strings.Join(c, " "), a, b)
		}
	}

	// Alone in a directory, the thin binary runs, execs, lists and removes
	// containers of local images...
	e := containerStore(t)
	alone := filepath.Join(t.TempDir(), "engine")
	copyFile(t, thin, alone)
	runAlone := func(args ...string) bin.Result {
		t.Helper()
		cmd := exec.Command(alone, e.args(args)...)
		cmd.Env = append(os.Environ(), e.env...)
		return bin.Exec(t, cmd)
	}
	if res := runAlone("run", "--rm", "localhost/bb", "echo", "hi"); res.Code != 0 || res.Stdout != "hi\n" {
		t.Fatalf("thin run --rm: code %d stdout %q stderr %q", res.Code, res.Stdout, res.Stderr)
	}
	if res := runAlone("run", "-d", "--name", "alone", "localhost/bb", "sleep", "60"); res.Code != 0 {
		t.Fatalf("thin run -d: %s", res.Stderr)
	}
	if res := runAlone("exec", "alone", "cat", "/proc/1/cmdline"); res.Code != 0 || !strings.HasPrefix(res.Stdout, "sleep") {
		t.Fatalf("thin exec: code %d stdout %q stderr %q", res.Code, res.Stdout, res.Stderr)
	}
	if res := runAlone("ps", "--format", "{{.Names}} {{.Status}}"); res.Code != 0 || !strings.HasPrefix(res.Stdout, "alone Up") {
		t.Fatalf("thin ps: code %d stdout %q stderr %q", res.Code, res.Stdout, res.Stderr)
	}
	if res := runAlone("rm", "-f", "-t", "0", "alone"); res.Code != 0 {
		t.Fatalf("thin rm -f: %s", res.Stderr)
	}
	// ...and says what it misses for anything else: an image command, a
	// container command it does not hold, a run that must pull.
	for _, args := range [][]string{
		{"images"},
		{"container", "ls"},
		{"run", "--rm", "localhost/nosuch", "true"},
		{"inspect", "localhost/bb"},
	} {
		res := runAlone(args...)
		if res.Code != 125 || !strings.Contains(res.Stderr, "engine-full") || strings.Count(strings.TrimSpace(res.Stderr), "\n") != 0 {
			t.Errorf("thin %s without engine-full: code %d stderr %q, want 125 and one line naming engine-full", strings.Join(args, " "), res.Code, res.Stderr)
		}
	}

	// Beside engine-full, the same command lines work through it.
	if res := e.must(t, "images", "--format", "{{.Repository}}"); !strings.Contains(res.Stdout, "localhost/bb") {
		t.Fatalf("images through engine: %q", res.Stdout)
	}
	if res := e.must(t, "container", "ls", "-a", "--format", "{{.Names}}"); strings.Contains(res.Stdout, "alone") {
		t.Fatalf("container ls still shows the removed container: %q", res.Stdout)
	}
	if res := e.must(t, "inspect", "--format", "{{.RepoTags}}", "bb"); res.Stdout != "[localhost/bb:latest]\n" {
		t.Fatalf("inspect of an image through engine: %q", res.Stdout)
	}
	if res := e.must(t, "--version"); !strings.HasPrefix(res.Stdout, "engine version ") {
		t.Fatalf("--version: %q", res.Stdout)
	}
	if res := e.run(t, "nosuchcommand"); res.Code != 125 || !strings.Contains(res.Stderr, `unrecognized command "nosuchcommand"`) {
		t.Fatalf("an unknown command: code %d stderr %q", res.Code, res.Stderr)
	}

	// A run of an image only a registry has: the full binary pulls and runs.
	reg := registry.Start(t, registry.Options{})
	fixture.Push(t, fixture.Busybox(t), reg.Ref("thin/bb:1"), reg.SystemContext())
	_, env := registriesConf(t, fmt.Sprintf("[[registry]]\nlocation = %q\ninsecure = true\n", reg.Addr))
	p := newEngineStore(t, env...)
	t.Cleanup(func() { p.settle(t) })
	res := p.must(t, "run", "--rm", reg.Addr+"/thin/bb:1", "echo", "pulled")
	if !strings.HasSuffix(res.Stdout, "pulled\n") || !strings.Contains(res.Stderr, "Trying to pull "+reg.Addr+"/thin/bb:1") {
		t.Fatalf("run of a registry image: stdout %q stderr %q", res.Stdout, res.Stderr)
	}
	if got := p.names(t); !contains(got, reg.Addr+"/thin/bb:1") {
		t.Fatalf("images after run = %v, want %s/thin/bb:1", got, reg.Addr)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o755); err != nil {
		t.Fatal(err)
	}
}
