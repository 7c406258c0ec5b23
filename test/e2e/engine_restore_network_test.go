package e2e

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// TestEngineRestoreNetworkOptions: restore --import keeps the archive's
// static address and MAC unless --ignore-static-ip/--ignore-static-mac,
// and --publish replaces its published ports.
func TestEngineRestoreNetworkOptions(t *testing.T) {
	e := containerStore(t)
	defer e.settle(t)
	e.must(t, "network", "create", "--subnet", "10.89.77.0/24", "rnet")
	defer e.run(t, "network", "rm", "-f", "rnet")
	port, newPort := freeLoopbackPort(t), freeLoopbackPort(t)
	e.must(t, "run", "-d", "--name", "orig", "--network", "rnet:ip=10.89.77.50,mac=02:42:0a:59:4d:32",
		"-p", fmt.Sprintf("127.0.0.1:%d:80", port), "bb", counterLoop[0], counterLoop[1], counterLoop[2])
	e.waitCounter(t, "orig", 3)
	mac := func(name string) string {
		return strings.TrimSpace(e.must(t, "exec", name, "cat", "/sys/class/net/eth0/address").Stdout)
	}
	if got := mac("orig"); got != "02:42:0a:59:4d:32" {
		t.Fatalf("the original's MAC is %s", got)
	}
	at := e.counter(t, "orig")
	archive := filepath.Join(t.TempDir(), "orig.tar")
	e.must(t, "container", "checkpoint", "--export", archive, "orig")
	e.must(t, "rm", "-f", "orig")

	// New ports, address and MAC.
	e.must(t, "container", "restore", "--import", archive, "--name", "moved", "--ignore-static-ip", "--ignore-static-mac",
		"--publish", fmt.Sprintf("127.0.0.1:%d:80", newPort))
	e.assertResumed(t, "moved", at)
	in := e.netInspect(t, "moved").NetworkSettings
	if ip := in.Networks["rnet"].IPAddress; ip == "" || ip == "10.89.77.50" {
		t.Fatalf("with --ignore-static-ip the copy has address %q", ip)
	}
	if got := mac("moved"); got == "02:42:0a:59:4d:32" {
		t.Fatalf("with --ignore-static-mac the copy kept MAC %s", got)
	}
	if got, want := strings.TrimSpace(e.must(t, "port", "moved").Stdout), fmt.Sprintf("80/tcp -> 127.0.0.1:%d", newPort); got != want {
		t.Fatalf("port after --publish: %q, want %q", got, want)
	}

	// By default the static settings and ports travel with the archive.
	e.must(t, "container", "restore", "--import", archive, "--name", "same")
	e.assertResumed(t, "same", at)
	if ip := e.netInspect(t, "same").NetworkSettings.Networks["rnet"].IPAddress; ip != "10.89.77.50" {
		t.Fatalf("the default restore has address %q, want the static 10.89.77.50", ip)
	}
	if got := mac("same"); got != "02:42:0a:59:4d:32" {
		t.Fatalf("the default restore has MAC %s", got)
	}
	if got, want := strings.TrimSpace(e.must(t, "port", "same").Stdout), fmt.Sprintf("80/tcp -> 127.0.0.1:%d", port); got != want {
		t.Fatalf("port of the default restore: %q, want %q", got, want)
	}
	// The options need an archive.
	if res := e.run(t, "container", "restore", "--publish", "8080:80", "same"); res.Code != 125 {
		t.Fatalf("restore --publish without --import: exit %d", res.Code)
	}
}
