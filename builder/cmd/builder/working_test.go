package main

import (
	"reflect"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestContainerDest(t *testing.T) {
	for _, c := range []struct{ workDir, dest, want string }{
		{"", "", "/"},
		{"/srv", "", "/srv/"},
		{"/srv/", "data/", "/srv/data/"},
		{"/srv", "data", "/srv/data"},
		{"/srv", ".", "/srv/"},
		{"/srv", "/etc/app/", "/etc/app/"},
		{"/srv", "../x", "/x"},
		{"", "a/./", "/a/"},
		{"/", "/", "/"},
	} {
		if got := containerDest(c.workDir, c.dest); got != c.want {
			t.Errorf("containerDest(%q, %q) = %q, want %q", c.workDir, c.dest, got, c.want)
		}
	}
}

func TestParseVolumeAndMount(t *testing.T) {
	dir := t.TempDir()
	m, err := parseVolume(dir + ":/mnt:ro,z")
	want := specs.Mount{Destination: "/mnt", Type: "bind", Source: dir, Options: []string{"rbind", "ro"}}
	if err != nil || !reflect.DeepEqual(m, want) {
		t.Errorf("parseVolume = %+v, %v; want %+v", m, err, want)
	}
	for _, bad := range []string{dir, dir + ":rel", dir + ":/mnt:bogus", dir + "/nosuch:/mnt", ":/mnt"} {
		if _, err := parseVolume(bad); err == nil {
			t.Errorf("parseVolume(%q) accepted", bad)
		}
	}
	m, err = parseMount("type=tmpfs,destination=/cache,tmpfs-size=1m")
	want = specs.Mount{Destination: "/cache", Type: "tmpfs", Source: "tmpfs", Options: []string{"rw", "nosuid", "nodev", "size=1m"}}
	if err != nil || !reflect.DeepEqual(m, want) {
		t.Errorf("parseMount tmpfs = %+v, %v; want %+v", m, err, want)
	}
	m, err = parseMount("type=bind,src=" + dir + ",dst=/in,ro")
	want = specs.Mount{Destination: "/in", Type: "bind", Source: dir, Options: []string{"rbind", "ro"}}
	if err != nil || !reflect.DeepEqual(m, want) {
		t.Errorf("parseMount bind = %+v, %v; want %+v", m, err, want)
	}
	for _, bad := range []string{"type=volume,dst=/x", "type=bind,dst=/x", "type=tmpfs", "type=tmpfs,dst=/x,color=red"} {
		if _, err := parseMount(bad); err == nil {
			t.Errorf("parseMount(%q) accepted", bad)
		}
	}
}

func TestSplitDest(t *testing.T) {
	for dest, want := range map[string][2]string{
		"app":                            {"app", ""},
		"localhost:5000/app:1":           {"localhost:5000/app:1", ""},
		"containers-storage:app:1":       {"app:1", ""},
		"docker://registry.example/a:1":  {"", "docker://registry.example/a:1"},
		"oci:/tmp/layout:tag":            {"", "oci:/tmp/layout:tag"},
		"registry.example/team/app:v1.2": {"registry.example/team/app:v1.2", ""},
	} {
		local, remote := splitDest(dest)
		if [2]string{local, remote} != want {
			t.Errorf("splitDest(%q) = %q, %q; want %q", dest, local, remote, want)
		}
	}
}

func TestShellJoinAndPullPolicy(t *testing.T) {
	if got := shellJoin([]string{"sh", "-c", "echo 'hi' > /x", ""}); got != `sh -c 'echo '\''hi'\'' > /x' ''` {
		t.Errorf("shellJoin = %q", got)
	}
	for in, want := range map[string]string{"true": "missing", "false": "never", "always": "always", "ifnewer": "newer", "missing": "missing"} {
		if got, err := pullPolicy(in); err != nil || got != want {
			t.Errorf("pullPolicy(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := pullPolicy("sometimes"); err == nil {
		t.Error("pullPolicy accepted sometimes")
	}
}
