package config

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadEngine(t *testing.T) {
	type warn struct{ key, inMsg string }
	for _, c := range []struct {
		name     string
		files    []string // written as 1.conf, 2.conf, …; a missing 0.conf is always passed first
		check    func(t *testing.T, e Engine)
		warns    []warn // all in the last file
		wantErr  string
		wantLine int
	}{
		{name: "defaults", check: func(t *testing.T, e Engine) {
			eq(t, "Engine", e, DefaultEngine())
			eq(t, "Runtime", e.Runtime, "runc")
			eq(t, "PidsLimit", e.PidsLimit, int64(2048))
			eq(t, "LogDriver", e.LogDriver, "k8s-file")
			eq(t, "PullPolicy", e.PullPolicy, "missing")
			eq(t, "EventsLogger", e.EventsLogger, "file")
			eq(t, "NetworkBackend", e.NetworkBackend, "netavark")
			eq(t, "DefaultNetwork", e.DefaultNetwork, "podman")
			eq(t, "DefaultSubnet", e.DefaultSubnet, "10.88.0.0/16")
			eq(t, "DefaultUlimits", len(e.DefaultUlimits), 0)
			eq(t, "has CAP_CHOWN", strings.Contains(strings.Join(e.DefaultCapabilities, ","), "CAP_CHOWN"), true)
		}},
		{name: "later files override key by key", files: []string{`
[engine]
runtime = "crun"
pull_policy = "always"
infra_image = "a.example/pause:1"
[containers]
default_ulimits = ["nofile=1024:2048"]
pids_limit = 100
tz = "UTC"
`, `
[engine]
runtime = "runc"
conmon_path = ["/opt/conmon"]
[engine.runtimes]
runc = ["/opt/runc"]
[containers]
pids_limit = 0
default_capabilities = ["CAP_KILL"]
[network]
default_subnet = "10.99.0.0/24"
network_backend = "cni"
`}, check: func(t *testing.T, e Engine) {
			eq(t, "Runtime", e.Runtime, "runc")
			eq(t, "PullPolicy", e.PullPolicy, "always")
			eq(t, "InfraImage", e.InfraImage, "a.example/pause:1")
			eq(t, "DefaultUlimits", e.DefaultUlimits, []string{"nofile=1024:2048"})
			eq(t, "PidsLimit", e.PidsLimit, int64(0))
			eq(t, "TZ", e.TZ, "UTC")
			eq(t, "ConmonPath", e.ConmonPath, []string{"/opt/conmon"})
			eq(t, "Runtimes[runc]", e.Runtimes["runc"], []string{"/opt/runc"})
			eq(t, "DefaultCapabilities", e.DefaultCapabilities, []string{"CAP_KILL"})
			eq(t, "DefaultSubnet", e.DefaultSubnet, "10.99.0.0/24")
			eq(t, "NetworkBackend", e.NetworkBackend, "cni")
			eq(t, "LogDriver", e.LogDriver, "k8s-file")
			if DefaultEngine().Runtimes["runc"][0] != "/usr/bin/runc" {
				t.Error("loading changed the defaults")
			}
		}},
		{name: "valid containers.conf keys we do not use", files: []string{`
[containers]
shm_size = "65536k"
log_size_max = -1
[engine]
cgroup_manager = "cgroupfs"
[engine.service_destinations.remote]
uri = "ssh://x"
[engine.runtimes]
crun = ["/usr/bin/crun"]
[network]
dns_bind_port = 53
[machine]
cpus = 2
[secrets]
driver = "file"
[secrets.opts]
root = "/x"
[farms]
default = "f"
[podmansh]
shell = "/bin/sh"
`}, check: func(t *testing.T, e Engine) {
			eq(t, "Runtimes[crun]", e.Runtimes["crun"], []string{"/usr/bin/crun"})
			eq(t, "Runtimes[runc]", e.Runtimes["runc"], DefaultEngine().Runtimes["runc"])
		}},
		{name: "unknown and misplaced keys", files: []string{`
runtime = "runc"
[containers]
pids_limt = 5
runtime = "runc"
[engine]
default_network = "x"
[network]
backend = "cni"
[nettwork]
a = 1
b = 2
`}, warns: []warn{
			{"runtime", "[engine]"},
			{"containers.pids_limt", "not a containers.conf key"},
			{"containers.runtime", "[engine]"},
			{"engine.default_network", "[network]"},
			{"network.backend", "not a containers.conf key"},
			{"nettwork", "not a containers.conf table"},
		}},
		{name: "invalid pull policy", files: []string{"[engine]\npull_policy = \"sometimes\"\n"}, wantErr: "engine.pull_policy"},
		{name: "invalid ulimit", files: []string{"[containers]\ndefault_ulimits = [\"nofile=1024:2048\", \"nofiles=1\"]\n"}, wantErr: "nofiles=1"},
		{name: "invalid subnet", files: []string{"[network]\ndefault_subnet = \"10.88.0.0\"\n"}, wantErr: "network.default_subnet"},
		{name: "type error", files: []string{"[containers]\n\npids_limit = \"lots\"\n"}, wantErr: "pids_limit"},
		{name: "syntax error", files: []string{"[containers]\ntz = \"UTC\"\n[engine\n"}, wantErr: "line 3", wantLine: 3},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			paths := []string{filepath.Join(dir, "0.conf")}
			for i, f := range c.files {
				paths = append(paths, writeConf(t, dir, string(rune('1'+i))+".conf", f))
			}
			last := paths[len(paths)-1]
			e, warns, err := LoadEngine(paths...)
			if c.wantErr != "" {
				var fe *FileError
				if err == nil || !strings.Contains(err.Error(), c.wantErr) || !errors.As(err, &fe) || fe.File != last || fe.Line != c.wantLine {
					t.Fatalf("error %v, want a *FileError for %s line %d mentioning %q", err, last, c.wantLine, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.check != nil {
				c.check(t, e)
			}
			if len(warns) != len(c.warns) {
				t.Fatalf("warnings %v, want %v", warns, c.warns)
			}
			for i, w := range c.warns {
				got := warns[i]
				if got.File != last || got.Key != w.key || !strings.Contains(got.Message, w.inMsg) {
					t.Errorf("warning %d = %q, want %s: %s …%s", i, got, last, w.key, w.inMsg)
				}
			}
		})
	}
}

func TestInvalidValueError(t *testing.T) {
	path := writeConf(t, t.TempDir(), "c.conf", "[engine]\nevents_logger = \"syslog\"\n")
	_, _, err := LoadEngine(path)
	var ive *InvalidValueError
	if !errors.As(err, &ive) || ive.Key != "engine.events_logger" || ive.Value != "syslog" {
		t.Fatalf("error %v, want an InvalidValueError for engine.events_logger", err)
	}
}

// TestDefaultEngineFile: the compiled-in containers.conf holds every
// default, with nothing the loader does not know.
func TestDefaultEngineFile(t *testing.T) {
	var e Engine
	warns, err := e.apply("containers.conf", defaultEngineConf)
	if err != nil || len(warns) != 0 {
		t.Fatalf("defaults/containers.conf: %v %v", warns, err)
	}
	eq(t, "DefaultEngine", DefaultEngine(), Engine{
		Runtime: "runc",
		Runtimes: map[string][]string{
			"runc": {"/usr/bin/runc", "/usr/sbin/runc", "/usr/local/bin/runc", "/usr/local/sbin/runc", "/sbin/runc", "/bin/runc", "/usr/lib/cri-o-runc/sbin/runc"},
		},
		ConmonPath: []string{
			"/usr/libexec/podman/conmon", "/usr/local/libexec/podman/conmon", "/usr/local/lib/podman/conmon",
			"/usr/bin/conmon", "/usr/sbin/conmon", "/usr/local/bin/conmon", "/usr/local/sbin/conmon",
		},
		EventsLogger:          "file",
		ImageDefaultTransport: "docker://",
		PullPolicy:            "missing",
		DefaultCapabilities: []string{
			"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_NET_BIND_SERVICE",
			"CAP_SETFCAP", "CAP_SETGID", "CAP_SETPCAP", "CAP_SETUID", "CAP_SYS_CHROOT",
		},
		DefaultUlimits: []string{},
		PidsLimit:      2048,
		LogDriver:      "k8s-file",
		SeccompProfile: "/usr/share/containers/seccomp.json",
		NetworkBackend: "netavark",
		DefaultNetwork: "podman",
		DefaultSubnet:  "10.88.0.0/16",
	})
}

// TestCommentsBlanked: comment lines are skipped before parsing without
// moving any line (an error names the right one), and a file with a
// multi-line string, where "#" may start a line of text, is parsed as is.
func TestCommentsBlanked(t *testing.T) {
	dir := t.TempDir()
	path := writeConf(t, dir, "c.conf", "# a comment\n  # another\n[engine]\n# runtime = \"x\"\nruntime = \"crun\"\n\n# more\n\tevents_logger = syslog\n")
	_, _, err := LoadEngine(path)
	var fe *FileError
	if !errors.As(err, &fe) || fe.Line != 8 {
		t.Fatalf("error %v, want a FileError at line 8", err)
	}
	path = writeConf(t, dir, "d.conf", "# c\n[engine]\n# runtime = \"x\"\nruntime = \"crun\"\n[containers]\ntz = \"\"\"\n# not a comment\"\"\"\n")
	e, _, err := LoadEngine(path)
	if err != nil {
		t.Fatal(err)
	}
	if e.Runtime != "crun" || e.TZ != "# not a comment" {
		t.Fatalf("runtime %q tz %q, want crun and the multi-line string's text", e.Runtime, e.TZ)
	}
}
