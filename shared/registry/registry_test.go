package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/containers/image/v5/docker/reference"
	"github.com/containers/image/v5/types"
	digest "github.com/opencontainers/go-digest"

	"github.com/ocisuite/suite/shared/retry"
)

// fakeRegistry is a registry API in memory: bearer tokens from /token for
// user "u" with password "p", paginated tag lists, monolithic uploads, and
// mounts, and faults queued per "METHOD kind" (a status, answered once
// each).
type fakeRegistry struct {
	mu        sync.Mutex
	blobs     map[string][]byte // "repo@digest"
	manifests map[string][]byte // "repo:ref"
	faults    map[string][]int
	pending   map[string][]byte // "repo": what PATCH requests sent to an upload
	seen      map[string][]time.Time
	tokens    []string // scopes tokens were issued for
	noMount   bool     // answer mount requests 400
	srv       *httptest.Server
}

func newFakeRegistry(t *testing.T) *fakeRegistry {
	f := &fakeRegistry{blobs: map[string][]byte{}, manifests: map[string][]byte{}, pending: map[string][]byte{}, faults: map[string][]int{}, seen: map[string][]time.Time{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeRegistry) host() string { return strings.TrimPrefix(f.srv.URL, "http://") }

func kind(r *http.Request) string {
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

func (f *fakeRegistry) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := kind(r)
	f.seen[k] = append(f.seen[k], time.Now())
	if r.URL.Path == "/token" {
		if u, p, ok := r.BasicAuth(); !ok || u != "u" || p != "p" {
			http.Error(w, "bad credentials", http.StatusUnauthorized)
			return
		}
		scope := strings.Join(r.URL.Query()["scope"], " ")
		f.tokens = append(f.tokens, scope)
		fmt.Fprintf(w, `{"token":%q}`, "tok "+scope)
		return
	}
	if q := f.faults[k]; len(q) > 0 {
		f.faults[k] = q[1:]
		w.Header().Set("Retry-After", "1")
		http.Error(w, "fault", q[0])
		return
	}
	if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer tok ") {
		w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="%s/token",service="fake"`, f.srv.URL))
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	p := strings.TrimPrefix(r.URL.Path, "/v2/")
	switch {
	case p == "":
		return
	case strings.HasSuffix(p, "/tags/list"):
		tags := []string{"a", "b", "c"}
		if r.URL.Query().Get("last") == "" {
			w.Header().Set("Link", `</v2/`+strings.TrimSuffix(p, "/tags/list")+`/tags/list?last=b>; rel="next"`)
			tags = tags[:2]
		} else {
			tags = tags[2:]
		}
		fmt.Fprintf(w, `{"tags":["%s"]}`, strings.Join(tags, `","`))
	case strings.Contains(p, "/manifests/"):
		repo, ref, _ := strings.Cut(p, "/manifests/")
		switch r.Method {
		case http.MethodPut:
			if repo == "rejects" {
				http.Error(w, `{"errors":[{"code":"MANIFEST_INVALID","message":"manifest invalid"}]}`, http.StatusBadRequest)
				return
			}
			b, _ := io.ReadAll(r.Body)
			f.manifests[repo+":"+ref] = b
			w.WriteHeader(http.StatusCreated)
		default:
			b, ok := f.manifests[repo+":"+ref]
			if !ok {
				http.Error(w, `{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}`, http.StatusNotFound)
				return
			}
			w.Header().Set("Docker-Content-Digest", digest.FromBytes(b).String())
			w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
			w.Write(b)
		}
	case strings.HasSuffix(p, "/blobs/uploads/"):
		if d, from := r.URL.Query().Get("mount"), r.URL.Query().Get("from"); d != "" {
			if f.noMount {
				http.Error(w, "mounts are not supported", http.StatusBadRequest)
				return
			}
			if b, ok := f.blobs[from+"@"+d]; ok {
				f.blobs[strings.TrimSuffix(p, "/blobs/uploads/")+"@"+d] = b
				w.WriteHeader(http.StatusCreated)
				return
			}
		}
		w.Header().Set("Location", "/v2/"+p+"session?_state=x")
		w.WriteHeader(http.StatusAccepted)
	case strings.Contains(p, "/blobs/uploads/session"):
		repo, _, _ := strings.Cut(p, "/blobs/")
		b, _ := io.ReadAll(r.Body)
		if r.Method == http.MethodPatch {
			f.pending[repo] = append(f.pending[repo], b...)
			w.Header().Set("Location", r.URL.String())
			w.WriteHeader(http.StatusAccepted)
			return
		}
		b = append(f.pending[repo], b...)
		delete(f.pending, repo)
		d := r.URL.Query().Get("digest")
		if digest.FromBytes(b).String() != d || r.URL.Query().Get("_state") != "x" {
			http.Error(w, "digest mismatch", http.StatusBadRequest)
			return
		}
		f.blobs[repo+"@"+d] = b
		w.WriteHeader(http.StatusCreated)
	case strings.Contains(p, "/blobs/"):
		repo, d, _ := strings.Cut(p, "/blobs/")
		b, ok := f.blobs[repo+"@"+d]
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Length", fmt.Sprint(len(b)))
		if r.Method == http.MethodGet {
			w.Write(b)
		}
	default:
		http.NotFound(w, r)
	}
}

func (f *fakeRegistry) count(kind string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.seen[kind])
}

// testSys is a context with credentials for the fake registry and no
// system configuration.
func testSys(t *testing.T) *types.SystemContext {
	dir := t.TempDir()
	conf := filepath.Join(dir, "registries.conf")
	if err := os.WriteFile(conf, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return &types.SystemContext{
		SystemRegistriesConfPath:    conf,
		SystemRegistriesConfDirPath: filepath.Join(dir, "none"),
		AuthFilePath:                filepath.Join(dir, "auth.json"),
		DockerAuthConfig:            &types.DockerAuthConfig{Username: "u", Password: "p"},
		DockerInsecureSkipTLSVerify: types.OptionalBoolTrue,
		DockerPerHostCertDirPath:    filepath.Join(dir, "certs.d"),
	}
}

// newTestClient is a client of f with testSys's context and retries r.
func newTestClient(t *testing.T, f *fakeRegistry, r retry.Options) *Client {
	t.Helper()
	c, err := New(context.Background(), testSys(t), f.host(), r)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestClientBearerTagsManifestsBlobs(t *testing.T) {
	f := newFakeRegistry(t)
	ctx := context.Background()
	c := newTestClient(t, f, retry.Options{})
	defer c.Close()
	tags, err := c.Tags(ctx, "ns/app")
	if err != nil || strings.Join(tags, ",") != "a,b,c" {
		t.Fatalf("Tags: %v %v, want a,b,c over two pages", tags, err)
	}
	blob := []byte("layer data")
	d := digest.FromBytes(blob)
	if has, err := c.HasBlob(ctx, "ns/app", d); err != nil || has {
		t.Fatalf("HasBlob before the upload: %v %v", has, err)
	}
	err = c.PutBlob(ctx, "ns/app", d, "", func() (io.ReadCloser, int64, error) {
		return io.NopCloser(bytes.NewReader(blob)), int64(len(blob)), nil
	})
	if err != nil {
		t.Fatalf("PutBlob: %v", err)
	}
	if has, err := c.HasBlob(ctx, "ns/app", d); err != nil || !has {
		t.Fatalf("HasBlob after the upload: %v %v", has, err)
	}
	// Present: in this repository (nothing sent), in another one (mounted).
	mustNotOpen := func() (io.ReadCloser, int64, error) {
		t.Fatal("the blob was sent again")
		return nil, 0, nil
	}
	if err := c.PutBlob(ctx, "ns/app", d, "", mustNotOpen); err != nil {
		t.Fatalf("PutBlob of a blob the repository has: %v", err)
	}
	if err := c.PutBlob(ctx, "ns/other", d, "ns/app", mustNotOpen); err != nil {
		t.Fatalf("PutBlob mounting from another repository: %v", err)
	}
	if has, err := c.HasBlob(ctx, "ns/other", d); err != nil || !has {
		t.Fatalf("HasBlob after the mount: %v %v", has, err)
	}
	rc, n, err := c.GetBlob(ctx, "ns/app", d)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(got, blob) || n != int64(len(blob)) {
		t.Fatalf("GetBlob: %q (%d bytes)", got, n)
	}
	m := []byte(`{"schemaVersion":2}`)
	if err := c.PutManifest(ctx, "ns/app", "1", m, "application/vnd.oci.image.manifest.v1+json"); err != nil {
		t.Fatal(err)
	}
	if b, mt, err := c.Manifest(ctx, "ns/app", "1"); err != nil || !bytes.Equal(b, m) || mt != "application/vnd.oci.image.manifest.v1+json" {
		t.Fatalf("Manifest: %s %s %v", b, mt, err)
	}
	if dg, err := c.ManifestDigest(ctx, "ns/app", "1"); err != nil || dg != digest.FromBytes(m) {
		t.Fatalf("ManifestDigest: %s %v", dg, err)
	}
	if _, err := c.ManifestDigest(ctx, "ns/app", "missing"); !NotFound(err) {
		t.Fatalf("ManifestDigest of a missing tag: %v, want a 404", err)
	}
	// One token per scope: pull for the reads, pull+push for the writes,
	// pull from the other repository as well for the mount.
	f.mu.Lock()
	scopes := strings.Join(f.tokens, "; ")
	f.mu.Unlock()
	if scopes != "repository:ns/app:pull; repository:ns/app:pull,push; repository:ns/other:pull,push repository:ns/app:pull; repository:ns/other:pull" {
		t.Fatalf("tokens issued for %q", scopes)
	}
}

// TestClientPutBlobWithoutMounts: a registry refusing mount requests is
// asked with HEAD and sent the blob with a plain POST and PUT.
func TestClientPutBlobWithoutMounts(t *testing.T) {
	f := newFakeRegistry(t)
	f.noMount = true
	ctx := context.Background()
	c := newTestClient(t, f, retry.Options{})
	blob := []byte("layer")
	d := digest.FromBytes(blob)
	sent := 0
	open := func() (io.ReadCloser, int64, error) {
		sent++
		return io.NopCloser(bytes.NewReader(blob)), int64(len(blob)), nil
	}
	for i := 0; i < 2; i++ {
		if err := c.PutBlob(ctx, "r", d, "", open); err != nil {
			t.Fatalf("PutBlob %d: %v", i+1, err)
		}
	}
	if sent != 1 || f.count("HEAD blob") != 2 {
		t.Fatalf("blob sent %d times after %d HEADs, want once after 2", sent, f.count("HEAD blob"))
	}
}

// TestClientRetryAfter: a 429 with Retry-After on a manifest PUT and on a
// blob upload is waited for and the request made again, even without
// retries; a 503 is retried only as the options allow.
func TestClientRetryAfter(t *testing.T) {
	f := newFakeRegistry(t)
	ctx := context.Background()
	c := newTestClient(t, f, retry.Options{Times: 0})
	f.mu.Lock()
	f.faults["PUT manifest"] = []int{http.StatusTooManyRequests}
	f.faults["PUT upload"] = []int{http.StatusTooManyRequests}
	f.mu.Unlock()
	start := time.Now()
	if err := c.PutManifest(ctx, "r", "1", []byte("{}"), "application/json"); err != nil {
		t.Fatalf("PutManifest after a 429: %v", err)
	}
	if d := time.Since(start); d < 900*time.Millisecond {
		t.Fatalf("PutManifest retried after %s, want Retry-After: 1", d)
	}
	blob := []byte("blob")
	start = time.Now()
	err := c.Do(ctx, "upload", func() error {
		return c.PutBlob(ctx, "r", digest.FromBytes(blob), "", func() (io.ReadCloser, int64, error) {
			return io.NopCloser(bytes.NewReader(blob)), int64(len(blob)), nil
		})
	})
	if err != nil || time.Since(start) < 900*time.Millisecond || f.count("PUT upload") != 2 {
		t.Fatalf("upload after a 429: %v after %s, %d PUTs", err, time.Since(start), f.count("PUT upload"))
	}

	f.mu.Lock()
	f.faults["GET manifest"] = []int{http.StatusServiceUnavailable}
	f.mu.Unlock()
	if _, _, err := c.Manifest(ctx, "r", "1"); err == nil || !strings.Contains(err.Error(), "503") {
		t.Fatalf("a 503 without retries: %v", err)
	}
	c2, err := New(ctx, testSys(t), f.host(), retry.Options{Times: 1, Delay: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	f.faults["GET manifest"] = []int{http.StatusServiceUnavailable}
	f.mu.Unlock()
	if _, _, err := c2.Manifest(ctx, "r", "1"); err != nil {
		t.Fatalf("a 503 with one retry: %v", err)
	}
}

// TestClientUpload: a stream of known digest is sent with one PUT, or not
// at all when the repository holds it (asked with a HEAD, no request that
// writes); one of unknown digest with a PATCH and a PUT naming the digest;
// a 429 on the request sending the stream is returned at once, carrying
// the Retry-After.
func TestClientUpload(t *testing.T) {
	f := newFakeRegistry(t)
	ctx := context.Background()
	c := newTestClient(t, f, retry.Options{})
	blob := []byte("a blob")
	d := digest.FromBytes(blob)
	if got, n, err := c.Upload(ctx, "r", bytes.NewReader(blob), d, int64(len(blob))); err != nil || got != d || n != int64(len(blob)) {
		t.Fatalf("known digest: %s %d %v", got, n, err)
	}
	posts := f.count("POST upload")
	if got, n, err := c.Upload(ctx, "r", bytes.NewReader(blob), d, -1); err != nil || got != d || n != int64(len(blob)) || f.count("PUT upload") != 1 || f.count("POST upload") != posts {
		t.Fatalf("a blob the repository holds: %s %d %v, %d PUTs, %d POSTs", got, n, err, f.count("PUT upload"), f.count("POST upload")-posts)
	}
	other := []byte("another blob, of unknown digest")
	got, n, err := c.Upload(ctx, "r", bytes.NewReader(other), "", -1)
	if err != nil || got != digest.FromBytes(other) || n != int64(len(other)) || f.count("PATCH upload") != 1 {
		t.Fatalf("unknown digest: %s %d %v, %d PATCHes", got, n, err, f.count("PATCH upload"))
	}
	if !bytes.Equal(f.blobs["r@"+got.String()], other) {
		t.Fatalf("stored %q", f.blobs["r@"+got.String()])
	}

	f.mu.Lock()
	f.faults["PUT upload"] = []int{http.StatusTooManyRequests}
	f.mu.Unlock()
	third := []byte("a third blob")
	_, _, err = c.Upload(ctx, "r", bytes.NewReader(third), digest.FromBytes(third), int64(len(third)))
	var ra retry.RetryAfterError
	if !errors.As(err, &ra) || ra.RetryAfter() != time.Second || f.count("PUT upload") != 3 {
		t.Fatalf("a 429 on the upload: %v, %d PUTs", err, f.count("PUT upload"))
	}
}

// fakeDest records the signatures given to it.
type fakeDest struct {
	types.ImageDestination
	sigsFor []*digest.Digest
}

func (d *fakeDest) PutSignatures(_ context.Context, _ [][]byte, instance *digest.Digest) error {
	d.sigsFor = append(d.sigsFor, instance)
	return nil
}

// TestDestinationManifests: the wrapped destination writes a manifest
// under the reference's tag, an instance under its digest, refuses an
// instance whose digest does not match, reports a refused format as
// containers/image does, and names the manifest it wrote when storing
// signatures.
func TestDestinationManifests(t *testing.T) {
	f := newFakeRegistry(t)
	ctx := context.Background()
	named, err := reference.ParseNormalizedNamed(f.host() + "/r:1")
	if err != nil {
		t.Fatal(err)
	}
	inner := &fakeDest{}
	d := &destination{ImageDestination: inner, sys: testSys(t), named: named}
	m := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}`)
	md := digest.FromBytes(m)
	if err := d.PutManifest(ctx, m, nil); err != nil || !bytes.Equal(f.manifests["r:1"], m) {
		t.Fatalf("PutManifest: %v, stored %q", err, f.manifests["r:1"])
	}
	if err := d.PutManifest(ctx, m, &md); err != nil || !bytes.Equal(f.manifests["r:"+md.String()], m) {
		t.Fatalf("PutManifest of an instance: %v", err)
	}
	wrong := digest.FromString("other")
	if err := d.PutManifest(ctx, m, &wrong); err == nil {
		t.Fatal("an instance under another digest was written")
	}
	if err := d.PutSignatures(ctx, nil, nil); err != nil || len(inner.sigsFor) != 1 || inner.sigsFor[0] == nil || *inner.sigsFor[0] != md {
		t.Fatalf("PutSignatures: %v, for %v", err, inner.sigsFor)
	}

	rejects, _ := reference.ParseNormalizedNamed(f.host() + "/rejects:1")
	d = &destination{ImageDestination: inner, sys: testSys(t), named: rejects}
	var mt types.ManifestTypeRejectedError
	if err := d.PutManifest(ctx, m, nil); !errors.As(err, &mt) {
		t.Fatalf("a refused manifest: %T %v", err, err)
	}
}

func TestParseChallenges(t *testing.T) {
	h := http.Header{}
	h.Add("WWW-Authenticate", `Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push"`)
	h.Add("WWW-Authenticate", `Basic realm=simple`)
	chs := parseChallenges(h)
	if len(chs) != 2 || chs[0].scheme != "bearer" || chs[0].params["realm"] != "https://auth.example/token" ||
		chs[0].params["service"] != "registry.example" || chs[0].params["scope"] != "repository:a/b:pull,push" ||
		chs[1].scheme != "basic" || chs[1].params["realm"] != "simple" {
		t.Fatalf("parsed %+v", chs)
	}
}

// TestHTTPErrorMessage: an error answer without a message says what its
// status means, a 401 as containers/image says it.
func TestHTTPErrorMessage(t *testing.T) {
	for status, want := range map[int]string{401: "401 (authentication required)", 503: "503 (Service Unavailable)"} {
		e := &HTTPError{Method: "HEAD", URL: "https://r.example/v2/a/blobs/sha256:0", StatusCode: status}
		if !strings.Contains(e.Error(), want) {
			t.Errorf("%d: %q, want %q in it", status, e.Error(), want)
		}
	}
}
