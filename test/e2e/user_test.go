package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/ocisuite/suite/test/bin"
	"github.com/ocisuite/suite/test/fixture"
	"github.com/ocisuite/suite/test/registry"
)

const testUser = "ocisuite-e2e"

// unprivileged returns an unprivileged user (created if missing) with a
// fresh home and runtime directory.
func unprivileged(t *testing.T) (uid, gid int, home, runtime string) {
	t.Helper()
	if os.Getuid() != 0 {
		t.Fatal("the e2e suite runs as root: it creates an unprivileged user for rootless tests")
	}
	u, err := user.Lookup(testUser)
	if err != nil {
		if out, err := exec.Command("useradd", "--create-home", "--shell", "/bin/sh", testUser).CombinedOutput(); err != nil {
			t.Fatalf("useradd: %v: %s", err, out)
		}
		if u, err = user.Lookup(testUser); err != nil {
			t.Fatal(err)
		}
	}
	uid, _ = strconv.Atoi(u.Uid)
	gid, _ = strconv.Atoi(u.Gid)
	home = u.HomeDir
	if err := os.RemoveAll(filepath.Join(home, ".config")); err != nil {
		t.Fatal(err)
	}
	runtime = filepath.Join(os.TempDir(), fmt.Sprintf("ocisuite-xdg-%d", uid))
	os.RemoveAll(runtime)
	if err := os.Mkdir(runtime, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(runtime, uid, gid); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(runtime) })
	return uid, gid, home, runtime
}

// openUp makes path and its parents below /tmp readable by everyone.
func openUp(t *testing.T, path string) {
	t.Helper()
	for p := path; p != "/" && p != os.TempDir(); p = filepath.Dir(p) {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	_ = filepath.Walk(path, func(p string, info os.FileInfo, err error) error {
		if err == nil {
			mode := os.FileMode(0o644)
			if info.IsDir() {
				mode = 0o755
			}
			_ = os.Chmod(p, mode)
		}
		return nil
	})
}

// TestRootlessUserFiles: an unprivileged user gets the user-level files:
// ~/.config/containers/registries.conf and auth.json under
// $XDG_RUNTIME_DIR/containers.
func TestRootlessUserFiles(t *testing.T) {
	uid, gid, home, runtime := unprivileged(t)
	plain := registry.Start(t, registry.Options{})
	auth := registry.Start(t, registry.Options{Flavour: registry.TLSAuth})
	img := fixture.Busybox(t)
	layout := filepath.Join(t.TempDir(), "layout")
	fixture.Push(t, img, "oci:"+layout+":latest", nil)
	openUp(t, layout)
	openUp(t, auth.CertDir)

	conf := filepath.Join(home, ".config", "containers", "registries.conf")
	if err := os.MkdirAll(filepath.Dir(conf), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(conf, []byte(fmt.Sprintf("[[registry]]\nlocation = %q\ninsecure = true\n", plain.Addr)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := exec.Command("chown", "-R", fmt.Sprintf("%d:%d", uid, gid), filepath.Join(home, ".config")).Run(); err != nil {
		t.Fatal(err)
	}
	asUser := func(args ...string) bin.Result {
		t.Helper()
		cmd := bin.Cmd(t, "transport", args...)
		cmd.Env = []string{"HOME=" + home, "USER=" + testUser, "XDG_RUNTIME_DIR=" + runtime, "PATH=/usr/bin:/bin"}
		cmd.Dir = home
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
		var out, errb strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		t.Logf("$ (as %s) transport %s  # exit %d %s", testUser, strings.Join(args, " "), code, errb.String())
		return bin.Result{Stdout: out.String(), Stderr: errb.String(), Code: code}
	}

	// The user's registries.conf marks the plain registry insecure.
	if res := asUser("copy", "oci:"+layout+":latest", plain.Ref("user/bb:1")); res.Code != 0 {
		t.Fatalf("copy as the user with the user's registries.conf: %s", res.Stderr)
	}
	if s := plain.ManifestStatus("user/bb", "1"); s != 200 {
		t.Fatalf("manifest status %d after the user's copy", s)
	}

	// login writes $XDG_RUNTIME_DIR/containers/auth.json, 0600, owned by the user.
	if res := asUser("login", "--cert-dir", auth.CertDir, "-u", auth.Username, "-p", auth.Password, auth.Addr); res.Code != 0 {
		t.Fatalf("login as the user: %s", res.Stderr)
	}
	authFile := filepath.Join(runtime, "containers", "auth.json")
	st, err := os.Stat(authFile)
	if err != nil {
		t.Fatalf("no auth.json under XDG_RUNTIME_DIR: %v", err)
	}
	if st.Mode().Perm() != 0o600 || st.Sys().(*syscall.Stat_t).Uid != uint32(uid) {
		t.Fatalf("auth.json mode %o uid %d, want 0600 and %d", st.Mode().Perm(), st.Sys().(*syscall.Stat_t).Uid, uid)
	}
	if res := asUser("copy", "--dest-cert-dir", auth.CertDir, "oci:"+layout+":latest", auth.Ref("user/bb:1")); res.Code != 0 {
		t.Fatalf("copy with the stored credentials: %s", res.Stderr)
	}
	// root does not see the user's credentials.
	if res := bin.Run(t, []string{"XDG_RUNTIME_DIR=" + t.TempDir()}, "transport", "inspect", "--cert-dir", auth.CertDir, auth.Ref("user/bb:1")); res.Code == 0 {
		t.Fatal("root used the user's credentials")
	}

	// ~/.config/containers/policy.json wins over /etc/containers/policy.json.
	policy := filepath.Join(home, ".config", "containers", "policy.json")
	if err := os.WriteFile(policy, []byte(`{"default":[{"type":"reject"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	res := asUser("copy", "oci:"+layout+":latest", plain.Ref("user/bb:2"))
	if res.Code != 1 || !strings.Contains(res.Stderr, "rejected") {
		t.Fatalf("copy as the user with a rejecting user policy.json: exit %d: %s", res.Code, res.Stderr)
	}
	if s := plain.ManifestStatus("user/bb", "2"); s != 404 {
		t.Fatalf("the user's policy did not stop the copy: manifest status %d", s)
	}
}

// TestProgressOnTerminal: progress output appears when stdout is a
// terminal, and nothing when it is not.
func TestProgressOnTerminal(t *testing.T) {
	img := fixture.Busybox(t)
	out := t.TempDir()
	// script(1) gives the command a pseudo-terminal; stty gives it a size.
	cmdline := fmt.Sprintf("stty cols 120 rows 40; %s copy %s dir:%s", bin.Path(t, "transport"), img.Ref(), filepath.Join(out, "tty"))
	b, err := exec.Command("script", "-qec", cmdline, "/dev/null").CombinedOutput()
	if err != nil {
		t.Fatalf("copy on a terminal: %v: %s", err, b)
	}
	if !strings.Contains(string(b), "Copying blob "+img.Layers[0].Encoded()[:12]+" done") || !strings.Contains(string(b), "Writing manifest") {
		t.Fatalf("no progress on a terminal: %q", b)
	}
	res := transport(t, "copy", img.Ref(), "dir:"+filepath.Join(out, "pipe"))
	if res.Stdout != "" || res.Stderr != "" {
		t.Fatalf("copy to a pipe printed %q %q", res.Stdout, res.Stderr)
	}
}
