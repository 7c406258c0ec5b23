package e2e

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocisuite/suite/test/bin"
	"github.com/ocisuite/suite/test/fixture"
	"github.com/ocisuite/suite/test/registry"
)

// TestCLIBasics: --version, --help and completion work and exit 0; an
// unknown command or flag and a bad --log-level exit non-zero (transport 1
// as skopeo, builder 125 as buildah) with one line;
// --log-level debug explains the steps on stderr, the default says nothing.
func TestCLIBasics(t *testing.T) {
	for _, name := range []string{"transport", "builder"} {
		t.Run(name, func(t *testing.T) {
			res := bin.MustRun(t, nil, name, "--version")
			if !strings.HasPrefix(res.Stdout, name+" version ") || strings.Count(res.Stdout, "\n") != 1 {
				t.Fatalf("--version: %q", res.Stdout)
			}
			for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}, {}} {
				res = bin.MustRun(t, nil, name, args...)
				if !strings.Contains(res.Stdout, "Usage:") || !strings.Contains(res.Stdout, "--log-level") || !strings.Contains(res.Stdout, "completion") {
					t.Fatalf("%s %v: %q", name, args, res.Stdout)
				}
			}
			for _, sh := range []string{"bash", "zsh", "fish", "powershell"} {
				if res := bin.MustRun(t, nil, name, "completion", sh); !strings.Contains(res.Stdout, name) {
					t.Fatalf("completion %s: %q", sh, res.Stdout)
				}
			}
			for _, c := range []struct {
				args []string
				want string
			}{
				{[]string{"--log-level", "loud", "completion", "bash"}, "loud"},
				{[]string{"--no-such-flag"}, "--no-such-flag"},
			} {
				res := bin.Run(t, nil, name, c.args...)
				if res.Code == 0 || res.Stdout != "" {
					t.Fatalf("%s %v: exit %d, stdout %q", name, c.args, res.Code, res.Stdout)
				}
				assertOneLineOf(t, name, res.Stderr, c.want)
			}
		})
	}
	// builder and engine still print the help and exit 0 for an unknown
	// command (shared/cli.Root); transport refuses it, as skopeo does.
	res := bin.Run(t, nil, "transport", "no-such-command")
	if res.Code != 1 || res.Stdout != "" {
		t.Fatalf("unknown command: exit %d, stdout %q", res.Code, res.Stdout)
	}
	assertOneLine(t, res.Stderr, "no-such-command")

	reg := registry.Start(t, registry.Options{})
	fixture.Push(t, fixture.Busybox(t), reg.Ref("bb:1"), reg.SystemContext())
	if res := transport(t, "inspect", "--tls-verify=false", reg.Ref("bb:1")); res.Stderr != "" {
		t.Fatalf("default log level printed %q", res.Stderr)
	}
	res = transport(t, "--log-level", "debug", "inspect", "--tls-verify=false", reg.Ref("bb:1"))
	if !strings.Contains(res.Stderr, "level=debug") || !strings.Contains(res.Stderr, reg.Addr) {
		t.Fatalf("--log-level debug printed no debug messages: %q", res.Stderr)
	}
}

// assertOneLineOf is assertOneLine for any binary.
func assertOneLineOf(t *testing.T, name, stderr string, wants ...string) {
	t.Helper()
	lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], name+": ") {
		t.Fatalf("error is not one line %q: %q", name+": …", stderr)
	}
	for _, w := range wants {
		if !strings.Contains(lines[0], w) {
			t.Fatalf("error %q does not mention %q", lines[0], w)
		}
	}
}

// TestRegistriesConfV1: the old [registries.search], [registries.insecure]
// and [registries.block] tables are honoured.
func TestRegistriesConfV1(t *testing.T) {
	img := fixture.Busybox(t)
	reg := registry.Start(t, registry.Options{})
	blocked := registry.Start(t, registry.Options{})
	conf, env := registriesConf(t, fmt.Sprintf(`
[registries.search]
registries = ["registry.example"]

[registries.insecure]
registries = [%q]

[registries.block]
registries = [%q]
`, reg.Addr, blocked.Addr))
	res := bin.MustRun(t, env, "transport", "copy", img.Ref(), reg.Ref("v1:1"))
	if res.Stderr != "" {
		t.Fatalf("a valid v1 file was warned about: %q", res.Stderr)
	}
	if s := reg.ManifestStatus("v1", "1"); s != 200 {
		t.Fatalf("copy to a [registries.insecure] registry: manifest status %d", s)
	}
	res = bin.Run(t, env, "transport", "copy", "--dest-tls-verify=false", img.Ref(), blocked.Ref("v1:1"))
	if res.Code != 1 {
		t.Fatalf("copy to a [registries.block] registry: exit %d, want 1", res.Code)
	}
	assertOneLine(t, res.Stderr, "blocked", blocked.Addr, conf)
	if len(blocked.Requests()) > 1 { // the readiness probe only
		t.Fatalf("the blocked registry was contacted: %v", blocked.Requests())
	}
}

// userConfig makes a home directory for root with the given files under
// ~/.config/containers (path -> content) and returns the environment that
// points the binaries at it. A user-level registries.conf makes
// containers/image read the user's registries.conf.d only, so the machine's
// /etc/containers/registries.conf.d (e.g. Debian's shortnames.conf) does not
// interfere.
func userConfig(t *testing.T, files map[string]string) (home string, env []string) {
	t.Helper()
	home = t.TempDir()
	for p, content := range files {
		full := filepath.Join(home, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	runtime := t.TempDir()
	return home, []string{"HOME=" + home, "XDG_RUNTIME_DIR=" + runtime, "XDG_CONFIG_HOME=", "REGISTRY_AUTH_FILE=",
		"CONTAINERS_REGISTRIES_CONF=", "REGISTRIES_CONFIG_PATH=", "DOCKER_CONFIG="}
}

const userContainers = ".config/containers/"

// TestRegistriesConfDropIns: registries.conf.d/*.conf drop-ins are read in
// order after registries.conf, a later one replacing an entry for the same
// registry; their unknown keys are warned about and their syntax errors
// reported, each naming the drop-in; a syntax error in registries.conf
// names the file and the line.
func TestRegistriesConfDropIns(t *testing.T) {
	img := fixture.Busybox(t)
	a := registry.Start(t, registry.Options{})
	b := registry.Start(t, registry.Options{})
	c := registry.Start(t, registry.Options{})
	home, env := userConfig(t, map[string]string{
		userContainers + "registries.conf":               fmt.Sprintf("[[registry]]\nlocation = %q\ninsecure = true\n", a.Addr),
		userContainers + "registries.conf.d/10-b.conf":   fmt.Sprintf("[[registry]]\nlocation = %q\ninsecure = true\n", b.Addr),
		userContainers + "registries.conf.d/20-c.conf":   fmt.Sprintf("[[registry]]\nlocation = %q\nblocked = true\nmirrors = [\"nowhere\"]\n", c.Addr),
		userContainers + "registries.conf.d/ignored.txt": "not a drop-in: [[[",
	})
	dropIns := filepath.Join(home, userContainers, "registries.conf.d")

	res := bin.MustRun(t, env, "transport", "copy", img.Ref(), a.Ref("d:1"))
	if !strings.Contains(res.Stderr, filepath.Join(dropIns, "20-c.conf")) || !strings.Contains(res.Stderr, "mirrors") {
		t.Fatalf("no warning naming the drop-in and its unknown key: %q", res.Stderr)
	}
	bin.MustRun(t, env, "transport", "copy", img.Ref(), b.Ref("d:1"))
	for _, r := range []*registry.Registry{a, b} {
		if s := r.ManifestStatus("d", "1"); s != 200 {
			t.Fatalf("copy to %s, insecure by the config files: manifest status %d", r.Addr, s)
		}
	}
	res = bin.Run(t, env, "transport", "copy", img.Ref(), c.Ref("d:1"))
	if res.Code != 1 {
		t.Fatalf("copy to a registry blocked in a drop-in: exit %d", res.Code)
	}
	assertOneLine(t, res.Stderr, "blocked", c.Addr, dropIns)

	// A later drop-in replaces registries.conf's entry for a.
	write := func(name, content string) string {
		t.Helper()
		p := filepath.Join(dropIns, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	override := write("30-a.conf", fmt.Sprintf("[[registry]]\nlocation = %q\nblocked = true\n", a.Addr))
	res = bin.Run(t, env, "transport", "copy", img.Ref(), a.Ref("d:2"))
	if res.Code != 1 || a.ManifestStatus("d", "2") != 404 {
		t.Fatalf("a drop-in blocking a registry of registries.conf: exit %d", res.Code)
	}
	assertOneLine(t, res.Stderr, "blocked", a.Addr)
	if err := os.Remove(override); err != nil {
		t.Fatal(err)
	}

	// Broken files: one line naming the file (and the line), never a panic.
	bad := write("40-bad.conf", "[[registry]]\nlocation = \"x.example\"\ninsecure = tru\n")
	res = bin.Run(t, env, "transport", "copy", img.Ref(), a.Ref("d:3"))
	if res.Code != 1 {
		t.Fatalf("broken drop-in: exit %d", res.Code)
	}
	assertOneLine(t, res.Stderr, bad, "line 3")
	if err := os.Remove(bad); err != nil {
		t.Fatal(err)
	}
	for _, bc := range []struct{ content, want string }{
		{"unqualified-search-registries = [\"a.example\"\n[[registry]]\n", "line 2"},
		{"[[registry]]\nlocation = \"x.example\"\ninsecure = \"yes\"\n", "insecure"},
		{"short-name-mode = \"sometimes\"\n", "sometimes"},
		{"[[registry]]\nlocation = \"x.example\"\n[[registry.mirror]]\nlocation = \"m.example\"\npull-from-mirror = \"never\"\n", "never"},
	} {
		conf, env := registriesConf(t, bc.content)
		res := bin.Run(t, env, "transport", "copy", img.Ref(), "dir:"+t.TempDir())
		if res.Code != 1 || strings.Contains(res.Stderr, "panic") {
			t.Fatalf("registries.conf %q: exit %d: %s", bc.content, res.Code, res.Stderr)
		}
		assertOneLine(t, res.Stderr, conf, bc.want)
	}
}

// TestRegistriesConfMisplacedKeys: keys in the wrong table are warned about
// with the file, the key and a hint, and the copy goes on.
func TestRegistriesConfMisplacedKeys(t *testing.T) {
	img := fixture.Busybox(t)
	reg := registry.Start(t, registry.Options{})
	conf, env := registriesConf(t, fmt.Sprintf(`
pull-from-mirror = "all"

[[registry]]
location = %q
insecure = true

[[mirror]]
location = "mirror.example"
`, reg.Addr))
	res := bin.MustRun(t, env, "transport", "copy", img.Ref(), reg.Ref("m:1"))
	for _, want := range []string{conf, "pull-from-mirror", "belongs inside", "mirror", "[[registry.mirror]]"} {
		if !strings.Contains(res.Stderr, want) {
			t.Fatalf("warnings do not mention %q: %q", want, res.Stderr)
		}
	}
	if s := reg.ManifestStatus("m", "1"); s != 200 {
		t.Fatalf("copy after warnings: manifest status %d", s)
	}
}

// TestCertsDAndDockerConfig: without --cert-dir or credentials flags, the
// CA of a registry is found in ~/.config/containers/certs.d/HOST:PORT/ or
// /etc/containers/certs.d/HOST:PORT/, and its credentials in
// ~/.docker/config.json when no auth.json has them.
func TestCertsDAndDockerConfig(t *testing.T) {
	img := fixture.Busybox(t)
	reg := registry.Start(t, registry.Options{Flavour: registry.TLSAuth})
	ca, err := os.ReadFile(reg.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.StdEncoding.EncodeToString([]byte(reg.Username + ":" + reg.Password))
	dockerConfig := fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, reg.Addr, enc)
	home, env := userConfig(t, map[string]string{".docker/config.json": dockerConfig})

	res := bin.Run(t, env, "transport", "copy", img.Ref(), reg.Ref("certs:1"))
	if res.Code != 1 {
		t.Fatalf("copy to a registry with an unknown CA: exit %d", res.Code)
	}
	assertOneLine(t, res.Stderr, "certificate")

	userCerts := filepath.Join(home, userContainers, "certs.d", reg.Addr)
	if err := os.MkdirAll(userCerts, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(userCerts, "ca.crt"), ca, 0o644); err != nil {
		t.Fatal(err)
	}
	bin.MustRun(t, env, "transport", "copy", img.Ref(), reg.Ref("certs:1"))
	if _, _, d := getManifest(t, reg, "certs", "1"); d != img.Digest.String() {
		t.Fatalf("copy with certs.d and ~/.docker/config.json: digest %s", d)
	}

	// The system directory, for this registry's HOST:PORT only.
	if err := os.RemoveAll(filepath.Join(home, userContainers, "certs.d")); err != nil {
		t.Fatal(err)
	}
	sysCerts := filepath.Join("/etc/containers/certs.d", reg.Addr)
	if err := os.MkdirAll(sysCerts, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sysCerts) })
	if err := os.WriteFile(filepath.Join(sysCerts, "ca.crt"), ca, 0o644); err != nil {
		t.Fatal(err)
	}
	out := decodeInspect(t, bin.MustRun(t, env, "transport", "inspect", reg.Ref("certs:1")))
	if out.Digest != img.Digest.String() {
		t.Fatalf("inspect with /etc/containers/certs.d: %+v", out)
	}

	// The credentials came from ~/.docker/config.json.
	if err := os.Remove(filepath.Join(home, ".docker", "config.json")); err != nil {
		t.Fatal(err)
	}
	res = bin.Run(t, env, "transport", "inspect", reg.Ref("certs:1"))
	if res.Code != 1 {
		t.Fatalf("inspect without credentials: exit %d", res.Code)
	}
	assertOneLine(t, res.Stderr, "authentication required", reg.Addr)
}

// TestStorageConf: containers-storage: uses the store CONTAINERS_STORAGE_CONF
// describes (driver, graph root, run root).
func TestStorageConf(t *testing.T) {
	img := fixture.Busybox(t)
	tmp := t.TempDir()
	graph, run := filepath.Join(tmp, "graph"), filepath.Join(tmp, "run")
	conf := writeFile(t, "storage.conf", fmt.Sprintf("[storage]\ndriver = \"vfs\"\ngraphroot = %q\nrunroot = %q\n", graph, run))
	env := []string{"CONTAINERS_STORAGE_CONF=" + conf}
	bin.MustRun(t, env, "transport", "copy", img.Ref(), "containers-storage:example.test/conf/bb:1")
	images, err := os.ReadFile(filepath.Join(graph, "vfs-images", "images.json"))
	if err != nil {
		t.Fatalf("no vfs image store under the configured graph root: %v", err)
	}
	if !strings.Contains(string(images), "example.test/conf/bb:1") {
		t.Fatalf("images.json lacks the image: %s", images)
	}
	out := filepath.Join(tmp, "out")
	bin.MustRun(t, env, "transport", "copy", "containers-storage:example.test/conf/bb:1", "oci:"+out+":back")
	if cfg := ociConfig(t, out, "back"); len(cfg.RootFS.DiffIDs) != 1 {
		t.Fatalf("image read back from the store: %+v", cfg)
	}
}
