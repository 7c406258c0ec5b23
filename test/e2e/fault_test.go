package e2e

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
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
	assertInterruptedCopy(t, reg, proxy, "copy", "--dest-tls-verify=false", img.Ref(), "docker://"+proxy.Addr+"/interrupted:1")
}

// assertInterruptedCopy runs transport with args, copying to interrupted:1
// of reg through proxy, sends it SIGINT once 1 MiB has gone through, and
// checks that it fails with one line saying so and leaves no manifest.
func assertInterruptedCopy(t *testing.T, reg *registry.Registry, proxy *registry.Proxy, args ...string) {
	t.Helper()
	cmd := bin.Cmd(t, "transport", args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitUploaded(t, proxy, 1<<20)
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err == nil || cmd.ProcessState.ExitCode() == 0 {
		t.Fatal("interrupted copy exited 0")
	}
	assertOneLine(t, stderr.String(), "interrupted")
	if s := reg.ManifestStatus("interrupted", "1"); s != 404 {
		t.Fatalf("manifest after SIGINT: status %d, want 404", s)
	}
}

// faultFront is an HTTP front for a registry that answers the first
// requests of each kind with the faults queued for it, then passes requests
// through. A fault is an HTTP status or 0 for a dropped connection (EOF).
type faultFront struct {
	Addr string

	mu     sync.Mutex
	faults map[string][]int
	seen   map[string][]time.Time // when each request of a kind arrived
}

// faultKind classifies a request: "PUT manifest", "POST upload",
// "HEAD blob", …
func faultKind(r *http.Request) string {
	switch {
	case strings.Contains(r.URL.Path, "/manifests/"):
		return r.Method + " manifest"
	case strings.Contains(r.URL.Path, "/blobs/uploads"):
		return r.Method + " upload"
	case strings.Contains(r.URL.Path, "/blobs/"):
		return r.Method + " blob"
	}
	return r.Method + " " + r.URL.Path
}

func startFaultFront(t *testing.T, reg *registry.Registry, faults map[string][]int) *faultFront {
	t.Helper()
	target, _ := url.Parse(reg.URL())
	proxy := httputil.NewSingleHostReverseProxy(target)
	f := &faultFront{faults: faults, seen: map[string][]time.Time{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		kind := faultKind(r)
		f.mu.Lock()
		f.seen[kind] = append(f.seen[kind], time.Now())
		fault, inject := -1, len(f.faults[kind]) > 0
		if inject {
			fault, f.faults[kind] = f.faults[kind][0], f.faults[kind][1:]
		}
		f.mu.Unlock()
		switch {
		case !inject:
			proxy.ServeHTTP(w, r)
		case fault == 0:
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
		default:
			if fault == http.StatusTooManyRequests {
				w.Header().Set("Retry-After", "1")
			}
			http.Error(w, http.StatusText(fault), fault)
		}
	}))
	t.Cleanup(srv.Close)
	f.Addr = strings.TrimPrefix(srv.URL, "http://")
	return f
}

func (f *faultFront) times(kind string) []time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Time(nil), f.seen[kind]...)
}

// TestFaultTransientResponses: a dropped connection, 408, 429, 500 and 503,
// on blob checks, blob uploads and the manifest PUT, are retried and the
// copy completes; a 429's Retry-After is waited for, on the blob check and
// on the manifest PUT; with --retry-times 0 the first fault fails the copy
// with one line and no manifest is written.
func TestFaultTransientResponses(t *testing.T) {
	img := fixture.MultiLayer(t, 2, 64<<10)
	reg := registry.Start(t, registry.Options{})
	front := startFaultFront(t, reg, map[string][]int{
		"HEAD blob":    {http.StatusTooManyRequests, http.StatusInternalServerError},
		"POST upload":  {http.StatusRequestTimeout, 0},
		"PUT manifest": {0, http.StatusServiceUnavailable, http.StatusTooManyRequests},
	})
	res := bin.Run(t, nil, "transport", "--log-level", "info", "copy", "--image-parallel-copies", "1", "--retry-times", "8", "--retry-delay", "10ms", "--dest-tls-verify=false", img.Ref(), "docker://"+front.Addr+"/transient:1")
	if res.Code != 0 {
		t.Fatalf("copy through transient faults: exit %d: %s", res.Code, res.Stderr)
	}
	if _, _, d := getManifest(t, reg, "transient", "1"); d != img.Digest.String() {
		t.Fatalf("digest %s, want %s", d, img.Digest)
	}
	for kind, want := range map[string]int{"PUT manifest": 4, "POST upload": 3, "HEAD blob": 3} {
		if n := len(front.times(kind)); n < want {
			t.Fatalf("%s: %d requests, want at least %d (the faults and a successful one)", kind, n, want)
		}
	}
	// The first HEAD got a 429 with Retry-After: 1; the next one waited.
	heads := front.times("HEAD blob")
	if gap := heads[1].Sub(heads[0]); gap < 900*time.Millisecond {
		t.Fatalf("the blob HEAD after a 429 with Retry-After: 1 came %s later", gap)
	}
	// The third manifest PUT got a 429 with Retry-After: 1.
	if puts := front.times("PUT manifest"); puts[3].Sub(puts[2]) < 900*time.Millisecond {
		t.Fatalf("the manifest PUT after a 429 with Retry-After: 1 came %s later", puts[3].Sub(puts[2]))
	}
	if !strings.Contains(res.Stderr, "retrying") {
		t.Fatalf("retries not logged at info level: %s", res.Stderr)
	}

	reg2 := registry.Start(t, registry.Options{})
	front = startFaultFront(t, reg2, map[string][]int{"PUT manifest": {http.StatusServiceUnavailable}})
	res = bin.Run(t, nil, "transport", "copy", "--retry-times", "0", "--dest-tls-verify=false", img.Ref(), "docker://"+front.Addr+"/transient:1")
	if res.Code != 1 {
		t.Fatalf("503 without retries: exit %d, want 1", res.Code)
	}
	assertOneLine(t, res.Stderr, "transient:1", "503")
	if s := reg2.ManifestStatus("transient", "1"); s != 404 {
		t.Fatalf("manifest after a failed PUT: status %d", s)
	}
}

// TestFaultSyncRetries: sync applies the same retry rule (--retry-times,
// --retry-delay): a 503 on a manifest PUT is retried, and without retries it
// fails that image.
func TestFaultSyncRetries(t *testing.T) {
	src := registry.Start(t, registry.Options{})
	fixture.Push(t, fixture.Busybox(t), src.Ref("sr/app:1"), src.SystemContext())
	for _, c := range []struct {
		retries string
		ok      bool
	}{{"1", true}, {"0", false}} {
		dst := registry.Start(t, registry.Options{})
		front := startFaultFront(t, dst, map[string][]int{"PUT manifest": {http.StatusServiceUnavailable}})
		res := bin.Run(t, nil, "transport", "sync", "--src", "docker", "--dest", "docker", "--retry-times", c.retries, "--retry-delay", "10ms",
			"--src-tls-verify=false", "--dest-tls-verify=false", src.Addr+"/sr/app", front.Addr+"/m")
		got := dst.ManifestStatus("m/app", "1") == 200
		if (res.Code == 0) != c.ok || got != c.ok {
			t.Fatalf("sync --retry-times %s with a 503 on the manifest PUT: exit %d, manifest present %v: %s", c.retries, res.Code, got, res.Stdout)
		}
		if n := len(front.times("PUT manifest")); n != 2-boolInt(!c.ok) {
			t.Fatalf("sync --retry-times %s: %d manifest PUTs", c.retries, n)
		}
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
