// Package e2e drives bin/engine, bin/builder and bin/transport as a user
// would, against real registries started by the tests.
package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocisuite/suite/test/bin"
	"github.com/ocisuite/suite/test/fixture"
	"github.com/ocisuite/suite/test/registry"
)

func TestMain(m *testing.M) {
	code := m.Run()
	fixture.Cleanup()
	os.Exit(code)
}

// transport runs bin/transport and fails the test on a non-zero exit.
func transport(t *testing.T, args ...string) bin.Result {
	t.Helper()
	return bin.MustRun(t, nil, "transport", args...)
}

// writeFile writes content to a new file in a temp dir and returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// getManifest fetches a manifest from reg and returns its bytes, media type
// and Docker-Content-Digest.
func getManifest(t *testing.T, reg *registry.Registry, repo, ref string) ([]byte, string, string) {
	t.Helper()
	resp, err := reg.Do(http.MethodGet, "/v2/"+repo+"/manifests/"+ref, map[string]string{"Accept": registry.AcceptManifests})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET manifest %s:%s: status %d: %s", repo, ref, resp.StatusCode, b)
	}
	return b, resp.Header.Get("Content-Type"), resp.Header.Get("Docker-Content-Digest")
}

// manifestLayers returns the layer media types of a manifest.
func manifestLayers(t *testing.T, b []byte) []string {
	t.Helper()
	var m struct {
		Layers []struct {
			MediaType string `json:"mediaType"`
		} `json:"layers"`
		Manifests []json.RawMessage `json:"manifests"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range m.Layers {
		out = append(out, l.MediaType)
	}
	return out
}

// assertOneLine checks that the command's error is one final line
// "transport: …" (or "engine: …", "builder: …") mentioning every want.
func assertOneLine(t *testing.T, stderr string, wants ...string) {
	t.Helper()
	var lines []string
	for _, l := range strings.Split(stderr, "\n") {
		if strings.TrimSpace(l) != "" {
			lines = append(lines, l)
		}
	}
	if len(lines) == 0 {
		t.Fatal("no error message on stderr")
	}
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, "transport: ") && !strings.HasPrefix(last, "engine: ") && !strings.HasPrefix(last, "builder: ") {
		t.Fatalf("error is not one final line: %q", stderr)
	}
	for _, w := range wants {
		if !strings.Contains(last, w) {
			t.Fatalf("error %q does not mention %q", last, w)
		}
	}
}
