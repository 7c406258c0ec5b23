package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// buildContext writes a context directory with files (name → content).
func buildContext(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// freshStep matches the line of a step built anew ("--> 0123456789ab");
// a step taken from the cache prints "--> Using cache ID" instead.
var freshStep = regexp.MustCompile(`(?m)^--> [0-9a-f]{12}$`)

// imageRows are the REPOSITORY:TAG IMAGE-ID rows of engine images args.
func (e *engineStore) imageRows(t *testing.T, args ...string) []string {
	t.Helper()
	out := e.must(t, append([]string{"images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"}, args...)...).Stdout
	return strings.Split(strings.TrimSpace(out), "\n")
}

func countPrefix(rows []string, prefix string) int {
	n := 0
	for _, r := range rows {
		if strings.HasPrefix(r, prefix) {
			n++
		}
	}
	return n
}

// TestEngineBuild: an image built by builder build is listed by engine at
// once; engine build of the same Containerfile on the same store takes
// every step from the builder's cache and gives the same image, which
// engine runs; the steps' images are intermediate (hidden by images, shown
// by images -a, kept by image prune, removed with the image by rmi); a
// failed RUN fails the build naming the line and its status.
func TestEngineBuild(t *testing.T) {
	e := wbuilderStore(t)
	ctx := buildContext(t, map[string]string{
		"Containerfile": `FROM localhost/bb
RUN echo built > /built && mkdir /data
COPY file.txt /data/file.txt
ENV GREETING=hello
CMD ["sh", "-c", "cat /built /data/file.txt; echo $GREETING"]
`,
		"file.txt": "from the context\n",
	})

	res := e.wbuilderMust(t, "build", "-t", "localhost/byb", ctx)
	byBuilder := lastLine(res.Stdout)
	if got := len(freshStep.FindAllString(res.Stdout+res.Stderr, -1)); got != 3 {
		t.Fatalf("builder build: %d steps built anew, want 3 (RUN, COPY, the configuration):\n%s", got, res.Combined())
	}
	if rows := e.imageRows(t); !contains(rows, "localhost/byb:latest "+byBuilder[:12]) {
		t.Fatalf("engine images right after builder build: %v, want localhost/byb:latest %s", rows, byBuilder[:12])
	}

	res = e.must(t, "build", "-t", "localhost/bye", ctx)
	out := res.Stdout + res.Stderr
	if id := lastLine(res.Stdout); id != byBuilder {
		t.Fatalf("engine build gave %s, builder build %s: the same Containerfile on the same store must give the same image", id, byBuilder)
	}
	if n := strings.Count(out, "--> Using cache "); n != 3 || freshStep.MatchString(out) {
		t.Fatalf("engine build after builder build: %d steps from the cache, want all 3:\n%s", n, out)
	}
	if got := e.must(t, "run", "--rm", "localhost/bye").Stdout; got != "built\nfrom the context\nhello\n" {
		t.Fatalf("engine run of the built image printed %q", got)
	}
	// engine image build is build.
	if id := lastLine(e.must(t, "image", "build", "-q", ctx).Stdout); id != byBuilder {
		t.Fatalf("engine image build -q printed %q, want %s", id, byBuilder)
	}

	// The RUN and COPY steps' images are intermediate: hidden by
	// images, shown by -a, kept by prune (they are the cache).
	rows := e.imageRows(t)
	if n := countPrefix(rows, "<none>:<none>"); n != 0 || len(rows) != 3 {
		t.Fatalf("engine images: %v, want bb, byb and bye with no intermediate images", rows)
	}
	rows = e.imageRows(t, "-a")
	if n := countPrefix(rows, "<none>:<none>"); n != 2 || len(rows) != 5 {
		t.Fatalf("engine images -a: %v, want the 2 step images too", rows)
	}
	if got := e.imageRows(t, "-a", "--filter", "intermediate=true"); len(got) != 2 {
		t.Fatalf("images -a --filter intermediate=true: %v", got)
	}
	if got := strings.TrimSpace(e.must(t, "images", "-q", "--filter", "dangling=true").Stdout); got != "" {
		t.Fatalf("dangling images after a build: %q, want none (the step images have children)", got)
	}
	if got := strings.TrimSpace(e.must(t, "image", "prune", "-f").Stdout); got != "" {
		t.Fatalf("image prune removed %q: intermediate images of a named image are not dangling", got)
	}
	if got := countPrefix(e.imageRows(t, "-a"), "<none>:<none>"); got != 2 {
		t.Fatalf("after prune: %d intermediate images, want 2", got)
	}

	// A change in the context rebuilds from the COPY on: the image
	// replaced loses its name and is dangling; prune removes it and
	// its own step images, and keeps the cache of the RUN step.
	if err := os.WriteFile(filepath.Join(ctx, "file.txt"), []byte("changed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e.must(t, "rmi", "localhost/byb")
	res = e.must(t, "build", "-t", "localhost/bye", ctx)
	out = res.Stdout + res.Stderr
	if n := strings.Count(out, "--> Using cache "); n != 1 || len(freshStep.FindAllString(out, -1)) != 2 {
		t.Fatalf("rebuild after a context change: want the RUN from the cache and COPY and the configuration anew:\n%s", out)
	}
	if got := strings.Fields(e.must(t, "images", "-q", "--filter", "dangling=true").Stdout); len(got) != 1 || got[0] != byBuilder[:12] {
		t.Fatalf("dangling images: %v, want the replaced image %s", got, byBuilder[:12])
	}
	pruned := strings.Fields(e.must(t, "image", "prune", "-f").Stdout)
	if len(pruned) != 2 || !contains(pruned, byBuilder) {
		t.Fatalf("prune removed %v, want the replaced image and its COPY step's image", pruned)
	}
	if got := e.must(t, "run", "--rm", "localhost/bye").Stdout; got != "built\nchanged\nhello\n" {
		t.Fatalf("the rebuilt image printed %q", got)
	}

	// rmi removes the image and the step images only it stood on.
	res = e.must(t, "rmi", "localhost/bye")
	if n := strings.Count(res.Stdout, "Deleted: "); n != 3 {
		t.Fatalf("rmi of the built image: %d deleted, want it and its 2 step images:\n%s", n, res.Stdout)
	}
	if rows := e.imageRows(t, "-a"); len(rows) != 1 || !strings.HasPrefix(rows[0], "localhost/bb:latest ") {
		t.Fatalf("after rmi: %v, want only the base image", rows)
	}

	// A failed RUN: the file, line and status, and no image.
	bad := buildContext(t, map[string]string{"Containerfile": "FROM localhost/bb\nRUN echo about to fail; exit 3\n"})
	res = e.run(t, "build", "-t", "localhost/bad", bad)
	if res.Code != 3 || !strings.Contains(res.Stderr, "Containerfile:2: RUN echo about to fail") ||
		!strings.Contains(res.Stderr, "status 3") || !strings.Contains(res.Stdout+res.Stderr, "about to fail") {
		t.Fatalf("a failed RUN: exit %d\n%s", res.Code, res.Combined())
	}
	if e.run(t, "image", "exists", "localhost/bad").Code == 0 {
		t.Fatal("a failed build left an image named")
	}
	if res := e.run(t, "build", filepath.Join(ctx, "missing")); res.Code != 125 {
		t.Fatalf("build of a missing context: exit %d, want 125\n%s", res.Code, res.Combined())
	}
}
