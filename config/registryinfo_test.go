package config

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containers/image/v5/pkg/sysregistriesv2"
	"github.com/containers/image/v5/types"
)

func TestLoadRegistries(t *testing.T) {
	for _, c := range []struct {
		name    string
		main    string
		dropIns []string // written as 10.conf, 20.conf, … in the drop-in dir
		cache   string   // short-name-aliases.conf; "" = none
		sys     func(*types.SystemContext)
		check   func(t *testing.T, r *Registries, files []string)
	}{
		{name: "v2 mirrors, insecure and blocked", main: `
unqualified-search-registries = ["a.example", "b.example:5000"]
short-name-mode = "disabled"
[[registry]]
prefix = "a.example/team"
location = "a-mirror.example/team"
insecure = true
[[registry.mirror]]
location = "m1.example"
insecure = true
pull-from-mirror = "digest-only"
[[registry.mirror]]
location = "m2.example/ns"
pull-from-mirror = "tag-only"
[[registry.mirror]]
location = "m3.example"
[[registry]]
location = "digests.example"
mirror-by-digest-only = true
[[registry.mirror]]
location = "dm.example"
[[registry]]
location = "bad.example"
blocked = true
`, check: func(t *testing.T, r *Registries, files []string) {
			eq(t, "Search", r.Search, []string{"a.example", "b.example:5000"})
			eq(t, "SearchOrigin", r.SearchOrigin, files[0])
			eq(t, "ShortNameMode", r.ShortNameMode, types.ShortNameModeDisabled)
			eq(t, "CredentialHelpers", r.CredentialHelpers, []string{"containers-auth.json"})
			eq(t, "Registry", r.Registry, []Registry{
				{Prefix: "a.example/team", Location: "a-mirror.example/team", Insecure: true, Mirrors: []Mirror{
					{Location: "m1.example", Insecure: true, PullFromMirror: "digest-only"},
					{Location: "m2.example/ns", PullFromMirror: "tag-only"},
					{Location: "m3.example", PullFromMirror: "all"},
				}},
				{Prefix: "bad.example", Location: "bad.example", Blocked: true},
				{Prefix: "digests.example", Location: "digests.example", MirrorByDigestOnly: true, Mirrors: []Mirror{
					{Location: "dm.example", PullFromMirror: "digest-only"},
				}},
			})
		}},
		{name: "v1 tables", main: `
[registries.search]
registries = ["s.example"]
[registries.insecure]
registries = ["s.example", "i.example"]
[registries.block]
registries = ["b.example"]
`, check: func(t *testing.T, r *Registries, files []string) {
			eq(t, "Search", r.Search, []string{"s.example"})
			eq(t, "ShortNameMode", r.ShortNameMode, types.ShortNameModePermissive)
			eq(t, "Registry", r.Registry, []Registry{
				{Prefix: "b.example", Location: "b.example", Blocked: true},
				{Prefix: "i.example", Location: "i.example", Insecure: true},
				{Prefix: "s.example", Location: "s.example", Insecure: true},
			})
		}},
		{name: "drop-ins override the main file", main: `
unqualified-search-registries = ["main.example"]
short-name-mode = "permissive"
[aliases]
"one" = "main.example/one"
"two" = "main.example/two"
[[registry]]
location = "r.example"
insecure = true
[[registry]]
location = "kept.example"
`, dropIns: []string{`
short-name-mode = "enforcing"
credential-helpers = ["secretservice"]
[aliases]
"two" = "docker.io/two"
"three" = "quay.example/x/three"
[[registry]]
location = "r.example"
[[registry.mirror]]
location = "rm.example"
`, `
unqualified-search-registries = []
[aliases]
"one" = ""
`}, check: func(t *testing.T, r *Registries, files []string) {
			eq(t, "Search", len(r.Search), 0)
			eq(t, "SearchOrigin", r.SearchOrigin, files[2])
			eq(t, "ShortNameMode", r.ShortNameMode, types.ShortNameModeEnforcing)
			eq(t, "CredentialHelpers", r.CredentialHelpers, []string{"secretservice"})
			eq(t, "Aliases", r.Aliases, map[string]Alias{
				"two":   {Value: "docker.io/library/two", Origin: files[1]},
				"three": {Value: "quay.example/x/three", Origin: files[1]},
			})
			eq(t, "Registry", r.Registry, []Registry{
				{Prefix: "kept.example", Location: "kept.example"},
				{Prefix: "r.example", Location: "r.example", Mirrors: []Mirror{{Location: "rm.example", PullFromMirror: "all"}}},
			})
		}},
		{name: "shortnames drop-in and the alias cache", main: `
[aliases]
"busybox" = "main.example/busybox"
`, dropIns: []string{`
[aliases]
"busybox" = "docker.io/library/busybox"
"alpine" = "docker.io/library/alpine"
"fedora" = "registry.fedoraproject.org/fedora"
`}, cache: `
[aliases]
"alpine" = "localhost:5000/mine/alpine"
"fedora" = ""
"mine" = "localhost/mine"
`, check: func(t *testing.T, r *Registries, files []string) {
			eq(t, "Aliases", r.Aliases, map[string]Alias{
				"busybox": {Value: "docker.io/library/busybox", Origin: files[1]},
				"alpine":  {Value: "localhost:5000/mine/alpine", Origin: files[len(files)-1]},
				"mine":    {Value: "localhost/mine", Origin: files[len(files)-1]},
			})
		}},
		{name: "SystemContext short-name mode wins", main: `short-name-mode = "enforcing"`,
			sys: func(s *types.SystemContext) { m := types.ShortNameModeDisabled; s.ShortNameMode = &m },
			check: func(t *testing.T, r *Registries, files []string) {
				eq(t, "ShortNameMode", r.ShortNameMode, types.ShortNameModeDisabled)
			}},
	} {
		t.Run(c.name, func(t *testing.T) {
			isolate(t)
			dir := t.TempDir()
			files := []string{writeConf(t, dir, "registries.conf", c.main)}
			dropDir := filepath.Join(dir, "registries.conf.d")
			for i, d := range c.dropIns {
				files = append(files, writeConf(t, dropDir, string(rune('1'+i))+"0.conf", d))
			}
			cache := filepath.Join(dir, "cache", "short-name-aliases.conf")
			if c.cache != "" {
				files = append(files, writeConf(t, filepath.Dir(cache), filepath.Base(cache), c.cache))
			}
			sys := &types.SystemContext{SystemRegistriesConfPath: files[0], SystemRegistriesConfDirPath: dropDir, UserShortNameAliasConfPath: cache}
			if c.sys != nil {
				c.sys(sys)
			}
			r, err := LoadRegistries(sys)
			if err != nil {
				t.Fatal(err)
			}
			eq(t, "Sources", r.Sources, files[0]+", "+dropDir)
			c.check(t, r, files)

			// The aliases are what containers/image resolves.
			for _, name := range []string{"one", "two", "three", "busybox", "alpine", "fedora", "mine"} {
				named, origin, err := sysregistriesv2.ResolveShortNameAlias(sys, name)
				if err != nil {
					t.Fatal(err)
				}
				a, ok := r.Aliases[name]
				if (named != nil) != ok || (ok && (named.String() != a.Value || origin != a.Origin)) {
					t.Errorf("alias %s = %+v, containers/image resolves %v from %q", name, a, named, origin)
				}
			}
		})
	}
}

func TestLoadRegistriesErrors(t *testing.T) {
	isolate(t)
	dir := t.TempDir()
	main := writeConf(t, dir, "registries.conf", "[aliases]\n\"ok\" = \"a.example/ok\"\n")
	for _, c := range []struct {
		name, file, content, inErr string
	}{
		{"bad alias in the cache", "cache.conf", "[aliases]\n\"x\" = \"no-registry\"\n", "no-registry"},
		{"syntax error in the cache", "cache.conf", "[aliases\n", "line 1"},
		{"bad drop-in", "registries.conf.d/50.conf", "[[registry]]\nlocation = \"a.example\"\nblocked = \"yes\"\n", "blocked"},
	} {
		t.Run(c.name, func(t *testing.T) {
			sub := t.TempDir()
			bad := writeConf(t, sub, c.file, c.content)
			sys := &types.SystemContext{
				SystemRegistriesConfPath:    main,
				SystemRegistriesConfDirPath: filepath.Join(sub, "registries.conf.d"),
				UserShortNameAliasConfPath:  filepath.Join(sub, "cache.conf"),
			}
			_, err := LoadRegistries(sys)
			var fe *FileError
			if !errors.As(err, &fe) || fe.File != bad || !strings.Contains(err.Error(), c.inErr) {
				t.Fatalf("error %v, want one naming %s and %q", err, bad, c.inErr)
			}
		})
	}
}

// TestLoadRegistriesDefaultCache: without UserShortNameAliasConfPath the
// cache is the user's (rootless) or the system's (root).
func TestLoadRegistriesDefaultCache(t *testing.T) {
	isolate(t)
	cacheHome := t.TempDir()
	cache := writeConf(t, cacheHome, "containers/short-name-aliases.conf", "[aliases]\n\"c\" = \"cache.example/c\"\n")
	main := writeConf(t, t.TempDir(), "registries.conf", "")
	sys := &types.SystemContext{SystemRegistriesConfPath: main, SystemRegistriesConfDirPath: t.TempDir()}

	env := envOf(1000, "/nonexistent", map[string]string{"XDG_CACHE_HOME": cacheHome})
	r, err := loadRegistries(sys, env)
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "Aliases", r.Aliases, map[string]Alias{"c": {Value: "cache.example/c", Origin: cache}})
	eq(t, "cache path", DefaultPaths(env).ShortNameAliasesConf, cache)
}
