package e2e

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ocisuite/suite/test/bin"
	"github.com/ocisuite/suite/test/fixture"
	"github.com/ocisuite/suite/test/registry"
)

// waitUploaded waits until n bytes went through the proxy.
func waitUploaded(t *testing.T, p *registry.Proxy, n int64) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for p.Uploaded() < n {
		if time.Now().After(deadline) {
			t.Fatalf("only %d bytes uploaded after 60s", p.Uploaded())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestFaultRegistryRestartsMidCopy: the destination dies after the first
// layer arrived, while the next one is on its way, and comes back; the
// copy retries, completes, and does not send the first layer again.
func TestFaultRegistryRestartsMidCopy(t *testing.T) {
	img := fixture.MultiLayer(t, 4, 2<<20)
	reg := registry.Start(t, registry.Options{})
	proxy := registry.StartProxy(t, reg.Addr, 4<<20)
	dest := "docker://" + proxy.Addr + "/faulty:1"

	done := make(chan bin.Result, 1)
	go func() {
		done <- bin.Run(t, nil, "transport", "--log-level", "info", "copy", "--image-parallel-copies", "1", "--retry-times", "5", "--retry-delay", "500ms", "--dest-tls-verify=false", img.Ref(), dest)
	}()
	first := waitBlobStored(t, reg)
	reg.Kill()
	time.Sleep(300 * time.Millisecond)
	reg.Restart(t)
	res := <-done
	if res.Code != 0 {
		t.Fatalf("copy did not survive a registry restart: exit %d: %s", res.Code, res.Stderr)
	}
	if !strings.Contains(res.Stderr, "retrying") {
		t.Fatalf("the copy was not interrupted by the crash: %s", res.Stderr)
	}
	_, _, d := getManifest(t, reg, "faulty", "1")
	if d != img.Digest.String() {
		t.Fatalf("digest after restart %s, want %s", d, img.Digest)
	}
	if n := countRequests(reg, "PUT", "/v2/faulty/blobs/uploads/", "digest="+first); n != 1 {
		t.Fatalf("the layer stored before the crash was uploaded %d times, want 1", n)
	}
}

// waitBlobStored waits for the first completed blob upload in reg's log
// and returns its digest as it appears in the query ("sha256%3A…").
func waitBlobStored(t *testing.T, reg *registry.Registry) string {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		for _, q := range reg.Requests() {
			if q.Method == "PUT" && q.Status == 201 && strings.Contains(q.Path, "/blobs/uploads/") {
				if _, d, ok := strings.Cut(q.Path, "digest="); ok {
					d, _, _ = strings.Cut(d, "&")
					return d
				}
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("no blob upload completed within 60s")
	return ""
}

// TestFaultRegistryStaysDown: the destination dies and stays down; the copy
// gives up after its retries with one line, and no manifest is left behind.
func TestFaultRegistryStaysDown(t *testing.T) {
	img := fixture.MultiLayer(t, 4, 2<<20)
	reg := registry.Start(t, registry.Options{})
	proxy := registry.StartProxy(t, reg.Addr, 4<<20)
	done := make(chan bin.Result, 1)
	go func() {
		done <- bin.Run(t, nil, "transport", "copy", "--retry-times", "2", "--retry-delay", "200ms", "--dest-tls-verify=false", img.Ref(), "docker://"+proxy.Addr+"/down:1")
	}()
	waitUploaded(t, proxy, 2<<20)
	reg.Kill()
	res := <-done
	if res.Code != 1 {
		t.Fatalf("exit %d, want 1", res.Code)
	}
	assertOneLine(t, res.Stderr, "down:1", "after 3 attempts")
	reg.Restart(t)
	if s := reg.ManifestStatus("down", "1"); s != 404 {
		t.Fatalf("manifest after a failed copy: status %d, want 404", s)
	}
}

// TestFaultInterrupt: SIGINT mid-copy stops with a non-zero exit and leaves
// no manifest at the destination.
func TestFaultInterrupt(t *testing.T) {
	img := fixture.MultiLayer(t, 4, 2<<20)
	reg := registry.Start(t, registry.Options{})
	proxy := registry.StartProxy(t, reg.Addr, 2<<20)
	cmd := bin.Cmd(t, "transport", "copy", "--dest-tls-verify=false", img.Ref(), "docker://"+proxy.Addr+"/interrupted:1")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitUploaded(t, proxy, 1<<20)
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	if err == nil || cmd.ProcessState.ExitCode() == 0 {
		t.Fatal("interrupted copy exited 0")
	}
	assertOneLine(t, stderr.String(), "interrupted")
	if s := reg.ManifestStatus("interrupted", "1"); s != 404 {
		t.Fatalf("manifest after SIGINT: status %d, want 404", s)
	}
}
