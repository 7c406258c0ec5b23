package inspect

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/containers/image/v5/docker"
	"github.com/containers/image/v5/types"
	digest "github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocisuite/suite/shared/retry"
)

// fakeRegistry serves one image, repo "r" tag "1", and answers tags/list
// with tagsStatus and tagsBody.
func fakeRegistry(t *testing.T, tagsStatus int, tagsBody string) (*httptest.Server, digest.Digest) {
	t.Helper()
	cfg, _ := json.Marshal(v1.Image{Platform: v1.Platform{Architecture: "amd64", OS: "linux"},
		Config: v1.ImageConfig{Labels: map[string]string{"a": "b"}}, RootFS: v1.RootFS{Type: "layers"}})
	cd := digest.FromBytes(cfg)
	m, _ := json.Marshal(v1.Manifest{MediaType: v1.MediaTypeImageManifest,
		Config: v1.Descriptor{MediaType: v1.MediaTypeImageConfig, Digest: cd, Size: int64(len(cfg))}, Layers: []v1.Descriptor{}})
	m = []byte(strings.Replace(string(m), "{", `{"schemaVersion":2,`, 1))
	mux := http.NewServeMux()
	mux.HandleFunc("/v2/", func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v2/":
		case "/v2/r/manifests/1":
			w.Header().Set("Content-Type", v1.MediaTypeImageManifest)
			w.Write(m)
		case "/v2/r/blobs/" + cd.String():
			w.Write(cfg)
		case "/v2/r/tags/list":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(tagsStatus)
			fmt.Fprint(w, tagsBody)
		default:
			http.NotFound(w, r)
		}
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, digest.FromBytes(m)
}

func inspectFake(t *testing.T, srv *httptest.Server) (*Output, error) {
	t.Helper()
	ref, err := docker.ParseReference("//" + strings.TrimPrefix(srv.URL, "http://") + "/r:1")
	if err != nil {
		t.Fatal(err)
	}
	sys := &types.SystemContext{DockerInsecureSkipTLSVerify: types.OptionalBoolTrue}
	return Inspect(context.Background(), ref, sys, Options{})
}

func TestInspectTags(t *testing.T) {
	srv, d := fakeRegistry(t, http.StatusOK, `{"name":"r","tags":["1","2"]}`)
	out, err := inspectFake(t, srv)
	if err != nil {
		t.Fatal(err)
	}
	if out.Digest != d || strings.Join(out.RepoTags, ",") != "1,2" || out.Labels["a"] != "b" || out.Architecture != "amd64" {
		t.Fatalf("inspect: %+v", out)
	}
}

// A registry that denies tags/list still gets the image inspected, with no
// tags; any other failure is an error.
func TestInspectTagListRefused(t *testing.T) {
	for _, c := range []struct {
		status int
		body   string
		ok     bool
	}{
		{http.StatusForbidden, `{"errors":[{"code":"DENIED","message":"no listing here"}]}`, true},
		{http.StatusBadRequest, `{"errors":[{"code":"UNSUPPORTED","message":"nope"}]}`, false},
	} {
		srv, _ := fakeRegistry(t, c.status, c.body)
		out, err := inspectFake(t, srv)
		if c.ok && (err != nil || out.RepoTags == nil || len(out.RepoTags) != 0) {
			t.Fatalf("tags/list %d: %v, %+v", c.status, err, out)
		}
		if !c.ok && err == nil {
			t.Fatalf("tags/list %d: no error", c.status)
		}
	}
}

func TestListTagsInput(t *testing.T) {
	for in, want := range map[string]string{
		"oci:/tmp/x":                  "only docker://REPOSITORY and docker-archive:PATH",
		"docker://example.com/r:1":    "without a tag or digest",
		"docker://Example.com/R":      "must be lowercase",
		"docker-archive:":             "no archive path",
		"docker-archive:/nonexistent": "/nonexistent",
	} {
		_, err := ListTags(context.Background(), in, nil, retry.Options{})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ListTags(%q): %v, want an error mentioning %q", in, err, want)
		}
	}
}
