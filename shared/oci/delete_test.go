package oci

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestProcessAlive(t *testing.T) {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	start, err := strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	if !processAlive(os.Getpid(), start) {
		t.Error("this process is not alive")
	}
	if processAlive(os.Getpid(), start+1) {
		t.Error("a process with another start time is taken for this one")
	}
	if processAlive(1<<22+1, start) {
		t.Error("a PID above pid_max is alive")
	}
}

func TestRemoveCgroup(t *testing.T) {
	d := t.TempDir()
	tree := filepath.Join(d, "ctr")
	if err := os.MkdirAll(filepath.Join(tree, "a", "b"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(tree, "c"), 0o755)
	if !removeCgroup(tree) {
		t.Fatal("an empty tree was not removed")
	}
	if _, err := os.Stat(tree); !os.IsNotExist(err) {
		t.Fatalf("%s is left: %v", tree, err)
	}
	if !removeCgroup(tree) {
		t.Fatal("a missing cgroup is not removed")
	}
	// A directory that cannot be removed (here: not empty) is reported.
	os.MkdirAll(filepath.Join(tree, "a"), 0o755)
	os.WriteFile(filepath.Join(tree, "a", "f"), nil, 0o644)
	if removeCgroup(tree) {
		t.Fatal("a tree holding a file was reported removed")
	}
}

func TestDeleteStoppedLeavesOthersToRunc(t *testing.T) {
	root := t.TempDir()
	write := func(id, state string) {
		os.MkdirAll(filepath.Join(root, id), 0o700)
		os.WriteFile(filepath.Join(root, id, "state.json"), []byte(state), 0o600)
	}
	r := &Runtime{Path: "/usr/sbin/runc", Root: root}
	// The init process is this test: alive.
	b, _ := os.ReadFile("/proc/self/stat")
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	alive := `{"init_process_pid":` + strconv.Itoa(os.Getpid()) + `,"init_process_start":` + f[19] + `,"cgroup_paths":{},"config":{"namespaces":[{"type":"NEWPID","path":""}]}}`
	write("alive", alive)
	// No PID namespace of its own: its processes may outlive init.
	write("hostpid", `{"init_process_pid":999999999,"init_process_start":1,"cgroup_paths":{},"config":{"namespaces":[]}}`)
	// A poststop hook is runc's to run.
	write("hook", `{"init_process_pid":999999999,"init_process_start":1,"cgroup_paths":{},"config":{"namespaces":[{"type":"NEWPID","path":""}],"Hooks":{"poststop":[{"path":"/bin/true"}]}}}`)
	// A cgroup path outside /sys/fs/cgroup is not touched.
	write("odd", `{"init_process_pid":999999999,"init_process_start":1,"cgroup_paths":{"memory":"/tmp/x"},"config":{"namespaces":[{"type":"NEWPID","path":""}]}}`)
	for _, id := range []string{"alive", "hostpid", "hook", "odd"} {
		if r.deleteStopped(id) {
			t.Errorf("%s was deleted without runc", id)
		}
		if _, err := os.Stat(filepath.Join(root, id, "state.json")); err != nil {
			t.Errorf("%s: state changed: %v", id, err)
		}
	}
	write("gone", `{"init_process_pid":999999999,"init_process_start":1,"cgroup_paths":{},"config":{"namespaces":[{"type":"NEWPID","path":""}]}}`)
	if !r.deleteStopped("gone") {
		t.Fatal("a stopped container was left to runc")
	}
	if _, err := os.Stat(filepath.Join(root, "gone")); !os.IsNotExist(err) {
		t.Fatalf("the state of gone is left: %v", err)
	}
	if (&Runtime{Path: "/usr/bin/crun", Root: root}).deleteStopped("alive") {
		t.Error("another runtime's container was deleted")
	}
}
