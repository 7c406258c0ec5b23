package e2e

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ocisuite/suite/test/bin"
	"github.com/ocisuite/suite/test/registry"
)

// build runs builder build on e.
func (e *engineStore) build(t *testing.T, args ...string) bin.Result {
	t.Helper()
	return e.wbuilder(t, append([]string{"build"}, args...)...)
}

// buildOK runs builder build and returns the image ID it printed last.
func (e *engineStore) buildOK(t *testing.T, args ...string) (string, bin.Result) {
	t.Helper()
	res := e.build(t, args...)
	if res.Code != 0 {
		t.Fatalf("build %v: exit %d\n%s", args, res.Code, res.Combined())
	}
	id := lastLine(res.Stdout)
	if !fullID.MatchString(id) {
		t.Fatalf("build did not print the image ID last:\n%s", res.Stdout)
	}
	return id, res
}

// builderStdin runs builder on e with stdin.
func (e *engineStore) builderStdin(t *testing.T, in string, args ...string) bin.Result {
	t.Helper()
	cmd := bin.Cmd(t, "builder", e.args(args)...)
	cmd.Env = append(os.Environ(), e.env...)
	cmd.Stdin = strings.NewReader(in)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := bin.Result{Stdout: stdout.String(), Stderr: stderr.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		res.Code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	t.Logf("$ builder %s < input  # exit %d", strings.Join(args, " "), res.Code)
	return res
}

// imageInfo is what the tests read from engine image inspect.
type imageInfo struct {
	Id, Digest, ManifestType, Created, Author, Architecture string
	RepoTags                                                []string
	Labels, Annotations                                     map[string]string
	Config                                                  struct {
		Env, Cmd, Entrypoint []string
		User, WorkingDir     string
	}
	RootFS struct {
		Layers []string
	}
	History []struct {
		Created    string `json:"created"`
		CreatedBy  string `json:"created_by"`
		EmptyLayer bool   `json:"empty_layer"`
	}
}

func (e *engineStore) imageInfo(t *testing.T, name string) imageInfo {
	t.Helper()
	var out []imageInfo
	if err := json.Unmarshal([]byte(e.must(t, "image", "inspect", name).Stdout), &out); err != nil || len(out) != 1 {
		t.Fatalf("engine image inspect %s: %v", name, err)
	}
	return out[0]
}

// runOut is the stdout of engine run --rm.
func (e *engineStore) runOut(t *testing.T, args ...string) string {
	t.Helper()
	return e.must(t, append([]string{"run", "--rm"}, args...)...).Stdout
}

// TestBuilderBuildTagsFilesArgs: several -t, -f with a path, - (stdin)
// and the Containerfile-then-Dockerfile default, --build-arg and
// --build-arg-file, --target, --iidfile, --quiet and --logfile.
func TestBuilderBuildTagsFilesArgs(t *testing.T) {
	e := wbuilderStore(t)
	ctx := buildContext(t, map[string]string{
		"Containerfile": `FROM localhost/bb
ARG WHO=default
ARG FROMFILE=unset
ARG BOTH=unset
RUN mkdir /out && echo "$WHO $FROMFILE $BOTH" > /out/args
`,
	})
	argFile := writeFile(t, "args", "# build args\n\nFROMFILE=from-file\nBOTH=file\n")
	iid := filepath.Join(t.TempDir(), "iid")
	id, res := e.buildOK(t, "-t", "one", "-t", "two:2", "-t", "localhost/three:3", "--build-arg", "WHO=cli",
		"--build-arg-file", argFile, "--build-arg", "BOTH=cli", "--iidfile", iid, ctx)
	for _, n := range []string{"one", "localhost/two:2", "three:3"} {
		if got := e.id(t, n); got != id {
			t.Errorf("%s is %s, want the build's %s", n, got, id)
		}
	}
	if !strings.Contains(res.Stdout, "Successfully tagged localhost/one:latest") {
		t.Errorf("no tag message in:\n%s", res.Stdout)
	}
	if b, err := os.ReadFile(iid); err != nil || string(b) != "sha256:"+id {
		t.Errorf("--iidfile holds %q (%v), want sha256:%s", b, err, id)
	}
	if got := e.runOut(t, "one", "cat", "/out/args"); got != "cli from-file cli\n" {
		t.Errorf("build args seen by RUN: %q", got)
	}

	// --build-arg NAME takes the value of the variable NAME.
	res = bin.Run(t, append(append([]string(nil), e.env...), "WHO=from-env"), "builder", e.args([]string{"build", "-q", "--build-arg", "WHO", ctx})...)
	if res.Code != 0 {
		t.Fatalf("--build-arg WHO: exit %d: %s", res.Code, res.Stderr)
	}
	if got := e.runOut(t, strings.TrimSpace(res.Stdout), "cat", "/out/args"); got != "from-env unset unset\n" {
		t.Errorf("--build-arg WHO with WHO=from-env: RUN saw %q", got)
	}

	// --quiet: stdout is the ID alone.
	res = e.build(t, "-q", "--no-cache", ctx)
	if res.Code != 0 || !regexp.MustCompile(`^[0-9a-f]{64}\n$`).MatchString(res.Stdout) {
		t.Errorf("build -q: exit %d, stdout %q", res.Code, res.Stdout)
	}

	// --logfile: the progress goes there, stdout keeps the ID.
	logfile := filepath.Join(t.TempDir(), "build.log")
	res = e.build(t, "--logfile", logfile, "--no-cache", ctx)
	log, _ := os.ReadFile(logfile)
	if res.Code != 0 || strings.Contains(res.Stdout, "STEP") || !fullID.MatchString(strings.TrimSpace(res.Stdout)) ||
		!strings.Contains(string(log), "STEP 2/5: ARG WHO=default") || !strings.Contains(string(log), "STEP 5/5: RUN") {
		t.Errorf("--logfile: exit %d, stdout %q, log:\n%s", res.Code, res.Stdout, log)
	}

	// Containerfile, else Dockerfile; -f PATH; -f - reads stdin.
	label := func(name string) string {
		t.Helper()
		return e.imageInfo(t, name).Labels["which"]
	}
	ctx2 := buildContext(t, map[string]string{"Dockerfile": "FROM localhost/bb\nLABEL which=dockerfile\n"})
	e.buildOK(t, "-t", "df", ctx2)
	if got := label("df"); got != "dockerfile" {
		t.Errorf("context with a Dockerfile built %q", got)
	}
	if err := os.WriteFile(filepath.Join(ctx2, "Containerfile"), []byte("FROM localhost/bb\nLABEL which=containerfile\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e.buildOK(t, "-t", "cf", ctx2)
	if got := label("cf"); got != "containerfile" {
		t.Errorf("context with both files built %q", got)
	}
	other := writeFile(t, "Other.containerfile", "FROM localhost/bb\nLABEL which=other\n")
	e.buildOK(t, "-t", "other", "-f", other, ctx2)
	if got := label("other"); got != "other" {
		t.Errorf("-f %s built %q", other, got)
	}
	res = e.builderStdin(t, "FROM localhost/bb\nLABEL which=stdin\n", "build", "-t", "stdin", "-f", "-", ctx2)
	if res.Code != 0 || label("stdin") != "stdin" {
		t.Errorf("-f -: exit %d: %s", res.Code, res.Stderr)
	}
	empty := t.TempDir()
	res = e.build(t, empty)
	if res.Code == 0 {
		t.Error("a context without Containerfile or Dockerfile built")
	}
	assertOneLine(t, res.Stderr, "no Containerfile or Dockerfile")

	// --target builds that stage and what it needs, nothing after it.
	ctx3 := buildContext(t, map[string]string{"Containerfile": `FROM localhost/bb AS base
LABEL stage=base
FROM base AS a
LABEL stage=a
FROM a AS b
RUN exit 1
`})
	e.buildOK(t, "-t", "target", "--target", "a", ctx3)
	if got := e.imageInfo(t, "target").Labels["stage"]; got != "a" {
		t.Errorf("--target a built stage %q", got)
	}
	res = e.build(t, "--target", "nope", ctx3)
	if res.Code == 0 {
		t.Error("--target of a missing stage built")
	}
	assertOneLine(t, res.Stderr, `"nope"`)
}

// buildSteps reads a build's output: for each STEP number, whether its
// "-->" line said "Using cache" (steps without one are not listed).
func buildSteps(out string) map[int]bool {
	steps := map[int]bool{}
	step := 0
	stepRE := regexp.MustCompile(`^(?:\[\d+/\d+\] )?STEP (\d+)/\d+: `)
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if m := stepRE.FindStringSubmatch(line); m != nil {
			step, _ = strconv.Atoi(m[1])
			continue
		}
		if strings.HasPrefix(line, "--> ") {
			steps[step] = strings.HasPrefix(line, "--> Using cache ")
		}
	}
	return steps
}

// checkSteps fails unless exactly the steps in cached used the cache and
// those in built were built.
func checkSteps(t *testing.T, what, out string, cached, built []int) {
	t.Helper()
	steps := buildSteps(out)
	for _, s := range cached {
		if c, ok := steps[s]; !ok || !c {
			t.Errorf("%s: step %d did not use the cache:\n%s", what, s, out)
		}
	}
	for _, s := range built {
		if c, ok := steps[s]; !ok || c {
			t.Errorf("%s: step %d was not built anew:\n%s", what, s, out)
		}
	}
	if len(steps) != len(cached)+len(built) {
		t.Errorf("%s: steps with results %v, want cached %v built %v", what, steps, cached, built)
	}
}

// TestBuilderBuildCache: an unchanged rebuild uses the cache for every
// step and gives the same image; a changed context file rebuilds from the
// first instruction reading it; a changed --build-arg from the first RUN
// after its ARG; --no-cache and --layers=false build everything.
func TestBuilderBuildCache(t *testing.T) {
	e := wbuilderStore(t)
	ctx := buildContext(t, map[string]string{
		"Containerfile": `FROM localhost/bb
RUN echo one > /one
COPY b.txt /b.txt
RUN cat /b.txt > /copy
ARG V=1
RUN echo "v=$V" > /v
COPY a.txt /a.txt
CMD ["cat", "/copy", "/v", "/a.txt"]
`,
		"a.txt": "a\n", "b.txt": "b\n",
	})
	fsSteps := []int{2, 3, 4, 6, 7, 8} // 8: the final configuration
	first, res := e.buildOK(t, "-t", "cached", ctx)
	checkSteps(t, "first build", res.Stdout, nil, fsSteps)

	again, res := e.buildOK(t, "-t", "cached", ctx)
	checkSteps(t, "unchanged rebuild", res.Stdout, fsSteps, nil)
	if again != first {
		t.Errorf("unchanged rebuild made %s, want %s", again, first)
	}

	// b.txt is read by the 3rd instruction.
	if err := os.WriteFile(filepath.Join(ctx, "b.txt"), []byte("B changed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	changed, res := e.buildOK(t, "-t", "cached", ctx)
	checkSteps(t, "b.txt changed", res.Stdout, []int{2}, []int{3, 4, 6, 7, 8})
	if got := e.runOut(t, changed); got != "B changed\nv=1\na\n" {
		t.Errorf("rebuilt image prints %q", got)
	}
	// Back to the first content: all from the cache again.
	if err := os.WriteFile(filepath.Join(ctx, "b.txt"), []byte("b\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if id, res := e.buildOK(t, ctx); id != first {
		t.Errorf("b.txt restored: built %s, want the first build's %s:\n%s", id, first, res.Stdout)
	}

	// A new modification time alone keeps the cache; a new mode does not.
	old := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := os.Chtimes(filepath.Join(ctx, "a.txt"), old, old); err != nil {
		t.Fatal(err)
	}
	_, res = e.buildOK(t, ctx)
	checkSteps(t, "a.txt touched", res.Stdout, fsSteps, nil)
	if err := os.Chmod(filepath.Join(ctx, "a.txt"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, res = e.buildOK(t, ctx)
	checkSteps(t, "a.txt chmod 600", res.Stdout, []int{2, 3, 4, 6}, []int{7, 8})
	if err := os.Chmod(filepath.Join(ctx, "a.txt"), 0o644); err != nil {
		t.Fatal(err)
	}

	// A changed build arg: from the first RUN after ARG V, not before.
	withArg, res := e.buildOK(t, "--build-arg", "V=2", ctx)
	checkSteps(t, "--build-arg V=2", res.Stdout, []int{2, 3, 4}, []int{6, 7, 8})
	if got := e.runOut(t, withArg); got != "b\nv=2\na\n" {
		t.Errorf("image with V=2 prints %q", got)
	}
	if _, res = e.buildOK(t, "--build-arg", "V=2", ctx); len(buildSteps(res.Stdout)) != len(fsSteps) {
		t.Errorf("rebuild with V=2 again: %v", buildSteps(res.Stdout))
	}
	checkSteps(t, "--build-arg V=2 again", res.Stdout, fsSteps, nil)

	// Files the ignore file leaves out do not count.
	ctx2 := buildContext(t, map[string]string{
		"Containerfile": "FROM localhost/bb\nCOPY . /app\n",
		".dockerignore": "*.log\n",
		"keep.txt":      "keep\n", "x.log": "log\n",
	})
	e.buildOK(t, ctx2)
	if err := os.WriteFile(filepath.Join(ctx2, "x.log"), []byte("more log\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, res = e.buildOK(t, ctx2)
	checkSteps(t, "ignored file changed", res.Stdout, []int{2}, nil)
	if err := os.WriteFile(filepath.Join(ctx2, "new.txt"), []byte("new\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, res = e.buildOK(t, ctx2)
	checkSteps(t, "file added", res.Stdout, nil, []int{2})

	// ADD of a URL: a changed remote file misses the cache.
	var remote atomic.Value
	remote.Store("v1\n")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, remote.Load()) }))
	defer srv.Close()
	ctx3 := buildContext(t, map[string]string{"Containerfile": "FROM localhost/bb\nADD " + srv.URL + "/f /f\nRUN cat /f > /copy\n"})
	_, res = e.buildOK(t, ctx3)
	checkSteps(t, "ADD URL", res.Stdout, nil, []int{2, 3})
	_, res = e.buildOK(t, ctx3)
	checkSteps(t, "ADD URL again", res.Stdout, []int{2, 3}, nil)
	remote.Store("v2\n")
	id, res := e.buildOK(t, ctx3)
	checkSteps(t, "ADD URL changed", res.Stdout, nil, []int{2, 3})
	if got := e.runOut(t, id, "cat", "/copy"); got != "v2\n" {
		t.Errorf("after the remote file changed the image has %q", got)
	}

	// --no-cache builds every step (and gives a new image).
	noCache, res := e.buildOK(t, "--no-cache", ctx)
	checkSteps(t, "--no-cache", res.Stdout, nil, fsSteps)
	if noCache == first {
		t.Error("--no-cache gave the cached image")
	}

	// --layers=false: one image, no intermediate ones, no cache.
	before := e.must(t, "images", "-a", "-q", "--no-trunc").Stdout
	single, res := e.buildOK(t, "--layers=false", ctx)
	if strings.Contains(res.Stdout, "Using cache") {
		t.Errorf("--layers=false used the cache:\n%s", res.Stdout)
	}
	after := e.must(t, "images", "-a", "-q", "--no-trunc").Stdout
	if n := len(strings.Fields(after)) - len(strings.Fields(before)); n != 1 {
		t.Errorf("--layers=false added %d images, want only the result", n)
	}
	info := e.imageInfo(t, single)
	if len(info.RootFS.Layers) != 2 {
		t.Errorf("--layers=false image has %d layers, want the base's and one for the stage", len(info.RootFS.Layers))
	}
	if got := e.runOut(t, single); got != "b\nv=1\na\n" {
		t.Errorf("--layers=false image prints %q", got)
	}
}

// TestBuilderBuildImageOptions: --format docker, --squash, --label,
// --annotation, --env, --unsetenv, --timestamp, --from and --pull never.
func TestBuilderBuildImageOptions(t *testing.T) {
	e := wbuilderStore(t)
	ctx := buildContext(t, map[string]string{
		"Containerfile": `FROM localhost/bb
ENV REMOVE=me KEEP=yes
RUN echo "$FROMFLAG" > /env
COPY f.txt /f.txt
RUN echo two > /two
LABEL inside=file
`,
		"f.txt": "f\n",
	})
	base := e.imageInfo(t, "localhost/bb")

	oci := e.imageInfo(t, mustID(e.buildOK(t, ctx)))
	if oci.ManifestType != "application/vnd.oci.image.manifest.v1+json" {
		t.Errorf("default format: %s", oci.ManifestType)
	}
	if n := len(oci.RootFS.Layers); n != len(base.RootFS.Layers)+3 {
		t.Errorf("image has %d layers, want the base's %d and one per RUN/COPY", n, len(base.RootFS.Layers))
	}
	docker := e.imageInfo(t, mustID(e.buildOK(t, "--format", "docker", ctx)))
	if docker.ManifestType != "application/vnd.docker.distribution.manifest.v2+json" {
		t.Errorf("--format docker: %s", docker.ManifestType)
	}

	sq := e.imageInfo(t, mustID(e.buildOK(t, "--squash", ctx)))
	if n := len(sq.RootFS.Layers); n != len(base.RootFS.Layers)+1 || sq.RootFS.Layers[0] != base.RootFS.Layers[0] {
		t.Errorf("--squash: layers %v, want the base's %v and one new", sq.RootFS.Layers, base.RootFS.Layers)
	}
	if got := e.runOut(t, sq.Id, "cat", "/f.txt", "/two"); got != "f\ntwo\n" {
		t.Errorf("--squash image has %q", got)
	}

	id := mustID(e.buildOK(t, "--label", "from.flag=yes", "--label", "inside=flag", "--annotation", "org.example.note=hi",
		"--env", "FROMFLAG=flag-value", "--unsetenv", "REMOVE", ctx))
	info := e.imageInfo(t, id)
	if info.Labels["from.flag"] != "yes" || info.Labels["inside"] != "flag" {
		t.Errorf("--label: labels %v", info.Labels)
	}
	if a := e.workingInspect(t, "--type", "image", id).ImageAnnotations; a["org.example.note"] != "hi" {
		t.Errorf("--annotation: manifest annotations %v", a)
	}
	if !contains(info.Config.Env, "FROMFLAG=flag-value") || !contains(info.Config.Env, "KEEP=yes") || slices.ContainsFunc(info.Config.Env, func(s string) bool { return strings.HasPrefix(s, "REMOVE=") }) {
		t.Errorf("--env/--unsetenv: env %v", info.Config.Env)
	}
	if got := e.runOut(t, id, "cat", "/env"); got != "flag-value\n" {
		t.Errorf("RUN saw FROMFLAG=%q, want --env's value", got)
	}

	// --timestamp: two builds from scratch give the same image.
	a := e.imageInfo(t, mustID(e.buildOK(t, "--no-cache", "--timestamp", "0", ctx)))
	b := e.imageInfo(t, mustID(e.buildOK(t, "--no-cache", "--timestamp", "0", ctx)))
	if a.Id != b.Id || a.Digest != b.Digest {
		t.Errorf("--timestamp 0 twice: %s %s and %s %s", a.Id, a.Digest, b.Id, b.Digest)
	}
	if !strings.HasPrefix(a.Created, "1970-01-01T00:00:00") {
		t.Errorf("--timestamp 0: created %s", a.Created)
	}
	for _, h := range a.History[len(base.History):] {
		if !strings.HasPrefix(h.Created, "1970-01-01T00:00:00") {
			t.Errorf("--timestamp 0: history entry %q created %s", h.CreatedBy, h.Created)
		}
	}

	// --platform: the native one builds, another is refused.
	native := "linux/" + runtime.GOARCH
	if got := e.imageInfo(t, mustID(e.buildOK(t, "--platform", native, ctx))).Architecture; got != runtime.GOARCH {
		t.Errorf("--platform %s built for %s", native, got)
	}
	res := e.build(t, "--platform", "linux/s390x", ctx)
	if res.Code == 0 {
		t.Error("--platform linux/s390x built")
	}
	assertOneLine(t, res.Stderr, "linux/s390x")

	// --from replaces the first stage's base; --pull never refuses a
	// missing image.
	ctx2 := buildContext(t, map[string]string{"Containerfile": "FROM localhost/missing:1\nRUN echo from-flag > /base\n"})
	res = e.build(t, "--pull", "never", ctx2)
	if res.Code == 0 {
		t.Fatal("--pull never built from a missing image")
	}
	assertOneLine(t, res.Stderr, "localhost/missing:1")
	id = mustID(e.buildOK(t, "--pull", "never", "--from", "localhost/bb", ctx2))
	if got := e.runOut(t, id, "cat", "/base"); got != "from-flag\n" {
		t.Errorf("--from build has %q", got)
	}
}

func mustID(id string, _ bin.Result) string { return id }

// TestBuilderBuildRunOptions: --network none, --secret, -v, --cap-add and
// --cap-drop, --jobs, --ignorefile.
func TestBuilderBuildRunOptions(t *testing.T) {
	e := wbuilderStore(t)
	shared := t.TempDir()
	if err := os.WriteFile(filepath.Join(shared, "host.txt"), []byte("from the host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	secretFile := writeFile(t, "secret", "file-secret")
	ctx := buildContext(t, map[string]string{
		"Containerfile": `FROM localhost/bb
RUN mkdir /out && tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' > /out/ifaces && ip link | grep -c '^[0-9]' > /out/links
RUN grep CapEff /proc/self/status | cut -f2 > /out/capeff
RUN --mount=type=secret,id=file cat /run/secrets/file > /out/s1
RUN --mount=type=secret,id=var,env=VAR_SECRET echo "$VAR_SECRET" > /out/s2
RUN cat /hostdir/host.txt > /out/host && echo written > /hostdir/written
`,
	})
	t.Setenv("BUILD_SECRET_VAR", "env-secret")
	id := mustID(e.buildOK(t, "--network", "none", "--cap-drop", "CAP_CHOWN", "--cap-add", "CAP_SYS_ADMIN",
		"--secret", "id=file,src="+secretFile, "--secret", "id=var,env=BUILD_SECRET_VAR", "-v", shared+":/hostdir", ctx))
	out := func(name string) string {
		t.Helper()
		return e.runOut(t, id, "cat", "/out/"+name)
	}
	if got := out("ifaces"); got != "lo\n" {
		t.Errorf("--network none: RUN saw interfaces %q", got)
	}
	if got := strings.TrimSpace(out("links")); got != "1" {
		t.Errorf("--network none: ip link lists %s links", got)
	}
	capEff := func(s string) uint64 {
		v, err := strconv.ParseUint(strings.TrimSpace(s), 16, 64)
		if err != nil {
			t.Fatalf("CapEff %q: %v", s, err)
		}
		return v
	}
	const capChown, capSysAdmin = 1 << 0, 1 << 21
	if c := capEff(out("capeff")); c&capChown != 0 || c&capSysAdmin == 0 {
		t.Errorf("--cap-drop CAP_CHOWN --cap-add CAP_SYS_ADMIN: CapEff %x", c)
	}
	if got := out("s1"); got != "file-secret" {
		t.Errorf("--secret src=: %q", got)
	}
	if got := out("s2"); got != "env-secret\n" {
		t.Errorf("--secret env=: %q", got)
	}
	if got := out("host"); got != "from the host\n" {
		t.Errorf("-v: RUN read %q", got)
	}
	if b, err := os.ReadFile(filepath.Join(shared, "written")); err != nil || string(b) != "written\n" {
		t.Errorf("-v: RUN's write on the host: %q %v", b, err)
	}
	if l := e.imageListing(t, id, []string{"/hostdir", "/run/secrets"}); len(l) != 0 {
		t.Errorf("the image keeps build-time mounts: %v", l)
	}
	info := e.imageInfo(t, id)
	for _, h := range info.History {
		if strings.Contains(h.CreatedBy, "file-secret") || strings.Contains(h.CreatedBy, "env-secret") {
			t.Errorf("a secret is in the history: %q", h.CreatedBy)
		}
	}
	// The defaults: the host's network, CAP_CHOWN and no CAP_SYS_ADMIN.
	def := mustID(e.buildOK(t, "--secret", "id=file,src="+secretFile, "--secret", "id=var,env=BUILD_SECRET_VAR", "-v", shared+":/hostdir", ctx))
	if got := e.runOut(t, def, "cat", "/out/ifaces"); got == "lo\n" {
		t.Errorf("the default network shows only lo")
	}
	if c := capEff(e.runOut(t, def, "cat", "/out/capeff")); c&capChown == 0 || c&capSysAdmin != 0 {
		t.Errorf("default CapEff %x", c)
	}

	// --jobs 2: two stages run at once (each waits for the other's
	// marker on a shared volume); the last copies from both.
	sync := t.TempDir()
	wait := func(me, other string) string {
		return fmt.Sprintf(`RUN touch /sync/%s && for i in $(seq 200); do [ -e /sync/%s ] && break; sleep 0.1; done && test -e /sync/%s && mkdir /out && echo %s > /out/%s`, me, other, other, me, me)
	}
	ctx2 := buildContext(t, map[string]string{"Containerfile": `FROM localhost/bb AS left
` + wait("left", "right") + `
FROM localhost/bb AS right
` + wait("right", "left") + `
FROM localhost/bb
COPY --from=left /out/ /both/
COPY --from=right /out/ /both/
`})
	start := time.Now()
	id = mustID(e.buildOK(t, "--jobs", "2", "-v", sync+":/sync", ctx2))
	if got := e.runOut(t, id, "cat", "/both/left", "/both/right"); got != "left\nright\n" {
		t.Errorf("--jobs 2: final stage has %q", got)
	}
	if d := time.Since(start); d > 18*time.Second {
		t.Errorf("--jobs 2 took %v: the stages did not run at once", d)
	}

	// --ignorefile replaces .containerignore/.dockerignore.
	ctx3 := buildContext(t, map[string]string{
		"Containerfile": "FROM localhost/bb\nCOPY . /app/\n",
		".dockerignore": "a.txt\n",
		"a.txt":         "a\n", "b.txt": "b\n",
	})
	custom := writeFile(t, "custom.ignore", "b.txt\nContainerfile\n.dockerignore\n")
	id = mustID(e.buildOK(t, "--ignorefile", custom, ctx3))
	if got := e.runOut(t, id, "ls", "-A", "/app"); got != "a.txt\n" {
		t.Errorf("--ignorefile: /app has %q", got)
	}
	id = mustID(e.buildOK(t, ctx3))
	if got := e.runOut(t, id, "ls", "-A", "/app"); got != ".dockerignore\nContainerfile\nb.txt\n" {
		t.Errorf(".dockerignore: /app has %q", got)
	}
}

// leftovers fails the test if the store has working containers, mounts,
// runc containers, or images other than those in allowed (IDs or
// prefixes) beyond before.
func (e *engineStore) leftovers(t *testing.T, what string, before []string, allowed []string) {
	t.Helper()
	if out := strings.TrimSpace(e.wbuilderMust(t, "containers", "-a", "-q").Stdout); out != "" {
		t.Errorf("%s: containers left: %s", what, out)
	}
	mounts, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(mounts), "\n") {
		if strings.Contains(l, e.root) {
			t.Errorf("%s: mount left: %s", what, l)
		}
	}
	runcRoot := filepath.Join(e.runroot, "builder", "runc")
	if out, err := exec.Command("runc", "--root", runcRoot, "list", "-q").CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != "" {
		t.Errorf("%s: runc list: %s %v", what, out, err)
	}
	for _, id := range strings.Fields(e.must(t, "images", "-a", "-q", "--no-trunc").Stdout) {
		id = strings.TrimPrefix(id, "sha256:")
		if contains(before, id) {
			continue
		}
		if !slices.ContainsFunc(allowed, func(a string) bool { return strings.HasPrefix(id, a) }) {
			t.Errorf("%s: image %s left (cache images allowed: %v)", what, id, allowed)
		}
	}
}

func (e *engineStore) imageIDs(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, id := range strings.Fields(e.must(t, "images", "-a", "-q", "--no-trunc").Stdout) {
		out = append(out, strings.TrimPrefix(id, "sha256:"))
	}
	return out
}

// stepImages are the short IDs a build's output reported for steps.
func stepImages(out string) []string {
	var ids []string
	for _, m := range regexp.MustCompile(`(?m)^--> (?:Using cache )?([0-9a-f]{12,64})$`).FindAllStringSubmatch(out, -1) {
		ids = append(ids, m[1])
	}
	return ids
}

// TestBuilderBuildFailures: a syntax error names file and line; a
// missing or outside COPY source is named; a failed RUN shows its output
// and status; none leaves a container, mount or image behind (but the
// cache images of the steps that completed).
func TestBuilderBuildFailures(t *testing.T) {
	e := wbuilderStore(t)
	srv := corpusServer(t)
	cases := []struct {
		name, containerfile string
		wants               []string // in the error line
		output              string   // in stdout
	}{
		{"syntax error", "FROM localhost/bb\nRUN true\nFROBNICATE now\n", []string{"Containerfile:3", "FROBNICATE"}, ""},
		{"bad flag", "FROM localhost/bb\n\nCOPY --chmod a.txt /x\n", []string{"Containerfile:3", "chmod"}, ""},
		{"unterminated heredoc", "FROM localhost/bb\nRUN true\nRUN <<EOF\necho never\n", []string{"Containerfile:"}, ""},
		{"missing COPY source", "FROM localhost/bb\nRUN echo ok\nCOPY missing.txt /x\n", []string{"Containerfile:3", "missing.txt"}, ""},
		{"COPY source outside the context", "FROM localhost/bb\nCOPY ../outside.txt /x\n", []string{"Containerfile:2", "../outside.txt", "outside"}, ""},
		{"COPY glob matching nothing", "FROM localhost/bb\nCOPY *.nothing /x/\n", []string{"Containerfile:2", "*.nothing"}, ""},
		{"ADD --checksum mismatch", "FROM localhost/bb\nADD --checksum=sha256:" + strings.Repeat("0", 64) + " " + srv.URL + "/files/remote.txt /r\n",
			[]string{"Containerfile:2", "checksum"}, ""},
		{"ADD of a missing URL", "FROM localhost/bb\nADD " + srv.URL + "/files/nothing.txt /r\n", []string{"Containerfile:2", "404"}, ""},
		{"failed RUN", "FROM localhost/bb\nRUN echo ok > /ok\nRUN echo boom; exit 7\nRUN echo never\n", []string{"Containerfile:3", "status 7"}, "boom"},
		{"missing base image", "FROM localhost/bb\nRUN echo ok\nFROM localhost/nothing:here\n", []string{"localhost/nothing:here"}, ""},
		{"failed RUN in a stage", "FROM localhost/bb AS a\nRUN echo in-a; exit 3\nFROM localhost/bb\nCOPY --from=a / /a\n", []string{"Containerfile:2", "status 3"}, "in-a"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := buildContext(t, map[string]string{"Containerfile": c.containerfile, "a.txt": "a\n"})
			before := e.imageIDs(t)
			res := e.build(t, "--pull", "never", "-t", "failed", ctx)
			if res.Code == 0 {
				t.Fatalf("build succeeded:\n%s", res.Stdout)
			}
			assertOneLine(t, res.Stderr, c.wants...)
			if !strings.Contains(res.Stdout, c.output) {
				t.Errorf("output lacks %q:\n%s", c.output, res.Stdout)
			}
			e.leftovers(t, c.name, before, stepImages(res.Stdout))
			if r := e.run(t, "image", "exists", "failed"); r.Code == 0 {
				t.Error("the failed build's tag exists")
			}
		})
	}
	// A stage failing while another runs (--jobs 2): the other is
	// stopped, the error is the failed step's.
	// The failing RUN waits until the slow one runs (a marker on a
	// shared volume), so that it is running when the build fails.
	ctx := buildContext(t, map[string]string{"Containerfile": `FROM localhost/bb AS slow
RUN touch /sync/slow; echo slow-started; sleep 30
FROM localhost/bb AS fails
RUN for i in $(seq 300); do [ -e /sync/slow ] && break; sleep 0.1; done; echo failing; exit 4
FROM localhost/bb
COPY --from=slow /etc/passwd /s
COPY --from=fails /etc/passwd /f
`})
	before := e.imageIDs(t)
	start := time.Now()
	res := e.build(t, "--jobs", "2", "-v", t.TempDir()+":/sync", ctx)
	if res.Code == 0 || !strings.Contains(res.Stdout, "slow-started") {
		t.Fatalf("--jobs 2 with a failing stage: exit %d:\n%s", res.Code, res.Stdout)
	}
	assertOneLine(t, res.Stderr, "Containerfile:4", "status 4")
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("the failed --jobs 2 build took %v: the other stage was not stopped", d)
	}
	e.leftovers(t, "--jobs 2", before, stepImages(res.Stdout))

	// Without --layers nothing is left either.
	ctx = buildContext(t, map[string]string{"Containerfile": "FROM localhost/bb AS a\nRUN echo ok\nFROM a\nRUN echo boom; exit 9\n"})
	before = e.imageIDs(t)
	res = e.build(t, "--layers=false", ctx)
	if res.Code == 0 || !strings.Contains(res.Stderr, "status 9") {
		t.Fatalf("--layers=false failing build: exit %d: %s", res.Code, res.Stderr)
	}
	e.leftovers(t, "--layers=false", before, nil)
}

// TestBuilderBuildInterrupt: SIGINT during a RUN ends the build at once
// and leaves no container, mount or runc container.
func TestBuilderBuildInterrupt(t *testing.T) {
	e := wbuilderStore(t)
	ctx := buildContext(t, map[string]string{"Containerfile": "FROM localhost/bb\nRUN echo ok > /ok\nRUN echo sleeping; sleep 30\n"})
	before := e.imageIDs(t)
	cmd := bin.Cmd(t, "builder", e.args([]string{"build", "-t", "interrupted", ctx})...)
	cmd.Env = append(os.Environ(), e.env...)
	var stderr bytes.Buffer
	stdout := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	// The RUN's own output (not the STEP line) says the command started.
	for !strings.Contains(stdout.String(), "\nsleeping\n") {
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatalf("the RUN did not start:\n%s%s", stdout.String(), stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err == nil {
			t.Errorf("the interrupted build succeeded")
		}
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("builder still running 10s after SIGINT")
	}
	t.Logf("builder exited %v after SIGINT: %s", time.Since(start), strings.TrimSpace(stderr.String()))
	if !strings.Contains(stderr.String(), "interrupted") {
		t.Errorf("stderr does not say the build was interrupted: %s", stderr.String())
	}
	e.leftovers(t, "SIGINT", before, stepImages(stdout.String()))
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader goroutine.
type syncBuffer struct {
	mu  chan struct{}
	buf bytes.Buffer
}

func (b *syncBuffer) lock() {
	if b.mu == nil {
		b.mu = make(chan struct{}, 1)
	}
	b.mu <- struct{}{}
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.lock()
	defer func() { <-b.mu }()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.lock()
	defer func() { <-b.mu }()
	return b.buf.String()
}

// TestBuilderBuildImages: the image's history, configuration and layers
// are as buildah writes them; it runs under engine run unchanged and
// transport copy writes it to an OCI layout and pushes it to a registry.
func TestBuilderBuildImages(t *testing.T) {
	e := wbuilderStore(t)
	ctx := buildContext(t, map[string]string{
		"Containerfile": `FROM localhost/bb
ARG GREETING=hello
ENV APP=/app
WORKDIR $APP
COPY greet.sh bin/
RUN chmod 755 bin/greet.sh && echo "$GREETING" > greeting && echo app:x:1500:1500::/app:/bin/sh >> /etc/passwd
USER app
EXPOSE 8080
ENTRYPOINT ["/app/bin/greet.sh"]
CMD ["world"]
`,
		"greet.sh": "#!/bin/sh\necho \"$(cat /app/greeting) $1 from $(id -un) in $(pwd)\"\n",
	})
	id := mustID(e.buildOK(t, "-t", "greeter:1", ctx))
	if got := e.runOut(t, "greeter:1"); got != "hello world from app in /app\n" {
		t.Errorf("engine run greeter:1 printed %q", got)
	}
	if got := e.runOut(t, "greeter:1", "you"); got != "hello you from app in /app\n" {
		t.Errorf("engine run greeter:1 you printed %q", got)
	}

	info := e.imageInfo(t, id)
	base := e.imageInfo(t, "localhost/bb")
	wantHistory := []struct {
		createdBy string
		empty     bool
	}{
		{"/bin/sh -c #(nop) ARG GREETING=hello", true},
		{"/bin/sh -c #(nop) ENV APP=/app", true},
		{"/bin/sh -c #(nop) WORKDIR /app", true},
		{"/bin/sh -c #(nop) COPY file:", false},
		{"|1 GREETING=hello /bin/sh -c chmod 755 bin/greet.sh && echo \"$GREETING\" > greeting && echo app:x:1500:1500::/app:/bin/sh >> /etc/passwd", false},
		{"/bin/sh -c #(nop) USER app", true},
		{"/bin/sh -c #(nop) EXPOSE 8080/tcp", true},
		{`/bin/sh -c #(nop) ENTRYPOINT ["/app/bin/greet.sh"]`, true},
		{`/bin/sh -c #(nop) CMD ["world"]`, true},
	}
	hist := info.History[len(base.History):]
	if len(hist) != len(wantHistory) {
		t.Fatalf("history %+v: want %d entries after the base's", hist, len(wantHistory))
	}
	for i, w := range wantHistory {
		h := hist[i]
		if h.EmptyLayer != w.empty || !strings.HasPrefix(h.CreatedBy, w.createdBy) {
			t.Errorf("history entry %d: %q (empty layer %v), want %q (%v)", i, h.CreatedBy, h.EmptyLayer, w.createdBy, w.empty)
		}
	}
	if !regexp.MustCompile(`^/bin/sh -c #\(nop\) COPY file:[0-9a-f]{64} in bin/ $`).MatchString(hist[3].CreatedBy) {
		t.Errorf("COPY history entry %q is not COPY file:DIGEST in bin/", hist[3].CreatedBy)
	}
	nonEmpty := 0
	for _, h := range info.History {
		if !h.EmptyLayer {
			nonEmpty++
		}
	}
	if nonEmpty != len(info.RootFS.Layers) || len(info.RootFS.Layers) != len(base.RootFS.Layers)+2 {
		t.Errorf("%d layers, %d history entries with a layer: want the base's and one per COPY/RUN", len(info.RootFS.Layers), nonEmpty)
	}
	if c := info.Config; c.User != "app" || c.WorkingDir != "/app" || !contains(c.Env, "APP=/app") || contains(c.Env, "GREETING=hello") ||
		strings.Join(c.Entrypoint, " ") != "/app/bin/greet.sh" || strings.Join(c.Cmd, " ") != "world" {
		t.Errorf("config %+v", c)
	}

	// The layers: the COPY layer holds exactly what it copied.
	layout := filepath.Join(t.TempDir(), "layout")
	store := fmt.Sprintf("containers-storage:[overlay@%s+%s]", e.root, e.runroot)
	transport(t, "copy", "--quiet", store+"localhost/greeter:1", "oci:"+layout+":greeter")
	copyLayer := layerFiles(t, layout, "greeter", len(base.RootFS.Layers))
	if strings.Join(copyLayer, " ") != "app/ app/bin/ app/bin/greet.sh" {
		t.Errorf("the COPY layer holds %v, want app/, app/bin/ and app/bin/greet.sh", copyLayer)
	}

	// Pushed to a registry and pulled back into another store, it runs.
	reg := registry.Start(t, registry.Options{})
	transport(t, append(append([]string{"copy", "--quiet"}, reg.Flags("dest-")...), store+"localhost/greeter:1", reg.Ref("team/greeter:1"))...)
	_, mime, _ := getManifest(t, reg, "team/greeter", "1")
	if mime != "application/vnd.oci.image.manifest.v1+json" {
		t.Errorf("pushed manifest type %s", mime)
	}
	// A docker-format build is pushed as Docker v2s2.
	mustID(e.buildOK(t, "--format", "docker", "-t", "greeter:docker", ctx))
	transport(t, append(append([]string{"copy", "--quiet"}, reg.Flags("dest-")...), store+"localhost/greeter:docker", reg.Ref("team/greeter:docker"))...)
	if _, mime, _ := getManifest(t, reg, "team/greeter", "docker"); mime != "application/vnd.docker.distribution.manifest.v2+json" {
		t.Errorf("pushed --format docker manifest type %s", mime)
	}
	other := newEngineStore(t)
	other.must(t, "pull", "-q", "--tls-verify=false", reg.Addr+"/team/greeter:1")
	if got := other.runOut(t, reg.Addr+"/team/greeter:1", "again"); got != "hello again from app in /app\n" {
		t.Errorf("the pulled image printed %q", got)
	}
}

// layerFiles lists the entries of layer n of image tag in an OCI layout.
func layerFiles(t *testing.T, layout, tag string, n int) []string {
	t.Helper()
	blob := func(d string) []byte {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(layout, "blobs", strings.Replace(d, ":", "/", 1)))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	type desc struct {
		Digest      string
		Annotations map[string]string
	}
	var index struct{ Manifests []desc }
	b, err := os.ReadFile(filepath.Join(layout, "index.json"))
	if err != nil || json.Unmarshal(b, &index) != nil {
		t.Fatalf("reading %s/index.json: %v", layout, err)
	}
	i := slices.IndexFunc(index.Manifests, func(d desc) bool { return d.Annotations["org.opencontainers.image.ref.name"] == tag })
	if i < 0 {
		t.Fatalf("no %s in %s", tag, layout)
	}
	var m struct{ Layers []desc }
	if err := json.Unmarshal(blob(index.Manifests[i].Digest), &m); err != nil || n >= len(m.Layers) {
		t.Fatalf("manifest of %s: %v (%d layers)", tag, err, len(m.Layers))
	}
	var r io.Reader = bytes.NewReader(blob(m.Layers[n].Digest))
	if zr, err := gzip.NewReader(r); err == nil {
		r = zr
	} else {
		r = bytes.NewReader(blob(m.Layers[n].Digest))
	}
	var files []string
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("layer %d of %s: %v", n, tag, err)
		}
		files = append(files, h.Name)
	}
	slices.Sort(files)
	return files
}
