// Package bin finds and runs the suite's binaries in end-to-end tests:
//
//	res := bin.Run(t, nil, "transport", "inspect", ref)
//	if res.Code != 0 { t.Fatalf("inspect: %s", res.Stderr) }
//
// With SUITE_BIN_DIR set (make test sets it to ./bin) the binaries there are
// used; otherwise each is built once per test process.
package bin

import (
	"bytes"
	"context"
	"errors"

	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var (
	mu    sync.Mutex
	built = map[string]string{}
)

// Path returns the path of binary name ("engine", "builder", "transport").
func Path(t testing.TB, name string) string {
	t.Helper()
	if dir := os.Getenv("SUITE_BIN_DIR"); dir != "" {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("SUITE_BIN_DIR=%s has no %s (run make build): %v", dir, name, err)
		}
		return p
	}
	mu.Lock()
	defer mu.Unlock()
	if p, ok := built[name]; ok {
		return p
	}
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "ocisuite-bin-")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	builds := [][3]string{{name, "exclude_graphdriver_btrfs", ""}}
	if name == "engine" {
		// As make build: the thin engine, static, and the full one beside it.
		builds = [][3]string{
			{"engine", "exclude_graphdriver_btrfs thin", `-linkmode external -extldflags "-static -Wl,--no-warnings"`},
			{"engine-full", "exclude_graphdriver_btrfs", ""},
		}
	}
	for _, b := range builds {
		cmd := exec.Command("go", "build", "-tags", b[1], "-ldflags", b[2], "-o", filepath.Join(dir, b[0]), "./"+name+"/cmd/"+name)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("building %s: %v\n%s", b[0], err, out)
		}
	}
	built[name] = p
	return p
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.work above the working directory")
		}
		dir = parent
	}
}

// Result is what a command printed and its exit code.
type Result struct {
	Stdout, Stderr string
	Code           int
}

// Combined is stdout and stderr, for error messages.
func (r Result) Combined() string { return r.Stdout + r.Stderr }

// Cmd returns an exec.Cmd for binary name; the caller runs it.
func Cmd(t testing.TB, name string, args ...string) *exec.Cmd {
	t.Helper()
	return exec.Command(Path(t, name), args...)
}

// Run runs binary name with args; env is added to the test's environment.
// It never fails the test itself: the caller asserts on the Result.
func Run(t testing.TB, env []string, name string, args ...string) Result {
	t.Helper()
	return RunCtx(context.Background(), t, env, name, args...)
}

// RunCtx is Run with a context that kills the command when done.
func RunCtx(ctx context.Context, t testing.TB, env []string, name string, args ...string) Result {
	t.Helper()
	cmd := exec.CommandContext(ctx, Path(t, name), args...)
	cmd.Env = append(os.Environ(), env...)
	res := Exec(t, cmd)
	t.Logf("$ %s %s  # exit %d", name, strings.Join(args, " "), res.Code)
	if res.Code != 0 {
		t.Logf("stderr: %s", strings.TrimSpace(res.Stderr))
	}
	return res
}

// Exec runs a prepared command (its stdout and stderr are set here) and
// returns what it printed and its exit code; it fails the test only if
// the command could not run at all.
func Exec(t testing.TB, cmd *exec.Cmd) Result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := Result{Stdout: stdout.String(), Stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		res.Code = ee.ExitCode()
	default:
		t.Fatalf("running %s: %v", filepath.Base(cmd.Path), err)
	}
	return res
}

// MustRun is Run that fails the test on a non-zero exit.
func MustRun(t testing.TB, env []string, name string, args ...string) Result {
	t.Helper()
	res := Run(t, env, name, args...)
	if res.Code != 0 {
		t.Fatalf("%s %s: exit %d: %s", name, strings.Join(args, " "), res.Code, res.Stderr)
	}
	return res
}
