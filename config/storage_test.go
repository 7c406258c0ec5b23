package config

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestStoreOptions(t *testing.T) {
	unsetenv(t, "STORAGE_DRIVER")
	unsetenv(t, "STORAGE_OPTS")
	home := "/home/u"
	rootless := envOf(1000, home, map[string]string{"XDG_RUNTIME_DIR": "/run/user/1000"})
	rootful := envOf(0, "/root", nil)
	for _, c := range []struct {
		name      string
		conf      string // "" = no file
		system    bool   // the file is a system storage.conf
		rootless  bool
		driver    string
		graphRoot string
		runRoot   string
		driverOpt string   // one of the driver options
		opts      []string // all the driver options, when set
		priority  []string
		pull      map[string]string
		env       map[string]string // added to the test's environment
		warnKeys  []string          // warned keys, in order
		warnHint  string
		wantErr   string
		wantLine  int
	}{
		{name: "rootful file", conf: `
[storage]
driver = "overlay"
graphroot = "/srv/graph"
runroot = "/srv/run"
[storage.options.overlay]
mountopt = "nodev"
`, driver: "overlay", graphRoot: "/srv/graph", runRoot: "/srv/run", driverOpt: "overlay.mountopt=nodev"},
		{name: "rootful missing file", graphRoot: "/var/lib/containers/storage", runRoot: "/run/containers/storage"},
		{name: "rootful file without roots", conf: "[storage]\ndriver = \"vfs\"\n", driver: "vfs", graphRoot: "/var/lib/containers/storage", runRoot: "/run/containers/storage"},
		{name: "rootless missing file", rootless: true, graphRoot: "/home/u/.local/share/containers/storage", runRoot: "/run/user/1000/containers"},
		{name: "rootless user file without roots", rootless: true, conf: "[storage]\ndriver = \"overlay\"\n", driver: "overlay",
			graphRoot: "/home/u/.local/share/containers/storage", runRoot: "/run/user/1000/containers"},
		{name: "rootless user file with roots", rootless: true, conf: "[storage]\ndriver = \"vfs\"\ngraphroot = \"$HOME/g\"\nrunroot = \"/tmp/$UID/r\"\n",
			driver: "vfs", graphRoot: "/home/u/g", runRoot: "/tmp/1000/r"},
		{name: "rootless system file", rootless: true, system: true, conf: `
[storage]
driver = "overlay"
graphroot = "/var/lib/containers/storage"
runroot = "/run/containers/storage"
rootless_storage_path = "/srv/users/$UID/storage"
`, driver: "overlay", graphRoot: "/srv/users/1000/storage", runRoot: "/run/user/1000/containers"},
		{name: "rootless system file: only rootless settings", rootless: true, system: true, conf: `
[storage]
driver = "overlay"
runroot = "/run/containers/storage"
graphroot = "/var/lib/containers/storage"
imagestore = "/srv/images"
transient_store = true
[storage.options]
pull_options = {enable_partial_images = "true"}
[storage.options.overlay]
mountopt = "nodev,metacopy=on"
mount_program = "/usr/bin/fuse-overlayfs"
ignore_chown_errors = "true"
`, driver: "overlay", graphRoot: "/home/u/.local/share/containers/storage", runRoot: "/run/user/1000/containers",
			opts: []string{"overlay.ignore_chown_errors=true"}, pull: map[string]string{"enable_partial_images": "true"}},
		{name: "rootless system file with a driver priority", rootless: true, system: true, conf: "[storage]\ndriver_priority = [\"overlay\", \"vfs\"]\n",
			graphRoot: "/home/u/.local/share/containers/storage", runRoot: "/run/user/1000/containers", priority: []string{"overlay", "vfs"}},
		{name: "rootless user file is used whole", rootless: true, conf: `
[storage]
driver = "overlay"
[storage.options.overlay]
mountopt = "nodev"
`, driver: "overlay", graphRoot: "/home/u/.local/share/containers/storage", runRoot: "/run/user/1000/containers", opts: []string{"overlay.mountopt=nodev"}},
		{name: "missing CONTAINERS_STORAGE_CONF", env: map[string]string{"CONTAINERS_STORAGE_CONF": "PATH"}, wantErr: "does not exist"},
		{name: "rootless system file with a root-only driver", rootless: true, system: true, conf: "[storage]\ndriver = \"devmapper\"\n",
			driver: "", graphRoot: "/home/u/.local/share/containers/storage", runRoot: "/run/user/1000/containers"},
		{name: "unknown and misplaced keys", conf: `
driver = "overlay"
[storage]
driver = "overlay"
mount_program = "/usr/bin/fuse-overlayfs"
colour = "blue"
[storage.options]
bogus = 1
`, driver: "overlay", graphRoot: "/var/lib/containers/storage", runRoot: "/run/containers/storage",
			warnKeys: []string{"driver", "storage.mount_program", "storage.colour", "storage.options.bogus"}, warnHint: "[storage]"},
		{name: "syntax error", conf: "[storage]\ndriver = \"overlay\"\ngraphroot = /var\n", wantErr: "line 3", wantLine: 3},
		{name: "type error", conf: "[storage]\ndriver = 1\n", wantErr: "driver"},
		{name: "imagestore equals graphroot", conf: "[storage]\ndriver = \"vfs\"\ngraphroot = \"/g\"\nimagestore = \"/g\"\n", wantErr: "imagestore"},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "storage.conf")
			if c.conf != "" {
				writeConf(t, filepath.Dir(path), "storage.conf", c.conf)
			}
			var system []string
			if c.system {
				system = []string{path}
			}
			env := rootful
			if c.rootless {
				env = rootless
			}
			if c.env != nil {
				vars := map[string]string{}
				for k, v := range c.env {
					vars[k] = strings.ReplaceAll(v, "PATH", path)
				}
				base := env.Getenv
				env.Getenv = func(k string) string {
					if v, ok := vars[k]; ok {
						return v
					}
					return base(k)
				}
			}
			opts, warns, err := storeOptions(path, c.rootless, env, system)
			if c.wantErr != "" {
				var fe *FileError
				if err == nil || !strings.Contains(err.Error(), c.wantErr) || !errors.As(err, &fe) || fe.File != path || fe.Line != c.wantLine {
					t.Fatalf("error %v, want a *FileError for %s line %d mentioning %q", err, path, c.wantLine, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			eq(t, "driver", opts.GraphDriverName, c.driver)
			eq(t, "graphroot", opts.GraphRoot, c.graphRoot)
			eq(t, "runroot", opts.RunRoot, c.runRoot)
			if c.driverOpt != "" && !slices.Contains(opts.GraphDriverOptions, c.driverOpt) {
				t.Errorf("driver options %v lack %q", opts.GraphDriverOptions, c.driverOpt)
			}
			if c.opts != nil {
				eq(t, "driver options", opts.GraphDriverOptions, c.opts)
			}
			eq(t, "driver priority", opts.GraphDriverPriority, c.priority)
			if c.pull != nil {
				eq(t, "pull options", opts.PullOptions, c.pull)
			}
			if c.rootless && c.system && (opts.ImageStore != "" || opts.TransientStore) {
				t.Errorf("a rootless user took imagestore %q / transient_store from the system file", opts.ImageStore)
			}
			var keys []string
			for _, w := range warns {
				keys = append(keys, w.Key)
				if w.File != path {
					t.Errorf("warning %q does not name %s", w, path)
				}
			}
			eq(t, "warned keys", keys, c.warnKeys)
			if c.warnHint != "" && !strings.Contains(warns[0].Message, c.warnHint) {
				t.Errorf("warning %q lacks hint %q", warns[0], c.warnHint)
			}
		})
	}
}

// TestStoreOptionsEnv: the public entry point reads the process environment
// (STORAGE_DRIVER overrides the file, as in containers/storage).
func TestStoreOptionsEnv(t *testing.T) {
	unsetenv(t, "STORAGE_OPTS")
	t.Setenv("STORAGE_DRIVER", "vfs")
	path := writeConf(t, t.TempDir(), "storage.conf", "[storage]\ndriver = \"overlay\"\ngraphroot = \"/g\"\nrunroot = \"/r\"\n")
	opts, warns, err := StoreOptions(path, false, 0)
	if err != nil || len(warns) != 0 {
		t.Fatal(err, warns)
	}
	eq(t, "driver", opts.GraphDriverName, "vfs")
	eq(t, "graphroot", opts.GraphRoot, "/g")

	// A rootless user taking the system file's settings gets STORAGE_DRIVER
	// and STORAGE_OPTS too.
	t.Setenv("STORAGE_DRIVER", "overlay")
	t.Setenv("STORAGE_OPTS", "overlay.mountopt=nodev")
	env := CurrentEnv()
	env.UID = 1000
	opts, _, err = storeOptions(path, true, env, []string{path})
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "rootless driver", opts.GraphDriverName, "overlay")
	eq(t, "rootless driver options", opts.GraphDriverOptions, []string{"overlay.mountopt=nodev"})
	if opts.GraphRoot == "/g" {
		t.Errorf("a rootless user took the system graphroot")
	}

	// Without any file, the environment still applies.
	opts, _, err = StoreOptions(filepath.Join(t.TempDir(), "none.conf"), false, 0)
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "driver without a file", opts.GraphDriverName, "overlay")
	eq(t, "driver options without a file", opts.GraphDriverOptions, []string{"overlay.mountopt=nodev"})
}

// unsetenv unsets k for the test (containers/storage tells unset from empty).
func unsetenv(t *testing.T, k string) {
	t.Setenv(k, "")
	os.Unsetenv(k)
}
