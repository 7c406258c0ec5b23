package config

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/containers/image/v5/pkg/sysregistriesv2"
	"github.com/containers/image/v5/signature"
	"github.com/containers/image/v5/types"
)

// TestDefaults checks that each shipped file is what its loader accepts,
// without warnings.
func TestDefaults(t *testing.T) {
	isolate(t)
	unsetenv(t, "STORAGE_DRIVER")
	unsetenv(t, "STORAGE_OPTS")
	dir := t.TempDir()
	if err := os.CopyFS(dir, Defaults()); err != nil {
		t.Fatal(err)
	}
	names, err := fs.Glob(Defaults(), "*")
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "files", names, []string{"policy.json", "registries.conf", "storage.conf"})

	sys := &types.SystemContext{SystemRegistriesConfPath: filepath.Join(dir, "registries.conf"), SystemRegistriesConfDirPath: t.TempDir()}
	warns, err := CheckRegistries(sys)
	if err != nil || len(warns) != 0 {
		t.Fatalf("registries.conf: %v %v", warns, err)
	}
	mode, err := sysregistriesv2.GetShortNameMode(sys)
	if err != nil || mode != types.ShortNameModeEnforcing {
		t.Fatalf("short-name-mode %v %v, want enforcing", mode, err)
	}

	policy, err := signature.NewPolicyFromFile(filepath.Join(dir, "policy.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(policy.Default) != 1 || len(policy.Transports["docker-daemon"][""]) != 1 {
		t.Fatalf("policy %+v lacks a default or a docker-daemon entry", policy)
	}
	pc, err := signature.NewPolicyContext(policy)
	if err != nil {
		t.Fatal(err)
	}
	pc.Destroy()

	opts, warns, err := storeOptions(filepath.Join(dir, "storage.conf"), false, envOf(0, "/root", nil), nil)
	if err != nil || len(warns) != 0 {
		t.Fatalf("storage.conf: %v %v", warns, err)
	}
	eq(t, "driver", opts.GraphDriverName, "overlay")
	eq(t, "graphroot", opts.GraphRoot, RootfulGraphRoot)
	eq(t, "runroot", opts.RunRoot, RootfulRunRoot)
}
