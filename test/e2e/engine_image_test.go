package e2e

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/containers/storage"
	storagetypes "github.com/containers/storage/types"

	"github.com/ocisuite/suite/test/bin"
	"github.com/ocisuite/suite/test/fixture"
	"github.com/ocisuite/suite/test/registry"
)

// engineStore is one test's own containers/storage (overlay on the
// test's temp dir) and the environment engine runs with.
type engineStore struct {
	root, runroot string
	env           []string
}

func newEngineStore(t *testing.T, env ...string) *engineStore {
	t.Helper()
	dir := t.TempDir()
	e := &engineStore{root: filepath.Join(dir, "root"), runroot: filepath.Join(dir, "runroot"), env: env}
	if len(env) == 0 {
		// No registries.conf of the host: nothing is searched (the
		// host's registries.conf.d aliases still apply, as in podman).
		_, e.env = registriesConf(t, "")
	}
	t.Cleanup(func() {
		// Layers may be left mounted by a failed command; unmount before
		// the temp dir is removed.
		_ = exec.Command("sh", "-c", "grep -o ' "+e.root+"[^ ]*' /proc/self/mounts | xargs -r -n1 umount -l").Run()
	})
	return e
}

func (e *engineStore) args(args []string) []string {
	return append([]string{"--root", e.root, "--runroot", e.runroot, "--storage-driver", "overlay"}, args...)
}

// run runs engine on this store.
func (e *engineStore) run(t *testing.T, args ...string) bin.Result {
	t.Helper()
	return bin.Run(t, e.env, "engine", e.args(args)...)
}

// must runs engine on this store and fails the test on a non-zero exit.
func (e *engineStore) must(t *testing.T, args ...string) bin.Result {
	t.Helper()
	return bin.MustRun(t, e.env, "engine", e.args(args)...)
}

// stdin runs engine with stdin.
func (e *engineStore) stdin(t *testing.T, in []byte, args ...string) bin.Result {
	t.Helper()
	cmd := bin.Cmd(t, "engine", e.args(args)...)
	cmd.Env = append(os.Environ(), e.env...)
	cmd.Stdin = bytes.NewReader(in)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := bin.Result{Stdout: stdout.String(), Stderr: stderr.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		res.Code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	t.Logf("$ engine %s < input  # exit %d", strings.Join(args, " "), res.Code)
	return res
}

// names lists REPOSITORY:TAG of every listed image.
func (e *engineStore) names(t *testing.T) []string {
	t.Helper()
	out := e.must(t, "images", "--format", "{{.Repository}}:{{.Tag}}").Stdout
	return strings.Fields(out)
}

// load loads a docker-archive of img named name and returns its ID.
func (e *engineStore) load(t *testing.T, img fixture.Image, name string) string {
	t.Helper()
	res := e.must(t, "load", "-i", fixture.DockerArchive(t, img, name))
	if !strings.Contains(res.Stdout, "Loaded image: "+name) {
		t.Fatalf("load printed %q, want Loaded image: %s", res.Stdout, name)
	}
	return e.id(t, name)
}

// id is the full ID of a local image.
func (e *engineStore) id(t *testing.T, name string) string {
	t.Helper()
	var data []struct{ Id string }
	if err := json.Unmarshal([]byte(e.must(t, "image", "inspect", name).Stdout), &data); err != nil || len(data) != 1 {
		t.Fatalf("image inspect %s: %v", name, err)
	}
	return data[0].Id
}

var fullID = regexp.MustCompile(`^[0-9a-f]{64}$`)

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestEngineImagePullShortName: a short name is pulled from the first
// unqualified-search-registry that has it, an alias is followed, the ID is
// printed last (-q: only the ID), and pull policies decide whether the
// registry is asked at all.
func TestEngineImagePullShortName(t *testing.T) {
	img := fixture.Busybox(t)
	empty := registry.Start(t, registry.Options{})
	reg := registry.Start(t, registry.Options{})
	fixture.Push(t, img, reg.Ref("sbox:latest"), reg.SystemContext())
	fixture.Push(t, img, reg.Ref("tools/bb:2"), reg.SystemContext())
	_, env := registriesConf(t, fmt.Sprintf(`
unqualified-search-registries = [%q, %q]
short-name-mode = "permissive"
[[registry]]
location = %q
insecure = true
[[registry]]
location = %q
insecure = true
[aliases]
"mybb" = "%s/tools/bb"
`, empty.Addr, reg.Addr, empty.Addr, reg.Addr, reg.Addr))
	e := newEngineStore(t, env...)

	res := e.must(t, "pull", "sbox")
	id := lastLine(res.Stdout)
	if !fullID.MatchString(id) {
		t.Fatalf("pull did not print the image ID last: %q", res.Stdout)
	}
	if !strings.Contains(res.Stderr, "Trying to pull "+empty.Addr+"/sbox:latest") || !strings.Contains(res.Stderr, "Trying to pull "+reg.Addr+"/sbox:latest") {
		t.Fatalf("pull did not try the search registries in order: %s", res.Stderr)
	}
	if got := e.names(t); !contains(got, reg.Addr+"/sbox:latest") {
		t.Fatalf("images = %v, want %s/sbox:latest", got, reg.Addr)
	}

	res = e.must(t, "pull", "-q", "mybb:2")
	if strings.TrimSpace(res.Stdout) != id || res.Stderr != "" {
		t.Fatalf("pull -q printed stdout %q stderr %q, want only the ID %s", res.Stdout, res.Stderr, id)
	}
	if got := e.names(t); !contains(got, reg.Addr+"/tools/bb:2") {
		t.Fatalf("the alias was not followed: images = %v", got)
	}

	// --policy missing and never do not ask the registry for a present image.
	before := manifestGets(reg, "sbox")
	e.must(t, "pull", "--policy", "missing", "sbox")
	e.must(t, "pull", "--policy", "never", "sbox")
	if n := manifestGets(reg, "sbox"); n != before {
		t.Fatalf("--policy missing/never asked the registry %d times", n-before)
	}
	// newer compares digests: the same image is not fetched again; a
	// changed one is.
	blobs := blobGets(reg, "sbox")
	e.must(t, "pull", "--policy", "newer", "sbox")
	if n := blobGets(reg, "sbox"); n != blobs {
		t.Fatalf("--policy newer fetched %d blobs of an unchanged image", n-blobs)
	}
	fixture.Push(t, fixture.MultiLayer(t, 1, 1024), reg.Ref("sbox:latest"), reg.SystemContext())
	if got := lastLine(e.must(t, "pull", "-q", "--policy", "newer", "sbox").Stdout); got == id {
		t.Fatal("--policy newer kept the old image after the registry's changed")
	}
	// never, for a missing image, fails.
	if res := e.run(t, "pull", "--policy", "never", "nosuch"); res.Code != 125 || !strings.Contains(res.Stderr, "image not known") {
		t.Fatalf("pull --policy never of a missing image: exit %d, %s", res.Code, res.Stderr)
	}
	if res := e.run(t, "pull", "--policy", "sometimes", "sbox"); res.Code != 125 {
		t.Fatalf("invalid --policy: exit %d", res.Code)
	}
	// A missing image: exit 125, one line, nothing stored.
	res = e.run(t, "pull", reg.Addr+"/nosuch:1")
	if res.Code != 125 || strings.Count(strings.TrimSpace(res.Stderr), "\n") > 0 && !strings.HasPrefix(lastLine(res.Stderr), "engine: ") {
		t.Fatalf("pull of a missing image: exit %d: %s", res.Code, res.Stderr)
	}
	if got := e.names(t); contains(got, reg.Addr+"/nosuch:1") {
		t.Fatal("a failed pull left an image")
	}
}

// TestEngineImagePullPlatformAllTags: --platform picks from an index,
// --all-tags pulls every tag, --tls-verify=false reaches a registry that
// registries.conf does not mark insecure, --creds and --cert-dir reach a
// TLS registry with authentication.
func TestEngineImagePullPlatformAllTags(t *testing.T) {
	reg := registry.Start(t, registry.Options{})
	fixture.Push(t, fixture.MultiArch(t), reg.Ref("multi:1"), reg.SystemContext())
	fixture.Push(t, fixture.Busybox(t), reg.Ref("tags:a"), reg.SystemContext())
	fixture.Push(t, fixture.MultiLayer(t, 2, 1024), reg.Ref("tags:b"), reg.SystemContext())
	e := newEngineStore(t)

	e.must(t, "pull", "--tls-verify=false", "--platform", "linux/arm64", reg.Addr+"/multi:1")
	var data []struct {
		Architecture string
		Os           string
	}
	if err := json.Unmarshal([]byte(e.must(t, "image", "inspect", reg.Addr+"/multi:1").Stdout), &data); err != nil || len(data) != 1 || data[0].Architecture != "arm64" {
		t.Fatalf("--platform linux/arm64 gave %+v (%v)", data, err)
	}
	res := e.must(t, "pull", "--tls-verify=false", "--all-tags", reg.Addr+"/tags")
	if ids := strings.Fields(res.Stdout); len(ids) != 2 {
		t.Fatalf("--all-tags printed %q, want two IDs", res.Stdout)
	}
	if got := e.names(t); !contains(got, reg.Addr+"/tags:a") || !contains(got, reg.Addr+"/tags:b") {
		t.Fatalf("--all-tags: images = %v", got)
	}
	if res := e.run(t, "pull", reg.Addr+"/tags:a"); res.Code != 125 {
		t.Fatalf("pull over HTTPS from a plain registry succeeded")
	}

	sec := registry.Start(t, registry.Options{Flavour: registry.TLSAuth})
	fixture.Push(t, fixture.Busybox(t), sec.Ref("private/bb:1"), sec.SystemContext())
	if res := e.run(t, "pull", "--cert-dir", sec.CertDir, sec.Addr+"/private/bb:1"); res.Code != 125 {
		t.Fatal("pull without credentials from an htpasswd registry succeeded")
	}
	e.must(t, "pull", "--cert-dir", sec.CertDir, "--creds", sec.Username+":"+sec.Password, sec.Addr+"/private/bb:1")
}

// TestEngineImagePullMirror: a pull from a registry with a mirror reads
// from the mirror (the registry logs prove it).
func TestEngineImagePullMirror(t *testing.T) {
	img := fixture.Busybox(t)
	primary := registry.Start(t, registry.Options{})
	mirror := registry.Start(t, registry.Options{})
	fixture.Push(t, img, primary.Ref("app/bb:1"), primary.SystemContext())
	fixture.Push(t, img, mirror.Ref("app/bb:1"), mirror.SystemContext())
	_, env := registriesConf(t, fmt.Sprintf(`
[[registry]]
location = %q
insecure = true
[[registry.mirror]]
location = %q
insecure = true
`, primary.Addr, mirror.Addr))
	e := newEngineStore(t, env...)
	e.must(t, "pull", primary.Addr+"/app/bb:1")
	if manifestGets(mirror, "app/bb") == 0 || blobGets(mirror, "app/bb") < 2 {
		t.Fatal("the mirror did not serve the pull")
	}
	if n := manifestGets(primary, "app/bb") + blobGets(primary, "app/bb"); n != 0 {
		t.Fatalf("the primary registry was read %d times, want 0", n)
	}
	if got := e.names(t); !contains(got, primary.Addr+"/app/bb:1") {
		t.Fatalf("images = %v, want the primary's name", got)
	}
}

// TestEngineImageList: the default table, -q, --no-trunc, --digests,
// -n, --format templates and json, --sort and every filter.
func TestEngineImageList(t *testing.T) {
	e := newEngineStore(t)
	bb := e.load(t, fixture.Busybox(t), "example.com/tools/busybox:1")
	ml := e.load(t, fixture.MultiLayer(t, 3, 2048), "example.com/data/multi:2")
	tarball := rootfsTar(t, map[string]string{"hello": "world"})
	imp := lastLine(e.must(t, "import", "-q", "--change", "LABEL team=blue", tarball, "labelled:1").Stdout)
	imp = strings.TrimPrefix(imp, "sha256:")

	res := e.must(t, "images")
	lines := strings.Split(strings.TrimSpace(res.Stdout), "\n")
	if len(lines) != 4 || !regexp.MustCompile(`^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE$`).MatchString(lines[0]) {
		t.Fatalf("images table:\n%s", res.Stdout)
	}
	// Newest first: the import is the newest.
	if !strings.HasPrefix(lines[1], "localhost/labelled ") || !strings.Contains(lines[1], imp[:12]) || !strings.Contains(lines[1], "ago") {
		t.Fatalf("first row %q, want the imported image with a 12-character ID and a relative time", lines[1])
	}
	if !regexp.MustCompile(`example\.com/tools/busybox\s+1\s+` + bb[:12] + `\s+.+ago\s+[0-9.]+ [kM]B`).MatchString(res.Stdout) {
		t.Fatalf("no busybox row:\n%s", res.Stdout)
	}
	if res := e.must(t, "images", "-n"); strings.Contains(res.Stdout, "REPOSITORY") || len(strings.Fields(res.Stdout)) == 0 {
		t.Fatalf("-n printed:\n%s", res.Stdout)
	}
	if got := strings.Fields(e.must(t, "images", "-q").Stdout); len(got) != 3 || !contains(got, bb[:12]) {
		t.Fatalf("-q printed %v", got)
	}
	if got := strings.Fields(e.must(t, "images", "-q", "--no-trunc").Stdout); !contains(got, "sha256:"+bb) {
		t.Fatalf("-q --no-trunc printed %v", got)
	}
	if res := e.must(t, "images", "--digests"); !strings.Contains(res.Stdout, "DIGEST") || !strings.Contains(res.Stdout, "sha256:") {
		t.Fatalf("--digests:\n%s", res.Stdout)
	}
	res = e.must(t, "images", "--format", "table {{.ID}} {{.Repository}}")
	if !strings.HasPrefix(res.Stdout, "IMAGE ID") || !strings.Contains(res.Stdout, bb[:12]+" ") {
		t.Fatalf("table template:\n%s", res.Stdout)
	}

	var js []struct {
		Id          string
		RepoTags    []string
		RepoDigests []string
		Size        int64
		Labels      map[string]string
		Created     int64
		Dangling    bool
	}
	if err := json.Unmarshal([]byte(e.must(t, "images", "--format", "json").Stdout), &js); err != nil || len(js) != 3 {
		t.Fatalf("--format json: %v (%d images)", err, len(js))
	}
	for _, j := range js {
		if j.Id == bb && (!contains(j.RepoTags, "example.com/tools/busybox:1") || j.Size <= 0 || len(j.RepoDigests) == 0) {
			t.Fatalf("json for busybox: %+v", j)
		}
		if j.Id == imp && j.Labels["team"] != "blue" {
			t.Fatalf("json labels of the import: %+v", j)
		}
	}

	filter := func(want []string, args ...string) {
		t.Helper()
		got := strings.Fields(e.must(t, append([]string{"images", "--format", "{{.Repository}}"}, args...)...).Stdout)
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Fatalf("images %v = %v, want %v", args, got, want)
		}
	}
	filter([]string{"example.com/tools/busybox"}, "--filter", "reference=busybox")
	filter([]string{"example.com/tools/busybox"}, "--filter", "reference=example.com/tools/*:1")
	filter([]string{"example.com/data/multi"}, "--filter", "reference=*/multi")
	filter([]string{"example.com/tools/busybox"}, "example.com/tools/busybox")
	filter([]string{"example.com/data/multi"}, "--filter", "id="+ml[:8])
	filter([]string{"localhost/labelled"}, "--filter", "label=team=blue")
	filter([]string{"localhost/labelled"}, "--filter", "label=team")
	filter(nil, "--filter", "label=team=red")
	filter(nil, "--filter", "dangling=true")
	filter([]string{"localhost/labelled"}, "--filter", "since="+bb[:12])
	filter([]string{"localhost/labelled"}, "--filter", "dangling=false", "--filter", "reference=labelled")
	filter([]string{"example.com/data/multi", "example.com/tools/busybox", "localhost/labelled"}, "--sort", "repository")
	filter([]string{"localhost/labelled", "example.com/tools/busybox", "example.com/data/multi"}, "--sort", "created")
	// The fixtures are older than the import.
	before := strings.Fields(e.must(t, "images", "--format", "{{.Repository}}", "--filter", "before=labelled:1").Stdout)
	if len(before) != 2 || contains(before, "localhost/labelled") {
		t.Fatalf("before=labelled: %v", before)
	}
	sizes := strings.Fields(e.must(t, "images", "--format", "{{.ID}}", "--sort", "size").Stdout)
	if len(sizes) != 3 || sizes[0] != imp[:12] {
		t.Fatalf("--sort size: %v, want the small import first", sizes)
	}
	if res := e.run(t, "images", "--filter", "colour=red"); res.Code != 125 {
		t.Fatalf("invalid filter: exit %d", res.Code)
	}
	if res := e.run(t, "images", "--sort", "colour"); res.Code != 125 {
		t.Fatalf("invalid --sort: exit %d", res.Code)
	}
	// image ls and image list are images.
	if res := e.must(t, "image", "list", "-q"); len(strings.Fields(res.Stdout)) != 3 {
		t.Fatalf("image list -q: %q", res.Stdout)
	}
	if res := e.must(t, "image", "ls", "--noheading"); len(strings.Split(strings.TrimSpace(res.Stdout), "\n")) != 3 {
		t.Fatalf("image ls --noheading:\n%s", res.Stdout)
	}
}

// rootfsTar writes a tar of files and returns its path.
func rootfsTar(t *testing.T, files map[string]string) string {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for name, content := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(content)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "rootfs.tar")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// createContainer makes a containers/storage container on image id, as
// the container commands do, so that the image is in use.
func (e *engineStore) createContainer(t *testing.T, id string) string {
	t.Helper()
	s, err := storage.GetStore(storagetypes.StoreOptions{GraphRoot: e.root, RunRoot: e.runroot, GraphDriverName: "overlay"})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _, _ = s.Shutdown(true) }()
	c, err := s.CreateContainer("", nil, id, "", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	return c.ID
}

// TestEngineImageTagUntagRmi: tag and untag names, rmi of one name of
// several only untags, rmi removes the last name and the image, and
// podman's exit codes: 1 not found, 2 in use (unless --force).
func TestEngineImageTagUntagRmi(t *testing.T) {
	e := newEngineStore(t)
	id := e.load(t, fixture.Busybox(t), "example.com/tools/busybox:1")

	e.must(t, "tag", "busybox:1", "mytag", "registry.example/team/bb:2")
	if got := e.names(t); !contains(got, "localhost/mytag:latest") || !contains(got, "registry.example/team/bb:2") {
		t.Fatalf("after tag: %v", got)
	}
	e.must(t, "untag", id[:12], "mytag")
	if got := e.names(t); contains(got, "localhost/mytag:latest") || len(got) != 2 {
		t.Fatalf("after untag mytag: %v", got)
	}
	e.must(t, "image", "tag", id, "other:1")
	res := e.must(t, "rmi", "other:1")
	if strings.TrimSpace(res.Stdout) != "Untagged: localhost/other:1" {
		t.Fatalf("rmi of one of several names printed %q", res.Stdout)
	}
	if res := e.run(t, "image", "exists", id); res.Code != 0 || res.Stdout+res.Stderr != "" {
		t.Fatalf("image exists: exit %d, output %q", res.Code, res.Combined())
	}
	// By ID with several names: refused without --force.
	if res := e.run(t, "rmi", id[:12]); res.Code != 125 || !strings.Contains(res.Stderr, "more than one tag") {
		t.Fatalf("rmi by ID with two names: exit %d: %s", res.Code, res.Stderr)
	}
	// Not found: exit 1.
	res = e.run(t, "rmi", "nosuch:1")
	if res.Code != 1 || !strings.Contains(res.Stderr, "image not known") || strings.Count(strings.TrimSpace(res.Stderr), "\n") != 0 {
		t.Fatalf("rmi of a missing image: exit %d: %q", res.Code, res.Stderr)
	}
	if res := e.run(t, "rmi", "-i", "nosuch:1"); res.Code != 0 {
		t.Fatalf("rmi --ignore of a missing image: exit %d", res.Code)
	}
	// In use: exit 2 unless --force, which removes the container.
	e.createContainer(t, id)
	e2 := e.load(t, fixture.MultiLayer(t, 1, 512), "example.com/one:1")
	e.createContainer(t, e2)
	if res := e.run(t, "rmi", "example.com/one:1"); res.Code != 2 || !strings.Contains(res.Stderr, "in use") {
		t.Fatalf("rmi of an image in use: exit %d: %s", res.Code, res.Stderr)
	}
	if res := e.run(t, "image", "prune", "-a", "-f"); res.Code != 0 || strings.Contains(res.Stdout, e2) {
		t.Fatalf("prune -a removed an image in use: %s", res.Stdout)
	}
	res = e.must(t, "image", "rm", "--force", "example.com/one:1")
	if !strings.Contains(res.Stdout, "Untagged: example.com/one:1") || !strings.Contains(res.Stdout, "Deleted: "+e2) {
		t.Fatalf("rmi --force printed %q", res.Stdout)
	}
	if res := e.run(t, "image", "exists", "example.com/one:1"); res.Code != 1 || res.Stdout+res.Stderr != "" {
		t.Fatalf("image exists of a removed image: exit %d, output %q", res.Code, res.Combined())
	}
	// rmi --all removes the rest.
	e.load(t, fixture.Busybox(t), "example.com/tools/busybox:1")
	e.must(t, "rmi", "--all", "--force")
	if got := e.names(t); len(got) != 0 {
		t.Fatalf("after rmi --all: %v", got)
	}
	if res := e.run(t, "tag", "nosuch", "x"); res.Code != 125 {
		t.Fatalf("tag of a missing image: exit %d", res.Code)
	}
}

// TestEngineImageSaveLoad: save and load round trips in every format,
// stdout and stdin, and a multi-image docker-archive.
func TestEngineImageSaveLoad(t *testing.T) {
	e := newEngineStore(t)
	id := e.load(t, fixture.Busybox(t), "example.com/tools/busybox:1")
	ml := e.load(t, fixture.MultiLayer(t, 2, 1024), "example.com/data/multi:2")
	dir := t.TempDir()
	for _, format := range []string{"docker-archive", "oci-archive", "oci-dir", "docker-dir"} {
		t.Run(format, func(t *testing.T) {
			out := filepath.Join(dir, format)
			e.must(t, "save", "--format", format, "-o", out, "example.com/tools/busybox:1")
			e.must(t, "rmi", "example.com/tools/busybox:1")
			res := e.must(t, "load", "-i", out)
			if !strings.Contains(res.Stdout, "Loaded image: ") {
				t.Fatalf("load printed %q", res.Stdout)
			}
			got := e.names(t)
			if format == "docker-dir" {
				// dir: carries no name: the image comes back by ID.
				if !strings.Contains(res.Stdout, "sha256:"+id) {
					t.Fatalf("load of a dir: printed %q, want sha256:%s", res.Stdout, id)
				}
				e.must(t, "tag", id, "example.com/tools/busybox:1")
			} else if !contains(got, "example.com/tools/busybox:1") {
				t.Fatalf("after load: %v", got)
			}
			if e.id(t, "example.com/tools/busybox:1") != id {
				t.Fatal("the loaded image has another ID")
			}
		})
	}
	// stdout and stdin.
	res := e.must(t, "save", "example.com/data/multi:2")
	e.must(t, "rmi", ml)
	res = e.stdin(t, []byte(res.Stdout), "load")
	if res.Code != 0 || !strings.Contains(res.Stdout, "Loaded image: example.com/data/multi:2") {
		t.Fatalf("load from stdin: exit %d: %s", res.Code, res.Combined())
	}
	// Several images in one archive.
	multi := filepath.Join(dir, "multi.tar")
	if res := e.run(t, "save", "-o", multi, "busybox:1", "multi:2"); res.Code != 125 {
		t.Fatal("save of two images without -m succeeded")
	}
	e.must(t, "save", "-m", "-o", multi, "busybox:1", "multi:2")
	e.must(t, "rmi", "--all")
	res = e.must(t, "image", "load", "--input", multi)
	if !strings.Contains(res.Stdout, "Loaded image: example.com/tools/busybox:1") || !strings.Contains(res.Stdout, "Loaded image: example.com/data/multi:2") {
		t.Fatalf("load of a multi-image archive printed %q", res.Stdout)
	}
	if res := e.run(t, "load", "-i", rootfsTar(t, map[string]string{"a": "b"})); res.Code != 125 {
		t.Fatal("load of a plain tar succeeded")
	}
}

// TestEngineImageImport: import from a path, stdin and an http URL, with
// --change and --message, seen in inspect and history.
func TestEngineImageImport(t *testing.T) {
	e := newEngineStore(t)
	tarball := rootfsTar(t, map[string]string{"etc/motd": "hello\n"})
	res := e.must(t, "import",
		"--change", `CMD ["/bin/sh", "-c", "cat /etc/motd"]`,
		"--change", "ENTRYPOINT /entry",
		"-c", "ENV A=1 B=two",
		"-c", "WORKDIR /work",
		"-c", "LABEL org.example.team=blue",
		"-c", "EXPOSE 8080",
		"-c", "USER nobody",
		"--message", "from a tarball",
		tarball, "imported:1")
	id := strings.TrimPrefix(lastLine(res.Stdout), "sha256:")
	if !fullID.MatchString(id) {
		t.Fatalf("import printed %q", res.Stdout)
	}
	var data []struct {
		Id     string
		Config struct {
			Cmd, Entrypoint, Env []string
			WorkingDir, User     string
			Labels               map[string]string
			ExposedPorts         map[string]struct{}
		}
		Comment  string
		RepoTags []string
		RootFS   struct{ Layers []string }
	}
	if err := json.Unmarshal([]byte(e.must(t, "image", "inspect", "imported:1").Stdout), &data); err != nil || len(data) != 1 {
		t.Fatal(err)
	}
	c := data[0].Config
	if strings.Join(c.Cmd, " ") != "/bin/sh -c cat /etc/motd" || strings.Join(c.Entrypoint, " ") != "/bin/sh -c /entry" ||
		!contains(c.Env, "A=1") || !contains(c.Env, "B=two") || c.WorkingDir != "/work" || c.User != "nobody" ||
		c.Labels["org.example.team"] != "blue" || len(c.ExposedPorts) != 1 || len(data[0].RootFS.Layers) != 1 {
		t.Fatalf("config after --change: %+v", data[0])
	}
	if !contains(data[0].RepoTags, "localhost/imported:1") {
		t.Fatalf("RepoTags %v", data[0].RepoTags)
	}
	if h := e.must(t, "history", "--format", "{{.Comment}}", "imported:1").Stdout; !strings.Contains(h, "from a tarball") {
		t.Fatalf("history comment %q", h)
	}
	if res := e.run(t, "import", "-c", "FROBNICATE x", tarball); res.Code != 125 {
		t.Fatal("an unknown --change was accepted")
	}

	// stdin, no name: a dangling image.
	b, _ := os.ReadFile(tarball)
	res = e.stdin(t, b, "import", "-q", "-")
	if res.Code != 0 || !strings.HasPrefix(res.Stdout, "sha256:") {
		t.Fatalf("import from stdin: %s", res.Combined())
	}
	if got := e.must(t, "images", "--filter", "dangling=true", "-q").Stdout; len(strings.Fields(got)) != 1 {
		t.Fatalf("the unnamed import is not dangling: %q", got)
	}

	// An http URL on loopback.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.ServeFile(w, r, tarball) }))
	defer srv.Close()
	e.must(t, "image", "import", srv.URL+"/rootfs.tar", "fromurl:1")
	if !contains(e.names(t), "localhost/fromurl:1") {
		t.Fatal("import from a URL made no image")
	}
}

// TestEngineImageHistoryInspect: history's table, --no-trunc, -q,
// --human=false, --format; inspect's JSON fields and --format.
func TestEngineImageHistoryInspect(t *testing.T) {
	e := newEngineStore(t)
	id := e.load(t, fixture.MultiLayer(t, 3, 1024), "example.com/data/multi:3")

	res := e.must(t, "history", "multi:3")
	lines := strings.Split(strings.TrimSpace(res.Stdout), "\n")
	if len(lines) != 4 || !regexp.MustCompile(`^IMAGE\s+CREATED\s+CREATED BY\s+SIZE\s+COMMENT`).MatchString(lines[0]) {
		t.Fatalf("history:\n%s", res.Stdout)
	}
	if !strings.HasPrefix(lines[1], id[:12]+" ") || !strings.HasPrefix(lines[2], "<missing>") || !strings.Contains(lines[1], "layer 2: 1024 random bytes") {
		t.Fatalf("history rows:\n%s", res.Stdout)
	}
	if got := strings.Fields(e.must(t, "history", "-q", "--no-trunc", "multi:3").Stdout); len(got) != 3 || got[0] != "sha256:"+id {
		t.Fatalf("history -q --no-trunc: %v", got)
	}
	if got := e.must(t, "history", "--human=false", "--format", "{{.Size}} {{.Created}}", "multi:3").Stdout; !regexp.MustCompile(`(?m)^\d+ \d{4}-\d\d-\d\dT`).MatchString(got) {
		t.Fatalf("history --human=false: %q", got)
	}
	var hj []struct {
		ID        string `json:"id"`
		CreatedBy string `json:"createdBy"`
		Size      int64  `json:"size"`
	}
	if err := json.Unmarshal([]byte(e.must(t, "history", "--format", "json", "multi:3").Stdout), &hj); err != nil || len(hj) != 3 || hj[0].ID != id || hj[0].Size < 1024 {
		t.Fatalf("history json: %+v %v", hj, err)
	}

	var data []map[string]json.RawMessage
	if err := json.Unmarshal([]byte(e.must(t, "image", "inspect", "multi:3").Stdout), &data); err != nil || len(data) != 1 {
		t.Fatal(err)
	}
	for _, k := range []string{"Id", "Digest", "RepoTags", "RepoDigests", "Created", "Config", "Architecture", "Os", "Size", "RootFS", "History", "Labels", "GraphDriver", "ManifestType"} {
		if _, ok := data[0][k]; !ok {
			t.Fatalf("inspect has no %s: %v", k, data[0])
		}
	}
	var rootfs struct {
		Type   string
		Layers []string
	}
	_ = json.Unmarshal(data[0]["RootFS"], &rootfs)
	if rootfs.Type != "layers" || len(rootfs.Layers) != 3 {
		t.Fatalf("RootFS %+v", rootfs)
	}
	if got := strings.TrimSpace(e.must(t, "image", "inspect", "--format", "{{.Id}} {{.Os}}/{{.Architecture}}", id[:12]).Stdout); got != id+" linux/amd64" {
		t.Fatalf("inspect --format: %q", got)
	}
	if res := e.run(t, "image", "inspect", "nosuch"); res.Code != 125 || !strings.Contains(res.Stderr, "image not known") {
		t.Fatalf("inspect of a missing image: exit %d %s", res.Code, res.Stderr)
	}
}

// TestEngineImagePrune: prune removes dangling images only, -a every
// unused image; without -f it asks.
func TestEngineImagePrune(t *testing.T) {
	e := newEngineStore(t)
	named := e.load(t, fixture.Busybox(t), "example.com/tools/busybox:1")
	dangling := strings.TrimPrefix(lastLine(e.must(t, "import", "-q", rootfsTar(t, map[string]string{"x": "y"})).Stdout), "sha256:")

	res := e.stdin(t, []byte("n\n"), "image", "prune")
	if res.Code != 0 || !strings.Contains(res.Stdout, "Are you sure") {
		t.Fatalf("prune without -f: %s", res.Combined())
	}
	if e.run(t, "image", "exists", dangling).Code != 0 {
		t.Fatal("prune answered no removed the image")
	}
	res = e.must(t, "image", "prune", "-f")
	if strings.TrimSpace(res.Stdout) != dangling {
		t.Fatalf("prune -f printed %q, want %s", res.Stdout, dangling)
	}
	if e.run(t, "image", "exists", named).Code != 0 {
		t.Fatal("prune removed a named image")
	}
	res = e.must(t, "image", "prune", "--all", "--force")
	if strings.TrimSpace(res.Stdout) != named {
		t.Fatalf("prune -a -f printed %q", res.Stdout)
	}
}

// TestEngineImagePushLoginSearch: login to a TLS registry with htpasswd,
// push in both formats with a digest file, search the catalog and list
// tags, logout.
func TestEngineImagePushLoginSearch(t *testing.T) {
	reg := registry.Start(t, registry.Options{Flavour: registry.TLSAuth})
	e := newEngineStore(t)
	authfile := filepath.Join(t.TempDir(), "auth.json")
	e.load(t, fixture.Busybox(t), "example.com/tools/busybox:1")

	dest := reg.Addr + "/tools/busybox:1"
	if res := e.run(t, "push", "--cert-dir", reg.CertDir, "--authfile", authfile, "busybox:1", dest); res.Code != 125 {
		t.Fatal("push without login succeeded")
	}
	if res := e.run(t, "login", "--cert-dir", reg.CertDir, "--authfile", authfile, "-u", reg.Username, "-p", "wrong", reg.Addr); res.Code != 125 {
		t.Fatal("login with a wrong password succeeded")
	}
	res := e.stdin(t, []byte(reg.Password+"\n"), "login", "--cert-dir", reg.CertDir, "--authfile", authfile, "-u", reg.Username, "--password-stdin", reg.Addr)
	if res.Code != 0 || !strings.Contains(res.Stdout, "Login Succeeded!") {
		t.Fatalf("login: %s", res.Combined())
	}
	if got := strings.TrimSpace(e.must(t, "login", "--authfile", authfile, "--get-login", reg.Addr).Stdout); got != reg.Username {
		t.Fatalf("--get-login = %q", got)
	}

	digestFile := filepath.Join(t.TempDir(), "digest")
	e.must(t, "push", "--cert-dir", reg.CertDir, "--authfile", authfile, "--digestfile", digestFile, "-q", "busybox:1", dest)
	d, _ := os.ReadFile(digestFile)
	_, mime, served := getManifest(t, reg, "tools/busybox", "1")
	if string(d) != served || !strings.HasPrefix(string(d), "sha256:") {
		t.Fatalf("digest file %q, registry has %q", d, served)
	}
	e.must(t, "image", "push", "--cert-dir", reg.CertDir, "--authfile", authfile, "--format", "v2s2", "busybox:1", "docker://"+reg.Addr+"/tools/busybox:v2s2")
	if _, mime2, _ := getManifest(t, reg, "tools/busybox", "v2s2"); mime2 != "application/vnd.docker.distribution.manifest.v2+json" {
		t.Fatalf("--format v2s2 pushed %s", mime2)
	}
	e.must(t, "push", "--cert-dir", reg.CertDir, "--creds", reg.Username+":"+reg.Password, "--format", "oci", "busybox:1", reg.Addr+"/other/thing:oci")
	if _, mime3, _ := getManifest(t, reg, "other/thing", "oci"); mime3 != "application/vnd.oci.image.manifest.v1+json" {
		t.Fatalf("--format oci pushed %s (first push: %s)", mime3, mime)
	}

	res = e.must(t, "search", "--cert-dir", reg.CertDir, "--authfile", authfile, reg.Addr+"/busy")
	if !strings.HasPrefix(res.Stdout, "NAME") || !strings.Contains(res.Stdout, reg.Addr+"/tools/busybox") || strings.Contains(res.Stdout, "other/thing") {
		t.Fatalf("search:\n%s", res.Stdout)
	}
	res = e.must(t, "search", "--cert-dir", reg.CertDir, "--authfile", authfile, "--list-tags", reg.Addr+"/tools/busybox")
	if !regexp.MustCompile(`NAME\s+TAG`).MatchString(res.Stdout) || !strings.Contains(res.Stdout, "v2s2") || !regexp.MustCompile(`tools/busybox\s+1\n`).MatchString(res.Stdout) {
		t.Fatalf("search --list-tags:\n%s", res.Stdout)
	}
	res = e.must(t, "search", "--cert-dir", reg.CertDir, "--authfile", authfile, "--limit", "1", "--format", "{{.Name}}", reg.Addr+"/")
	if got := strings.Fields(res.Stdout); len(got) != 1 {
		t.Fatalf("search --limit 1: %v", got)
	}
	var sj []struct{ Name string }
	if err := json.Unmarshal([]byte(e.must(t, "search", "--cert-dir", reg.CertDir, "--authfile", authfile, "--format", "json", reg.Addr+"/thing").Stdout), &sj); err != nil || len(sj) != 1 || sj[0].Name != reg.Addr+"/other/thing" {
		t.Fatalf("search json: %+v %v", sj, err)
	}

	// A pull through the stored credentials gets the same image back.
	e2 := newEngineStore(t)
	e2.must(t, "pull", "--cert-dir", reg.CertDir, "--authfile", authfile, dest)

	res = e.must(t, "logout", "--authfile", authfile, reg.Addr)
	if !strings.Contains(res.Stdout, "Removed login credentials for "+reg.Addr) {
		t.Fatalf("logout printed %q", res.Stdout)
	}
	if res := e.run(t, "search", "--cert-dir", reg.CertDir, "--authfile", authfile, reg.Addr+"/busy"); res.Code != 125 {
		t.Fatal("search after logout succeeded")
	}
	if res := e.run(t, "logout", "--authfile", authfile, reg.Addr); res.Code != 125 {
		t.Fatal("a second logout succeeded")
	}
}

// TestEngineImageSharedStore: an image transport copies into
// containers-storage is visible to engine, and one engine pulls is
// readable by transport.
func TestEngineImageSharedStore(t *testing.T) {
	e := newEngineStore(t)
	img := fixture.Busybox(t)
	store := fmt.Sprintf("containers-storage:[overlay@%s+%s]", e.root, e.runroot)
	bin.MustRun(t, e.env, "transport", "copy", img.Ref(), store+"example.com/shared/bb:1")
	// Again, onto the image already there: the name is written, no error.
	bin.MustRun(t, e.env, "transport", "copy", img.Ref(), store+"example.com/shared/bb:1")
	if got := e.names(t); !contains(got, "example.com/shared/bb:1") {
		t.Fatalf("engine images after transport copy: %v", got)
	}
	e.must(t, "tag", "example.com/shared/bb:1", "example.com/shared/bb:2")
	bin.MustRun(t, e.env, "transport", "inspect", store+"example.com/shared/bb:2")
}
