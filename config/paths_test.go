package config

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	dockerconfig "github.com/containers/image/v5/pkg/docker/config"
	"github.com/containers/image/v5/pkg/sysregistriesv2"
	"github.com/containers/image/v5/types"
)

func envOf(uid int, home string, vars map[string]string) Env {
	return Env{UID: uid, Home: home, Getenv: func(k string) string { return vars[k] }}
}

func TestDefaultPaths(t *testing.T) {
	home := "/home/u"
	for _, c := range []struct {
		name  string
		env   Env
		check func(t *testing.T, p Paths)
	}{
		{"rootful", envOf(0, "/root", nil), func(t *testing.T, p Paths) {
			eq(t, "RegistriesConf", p.RegistriesConf, "/etc/containers/registries.conf")
			eq(t, "RegistriesConfDirs", p.RegistriesConfDirs, []string{"/etc/containers/registries.conf.d", "/root/.config/containers/registries.conf.d"})
			eq(t, "AuthFile", p.AuthFile, "/run/containers/0/auth.json")
			eq(t, "GraphRoot", p.GraphRoot, "/var/lib/containers/storage")
			eq(t, "RunRoot", p.RunRoot, "/run/containers/storage")
			eq(t, "EngineConfs", p.EngineConfs, []string{"/usr/share/containers/containers.conf", "/etc/containers/containers.conf"})
			eq(t, "CertsDirs", p.CertsDirs, []string{"/root/.config/containers/certs.d", "/etc/containers/certs.d", "/etc/docker/certs.d"})
			eq(t, "RegistriesD", p.RegistriesD, []string{"/root/.config/containers/registries.d", "/etc/containers/registries.d"})
			eq(t, "ShortNameAliasesConf", p.ShortNameAliasesConf, "/var/cache/containers/short-name-aliases.conf")
			eq(t, "AuthReadFiles", p.AuthReadFiles, []string{"/run/containers/0/auth.json", "/root/.config/containers/auth.json", "/root/.docker/config.json", "/root/.dockercfg"})
			if p.StorageConf != SystemStorageConf && p.StorageConf != VendorStorageConf {
				t.Errorf("StorageConf %s, want a system file", p.StorageConf)
			}
		}},
		{"rootless with XDG_RUNTIME_DIR", envOf(1000, home, map[string]string{"XDG_RUNTIME_DIR": "/run/user/1000"}), func(t *testing.T, p Paths) {
			eq(t, "AuthFile", p.AuthFile, "/run/user/1000/containers/auth.json")
			eq(t, "GraphRoot", p.GraphRoot, "/home/u/.local/share/containers/storage")
			eq(t, "RunRoot", p.RunRoot, "/run/user/1000/containers")
			eq(t, "EngineConfs", p.EngineConfs, []string{"/usr/share/containers/containers.conf", "/etc/containers/containers.conf", "/home/u/.config/containers/containers.conf"})
			eq(t, "PolicyJSON", p.PolicyJSON, "/etc/containers/policy.json")
			eq(t, "ShortNameAliasesConf", p.ShortNameAliasesConf, "/home/u/.cache/containers/short-name-aliases.conf")
			eq(t, "AuthReadFiles", p.AuthReadFiles, []string{"/run/user/1000/containers/auth.json", "/home/u/.config/containers/auth.json", "/home/u/.docker/config.json", "/home/u/.dockercfg"})
		}},
		{"rootless without XDG_RUNTIME_DIR", envOf(1000, home, nil), func(t *testing.T, p Paths) {
			eq(t, "AuthFile", p.AuthFile, "/run/containers/1000/auth.json")
			eq(t, "RunRoot", p.RunRoot, "/tmp/containers-user-1000/containers")
		}},
		{"rootless XDG dirs", envOf(1000, home, map[string]string{"XDG_DATA_HOME": "/data", "XDG_CONFIG_HOME": "/cfg", "XDG_RUNTIME_DIR": "/rt", "XDG_CACHE_HOME": "/cache", "DOCKER_CONFIG": "/dc"}), func(t *testing.T, p Paths) {
			eq(t, "ShortNameAliasesConf", p.ShortNameAliasesConf, "/cache/containers/short-name-aliases.conf")
			eq(t, "AuthReadFiles", p.AuthReadFiles, []string{"/rt/containers/auth.json", "/cfg/containers/auth.json", "/dc/config.json", "/home/u/.dockercfg"})
			eq(t, "GraphRoot", p.GraphRoot, "/data/containers/storage")
			eq(t, "RunRoot", p.RunRoot, "/rt/containers")
			eq(t, "EngineConfs", p.EngineConfs, []string{"/usr/share/containers/containers.conf", "/etc/containers/containers.conf", "/cfg/containers/containers.conf"})
			// containers/image ignores XDG_CONFIG_HOME for registries.conf.
			eq(t, "RegistriesConfDirs", p.RegistriesConfDirs, []string{"/etc/containers/registries.conf.d", "/home/u/.config/containers/registries.conf.d"})
		}},
		{"environment overrides", envOf(1000, home, map[string]string{
			"REGISTRY_AUTH_FILE":         "/a/auth.json",
			"CONTAINERS_REGISTRIES_CONF": "/a/registries.conf",
			"CONTAINERS_STORAGE_CONF":    "/a/storage.conf",
			"CONTAINERS_CONF":            "/a/containers.conf",
			"CONTAINERS_CONF_OVERRIDE":   "/a/override.conf",
			"XDG_RUNTIME_DIR":            "/rt",
		}), func(t *testing.T, p Paths) {
			eq(t, "AuthFile", p.AuthFile, "/a/auth.json")
			eq(t, "AuthReadFiles", p.AuthReadFiles, []string{"/a/auth.json"})
			eq(t, "RegistriesConf", p.RegistriesConf, "/a/registries.conf")
			eq(t, "StorageConf", p.StorageConf, "/a/storage.conf")
			eq(t, "EngineConfs", p.EngineConfs, []string{"/a/containers.conf", "/a/override.conf"})
		}},
		{"root with XDG_RUNTIME_DIR", envOf(0, "/root", map[string]string{"XDG_RUNTIME_DIR": "/run/user/0", "TMPDIR": "/x"}), func(t *testing.T, p Paths) {
			// containers/image prefers XDG_RUNTIME_DIR for root too.
			eq(t, "AuthFile", p.AuthFile, "/run/user/0/containers/auth.json")
			eq(t, "RunRoot", p.RunRoot, "/run/containers/storage")
		}},
	} {
		t.Run(c.name, func(t *testing.T) { c.check(t, DefaultPaths(c.env)) })
	}
}

// TestDefaultPathsUserFiles: existing per-user files replace the system ones.
func TestDefaultPathsUserFiles(t *testing.T) {
	home := t.TempDir()
	xdg := t.TempDir()
	reg := writeConf(t, home, ".config/containers/registries.conf", "")
	pol := writeConf(t, home, ".config/containers/policy.json", "{}")
	st := writeConf(t, xdg, "containers/storage.conf", "")
	p := DefaultPaths(envOf(1000, home, map[string]string{"XDG_CONFIG_HOME": xdg}))
	eq(t, "RegistriesConf", p.RegistriesConf, reg)
	eq(t, "RegistriesConfDirs", p.RegistriesConfDirs, []string{filepath.Join(home, ".config/containers/registries.conf.d")})
	eq(t, "PolicyJSON", p.PolicyJSON, pol)
	eq(t, "StorageConf", p.StorageConf, st)
	// Root reads $XDG_CONFIG_HOME/containers/storage.conf only when
	// XDG_CONFIG_HOME is set, as containers/storage does; never
	// ~/.config/containers/storage.conf.
	p = DefaultPaths(envOf(0, home, map[string]string{"XDG_CONFIG_HOME": xdg}))
	eq(t, "root StorageConf with XDG_CONFIG_HOME", p.StorageConf, st)
	writeConf(t, home, ".config/containers/storage.conf", "")
	p = DefaultPaths(envOf(0, home, nil))
	if p.StorageConf != SystemStorageConf && p.StorageConf != VendorStorageConf {
		t.Errorf("root StorageConf = %s, want a system file", p.StorageConf)
	}
}

// TestDefaultPathsMatchContainersImage compares the registries.conf sources
// with what containers/image reports for the same home and environment.
func TestDefaultPathsMatchContainersImage(t *testing.T) {
	home := isolate(t)
	env := CurrentEnv()
	check := func(what string) {
		t.Helper()
		p := DefaultPaths(env)
		want := sysregistriesv2.ConfigurationSourceDescription(withRegistriesEnv(nil, env))
		got := strings.Join(append([]string{p.RegistriesConf}, p.RegistriesConfDirs...), ", ")
		if got != want {
			t.Errorf("%s: sources %q, containers/image reads %q", what, got, want)
		}
	}
	check("no user file")
	writeConf(t, home, ".config/containers/registries.conf", "")
	check("user file")
	t.Setenv("CONTAINERS_REGISTRIES_CONF", filepath.Join(t.TempDir(), "r.conf"))
	check("CONTAINERS_REGISTRIES_CONF")
}

func eq(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

// TestAuthReadFilesMatchContainersImage checks AuthReadFiles against the
// files containers/image reads credentials from, and their order: each file
// holds credentials for the registry, the earlier ones winning.
func TestAuthReadFilesMatchContainersImage(t *testing.T) {
	home := isolate(t)
	t.Cleanup(func() { os.RemoveAll(filepath.Join(home, ".docker")); os.Remove(filepath.Join(home, ".dockercfg")) })
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	unsetenv(t, "DOCKER_CONFIG")
	unsetenv(t, "REGISTRY_AUTH_FILE")
	p := DefaultPaths(CurrentEnv())
	if len(p.AuthReadFiles) != 4 {
		t.Fatalf("AuthReadFiles %v, want 4 files", p.AuthReadFiles)
	}
	auth := func(user string) string {
		return base64.StdEncoding.EncodeToString([]byte(user + ":pw"))
	}
	for i := len(p.AuthReadFiles) - 1; i >= 0; i-- {
		f := p.AuthReadFiles[i]
		user := fmt.Sprintf("user%d", i)
		content := fmt.Sprintf(`{"auths": {"reg.example": {"auth": %q}}}`, auth(user))
		if filepath.Base(f) == ".dockercfg" {
			content = fmt.Sprintf(`{"reg.example": {"auth": %q}}`, auth(user))
		}
		writeConf(t, filepath.Dir(f), filepath.Base(f), content)
		creds, err := dockerconfig.GetCredentials(nil, "reg.example")
		if err != nil {
			t.Fatal(err)
		}
		if creds.Username != user {
			t.Fatalf("with %s written, containers/image reads %q, want %q", f, creds.Username, user)
		}
	}

	// REGISTRY_AUTH_FILE (the CLIs pass it as AuthFilePath) is read alone.
	t.Setenv("REGISTRY_AUTH_FILE", filepath.Join(t.TempDir(), "auth.json"))
	p = DefaultPaths(CurrentEnv())
	creds, err := dockerconfig.GetCredentials(&types.SystemContext{AuthFilePath: p.AuthFile}, "reg.example")
	if err != nil || creds.Username != "" || len(p.AuthReadFiles) != 1 {
		t.Fatalf("with REGISTRY_AUTH_FILE: read %q (%v), AuthReadFiles %v; want only the empty auth file", creds.Username, err, p.AuthReadFiles)
	}
}
