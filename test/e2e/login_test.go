package e2e

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/ocisuite/suite/test/bin"
	"github.com/ocisuite/suite/test/fixture"
	"github.com/ocisuite/suite/test/registry"
)

func readAuths(t *testing.T, path string) map[string]string {
	t.Helper()
	var f struct {
		Auths map[string]struct{ Auth string } `json:"auths"`
	}
	readJSON(t, path, &f)
	out := map[string]string{}
	for k, v := range f.Auths {
		b, _ := base64.StdEncoding.DecodeString(v.Auth)
		out[k] = string(b)
	}
	return out
}

func TestLogin(t *testing.T) {
	img := fixture.Busybox(t)
	reg := registry.Start(t, registry.Options{Flavour: registry.TLSAuth})
	other := registry.Start(t, registry.Options{Flavour: registry.TLSAuth, Username: "bob", Password: "pw2"})
	fixture.Push(t, img, reg.Ref("bb:1"), reg.SystemContext())
	dir := filepath.Join(t.TempDir(), "auth") // does not exist yet
	authFile := filepath.Join(dir, "auth.json")
	old := syscall.Umask(0)
	defer syscall.Umask(old)

	// Wrong password: one line naming the registry, nothing written.
	res := bin.Run(t, nil, "transport", "login", "--authfile", authFile, "--cert-dir", reg.CertDir, "-u", reg.Username, "-p", "wrong", reg.Addr)
	if res.Code != 1 {
		t.Fatalf("wrong password: exit %d, want 1", res.Code)
	}
	assertOneLine(t, res.Stderr, reg.Addr, "authentication required")
	if _, err := os.Stat(authFile); err == nil {
		t.Fatal("a failed login wrote the auth file")
	}

	res = transport(t, "login", "--authfile", authFile, "--cert-dir", reg.CertDir, "-u", reg.Username, "-p", reg.Password, reg.Addr)
	if !strings.Contains(res.Stdout, "Login Succeeded!") {
		t.Fatalf("login output: %q", res.Stdout)
	}
	for p, want := range map[string]os.FileMode{authFile: 0o600, dir: 0o700} {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != want {
			t.Fatalf("%s has mode %o, want %o", p, st.Mode().Perm(), want)
		}
	}
	if got := readAuths(t, authFile)[reg.Addr]; got != reg.Username+":"+reg.Password {
		t.Fatalf("stored credentials %q", got)
	}

	// The stored credentials are used, through --authfile and REGISTRY_AUTH_FILE.
	transport(t, "inspect", "--authfile", authFile, "--cert-dir", reg.CertDir, reg.Ref("bb:1"))
	bin.MustRun(t, []string{"REGISTRY_AUTH_FILE=" + authFile}, "transport", "inspect", "--cert-dir", reg.CertDir, reg.Ref("bb:1"))

	// --password-stdin and --get-login.
	cmd := bin.Cmd(t, "transport", "login", "--authfile", authFile, "--cert-dir", other.CertDir, "-u", "bob", "--password-stdin", other.Addr)
	cmd.Stdin = strings.NewReader("pw2\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("--password-stdin: %v: %s", err, out)
	}
	res = transport(t, "login", "--authfile", authFile, "--get-login", other.Addr)
	if res.Stdout != "bob\n" {
		t.Fatalf("--get-login: %q", res.Stdout)
	}

	transport(t, "logout", "--authfile", authFile, reg.Addr)
	auths := readAuths(t, authFile)
	if _, ok := auths[reg.Addr]; ok || auths[other.Addr] != "bob:pw2" {
		t.Fatalf("after logout: %v", auths)
	}
	res = bin.Run(t, nil, "transport", "logout", "--authfile", authFile, reg.Addr)
	if res.Code != 1 {
		t.Fatalf("logout when not logged in: exit %d", res.Code)
	}
	assertOneLine(t, res.Stderr, "not logged in")
	transport(t, "logout", "--authfile", authFile, "--all")
	if auths := readAuths(t, authFile); len(auths) != 0 {
		t.Fatalf("after logout --all: %v", auths)
	}
	res = bin.Run(t, nil, "transport", "inspect", "--authfile", authFile, "--cert-dir", reg.CertDir, reg.Ref("bb:1"))
	if res.Code == 0 {
		t.Fatal("inspect succeeded after logout --all")
	}
}
