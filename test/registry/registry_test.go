package registry

import (
	"net/http"
	"testing"
)

func TestFlavours(t *testing.T) {
	for _, f := range []Flavour{Plain, TLS, TLSAuth} {
		t.Run(f.String(), func(t *testing.T) {
			r := Start(t, Options{Flavour: f})
			resp, err := r.Do(http.MethodGet, "/v2/", nil)
			if err != nil {
				t.Fatalf("GET /v2/ with the test CA: %v", err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET /v2/: status %d", resp.StatusCode)
			}
			if f == TLSAuth {
				req, _ := http.NewRequest(http.MethodGet, r.URL()+"/v2/", nil)
				req.SetBasicAuth(r.Username, "wrong")
				resp, err := r.Client().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusUnauthorized {
					t.Fatalf("wrong password: status %d, want 401", resp.StatusCode)
				}
			}
			if f != Plain {
				// Without the CA, TLS verification must fail.
				if _, err := http.Get(r.URL() + "/v2/"); err == nil {
					t.Fatal("GET without the test CA succeeded")
				}
			}
			if n := r.Count(http.MethodGet, "/v2/"); n < 1 {
				t.Fatalf("access log has %d GET /v2/, want ≥1: %v", n, r.Requests())
			}
		})
	}
}

func TestKillRestart(t *testing.T) {
	r := Start(t, Options{})
	r.Kill()
	if _, err := r.Do(http.MethodGet, "/v2/", nil); err == nil {
		t.Fatal("registry still answers after Kill")
	}
	r.Restart(t)
	if s := r.ManifestStatus("nothing", "latest"); s != http.StatusNotFound {
		t.Fatalf("manifest of an empty repo: status %d, want 404", s)
	}
}
