package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/ocisuite/suite/test/bin"
	"github.com/ocisuite/suite/test/fixture"
	"github.com/ocisuite/suite/test/registry"
)

// wbuilder runs bin/builder on the engine store e (the same root, runroot
// and environment as engine).
func (e *engineStore) wbuilder(t *testing.T, args ...string) bin.Result {
	t.Helper()
	return bin.Run(t, e.env, "builder", e.args(args)...)
}

// wbuilderMust is wbuilder failing the test on a non-zero exit.
func (e *engineStore) wbuilderMust(t *testing.T, args ...string) bin.Result {
	t.Helper()
	return bin.MustRun(t, e.env, "builder", e.args(args)...)
}

// wbuilderOut is the trimmed stdout of a successful builder command.
func (e *engineStore) wbuilderOut(t *testing.T, args ...string) string {
	t.Helper()
	return strings.TrimSpace(e.wbuilderMust(t, args...).Stdout)
}

// wbuilderStore is a store with the busybox fixture loaded as
// localhost/bb:latest.
func wbuilderStore(t *testing.T) *engineStore {
	t.Helper()
	e := newEngineStore(t)
	e.load(t, fixture.Busybox(t), "localhost/bb:latest")
	t.Cleanup(func() { e.wbuilder(t, "rm", "--all") })
	return e
}

// workingInspect is the part of builder inspect the tests read.
type workingInspect struct {
	FromImage, FromImageID, Container, ContainerID, MountPoint, Manifest, Format string
	ImageAnnotations                                                             map[string]string
	ImageCreatedBy                                                               string
	OCIv1                                                                        struct {
		Author       string `json:"author"`
		Architecture string `json:"architecture"`
		OS           string `json:"os"`
		Config       struct {
			User         string
			Env          []string
			Entrypoint   []string
			Cmd          []string
			WorkingDir   string
			Labels       map[string]string
			ExposedPorts map[string]struct{}
			Volumes      map[string]struct{}
			StopSignal   string
		} `json:"config"`
		RootFS struct {
			DiffIDs []string `json:"diff_ids"`
		} `json:"rootfs"`
		History []struct {
			CreatedBy  string `json:"created_by"`
			Comment    string `json:"comment"`
			EmptyLayer bool   `json:"empty_layer"`
		} `json:"history"`
	}
	Docker struct {
		Comment string `json:"comment"`
		Config  struct {
			Healthcheck *struct {
				Test     []string
				Interval int64
				Retries  int
			}
			OnBuild []string
			Shell   []string
		} `json:"config"`
	}
}

func (e *engineStore) workingInspect(t *testing.T, args ...string) workingInspect {
	t.Helper()
	var in workingInspect
	out := e.wbuilderMust(t, append([]string{"inspect"}, args...)...).Stdout
	if err := json.Unmarshal([]byte(out), &in); err != nil {
		t.Fatalf("builder inspect %v: %v\n%s", args, err, out)
	}
	return in
}

// TestBuilderWorkingSession: a buildah-style session from busybox — run,
// copy with --chown and a relative destination, config, commit — gives an
// image the engine runs with that configuration and file ownership; mount
// shows the root filesystem on the host; a used base image is not
// removed; rm removes the storage container.
func TestBuilderWorkingSession(t *testing.T) {
	e := wbuilderStore(t)
	if got := e.wbuilderOut(t, "from", "bb"); got != "bb-working-container" {
		t.Fatalf("from printed %q, want the default name bb-working-container", got)
	}
	if got := e.wbuilderOut(t, "from", "--name", "work", "bb"); got != "work" {
		t.Fatalf("from --name printed %q", got)
	}
	res := e.wbuilder(t, "from", "--name", "work", "bb")
	if res.Code != 125 {
		t.Fatalf("from with a taken name: exit %d", res.Code)
	}
	assertOneLine(t, res.Stderr, `"work"`, "already in use")
	e.wbuilderMust(t, "rm", "bb-working-container")

	res = e.wbuilderMust(t, "run", "work", "--", "sh", "-c",
		"echo hi > /hello; echo app:x:1234:1234::/home/app:/bin/sh >> /etc/passwd; echo app:x:1234: >> /etc/group; echo ran")
	if strings.TrimSpace(res.Stdout) != "ran" {
		t.Fatalf("run stdout %q", res.Stdout)
	}
	e.wbuilderMust(t, "config", "--workingdir", "/srv", "work")
	content := "hello from the host\n"
	src := writeFile(t, "greeting.txt", content)
	// DEST is relative to the working directory; --chown is a name from
	// the container's /etc/passwd.
	e.wbuilderMust(t, "copy", "--chown", "app", "--chmod", "640", "work", src, "data/")
	e.wbuilderMust(t, "config",
		"--cmd", `["cat", "/srv/data/greeting.txt"]`,
		"--env", "MODE=prod", "--env", "GREETING=hello $MODE",
		"--label", "org.example.tier=web",
		"--port", "8080",
		"--user", "app",
		"--healthcheck", "CMD-SHELL test -f /hello", "--healthcheck-interval", "15s", "--healthcheck-retries", "4",
		"work")
	in := e.workingInspect(t, "work")
	if in.Container != "work" || in.FromImage != "bb" || !fullID.MatchString(in.FromImageID) || !fullID.MatchString(in.ContainerID) {
		t.Fatalf("inspect: container %q from %q (%q), ID %q", in.Container, in.FromImage, in.FromImageID, in.ContainerID)
	}
	if c := in.OCIv1.Config; c.User != "app" || c.WorkingDir != "/srv" || !contains(c.Env, "GREETING=hello prod") {
		t.Fatalf("inspect config: user %q workdir %q env %v", c.User, c.WorkingDir, c.Env)
	}

	id := e.wbuilderOut(t, "commit", "work", "myapp:1")
	if !fullID.MatchString(id) {
		t.Fatalf("commit printed %q, want the image ID", id)
	}
	if got := strings.TrimSpace(e.must(t, "run", "--rm", "myapp:1").Stdout); got != strings.TrimSpace(content) {
		t.Fatalf("the image's default command printed %q", got)
	}
	if got := strings.TrimSpace(e.must(t, "run", "--rm", "myapp:1", "cat", "/hello").Stdout); got != "hi" {
		t.Fatalf("engine run cat /hello = %q", got)
	}
	got := strings.Fields(e.must(t, "run", "--rm", "myapp:1", "sh", "-c", "id -u; pwd; ls -ln data/greeting.txt").Stdout)
	if len(got) < 7 || got[0] != "1234" || got[1] != "/srv" || got[2] != "-rw-r-----" || got[4] != "1234" || got[5] != "1234" {
		t.Fatalf("user, working directory and copied file in the image: %v", got)
	}
	var img []struct {
		Config struct {
			User         string
			Env          []string
			Cmd          []string
			WorkingDir   string
			Labels       map[string]string
			ExposedPorts map[string]struct{}
		}
		History []struct {
			CreatedBy string `json:"created_by"`
		}
	}
	if err := json.Unmarshal([]byte(e.must(t, "image", "inspect", "myapp:1").Stdout), &img); err != nil || len(img) != 1 {
		t.Fatalf("engine image inspect: %v", err)
	}
	c := img[0].Config
	if c.User != "app" || c.WorkingDir != "/srv" || !contains(c.Env, "MODE=prod") || c.Labels["org.example.tier"] != "web" ||
		strings.Join(c.Cmd, " ") != "cat /srv/data/greeting.txt" {
		t.Fatalf("image config: %+v", c)
	}
	if _, ok := c.ExposedPorts["8080"]; !ok {
		t.Fatalf("image exposes %v, want 8080", c.ExposedPorts)
	}
	hist := img[0].History
	if len(hist) != 2 || hist[1].CreatedBy != "/bin/sh" {
		t.Fatalf("image history %+v: want the base's entry and commit's", hist)
	}
	hc := e.workingInspect(t, "--type", "image", "myapp:1").Docker.Config.Healthcheck
	if hc == nil || strings.Join(hc.Test, "|") != "CMD-SHELL|test -f /hello" || hc.Interval != 15e9 || hc.Retries != 4 {
		t.Fatalf("image healthcheck %+v", hc)
	}

	// mount: the root filesystem on the host, listed until umount.
	mp := e.wbuilderOut(t, "mount", "work")
	if b, err := os.ReadFile(filepath.Join(mp, "srv/data/greeting.txt")); err != nil || string(b) != content {
		t.Fatalf("mount point %s: %q %v", mp, b, err)
	}
	if list := e.wbuilderOut(t, "mount"); list != "work "+mp {
		t.Fatalf("mount list %q, want %q", list, "work "+mp)
	}
	ctrID := in.ContainerID
	if got := e.wbuilderOut(t, "umount", "work"); got != ctrID {
		t.Fatalf("umount printed %q, want the container ID", got)
	}
	if list := e.wbuilderOut(t, "mount"); list != "" {
		t.Fatalf("mount list after umount: %q", list)
	}
	if _, err := os.Stat(filepath.Join(mp, "srv")); err == nil {
		t.Fatal("the root filesystem is still mounted after umount")
	}

	// containers: buildah's columns, JSON, templates.
	table := e.wbuilderMust(t, "containers").Stdout
	row := regexp.MustCompile(`(?m)^` + ctrID[:12] + `\s+\*\s+` + in.FromImageID[:12] + `\s+bb\s+work$`)
	if !strings.HasPrefix(table, "CONTAINER ID  BUILDER  IMAGE ID     IMAGE NAME") || !row.MatchString(table) {
		t.Fatalf("containers:\n%s", table)
	}
	if got := e.wbuilderOut(t, "containers", "--format", "{{.ContainerName}}:{{.ImageName}}"); got != "work:bb" {
		t.Fatalf("containers --format: %q", got)
	}
	if got := e.wbuilderOut(t, "containers", "-q", "--notruncate"); got != ctrID {
		t.Fatalf("containers -q --notruncate: %q", got)
	}

	// The base image is used by the working container.
	res = e.wbuilder(t, "rmi", "bb")
	if res.Code != 125 {
		t.Fatalf("rmi of an image a working container uses: exit %d", res.Code)
	}
	assertOneLine(t, res.Stderr, "in use")
	if !contains(e.names(t), "localhost/bb:latest") {
		t.Fatal("the refused rmi removed the image")
	}

	if got := e.wbuilderOut(t, "rm", "work"); got != ctrID {
		t.Fatalf("rm printed %q, want the container ID", got)
	}
	if got := e.wbuilderOut(t, "containers", "--all", "--json"); got != "[]" {
		t.Fatalf("containers --all after rm: %s", got)
	}
	res = e.wbuilder(t, "run", "work", "true")
	if res.Code != 125 {
		t.Fatalf("run in a removed container: exit %d", res.Code)
	}
	assertOneLine(t, res.Stderr, "work", "no such working container")

	if got := e.wbuilderOut(t, "rmi", "myapp:1"); got != "untagged: localhost/myapp:1\n"+id {
		t.Fatalf("rmi printed %q", got)
	}
	if contains(e.names(t), "localhost/myapp:1") {
		t.Fatal("rmi left the image")
	}
}

// TestBuilderWorkingRun: run passes the command's exit code through, and
// its --env, --user, --workingdir and --volume options apply to that
// command only; rmi --force takes the working container with the image.
func TestBuilderWorkingRun(t *testing.T) {
	e := wbuilderStore(t)
	ctr := e.wbuilderOut(t, "from", "bb")
	res := e.wbuilder(t, "run", ctr, "--", "sh", "-c", "echo out; echo err >&2; exit 3")
	if res.Code != 3 || res.Stdout != "out\n" || !strings.Contains(res.Stderr, "err") || strings.Contains(res.Stderr, "builder:") {
		t.Fatalf("run exit 3: code %d stdout %q stderr %q", res.Code, res.Stdout, res.Stderr)
	}
	// Without "--", the command's own flags are not the builder's.
	if got := e.wbuilderOut(t, "run", ctr, "ls", "-d", "/tmp"); got != "/tmp" {
		t.Fatalf("run without --: %q", got)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "in"), []byte("host data"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := e.wbuilderOut(t, "run", "-e", "FOO=bar", "--user", "65534", "--workingdir", "/var/w", "-v", dir+":/mnt/host:ro", ctr,
		"--", "sh", "-c", `echo "$FOO $(id -u) $(pwd) $(cat /mnt/host/in)"; touch /mnt/host/x 2>/dev/null && echo writable || true`)
	if out != "bar 65534 /var/w host data" {
		t.Fatalf("run with options printed %q", out)
	}
	// None of it stays: not the variable, not the user.
	if out := e.wbuilderOut(t, "run", ctr, "--", "sh", "-c", `echo "[$FOO] $(id -u)"`); out != "[] 0" {
		t.Fatalf("a later run printed %q", out)
	}
	if res := e.wbuilder(t, "run", ctr); res.Code != 125 {
		t.Fatalf("run without a command: exit %d", res.Code)
	}
	if res := e.wbuilder(t, "run", "--network", "bridge", ctr, "true"); res.Code != 125 {
		t.Fatalf("run --network bridge: exit %d", res.Code)
	}
	// --add-history records the command.
	e.wbuilderMust(t, "run", "--add-history", ctr, "--", "touch", "/made")
	h := e.workingInspect(t, ctr).OCIv1.History
	if last := h[len(h)-1]; last.CreatedBy != "/bin/sh -c touch /made" || !last.EmptyLayer {
		t.Fatalf("history after run --add-history: %+v", h)
	}
	// rmi --force removes the base image with its working containers.
	e.wbuilderMust(t, "mount", ctr)
	e.wbuilderMust(t, "rmi", "--force", "bb")
	if got := e.wbuilderOut(t, "containers", "--all", "-q"); got != "" || contains(e.names(t), "localhost/bb:latest") {
		t.Fatalf("rmi --force left containers %q, images %v", got, e.names(t))
	}
}

// TestBuilderWorkingScratch: an image from scratch has exactly the one
// layer commit wrote; --format docker writes a Docker manifest; --squash
// makes one layer of a busybox-based container.
func TestBuilderWorkingScratch(t *testing.T) {
	e := newEngineStore(t)
	t.Cleanup(func() { e.wbuilder(t, "rm", "--all") })
	ctr := e.wbuilderOut(t, "from", "scratch")
	if ctr != "scratch-working-container" {
		t.Fatalf("from scratch printed %q", ctr)
	}
	dir := t.TempDir()
	for name, data := range map[string]string{"a.txt": "A", "sub/b.txt": "B"} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	e.wbuilderMust(t, "copy", ctr, dir, "/files/")
	iid := filepath.Join(t.TempDir(), "iid")
	if out := e.wbuilderOut(t, "commit", "--format", "docker", "--iidfile", iid, "--rm", ctr, "scratchy"); out != "" {
		t.Fatalf("commit --iidfile printed %q, want nothing", out)
	}
	b, _ := os.ReadFile(iid)
	if !regexp.MustCompile(`^sha256:[0-9a-f]{64}$`).Match(b) {
		t.Fatalf("iidfile holds %q", b)
	}
	if got := e.wbuilderOut(t, "containers", "-q"); got != "" {
		t.Fatalf("commit --rm left %q", got)
	}
	in := e.workingInspect(t, "scratchy")
	if len(in.OCIv1.RootFS.DiffIDs) != 1 || len(in.OCIv1.History) != 1 || in.FromImageID != strings.TrimPrefix(string(b), "sha256:") {
		t.Fatalf("scratch image: layers %v history %+v id %s", in.OCIv1.RootFS.DiffIDs, in.OCIv1.History, in.FromImageID)
	}
	var man struct{ MediaType string }
	if err := json.Unmarshal([]byte(in.Manifest), &man); err != nil || man.MediaType != "application/vnd.docker.distribution.manifest.v2+json" || in.Format != "docker" {
		t.Fatalf("--format docker wrote manifest %s (%v)", in.Manifest, err)
	}
	// What the layer holds: the directory's contents under /files.
	ctr = e.wbuilderOut(t, "from", "scratchy")
	mp := e.wbuilderOut(t, "mount", ctr)
	if b, err := os.ReadFile(filepath.Join(mp, "files/sub/b.txt")); err != nil || string(b) != "B" {
		t.Fatalf("files/sub/b.txt of the image: %q %v", b, err)
	}
	e.wbuilderMust(t, "rm", ctr)

	e.load(t, fixture.Busybox(t), "localhost/bb:latest")
	ctr = e.wbuilderOut(t, "from", "bb")
	e.wbuilderMust(t, "run", ctr, "--", "sh", "-c", "echo squashed > /s")
	e.wbuilderMust(t, "commit", "--squash", ctr, "flat")
	in = e.workingInspect(t, "--type", "image", "flat")
	if len(in.OCIv1.RootFS.DiffIDs) != 1 {
		t.Fatalf("--squash: %d layers", len(in.OCIv1.RootFS.DiffIDs))
	}
	if got := strings.TrimSpace(e.must(t, "run", "--rm", "flat", "sh", "-c", "cat /s; ls /bin/busybox").Stdout); got != "squashed\n/bin/busybox" {
		t.Fatalf("the squashed image holds %q", got)
	}
}

// TestBuilderWorkingConfig: buildah's config forms — shell and JSON
// entrypoints, words for --cmd, KEY- removals, ports, volumes, the Docker
// extras — and what commit writes from --created-by, --history-comment
// and --annotation.
func TestBuilderWorkingConfig(t *testing.T) {
	e := newEngineStore(t)
	t.Cleanup(func() { e.wbuilder(t, "rm", "--all") })
	ctr := e.wbuilderOut(t, "from", "--name", "cfg", "scratch")
	e.wbuilderMust(t, "config", "--entrypoint", "exec /app --serve", "--cmd", `--level 'very high'`,
		"--env", "A=1", "--env", "B=2", "--label", "a=1", "--label", "b=2", "--port", "53/udp", "--port", "80", "--volume", "/data",
		"--stop-signal", "SIGINT", "--shell", `["/bin/bash", "-c"]`, "--onbuild", "RUN echo child", "--author", "Ann <ann@example.com>",
		"--created-by", "handmade", "--history-comment", "first", "--annotation", "org.example.note=yes", "--arch", "arm64", ctr)
	in := e.workingInspect(t, ctr)
	c := in.OCIv1.Config
	if strings.Join(c.Entrypoint, "|") != "/bin/sh|-c|exec /app --serve" || strings.Join(c.Cmd, "|") != "--level|very high" {
		t.Fatalf("entrypoint %q cmd %q", c.Entrypoint, c.Cmd)
	}
	_, udp := c.ExposedPorts["53/udp"]
	_, vol := c.Volumes["/data"]
	if !udp || len(c.ExposedPorts) != 2 || !vol || c.StopSignal != "SIGINT" || in.OCIv1.Author != "Ann <ann@example.com>" || in.OCIv1.Architecture != "arm64" {
		t.Fatalf("config: %+v author %q arch %q", c, in.OCIv1.Author, in.OCIv1.Architecture)
	}
	if d := in.Docker.Config; strings.Join(d.Shell, " ") != "/bin/bash -c" || len(d.OnBuild) != 1 || d.OnBuild[0] != "RUN echo child" {
		t.Fatalf("docker config: %+v", d)
	}
	if in.ImageAnnotations["org.example.note"] != "yes" || in.ImageCreatedBy != "handmade" {
		t.Fatalf("annotations %v created-by %q", in.ImageAnnotations, in.ImageCreatedBy)
	}

	e.wbuilderMust(t, "config", "--entrypoint", `["/app"]`, "--cmd", "", "--env", "A-", "--label", "b-", "--port", "80-", "--volume", "/data-", ctr)
	c = e.workingInspect(t, ctr).OCIv1.Config
	if strings.Join(c.Entrypoint, " ") != "/app" || c.Cmd != nil || strings.Join(c.Env, " ") != "B=2" || len(c.Labels) != 1 || len(c.ExposedPorts) != 1 || len(c.Volumes) != 0 {
		t.Fatalf("after removals: %+v", c)
	}
	for _, bad := range [][]string{{"--port", "http"}, {"--healthcheck-interval", "often"}, {"--entrypoint", "[not json"}, {"--cmd", `"unterminated`}} {
		res := e.wbuilder(t, append(append([]string{"config"}, bad...), ctr)...)
		if res.Code == 0 {
			t.Fatalf("config %v succeeded", bad)
		}
		assertOneLine(t, res.Stderr, bad[0])
	}
	if res := e.wbuilder(t, "config", ctr); res.Code != 125 {
		t.Fatalf("config without options: exit %d", res.Code)
	}

	e.wbuilderMust(t, "commit", ctr, "configured")
	img := e.workingInspect(t, "configured")
	h := img.OCIv1.History
	if len(h) != 1 || h[0].CreatedBy != "handmade" || h[0].Comment != "first" {
		t.Fatalf("commit history %+v", h)
	}
	if img.ImageAnnotations["org.example.note"] != "yes" {
		t.Fatalf("the manifest's annotations: %v (%s)", img.ImageAnnotations, img.Manifest)
	}
}

// TestBuilderWorkingCopyAdd: copy --from another container keeps owners,
// --contextdir honours .containerignore, add extracts a local archive and
// fetches a URL checked against --checksum; a missing source is one line.
func TestBuilderWorkingCopyAdd(t *testing.T) {
	e := wbuilderStore(t)
	src := e.wbuilderOut(t, "from", "--name", "src", "bb")
	e.wbuilderMust(t, "run", src, "--", "sh", "-c", "mkdir /out && echo built > /out/tool && chown -R 42:43 /out")
	dst := e.wbuilderOut(t, "from", "--name", "dst", "scratch")
	e.wbuilderMust(t, "copy", "--from", src, dst, "/out/tool", "/bin/tool")

	ctxDir := t.TempDir()
	for name, data := range map[string]string{"keep.txt": "k", "secret.key": "s", ".containerignore": "*.key\n"} {
		if err := os.WriteFile(filepath.Join(ctxDir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	e.wbuilderMust(t, "copy", "--contextdir", ctxDir, dst, ".", "/ctx/")

	var tgz bytes.Buffer
	gz := gzip.NewWriter(&tgz)
	tw := tar.NewWriter(gz)
	body := []byte("from the archive")
	_ = tw.WriteHeader(&tar.Header{Name: "pkg/readme", Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg})
	_, _ = tw.Write(body)
	tw.Close()
	gz.Close()
	archive := filepath.Join(t.TempDir(), "pkg.tar.gz")
	if err := os.WriteFile(archive, tgz.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	e.wbuilderMust(t, "add", dst, archive, "/opt/")
	e.wbuilderMust(t, "copy", dst, archive, "/archives/")

	payload := []byte("downloaded")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(payload) }))
	defer srv.Close()
	sum := fmt.Sprintf("sha256:%x", sha256.Sum256(payload))
	e.wbuilderMust(t, "add", "--checksum", sum, dst, srv.URL+"/files/dl.txt", "/dl/")
	res := e.wbuilder(t, "add", "--checksum", "sha256:"+strings.Repeat("0", 64), dst, srv.URL+"/files/bad.txt", "/dl/")
	if res.Code != 125 {
		t.Fatalf("add with a wrong checksum: exit %d", res.Code)
	}
	res = e.wbuilder(t, "copy", dst, filepath.Join(ctxDir, "nosuch"), "/x")
	if res.Code != 125 {
		t.Fatalf("copy of a missing file: exit %d", res.Code)
	}
	assertOneLine(t, res.Stderr, "nosuch")

	mp := e.wbuilderOut(t, "mount", dst)
	defer e.wbuilder(t, "umount", dst)
	check := func(p, want string, uid, gid uint32) {
		t.Helper()
		st, err := os.Lstat(filepath.Join(mp, p))
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		b, _ := os.ReadFile(filepath.Join(mp, p))
		if string(b) != want || fileOwner(st) != [2]uint32{uid, gid} {
			t.Fatalf("%s: %q owned by %v, want %q %d:%d", p, b, fileOwner(st), want, uid, gid)
		}
	}
	check("bin/tool", "built\n", 42, 43)
	check("ctx/keep.txt", "k", 0, 0)
	check("opt/pkg/readme", "from the archive", 0, 0)
	check("archives/pkg.tar.gz", tgz.String(), 0, 0)
	check("dl/dl.txt", "downloaded", 0, 0)
	for _, p := range []string{"ctx/secret.key", "dl/bad.txt"} {
		if _, err := os.Lstat(filepath.Join(mp, p)); err == nil {
			t.Fatalf("%s was copied", p)
		}
	}
}

// TestBuilderWorkingImages: images, tag, inspect of an image, push to a
// registry after login (and commit straight to it), logout, from with
// --creds; unshare runs
// a command with the store's paths and a mounted container.
func TestBuilderWorkingImages(t *testing.T) {
	e := wbuilderStore(t)
	reg := registry.Start(t, registry.Options{Flavour: registry.TLSAuth})
	authfile := filepath.Join(t.TempDir(), "auth.json")
	ctr := e.wbuilderOut(t, "from", "bb")
	e.wbuilderMust(t, "run", ctr, "--", "touch", "/pushed")
	id := e.wbuilderOut(t, "commit", "--format", "docker", ctr, "app")
	e.wbuilderMust(t, "tag", "app", "app:2", reg.Addr+"/team/app:1")
	out := e.wbuilderOut(t, "images", "--format", "{{.Name}}:{{.Tag}} {{.ID}}")
	for _, want := range []string{"localhost/app:latest " + id[:12], "localhost/app:2 " + id[:12], reg.Addr + "/team/app:1 " + id[:12]} {
		if !strings.Contains(out, want) {
			t.Fatalf("images does not list %q:\n%s", want, out)
		}
	}
	table := e.wbuilderMust(t, "images").Stdout
	if !regexp.MustCompile(`^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE\n`).MatchString(table) {
		t.Fatalf("images table:\n%s", table)
	}
	var js []struct {
		ID    string `json:"id"`
		Names []string
	}
	if err := json.Unmarshal([]byte(e.wbuilderMust(t, "images", "--json", "app").Stdout), &js); err != nil || len(js) != 1 || js[0].ID != id[:12] || len(js[0].Names) != 3 {
		t.Fatalf("images --json app: %+v %v", js, err)
	}
	if got := e.wbuilderOut(t, "images", "-q", "--no-trunc", "--filter", "reference=app"); got != "sha256:"+id {
		t.Fatalf("images -q --no-trunc: %q", got)
	}
	// Without --type, a name that is no working container is an image.
	if got := e.wbuilderOut(t, "inspect", "--format", "{{.FromImageID}} {{.Format}}", "app:2"); got != id+" docker" {
		t.Fatalf("inspect of an image: %q", got)
	}

	// push needs credentials: login stores them, logout removes them.
	dest := "docker://" + reg.Addr + "/team/app:1"
	if res := e.wbuilder(t, "push", "--cert-dir", reg.CertDir, "--authfile", authfile, "app", dest); res.Code != 125 {
		t.Fatalf("push without login: exit %d", res.Code)
	}
	res := e.wbuilderMust(t, "login", "--cert-dir", reg.CertDir, "--authfile", authfile, "-u", reg.Username, "-p", reg.Password, reg.Addr)
	if !strings.Contains(res.Stdout, "Login Succeeded!") {
		t.Fatalf("login: %s", res.Stdout)
	}
	digestFile := filepath.Join(t.TempDir(), "digest")
	e.wbuilderMust(t, "push", "-q", "--cert-dir", reg.CertDir, "--authfile", authfile, "--digestfile", digestFile, "app", dest)
	_, mime, served := getManifest(t, reg, "team/app", "1")
	d, _ := os.ReadFile(digestFile)
	if string(d) != served || mime != "application/vnd.docker.distribution.manifest.v2+json" {
		t.Fatalf("pushed %s %s, digest file %q", mime, served, d)
	}
	// Pushed where the name says, converted to OCI.
	e.wbuilderMust(t, "push", "-q", "--cert-dir", reg.CertDir, "--authfile", authfile, "--format", "oci", reg.Addr+"/team/app:1")
	if _, mime, _ := getManifest(t, reg, "team/app", "1"); mime != "application/vnd.oci.image.manifest.v1+json" {
		t.Fatalf("push --format oci wrote %s", mime)
	}
	// commit to a registry: nothing new is left in local storage.
	before := e.wbuilderOut(t, "images", "-q", "-a")
	e.wbuilderMust(t, "run", ctr, "--", "touch", "/direct")
	e.wbuilderMust(t, "commit", "-q", "--cert-dir", reg.CertDir, "--authfile", authfile, ctr, "docker://"+reg.Addr+"/team/direct:1")
	if _, mime, _ := getManifest(t, reg, "team/direct", "1"); mime == "" {
		t.Fatal("commit to docker:// wrote no manifest")
	}
	if after := e.wbuilderOut(t, "images", "-q", "-a"); after != before {
		t.Fatalf("commit to docker:// left local images: before %q after %q", before, after)
	}
	if res := e.wbuilderMust(t, "logout", "--authfile", authfile, reg.Addr); !strings.Contains(res.Stdout, "Removed login credentials") {
		t.Fatalf("logout: %s", res.Stdout)
	}
	if res := e.wbuilder(t, "push", "-q", "--cert-dir", reg.CertDir, "--authfile", authfile, "app", dest); res.Code != 125 {
		t.Fatalf("push after logout: exit %d", res.Code)
	}

	// from pulls with --creds; -q prints only the name.
	res = e.wbuilderMust(t, "from", "-q", "--pull=always", "--cert-dir", reg.CertDir, "--creds", reg.Username+":"+reg.Password, reg.Addr+"/team/direct:1")
	if name := strings.TrimSpace(res.Stdout); name != "direct-working-container" || res.Stderr != "" {
		t.Fatalf("from -q printed %q, stderr %q", res.Stdout, res.Stderr)
	}
	e.wbuilderMust(t, "run", "direct-working-container", "--", "ls", "/direct", "/pushed")

	// unshare: the store's paths and a mounted container for the command.
	out = e.wbuilderOut(t, "unshare", "--mount", "ROOT="+ctr, "sh", "-c", `echo "$CONTAINERS_GRAPHROOT"; ls "$ROOT"/direct`)
	if lines := strings.Split(out, "\n"); len(lines) != 2 || lines[0] != e.root || !strings.HasSuffix(lines[1], "/direct") {
		t.Fatalf("unshare printed %q", out)
	}
	if list := e.wbuilderOut(t, "mount"); list != "" {
		t.Fatalf("unshare left %q mounted", list)
	}
	if res := e.wbuilder(t, "unshare", "sh", "-c", "exit 7"); res.Code != 7 {
		t.Fatalf("unshare exit code %d, want 7", res.Code)
	}
}

// fileOwner is a file's uid and gid.
func fileOwner(fi os.FileInfo) [2]uint32 {
	st := fi.Sys().(*syscall.Stat_t)
	return [2]uint32{st.Uid, st.Gid}
}
