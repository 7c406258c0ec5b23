package atomicfile

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

func TestWriteCreatesAndReplaces(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "state.json")
	if err := Write(p, []byte("one"), 0o600); err != nil {
		t.Fatalf("first write: %v", err)
	}
	old, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	if err := Write(p, []byte("two, longer"), 0o600); err != nil {
		t.Fatalf("second write: %v", err)
	}
	if b, err := os.ReadFile(p); err != nil || string(b) != "two, longer" {
		t.Fatalf("content after the replacement: %q, %v", b, err)
	}
	// A reader that opened the old file still reads it whole.
	if b, err := io.ReadAll(old); err != nil || string(b) != "one" {
		t.Fatalf("the old file as an earlier reader sees it: %q, %v", b, err)
	}
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", st.Mode().Perm())
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 1 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("left in the directory: %v, want only state.json", names)
	}
}

func TestReplaceMissingDirectory(t *testing.T) {
	dir := t.TempDir()
	tmp := filepath.Join(dir, "tmp")
	if err := os.WriteFile(tmp, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Replace(tmp, filepath.Join(dir, "missing", "state.json")); err == nil {
		t.Fatal("replacing a file in a directory that does not exist succeeded")
	}
	if err := Write(filepath.Join(dir, "missing", "state.json"), []byte("x"), 0o600); err == nil {
		t.Fatal("writing into a directory that does not exist succeeded")
	}
}

func TestWriteConcurrent(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "state.json")
	if err := Write(p, []byte("initial"), 0o644); err != nil {
		t.Fatal(err)
	}
	const writers = 16
	want := map[string]bool{}
	var wg sync.WaitGroup
	for i := range writers {
		v := fmt.Sprintf("writer %d", i)
		want[v] = true
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				if err := Write(p, []byte(v), 0o644); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !want[string(b)] {
		t.Errorf("content after concurrent writes: %q, want one writer's", b)
	}
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644", st.Mode().Perm())
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("%d entries left in the directory, want only state.json", len(ents))
	}
}
