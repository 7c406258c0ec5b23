package oci

import (
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestGenerateDefaults(t *testing.T) {
	s, err := Generate(Spec{Rootfs: "/r", Args: []string{"true"}, Caps: []string{"CAP_CHOWN", "net_bind_service"}, CapDrop: []string{"chown"}, CapAdd: []string{"CAP_NET_ADMIN"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Process.Capabilities.Bounding; !slices.Equal(got, []string{"CAP_NET_ADMIN", "CAP_NET_BIND_SERVICE"}) {
		t.Errorf("capabilities %v", got)
	}
	if !slices.Contains(s.Linux.MaskedPaths, "/proc/kcore") || !slices.Contains(s.Linux.ReadonlyPaths, "/proc/sys") {
		t.Errorf("masked %v readonly %v", s.Linux.MaskedPaths, s.Linux.ReadonlyPaths)
	}
	if !slices.ContainsFunc(s.Linux.Namespaces, func(n specs.LinuxNamespace) bool { return n.Type == specs.NetworkNamespace }) {
		t.Error("no network namespace for the default network mode none")
	}
	if s.Process.Rlimits != nil {
		t.Error("rlimits set by default: the caller's must be inherited")
	}
	p, err := Generate(Spec{Rootfs: "/r", Args: []string{"true"}, Privileged: true, Network: NetworkHost})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Linux.MaskedPaths) != 0 || len(p.Process.Capabilities.Bounding) < 38 {
		t.Errorf("privileged: masked %v, %d caps", p.Linux.MaskedPaths, len(p.Process.Capabilities.Bounding))
	}
	if slices.ContainsFunc(p.Linux.Namespaces, func(n specs.LinuxNamespace) bool { return n.Type == specs.NetworkNamespace }) {
		t.Error("host network has a network namespace")
	}
	if _, err := Generate(Spec{Rootfs: "/r", Args: []string{"true"}, CapAdd: []string{"CAP_NOPE"}}); err == nil {
		t.Error("unknown capability accepted")
	}
	u, _ := Generate(Spec{Rootfs: "/r", Args: []string{"true"}, Unmask: []string{"ALL"}})
	if len(u.Linux.MaskedPaths) != 0 || len(u.Linux.ReadonlyPaths) != 0 {
		t.Error("unmask=ALL left paths masked")
	}
}

func TestDefaultSeccomp(t *testing.T) {
	denied := func(p *specs.LinuxSeccomp, name string) bool {
		for _, s := range p.Syscalls {
			if s.Action == specs.ActErrno && slices.Contains(s.Names, name) {
				return true
			}
		}
		return false
	}
	p := DefaultSeccomp(nil)
	for _, n := range []string{"mount", "unshare", "ptrace", "keyctl", "kexec_load"} {
		if !denied(p, n) {
			t.Errorf("%s allowed by default", n)
		}
	}
	if denied(p, "read") {
		t.Error("read denied")
	}
	if a := DefaultSeccomp([]string{"CAP_SYS_ADMIN"}); denied(a, "mount") || !denied(a, "keyctl") {
		t.Error("CAP_SYS_ADMIN: mount should be allowed, keyctl still denied")
	}
}

func TestParseUlimit(t *testing.T) {
	rl, err := ParseUlimit("nofile=100:200")
	if err != nil || rl.Type != "RLIMIT_NOFILE" || rl.Soft != 100 || rl.Hard != 200 {
		t.Fatalf("%+v %v", rl, err)
	}
	for _, bad := range []string{"nofile", "bogus=1", "nofile=x", "nofile=5:2", "nofile=1:18446744073709551614"} {
		if _, err := ParseUlimit(bad); err == nil {
			t.Errorf("%q accepted", bad)
		} else if bad == "nofile=1:18446744073709551614" && !strings.Contains(err.Error(), "hard limit") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
