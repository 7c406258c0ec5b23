package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocisuite/suite/test/bin"
	"github.com/ocisuite/suite/test/registry"
)

// noUserNS builds the nouserns helper: it runs a command under a seccomp
// filter that refuses to create user namespaces, as CI containers do.
func noUserNS(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "nouserns")
	out, err := exec.Command("go", "build", "-o", p, "github.com/ocisuite/suite/test/cmd/nouserns").CombinedOutput()
	if err != nil {
		t.Fatalf("building nouserns: %v: %s", err, out)
	}
	return p
}

// TestBuilderIsolationChroot builds the same Containerfile with the OCI
// runtime and, where user namespaces cannot be created, with
// --isolation chroot: both give the same image.
func TestBuilderIsolationChroot(t *testing.T) {
	e := wbuilderStore(t)
	nouserns := noUserNS(t)
	// The filter works: no user namespace can be made under it.
	if out, err := exec.Command(nouserns, "unshare", "--user", "true").CombinedOutput(); err == nil {
		t.Fatalf("unshare --user worked under nouserns: %s", out)
	}
	ctx := t.TempDir()
	if err := os.WriteFile(filepath.Join(ctx, "Containerfile"), []byte(`FROM localhost/bb:latest
COPY app.txt /app/
RUN mkdir -p /data && echo hello > /data/a && chown 1234:2345 /data/a && id -u > /data/uid && ls /dev > /data/dev
RUN grep CapBnd /proc/self/status > /data/status && ls -ln /app > /data/app
USER 1234
RUN touch /tmp/by-1234 && id -u
`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ctx, "app.txt"), []byte("app\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	common := []string{"build", "--no-cache", "--timestamp", "0", "-q", ctx}
	oci := e.wbuilderOut(t, append([]string{"--isolation", "oci"}, common...)...)

	cmd := exec.Command(nouserns, append([]string{bin.Path(t, "builder")}, e.args(append([]string{"--isolation", "chroot"}, common...))...)...)
	cmd.Env = append(os.Environ(), e.env...)
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("builder --isolation chroot under nouserns: %v: %s", err, stderr)
	}
	chroot := lastLine(string(out))
	if !fullID.MatchString(oci) || chroot != oci {
		t.Fatalf("--isolation chroot built %q, oci built %q: want the same image", chroot, oci)
	}
	// The image holds what the RUN steps wrote, with their owners.
	res := e.must(t, "run", "--rm", "--network", "none", oci, "sh", "-c", "ls -ln /data/a /tmp/by-1234; cat /data/uid /data/status")
	for _, want := range []string{"1234     2345", "1234     0", "CapBnd:\t00000000800405fb"} {
		if !strings.Contains(res.Stdout, want) {
			t.Errorf("image content %q lacks %q", res.Stdout, want)
		}
	}
	// Nothing is left: no working container, no mount below the store.
	if c := e.wbuilderOut(t, "containers", "-a", "-q"); c != "" {
		t.Errorf("working containers left: %s", c)
	}
	if m, _ := os.ReadFile("/proc/self/mounts"); strings.Contains(string(m), e.root+"/overlay/") && strings.Contains(string(m), "merged") {
		for _, l := range strings.Split(string(m), "\n") {
			if strings.Contains(l, e.root) {
				t.Errorf("mount left: %s", l)
			}
		}
	}
}

// TestBuilderCacheRegistry fills a registry repository with a build's
// steps (--cache-to) and reuses them from a fresh store (--cache-from), as
// a new CI runner would.
func TestBuilderCacheRegistry(t *testing.T) {
	reg := registry.Start(t, registry.Options{Flavour: registry.TLSAuth})
	ctx := t.TempDir()
	if err := os.WriteFile(filepath.Join(ctx, "Containerfile"), []byte(`FROM localhost/bb:latest
COPY app.txt /app/
RUN echo built-by-run > /app/run.txt
RUN echo second-run >> /app/run.txt
CMD ["cat", "/app/run.txt"]
`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ctx, "app.txt"), []byte("app\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	repo := reg.Addr + "/ci/cache"
	creds := []string{"--cert-dir", reg.CertDir, "--creds", reg.Username + ":" + reg.Password}

	first := wbuilderStore(t)
	out := first.wbuilderMust(t, append(append([]string{"build", "--cache-to", repo}, creds...), ctx)...).Stdout
	if strings.Contains(out, "Using cache") {
		t.Fatalf("the first build used a cache:\n%s", out)
	}
	tags := transport(t, "list-tags", "--cert-dir", reg.CertDir, "--creds", reg.Username+":"+reg.Password, "docker://"+repo).Stdout
	if n := strings.Count(tags, `"`) / 2; n < 4 { // "Repository", the name, and three step tags at least
		t.Fatalf("the cache repository lists %s", tags)
	}

	fresh := wbuilderStore(t)
	out = fresh.wbuilderMust(t, append(append([]string{"build", "-t", "app", "--cache-from", repo}, creds...), ctx)...).Stdout
	if n := strings.Count(out, "Using cache"); n != 3 {
		t.Fatalf("the fresh store used the cache %d times, want 3 (COPY and both RUNs):\n%s", n, out)
	}
	if strings.Contains(out, "built-by-run\n") {
		t.Fatalf("a RUN step ran although it was cached:\n%s", out)
	}
	if got := fresh.must(t, "run", "--rm", "--network", "none", "app").Stdout; got != "built-by-run\nsecond-run\n" {
		t.Fatalf("the image built from the cache runs %q", got)
	}
	// The cache tags are not names in the fresh store.
	if names := fresh.names(t); contains(names, repo) || strings.Contains(strings.Join(names, " "), "ci/cache") {
		t.Fatalf("cache tags became image names: %v", names)
	}
	// A wrong repository is a miss, not an error.
	fresh.wbuilderMust(t, append(append([]string{"build", "--no-cache", "--cache-from", reg.Addr + "/ci/none"}, creds...), ctx)...)
}

// TestBuilderExitCodes: builder fails with 125 as buildah does, and a
// failed RUN step's status passes through builder build and engine build.
func TestBuilderExitCodes(t *testing.T) {
	e := wbuilderStore(t)
	ctx := t.TempDir()
	if err := os.WriteFile(filepath.Join(ctx, "Containerfile"), []byte("FROM localhost/bb:latest\nRUN exit 42\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if res := e.wbuilder(t, "build", ctx); res.Code != 42 {
		t.Fatalf("builder build of a RUN exiting 42: exit %d\n%s", res.Code, res.Combined())
	}
	if res := e.run(t, "build", ctx); res.Code != 42 {
		t.Fatalf("engine build of a RUN exiting 42: exit %d\n%s", res.Code, res.Combined())
	}
	if res := e.wbuilder(t, "rmi", "localhost/nosuch"); res.Code != 125 {
		t.Fatalf("builder rmi of a missing image: exit %d", res.Code)
	}
	if res := e.wbuilder(t, "build", filepath.Join(ctx, "missing")); res.Code != 125 {
		t.Fatalf("builder build of a missing context: exit %d", res.Code)
	}
}

// TestBuilderAnnotationsInspect: --annotation lands in the OCI manifest,
// and engine image inspect shows it.
func TestBuilderAnnotationsInspect(t *testing.T) {
	e := wbuilderStore(t)
	ctx := t.TempDir()
	if err := os.WriteFile(filepath.Join(ctx, "Containerfile"), []byte("FROM localhost/bb:latest\nLABEL a=b\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e.wbuilderMust(t, "build", "-q", "--annotation", "org.example.team=ci", "-t", "annotated", ctx)
	if got := strings.TrimSpace(e.must(t, "image", "inspect", "--format", "{{index .Annotations \"org.example.team\"}}", "annotated").Stdout); got != "ci" {
		t.Fatalf("engine image inspect shows annotation %q, want ci", got)
	}
}
