package main

import (
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ocisuite/suite/test/fixture"
)

// tb is the part of testing.TB the harness packages (registry, fixture)
// use, for a main program: Fatal* runs the cleanups and exits 1, Cleanup
// functions run once at exit (also on an interrupt), TempDir lives under
// one directory removed at exit. Methods the harness does not call are left
// to the embedded nil interface and would panic.
type tb struct {
	testing.TB

	tmp         string
	mu          sync.Mutex
	cleanups    []func()
	cleaned     bool
	once        sync.Once
	interrupted atomic.Bool
}

func newTB() (*tb, error) {
	tmp, err := os.MkdirTemp("", "ocisuite-bench-")
	if err != nil {
		return nil, err
	}
	return &tb{tmp: tmp}, nil
}

func (t *tb) Helper()      {}
func (t *tb) Name() string { return "bench" }
func (t *tb) Failed() bool { return false }

func (t *tb) Log(args ...any)                 { fmt.Fprintln(os.Stderr, args...) }
func (t *tb) Logf(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }

func (t *tb) Error(args ...any)                 { t.Fatal(args...) }
func (t *tb) Errorf(format string, args ...any) { t.Fatalf(format, args...) }
func (t *tb) Fatal(args ...any)                 { t.Fatalf("%s", fmt.Sprint(args...)) }
func (t *tb) FailNow()                          { t.Fatalf("failed") }

// Fatalf reports the error, runs the cleanups and exits 1. After an
// interrupt, failures are its echo (killed children): the signal handler
// exits instead.
func (t *tb) Fatalf(format string, args ...any) {
	if t.interrupted.Load() {
		select {}
	}
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
	t.cleanup()
	os.Exit(1)
}

// Cleanup registers f to run at exit; once the cleanups have run (after an
// interrupt), f runs at once so nothing started late is left behind.
func (t *tb) Cleanup(f func()) {
	t.mu.Lock()
	if t.cleaned {
		t.mu.Unlock()
		f()
		return
	}
	t.cleanups = append(t.cleanups, f)
	t.mu.Unlock()
}

func (t *tb) TempDir() string {
	d, err := os.MkdirTemp(t.tmp, "t")
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// cleanup runs the cleanups in reverse order, removes the fixtures and the
// temporary directory. Concurrent callers wait for the first.
func (t *tb) cleanup() {
	t.once.Do(func() {
		t.mu.Lock()
		fs := t.cleanups
		t.cleanups, t.cleaned = nil, true
		t.mu.Unlock()
		for i := len(fs) - 1; i >= 0; i-- {
			fs[i]()
		}
		fixture.Cleanup()
		os.RemoveAll(t.tmp)
	})
}
