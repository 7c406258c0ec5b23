package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containers/image/v5/types"
)

func writeConf(t *testing.T, dir, name, content string) string {
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

func TestCheckRegistries(t *testing.T) {
	for _, c := range []struct {
		name    string
		main    string
		dropin  string
		warns   []string // keys warned about
		wantErr string
	}{
		{name: "v2 clean", main: `
unqualified-search-registries = ["a.example", "b.example"]
short-name-mode = "enforcing"
[aliases]
"bb" = "a.example/busybox"
[[registry]]
location = "a.example"
insecure = true
[[registry.mirror]]
location = "m.example"
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
`, warns: []string{"mirror"}},
		{name: "misspelled keys", main: `
unqualified-search-registry = ["a.example"]
[[registry]]
location = "a.example"
mirrors = ["m.example"]
`, warns: []string{"unqualified-search-registry", "registry.mirrors"}},
		{name: "drop-in warning", main: `unqualified-search-registries = ["a.example"]`, dropin: `
[[registry]]
location = "a.example"
insecur = true
`, warns: []string{"registry.insecur"}},
		{name: "syntax error", main: "[[registry]]\nlocation = \"a.example\nx = 1\n", wantErr: "line 2"},
		{name: "invalid config", main: `
[[registry]]
location = "a.example"
pull-from-mirror = "sometimes"
`, wantErr: "pull-from-mirror"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			main := writeConf(t, dir, "registries.conf", c.main)
			dropDir := filepath.Join(dir, "registries.conf.d")
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
				if !strings.Contains(err.Error(), main) && !strings.Contains(err.Error(), dir) {
					t.Fatalf("error %v does not name the file", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(warns) != len(c.warns) {
				t.Fatalf("warnings %v, want keys %v", warns, c.warns)
			}
			for i, k := range c.warns {
				if warns[i].Key != k {
					t.Fatalf("warning %d is for %q, want %q", i, warns[i].Key, k)
				}
				file := main
				if dropin != "" {
					file = dropin
				}
				if warns[i].File != file || !strings.Contains(warns[i].String(), file) {
					t.Fatalf("warning %v does not name %s", warns[i], file)
				}
			}
		})
	}
}

func TestRegistriesFilesOrder(t *testing.T) {
	dir := t.TempDir()
	main := writeConf(t, dir, "registries.conf", "")
	d := filepath.Join(dir, "d")
	writeConf(t, d, "20-b.conf", "")
	writeConf(t, d, "10-a.conf", "")
	writeConf(t, d, "ignored.txt", "")
	got := RegistriesFiles(&types.SystemContext{SystemRegistriesConfPath: main, SystemRegistriesConfDirPath: d}, t.TempDir())
	want := []string{main, filepath.Join(d, "10-a.conf"), filepath.Join(d, "20-b.conf")}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("files %v, want %v", got, want)
	}
	// A user file, when present, replaces the system file.
	home := t.TempDir()
	user := writeConf(t, home, ".config/containers/registries.conf", "")
	got = RegistriesFiles(&types.SystemContext{}, home)
	if got[0] != user {
		t.Fatalf("main file %s, want the user's %s", got[0], user)
	}
}

func FuzzCheckRegistries(f *testing.F) {
	for _, s := range []string{
		"[[registry]]\nlocation = \"a\"\n[[registry.mirror]]\nlocation = \"b\"\n",
		"[registries.search]\nregistries = [\"a\"]\n",
		"unqualified-search-registries = 1\n",
		"[[registry]\n",
		"[aliases]\n\"x\" = 3\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data string) {
		_, _ = decodeRegistries("fuzz.conf", data)
	})
}
