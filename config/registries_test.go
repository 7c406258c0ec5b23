package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containers/image/v5/pkg/sysregistriesv2"
	"github.com/containers/image/v5/types"
)

func writeConf(t testing.TB, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestMain gives the tests a home directory of their own before
// containers/image reads (and caches) $HOME.
func TestMain(m *testing.M) {
	home, err := os.MkdirTemp("", "config-test-home-")
	if err != nil {
		panic(err)
	}
	os.Setenv("HOME", home)
	code := m.Run()
	os.RemoveAll(home)
	os.Exit(code)
}

// isolate clears the test home and the registries environment, and returns
// the home directory containers/image uses.
func isolate(t *testing.T) (home string) {
	home = CurrentEnv().Home
	if home != os.Getenv("HOME") || !strings.Contains(home, "config-test-home-") {
		t.Fatalf("home %q is not the test home", home)
	}
	clear := func() {
		if err := os.RemoveAll(filepath.Join(home, ".config")); err != nil {
			t.Fatal(err)
		}
	}
	clear()
	t.Cleanup(clear)
	t.Setenv("CONTAINERS_REGISTRIES_CONF", "")
	t.Setenv("REGISTRIES_CONFIG_PATH", "")
	return home
}

func TestCheckRegistries(t *testing.T) {
	type warn struct{ key, inMsg string }
	for _, c := range []struct {
		name     string
		main     string
		dropin   string
		warns    []warn // in order; the file is the drop-in if there is one, else the main file
		wantErr  string
		wantLine int // for syntax errors
		errFile  string
	}{
		{name: "v2 clean", main: `
unqualified-search-registries = ["a.example", "b.example"]
short-name-mode = "enforcing"
credential-helpers = ["containers-auth.json"]
[aliases]
"bb" = "a.example/busybox"
[[registry]]
prefix = "a.example/team"
location = "a.example:5000/team"
insecure = true
mirror-by-digest-only = false
[[registry.mirror]]
location = "m.example"
insecure = true
pull-from-mirror = "digest-only"
[[registry]]
location = "bad.example"
blocked = true
`},
		{name: "v1 clean", main: `
[registries.search]
registries = ["a.example"]
[registries.insecure]
registries = ["b.example"]
[registries.block]
registries = ["c.example"]
`},
		{name: "mirror at top level", main: `
[[registry]]
location = "a.example"
[[mirror]]
location = "m.example"
`, warns: []warn{{"mirror", "[[registry.mirror]] inside a [[registry]]"}}},
		{name: "location at top level", main: `
location = "a.example"
insecure = true
`, warns: []warn{{"location", "[[registry]]"}, {"insecure", "[[registry]]"}}},
		{name: "misspelled keys", main: `
unqualified-search-registry = ["a.example"]
[[registry]]
location = "a.example"
mirrors = ["m.example"]
[[registry.mirror]]
location = "m.example"
url = "https://m.example"
`, warns: []warn{{"unqualified-search-registry", "unqualified-search-registries"}, {"registry.mirrors", "[[registry.mirror]]"}, {"registry.mirror.url", "location"}}},
		{name: "unknown table reported once", main: `
[extra]
a = 1
b = 2
`, warns: []warn{{"extra", "unknown key"}}},
		{name: "drop-in warning", main: `unqualified-search-registries = ["a.example"]`, dropin: `
[[registry]]
location = "a.example"
insecur = true
`, warns: []warn{{"registry.insecur", "unknown key"}}},
		{name: "syntax error", main: "[[registry]]\nlocation = \"a.example\nx = 1\n", wantErr: "line 2", wantLine: 2, errFile: "main"},
		{name: "type error", main: "[[registry]]\nlocation = \"a.example\"\ninsecure = \"yes\"\n", wantErr: "insecure", errFile: "main"},
		{name: "drop-in syntax error", main: "", dropin: "x = 1\n\ny = \"unterminated\n", wantErr: "line 3", wantLine: 3, errFile: "dropin"},
		{name: "invalid pull-from-mirror", main: `
[[registry]]
location = "a.example"
[[registry.mirror]]
location = "m.example"
pull-from-mirror = "sometimes"
`, wantErr: "pull-from-mirror", errFile: "main"},
		{name: "invalid short-name-mode", main: `short-name-mode = "strict"`, wantErr: "strict", errFile: "main"},
		{name: "mixing v1 and v2", main: `
unqualified-search-registries = ["a.example"]
[registries.search]
registries = ["b.example"]
`, wantErr: "mixing", errFile: "main"},
		{name: "v1 drop-in", main: "", dropin: `
[registries.search]
registries = ["a.example"]
`, wantErr: "v2 format", errFile: "dropin"},
		{name: "bad wildcard prefix", main: `
[[registry]]
prefix = "*.example.com/ns"
location = "a.example"
`, wantErr: "Wildcarded prefix", errFile: "main"},
	} {
		t.Run(c.name, func(t *testing.T) {
			isolate(t)
			dir := t.TempDir()
			main := writeConf(t, dir, "registries.conf", c.main)
			dropDir := filepath.Join(dir, "registries.conf.d")
			if err := os.Mkdir(dropDir, 0o755); err != nil {
				t.Fatal(err)
			}
			var dropin string
			if c.dropin != "" {
				dropin = writeConf(t, dropDir, "50-extra.conf", c.dropin)
			}
			sys := &types.SystemContext{SystemRegistriesConfPath: main, SystemRegistriesConfDirPath: dropDir}
			warns, err := CheckRegistries(sys)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("error %v, want one mentioning %q", err, c.wantErr)
				}
				file := main
				if c.errFile == "dropin" {
					file = dropin
				}
				var fe *FileError
				if !errors.As(err, &fe) || fe.File != file || !strings.HasPrefix(err.Error(), file+":") || strings.Count(err.Error(), file) != 1 {
					t.Fatalf("error %q does not name %s", err, file)
				}
				if fe.Line != c.wantLine {
					t.Fatalf("error line %d, want %d", fe.Line, c.wantLine)
				}
				if strings.Contains(err.Error(), "\n") {
					t.Fatalf("error %q is not one line", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(warns) != len(c.warns) {
				t.Fatalf("warnings %v, want keys %v", warns, c.warns)
			}
			file := main
			if dropin != "" {
				file = dropin
			}
			for i, w := range c.warns {
				got := warns[i]
				if got.Key != w.key || !strings.Contains(got.Message, w.inMsg) {
					t.Errorf("warning %d is %q, want key %q with %q", i, got, w.key, w.inMsg)
				}
				if got.File != file || !strings.HasPrefix(got.String(), file+": "+w.key+": ") {
					t.Errorf("warning %q does not name %s", got, file)
				}
			}
		})
	}
}

func TestCheckRegistriesMissingFile(t *testing.T) {
	isolate(t)
	dir := t.TempDir()
	missing := filepath.Join(dir, "nope.conf")
	_, err := CheckRegistries(&types.SystemContext{SystemRegistriesConfPath: missing, SystemRegistriesConfDirPath: dir})
	var fe *FileError
	if !errors.As(err, &fe) || fe.File != missing || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("error %v, want a not-exist error naming %s", err, missing)
	}
}

// TestRegistriesDropInsOverride checks the order containers/image applies:
// the main file, then the system drop-in directory, then the user's, each
// in name order; later files win for the same registry.
func TestRegistriesDropInsOverride(t *testing.T) {
	home := isolate(t)
	root := t.TempDir()
	main := writeConf(t, root, "registries.conf", `
unqualified-search-registries = ["main.example"]
[[registry]]
location = "a.example"
[[registry]]
location = "b.example"
`)
	sysDir := filepath.Join(root, SystemRegistriesConfDir)
	userDir := filepath.Join(home, ".config/containers/registries.conf.d")
	sysA := writeConf(t, sysDir, "50-a.conf", `
[[registry]]
location = "a.example"
[[registry.mirror]]
location = "mirror.example"
bogus-a = 1
`)
	sysB := writeConf(t, sysDir, "10-b.conf", "unqualified-search-registries = [\"dropin.example\"]\nbogus-b = 1\n")
	writeConf(t, sysDir, "ignored.txt", "this is not toml [")
	userC := writeConf(t, userDir, "05-c.conf", `
[[registry]]
location = "a.example"
blocked = true
[[registry.mirror]]
location = "user-mirror.example"
bogus-c = 1
`)
	sys := &types.SystemContext{SystemRegistriesConfPath: main, RootForImplicitAbsolutePaths: root}
	warns, err := CheckRegistries(sys)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range warns {
		got = append(got, w.File+" "+w.Key)
	}
	want := []string{sysB + " bogus-b", sysA + " registry.mirror.bogus-a", userC + " registry.mirror.bogus-c"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("warnings in order %v, want %v", got, want)
	}

	// What containers/image will use: the user's drop-in wins for a.example.
	reg, err := sysregistriesv2.FindRegistry(sys, "a.example/x/y:1")
	if err != nil || reg == nil {
		t.Fatalf("FindRegistry: %v %v", reg, err)
	}
	if !reg.Blocked || len(reg.Mirrors) != 1 || reg.Mirrors[0].Location != "user-mirror.example" {
		t.Fatalf("a.example = %+v, want blocked with the user's mirror", reg)
	}
	search, err := sysregistriesv2.UnqualifiedSearchRegistries(sys)
	if err != nil || strings.Join(search, ",") != "dropin.example" {
		t.Fatalf("search registries %v %v, want the drop-in's", search, err)
	}
}

// TestRegistriesUserFile: a user registries.conf replaces the system file
// and the system drop-ins; CONTAINERS_REGISTRIES_CONF replaces both.
func TestRegistriesUserFile(t *testing.T) {
	home := isolate(t)
	user := writeConf(t, home, ".config/containers/registries.conf", "[[mirror]]\nlocation = \"x\"\n")
	env := CurrentEnv()
	src := registriesSources(withRegistriesEnv(nil, env), env)
	if src.main != user || src.mainExplicit || strings.Join(src.dirs, ",") != filepath.Join(home, ".config/containers/registries.conf.d") {
		t.Fatalf("sources %+v, want the user's file and drop-in dir only", src)
	}
	warns, err := CheckRegistries(nil)
	if err != nil || len(warns) != 1 || warns[0].File != user || warns[0].Key != "mirror" {
		t.Fatalf("CheckRegistries(nil) = %v, %v; want one warning for %s", warns, err, user)
	}

	other := writeConf(t, t.TempDir(), "env.conf", "locaton = \"x\"\n")
	t.Setenv("CONTAINERS_REGISTRIES_CONF", other)
	empty := t.TempDir()
	warns, err = CheckRegistries(&types.SystemContext{SystemRegistriesConfDirPath: empty})
	if err != nil || len(warns) != 1 || warns[0].File != other || warns[0].Key != "locaton" {
		t.Fatalf("with CONTAINERS_REGISTRIES_CONF: %v, %v; want one warning for %s", warns, err, other)
	}
	// An explicit SystemContext path wins over the environment.
	clean := writeConf(t, t.TempDir(), "clean.conf", "")
	warns, err = CheckRegistries(&types.SystemContext{SystemRegistriesConfPath: clean, SystemRegistriesConfDirPath: empty})
	if err != nil || len(warns) != 0 {
		t.Fatalf("explicit path: %v, %v; want no warnings", warns, err)
	}
}

func FuzzCheckRegistries(f *testing.F) {
	for _, s := range []string{
		"[[registry]]\nlocation = \"a\"\n[[registry.mirror]]\nlocation = \"b\"\n",
		"[registries.search]\nregistries = [\"a\"]\n",
		"unqualified-search-registries = 1\n",
		"[[registry]\n",
		"[aliases]\n\"x\" = 3\n",
		"[aliases]\n\"x\" = \"\"\n",
		"[[registry]]\nprefix = \"*.\"\n",
		"[[registry]]\nlocation = \"\"\n",
		"[[registry]]\nprefix = \"a\"\nlocation = \"b@sha256:0\"\n",
		"short-name-mode = \"\"\ncredential-helpers = []\n",
		"[registries]\nsearch = 1\n",
		"mirror = [[1]]\n",
		"\xff\xfe",
	} {
		f.Add(s)
	}
	// One directory for every input: containers/image caches a
	// configuration per path.
	dir := f.TempDir()
	dropDir := filepath.Join(dir, "registries.conf.d")
	empty := filepath.Join(dir, "empty.d")
	clean := writeConf(f, dir, "clean.conf", "")
	cache := filepath.Join(dir, "short-name-aliases.conf")
	f.Fuzz(func(t *testing.T, data string) {
		main := writeConf(t, dir, "registries.conf", data)
		dropIn := writeConf(t, dropDir, "50-fuzz.conf", data)
		for _, sys := range []*types.SystemContext{
			{SystemRegistriesConfPath: main, SystemRegistriesConfDirPath: empty, UserShortNameAliasConfPath: cache},
			{SystemRegistriesConfPath: clean, SystemRegistriesConfDirPath: dropDir, UserShortNameAliasConfPath: cache},
			{SystemRegistriesConfPath: clean, SystemRegistriesConfDirPath: empty, UserShortNameAliasConfPath: main},
		} {
			warns, err := CheckRegistries(sys)
			for _, w := range warns {
				if w.File != main && w.File != dropIn {
					t.Fatalf("warning %q names neither file", w)
				}
			}
			if err != nil && strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %q is not one line", err)
			}
			_, _ = LoadRegistries(sys)
		}
	})
}
