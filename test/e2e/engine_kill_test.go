package e2e

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ocisuite/suite/test/bin"
	"github.com/ocisuite/suite/test/fixture"
	"github.com/ocisuite/suite/test/registry"
)

// killAfter starts engine with args on e's store and SIGKILLs it after d
// (if it has not finished by then).
func (e *engineStore) killAfter(t *testing.T, d time.Duration, args ...string) {
	t.Helper()
	cmd := bin.Cmd(t, "engine", e.args(args)...)
	cmd.Env = append(os.Environ(), e.env...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
		cmd.Process.Signal(syscall.SIGKILL)
		<-done
	}
}

// TestEngineKillCLI kills run, rm and pull at random moments; what is left
// must be usable: ps lists, rm -f removes, a second pull succeeds, and no
// container, monitor or mount survives rm -af.
func TestEngineKillCLI(t *testing.T) {
	e := containerStore(t)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	for i := range 12 {
		d := time.Duration(rng.IntN(350)) * time.Millisecond
		switch i % 3 {
		case 0:
			e.killAfter(t, d, "run", "-d", "--name", fmt.Sprintf("k%d", i), "bb", "sleep", "1000")
		case 1:
			e.killAfter(t, d, "run", "--rm", "bb", "sh", "-c", "sleep 0.1")
		case 2:
			e.must(t, "run", "-d", "--name", fmt.Sprintf("k%d", i), "bb", "sleep", "1000")
			e.killAfter(t, d, "rm", "-f", fmt.Sprintf("k%d", i))
		}
		if res := e.run(t, "ps", "-a"); res.Code != 0 {
			t.Fatalf("ps after a killed command: %s", res.Stderr)
		}
	}
	// system check finds and repairs what the kills left half done.
	if res := e.run(t, "system", "check", "--repair"); res.Code != 0 {
		t.Fatalf("system check --repair after the kills: exit %d: %s", res.Code, res.Stderr)
	}
	if res := e.run(t, "system", "check"); res.Code != 0 {
		t.Fatalf("system check after the repair: exit %d: %s", res.Code, res.Stdout+res.Stderr)
	}
	e.must(t, "rm", "-af")
	if out := e.must(t, "ps", "-aq").Stdout; out != "" {
		t.Fatalf("rm -af left %q", out)
	}
	waitFor(t, func() bool { return conmonsOf(e.root) == 0 })
	mounts, _ := os.ReadFile("/proc/self/mounts")
	for _, l := range strings.Split(string(mounts), "\n") {
		if strings.Contains(l, e.root+"/overlay/") {
			t.Errorf("mount left behind: %s", l)
		}
	}
	// The store still runs containers.
	if out := e.must(t, "run", "--rm", "bb", "echo", "alive").Stdout; out != "alive\n" {
		t.Fatalf("run after the kills: %q", out)
	}

	// A pull killed midway leaves no image; the next pull works.
	reg := registry.Start(t, registry.Options{})
	fixture.Push(t, fixture.MultiLayer(t, 3, 8<<20), reg.Ref("big:1"), reg.SystemContext())
	_, env := registriesConf(t, fmt.Sprintf("[[registry]]\nlocation = %q\ninsecure = true\n", reg.Addr))
	p := newEngineStore(t, env...)
	for _, d := range []time.Duration{50 * time.Millisecond, 150 * time.Millisecond, 300 * time.Millisecond} {
		p.killAfter(t, d, "pull", "-q", reg.Addr+"/big:1")
		if res := p.run(t, "images"); res.Code != 0 {
			t.Fatalf("images after a killed pull: %s", res.Stderr)
		}
		p.run(t, "rmi", "-f", reg.Addr+"/big:1")
	}
	p.must(t, "pull", "-q", reg.Addr+"/big:1")
	if res := p.run(t, "image", "exists", reg.Addr+"/big:1"); res.Code != 0 {
		t.Fatalf("pull after killed pulls: image missing")
	}
}

// conmonsOf counts the conmon processes of a store.
func conmonsOf(root string) int {
	n := 0
	procs, _ := filepath.Glob("/proc/[0-9]*/comm")
	for _, p := range procs {
		if b, _ := os.ReadFile(p); strings.TrimSpace(string(b)) != "conmon" {
			continue
		}
		if b, _ := os.ReadFile(filepath.Join(filepath.Dir(p), "cmdline")); strings.Contains(string(b), root) {
			n++
		}
	}
	return n
}
