package e2e

import (
	"strings"
	"testing"

	"github.com/ocisuite/suite/test/bin"
	"github.com/ocisuite/suite/test/fixture"
	"github.com/ocisuite/suite/test/registry"
)

// A copy from a registry to a registry goes over the suite's own registry
// client (as sync's plain images do; TestCopyRetryAfter). These tests check
// that such a copy shows, refuses and fails as copies through
// containers/image do.

// plainFlags are the TLS flags for two plain (http) registries.
var plainFlags = []string{"--src-tls-verify=false", "--dest-tls-verify=false"}

func copyArgs(args ...string) []string {
	return append(append([]string{"copy"}, plainFlags...), args...)
}

// TestCopyRegistryProgress: between registries, a copy on a terminal shows
// a progress bar per blob and the manifest write, a blob the destination
// repository already has shows as skipped, --quiet shows nothing; to a
// pipe nothing is printed, and --log-level info logs each blob.
func TestCopyRegistryProgress(t *testing.T) {
	src := registry.Start(t, registry.Options{})
	dst := registry.Start(t, registry.Options{})
	img := fixture.MultiLayer(t, 2, 256<<10)
	fixture.Push(t, img, src.Ref("p/app:1"), src.SystemContext())

	tty := runOnTerminal(t, copyArgs(src.Ref("p/app:1"), dst.Ref("p/app:1"))...)
	for _, want := range []string{"Copying blob " + img.Layers[0].Encoded()[:12] + " done", "Copying config", "Writing manifest to image destination"} {
		if !strings.Contains(tty, want) {
			t.Fatalf("terminal output lacks %q: %q", want, tty)
		}
	}
	tty = runOnTerminal(t, copyArgs(src.Ref("p/app:1"), dst.Ref("p/app:2"))...)
	if !strings.Contains(tty, "Copying blob "+img.Layers[1].Encoded()[:12]+" skipped: already exists") {
		t.Fatalf("a blob the destination has is not shown as skipped: %q", tty)
	}
	if tty := runOnTerminal(t, copyArgs("--quiet", src.Ref("p/app:1"), dst.Ref("p/app:3"))...); tty != "" {
		t.Fatalf("--quiet printed %q on a terminal", tty)
	}
	res := transport(t, copyArgs(src.Ref("p/app:1"), dst.Ref("p/app:4"))...)
	if res.Stdout != "" || res.Stderr != "" {
		t.Fatalf("copy to a pipe printed %q / %q", res.Stdout, res.Stderr)
	}
	res = transport(t, append([]string{"--log-level", "info"}, copyArgs(src.Ref("p/app:1"), dst.Ref("q/app:1"))...)...)
	if res.Stdout != "" || !strings.Contains(res.Stderr, "Copying blob "+img.Layers[0].String()) || !strings.Contains(res.Stderr, "Writing manifest") {
		t.Fatalf("--log-level info: stdout %q, stderr %q", res.Stdout, res.Stderr)
	}
	for _, tag := range []string{"p/app:1", "p/app:2", "p/app:3", "p/app:4", "q/app:1"} {
		repo, ref, _ := strings.Cut(tag, ":")
		if _, _, d := getManifest(t, dst, repo, ref); d != img.Digest.String() {
			t.Fatalf("%s: digest %s, want %s", tag, d, img.Digest)
		}
	}
}

// TestCopyRegistryRefusals: between registries, a trust policy that
// rejects the source stops the copy before anything is sent, wrong
// credentials fail with one line naming the registry, and a missing source
// exits 2.
func TestCopyRegistryRefusals(t *testing.T) {
	src := registry.Start(t, registry.Options{})
	auth := registry.Start(t, registry.Options{Flavour: registry.TLSAuth})
	img := fixture.Busybox(t)
	fixture.Push(t, img, src.Ref("r/app:1"), src.SystemContext())

	front := startFaultFront(t, registry.Start(t, registry.Options{}), nil)
	reject := signPolicy(t, []map[string]any{signRejectAll()}, "")
	res := bin.Run(t, nil, "transport", append([]string{"--policy", reject}, copyArgs(src.Ref("r/app:1"), "docker://"+front.Addr+"/r/app:1")...)...)
	if res.Code != 1 {
		t.Fatalf("reject policy: exit %d, want 1: %s", res.Code, res.Stderr)
	}
	assertOneLine(t, res.Stderr, "rejected")
	for _, kind := range []string{"POST upload", "PUT upload", "PUT manifest"} {
		if n := len(front.times(kind)); n != 0 {
			t.Fatalf("reject policy: %d %s requests, want none", n, kind)
		}
	}

	res = bin.Run(t, nil, "transport", "copy", "--src-tls-verify=false", "--dest-cert-dir", auth.CertDir, "--dest-creds", auth.Username+":wrong",
		src.Ref("r/app:1"), auth.Ref("r/app:1"))
	if res.Code != 1 {
		t.Fatalf("wrong password: exit %d, want 1", res.Code)
	}
	assertOneLine(t, res.Stderr, "authentication required", auth.Addr)
	if s := auth.ManifestStatus("r/app", "1"); s != 404 {
		t.Fatalf("after a failed copy the manifest answers %d, want 404", s)
	}

	res = bin.Run(t, nil, "transport", copyArgs(src.Ref("r/app:nothing"), "docker://"+front.Addr+"/r/app:2")...)
	if res.Code != 2 {
		t.Fatalf("missing image: exit %d, want 2 (not found): %s", res.Code, res.Stderr)
	}
	assertOneLine(t, res.Stderr, "nothing")
}

// TestCopyRegistryFaults: between registries, a destination that dies and
// stays down fails the copy after its retries with one line, and SIGINT
// mid-copy exits non-zero; neither leaves a manifest behind.
func TestCopyRegistryFaults(t *testing.T) {
	src := registry.Start(t, registry.Options{})
	img := fixture.MultiLayer(t, 4, 2<<20)
	fixture.Push(t, img, src.Ref("f/app:1"), src.SystemContext())

	reg := registry.Start(t, registry.Options{})
	proxy := registry.StartProxy(t, reg.Addr, 4<<20)
	done := make(chan bin.Result, 1)
	go func() {
		done <- bin.Run(t, nil, "transport", copyArgs("--retry-times", "2", "--retry-delay", "200ms", src.Ref("f/app:1"), "docker://"+proxy.Addr+"/down:1")...)
	}()
	waitUploaded(t, proxy, 2<<20)
	reg.Kill()
	res := <-done
	if res.Code != 1 {
		t.Fatalf("exit %d, want 1: %s", res.Code, res.Stderr)
	}
	assertOneLine(t, res.Stderr, "down:1", "after 3 attempts")
	reg.Restart(t)
	if s := reg.ManifestStatus("down", "1"); s != 404 {
		t.Fatalf("manifest after a failed copy: status %d, want 404", s)
	}

	reg = registry.Start(t, registry.Options{})
	proxy = registry.StartProxy(t, reg.Addr, 2<<20)
	assertInterruptedCopy(t, reg, proxy, copyArgs(src.Ref("f/app:1"), "docker://"+proxy.Addr+"/interrupted:1")...)
}

// TestCopyRegistryMounts: between registries, a copy to another repository
// of a destination that got the image's layers from an earlier copy mounts
// them from there (containers/image's blob info cache remembers where they
// went) instead of uploading them again.
func TestCopyRegistryMounts(t *testing.T) {
	src := registry.Start(t, registry.Options{})
	dst := registry.Start(t, registry.Options{})
	img := fixture.MultiLayer(t, 3, 256<<10)
	fixture.Push(t, img, src.Ref("m/app:1"), src.SystemContext())
	transport(t, copyArgs(src.Ref("m/app:1"), dst.Ref("first:1"))...)
	transport(t, copyArgs(src.Ref("m/app:1"), dst.Ref("second:1"))...)
	assertMounted(t, dst, img, "second", "first")
	if _, _, d := getManifest(t, dst, "second", "1"); d != img.Digest.String() {
		t.Fatalf("digest %s, want %s", d, img.Digest)
	}
}
