package e2e

import (
	"bufio"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ocisuite/suite/test/bin"
	"github.com/ocisuite/suite/test/fixture"
	"github.com/ocisuite/suite/test/registry"
)

// readAuths returns the decoded "user:password" of every auths entry.
func readAuths(t *testing.T, path string) map[string]string {
	t.Helper()
	var f struct {
		Auths map[string]struct{ Auth string } `json:"auths"`
	}
	readJSON(t, path, &f)
	out := map[string]string{}
	for k, v := range f.Auths {
		b, err := base64.StdEncoding.DecodeString(v.Auth)
		if err != nil {
			t.Fatalf("%s: auth of %s is not base64: %v", path, k, err)
		}
		out[k] = string(b)
	}
	return out
}

func assertMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != want {
		t.Fatalf("%s has mode %o, want %o", path, st.Mode().Perm(), want)
	}
}

func TestLogin(t *testing.T) {
	img := fixture.Busybox(t)
	reg := registry.Start(t, registry.Options{Flavour: registry.TLSAuth})
	other := registry.Start(t, registry.Options{Flavour: registry.TLSAuth, Username: "bob", Password: "pw2"})
	fixture.Push(t, img, reg.Ref("bb:1"), reg.SystemContext())
	dir := filepath.Join(t.TempDir(), "auth") // does not exist yet
	authFile := filepath.Join(dir, "auth.json")
	// The modes must not depend on the umask.
	old := syscall.Umask(0)
	defer syscall.Umask(old)

	// A wrong password: one line naming the registry, nothing written.
	res := bin.Run(t, nil, "transport", "login", "--authfile", authFile, "--cert-dir", reg.CertDir, "-u", reg.Username, "-p", "wrong", reg.Addr)
	if res.Code != 1 {
		t.Fatalf("wrong password: exit %d, want 1", res.Code)
	}
	assertOneLine(t, res.Stderr, reg.Addr, "invalid username or password")
	if _, err := os.Stat(dir); err == nil {
		t.Fatal("a failed login created the auth file's directory")
	}

	res = transport(t, "login", "--authfile", authFile, "--cert-dir", reg.CertDir, "-u", reg.Username, "-p", reg.Password, reg.Addr)
	if res.Stdout != "Login Succeeded!\n" {
		t.Fatalf("login output: %q", res.Stdout)
	}
	assertMode(t, authFile, 0o600)
	assertMode(t, dir, 0o700)
	if got := readAuths(t, authFile); len(got) != 1 || got[reg.Addr] != reg.Username+":"+reg.Password {
		t.Fatalf("stored credentials %q", got)
	}

	// The stored credentials are used, through --authfile and REGISTRY_AUTH_FILE.
	out := decodeInspect(t, transport(t, "inspect", "--authfile", authFile, "--cert-dir", reg.CertDir, reg.Ref("bb:1")))
	if out.Digest != img.Digest.String() {
		t.Fatalf("inspect with the stored credentials: %+v", out)
	}
	bin.MustRun(t, []string{"REGISTRY_AUTH_FILE=" + authFile}, "transport", "inspect", "--cert-dir", reg.CertDir, reg.Ref("bb:1"))

	// Without -u/-p, valid stored credentials are reused and nothing is rewritten.
	before, err := os.Stat(authFile)
	if err != nil {
		t.Fatal(err)
	}
	res = transport(t, "login", "--authfile", authFile, "--cert-dir", reg.CertDir, reg.Addr)
	if !strings.Contains(res.Stdout, "Already logged in to "+reg.Addr) {
		t.Fatalf("login with stored credentials: %q", res.Stdout)
	}
	if after, _ := os.Stat(authFile); !after.ModTime().Equal(before.ModTime()) {
		t.Fatal("login with stored credentials rewrote the auth file")
	}

	// --password-stdin (one line), --verbose, and --get-login.
	cmd := bin.Cmd(t, "transport", "login", "--authfile", authFile, "--cert-dir", other.CertDir, "-u", "bob", "--password-stdin", "--verbose", other.Addr)
	cmd.Stdin = strings.NewReader("pw2\nignored second line\n")
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("--password-stdin: %v: %s", err, b)
	}
	if !strings.Contains(string(b), "Used: "+authFile) || !strings.Contains(string(b), "Login Succeeded!") {
		t.Fatalf("--verbose output: %q", b)
	}
	if got := readAuths(t, authFile); got[other.Addr] != "bob:pw2" || got[reg.Addr] != reg.Username+":"+reg.Password {
		t.Fatalf("after the second login: %v", got)
	}
	for r, user := range map[*registry.Registry]string{reg: reg.Username, other: "bob"} {
		if res := transport(t, "login", "--authfile", authFile, "--get-login", r.Addr); res.Stdout != user+"\n" {
			t.Fatalf("--get-login %s: %q, want %q", r.Addr, res.Stdout, user)
		}
	}
	res = bin.Run(t, nil, "transport", "login", "--authfile", authFile, "--get-login", "nowhere.example:5000")
	if res.Code != 1 || res.Stdout != "" {
		t.Fatalf("--get-login when not logged in: exit %d, stdout %q", res.Code, res.Stdout)
	}
	assertOneLine(t, res.Stderr, "nowhere.example:5000", "not logged in")

	// A wrong password on stdin writes nothing either.
	cmd = bin.Cmd(t, "transport", "login", "--authfile", authFile, "--cert-dir", other.CertDir, "-u", "bob", "--password-stdin", other.Addr)
	cmd.Stdin = strings.NewReader("nope\n")
	if b, err := cmd.CombinedOutput(); err == nil {
		t.Fatalf("wrong password on stdin succeeded: %s", b)
	}
	if got := readAuths(t, authFile); got[other.Addr] != "bob:pw2" {
		t.Fatalf("a failed login changed the stored credentials: %v", got)
	}

	// logout removes one entry; a second logout is an error.
	res = transport(t, "logout", "--authfile", authFile, reg.Addr)
	if res.Stdout != "Removed login credentials for "+reg.Addr+"\n" {
		t.Fatalf("logout output: %q", res.Stdout)
	}
	if got := readAuths(t, authFile); len(got) != 1 || got[other.Addr] != "bob:pw2" {
		t.Fatalf("after logout: %v", got)
	}
	res = bin.Run(t, nil, "transport", "logout", "--authfile", authFile, reg.Addr)
	if res.Code != 1 {
		t.Fatalf("logout when not logged in: exit %d", res.Code)
	}
	assertOneLine(t, res.Stderr, reg.Addr, "not logged in")
	res = bin.Run(t, nil, "transport", "inspect", "--authfile", authFile, "--cert-dir", reg.CertDir, reg.Ref("bb:1"))
	if res.Code != 1 {
		t.Fatalf("inspect after logout: exit %d, want 1", res.Code)
	}

	// logout --all empties the file; REGISTRY and --all are exclusive.
	for _, args := range [][]string{{"--all", other.Addr}, {}} {
		res = bin.Run(t, nil, "transport", append([]string{"logout", "--authfile", authFile}, args...)...)
		if res.Code != 1 {
			t.Fatalf("logout %v: exit %d, want 1", args, res.Code)
		}
		assertOneLine(t, res.Stderr, "--all")
	}
	transport(t, "logout", "--authfile", authFile, "--all")
	if got := readAuths(t, authFile); len(got) != 0 {
		t.Fatalf("after logout --all: %v", got)
	}
	res = bin.Run(t, nil, "transport", "login", "--authfile", authFile, "--get-login", other.Addr)
	if res.Code != 1 {
		t.Fatalf("--get-login after logout --all: exit %d", res.Code)
	}
}

// TestLoginDefaultLocation: without --authfile or REGISTRY_AUTH_FILE the
// credentials go to ${XDG_RUNTIME_DIR}/containers/auth.json (0600 in a 0700
// directory), and the other commands find them there.
func TestLoginDefaultLocation(t *testing.T) {
	reg := registry.Start(t, registry.Options{Flavour: registry.TLSAuth})
	fixture.Push(t, fixture.Busybox(t), reg.Ref("bb:1"), reg.SystemContext())
	runtime := t.TempDir()
	env := []string{"XDG_RUNTIME_DIR=" + runtime, "REGISTRY_AUTH_FILE="}
	bin.MustRun(t, env, "transport", "login", "--cert-dir", reg.CertDir, "-u", reg.Username, "-p", reg.Password, "https://"+reg.Addr+"/")
	authFile := filepath.Join(runtime, "containers", "auth.json")
	assertMode(t, authFile, 0o600)
	assertMode(t, filepath.Dir(authFile), 0o700)
	// "https://HOST/" is stored under HOST.
	if got := readAuths(t, authFile); got[reg.Addr] != reg.Username+":"+reg.Password {
		t.Fatalf("stored credentials %v", got)
	}
	bin.MustRun(t, env, "transport", "list-tags", "--cert-dir", reg.CertDir, reg.Ref("bb"))
	bin.MustRun(t, env, "transport", "logout", reg.Addr)
	if got := readAuths(t, authFile); len(got) != 0 {
		t.Fatalf("after logout: %v", got)
	}
}

// TestLoginTLSVerify: --tls-verify=false reaches a plain-HTTP registry,
// which the default (verify) refuses; --cert-dir is needed for the test CA.
func TestLoginTLSVerify(t *testing.T) {
	plain := registry.Start(t, registry.Options{})
	tls := registry.Start(t, registry.Options{Flavour: registry.TLSAuth})
	authFile := filepath.Join(t.TempDir(), "auth.json")
	res := bin.Run(t, nil, "transport", "login", "--authfile", authFile, "-u", "u", "-p", "p", plain.Addr)
	if res.Code != 1 {
		t.Fatalf("login to plain HTTP with TLS verification: exit %d", res.Code)
	}
	assertOneLine(t, res.Stderr, plain.Addr)
	transport(t, "login", "--authfile", authFile, "--tls-verify=false", "-u", "u", "-p", "p", plain.Addr)
	res = bin.Run(t, nil, "transport", "login", "--authfile", authFile, "-u", tls.Username, "-p", tls.Password, tls.Addr)
	if res.Code != 1 {
		t.Fatalf("login without the CA: exit %d", res.Code)
	}
	assertOneLine(t, res.Stderr, tls.Addr, "certificate")
	if got := readAuths(t, authFile); len(got) != 1 || got[plain.Addr] != "u:p" {
		t.Fatalf("stored credentials %v", got)
	}
}

// TestLoginPrompt: at a terminal, login asks for the username and the
// password, and does not echo the password.
func TestLoginPrompt(t *testing.T) {
	if _, err := exec.LookPath("script"); err != nil {
		t.Fatalf("script(1) is needed for a pseudo-terminal: %v", err)
	}
	reg := registry.Start(t, registry.Options{Flavour: registry.TLSAuth})
	authFile := filepath.Join(t.TempDir(), "auth.json")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmdline := fmt.Sprintf("%s login --authfile %s --cert-dir %s %s", bin.Path(t, "transport"), authFile, reg.CertDir, reg.Addr)
	cmd := exec.CommandContext(ctx, "script", "-qec", cmdline, "/dev/null")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(stdout)
	var seen strings.Builder
	// answer waits for prompt in the output, then types line.
	answer := func(prompt, line string) {
		t.Helper()
		for !strings.HasSuffix(seen.String(), prompt) {
			b, err := r.ReadByte()
			if err != nil {
				t.Fatalf("waiting for %q: %v; output so far %q", prompt, err, seen.String())
			}
			seen.WriteByte(b)
		}
		if _, err := io.WriteString(stdin, line+"\n"); err != nil {
			t.Fatal(err)
		}
	}
	answer("Username: ", reg.Username)
	answer("Password: ", reg.Password)
	rest, _ := io.ReadAll(r)
	seen.Write(rest)
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("login at a terminal: %v: %q", err, seen.String())
	}
	if !strings.Contains(seen.String(), "Login Succeeded!") {
		t.Fatalf("login at a terminal: %q", seen.String())
	}
	if strings.Contains(seen.String(), reg.Password) {
		t.Fatalf("the password was echoed: %q", seen.String())
	}
	if got := readAuths(t, authFile); got[reg.Addr] != reg.Username+":"+reg.Password {
		t.Fatalf("stored credentials %v", got)
	}
}
