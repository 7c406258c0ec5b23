package auth

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containers/image/v5/types"
)

func TestKey(t *testing.T) {
	for in, want := range map[string]string{
		"registry.example":             "registry.example",
		"docker://registry.example/ns": "registry.example/ns",
		"https://127.0.0.1:5000/":      "127.0.0.1:5000",
		"http://h:1":                   "h:1",
	} {
		if got, err := Key(in); err != nil || got != want {
			t.Errorf("Key(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := Key("https://"); err == nil {
		t.Error("Key of an empty registry succeeded")
	}
}

// basicAuthRegistry answers /v2/ like docker-registry with htpasswd.
func basicAuthRegistry(t *testing.T, user, pass string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != user || p != pass {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func TestLoginLogout(t *testing.T) {
	host := basicAuthRegistry(t, "alice", "pw")
	dir := filepath.Join(t.TempDir(), "d")
	sys := &types.SystemContext{AuthFilePath: filepath.Join(dir, "auth.json"), DockerInsecureSkipTLSVerify: types.OptionalBoolTrue}
	ctx := context.Background()

	if _, err := Login(ctx, sys, host, "alice", "wrong"); !errors.Is(err, ErrInvalidCredentials) || !strings.Contains(err.Error(), host) {
		t.Fatalf("wrong password: %v", err)
	}
	if _, err := os.Stat(dir); err == nil {
		t.Fatal("a failed login created the auth directory")
	}
	for _, c := range [][2]string{{"", "pw"}, {"alice", ""}} {
		if _, err := Login(ctx, sys, host, c[0], c[1]); err == nil {
			t.Fatalf("login with %q/%q succeeded", c[0], c[1])
		}
	}
	path, err := Login(ctx, sys, "https://"+host+"/", "alice", "pw")
	if err != nil {
		t.Fatal(err)
	}
	if path != sys.AuthFilePath {
		t.Fatalf("wrote %s, want %s", path, sys.AuthFilePath)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("auth file: %v, mode %v", err, st.Mode())
	}
	if u, err := Username(sys, host); err != nil || u != "alice" {
		t.Fatalf("Username: %q, %v", u, err)
	}
	if c, err := Stored(sys, host); err != nil || c.Password != "pw" {
		t.Fatalf("Stored: %+v, %v", c, err)
	}
	if err := Check(ctx, sys, host, "alice", "pw"); err != nil {
		t.Fatalf("Check: %v", err)
	}
	if _, err := Username(sys, "other.example"); !errors.Is(err, ErrNoCredentials) {
		t.Fatalf("Username of another registry: %v", err)
	}
	if err := Logout(sys, host); err != nil {
		t.Fatal(err)
	}
	if err := Logout(sys, host); !errors.Is(err, ErrNoCredentials) {
		t.Fatalf("second logout: %v", err)
	}
	if _, err := Login(ctx, sys, host, "alice", "pw"); err != nil {
		t.Fatal(err)
	}
	if err := LogoutAll(sys); err != nil {
		t.Fatal(err)
	}
	if _, err := Stored(sys, host); !errors.Is(err, ErrNoCredentials) {
		t.Fatalf("after LogoutAll: %v", err)
	}
}
