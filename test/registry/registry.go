// Package registry starts Debian's docker-registry for end-to-end tests, on a
// free 127.0.0.1 port, in three flavours: plain HTTP, TLS with a CA made by
// the test, and TLS with htpasswd basic auth.
//
//	reg := registry.Start(t, registry.Options{Flavour: registry.TLSAuth})
//	bin.Run(t, nil, "transport", "copy", "--dest-cert-dir", reg.CertDir,
//		"--dest-creds", reg.Username+":"+reg.Password, src, reg.Ref("busybox:latest"))
//	for _, r := range reg.Requests() { … }
//
// The registry is stopped (by PID) when the test ends.
package registry

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/containers/image/v5/types"
	"golang.org/x/crypto/bcrypt"
)

// Flavour selects how the registry is served.
type Flavour int

const (
	// Plain serves HTTP.
	Plain Flavour = iota
	// TLS serves HTTPS with a certificate signed by a CA made for the test.
	TLS
	// TLSAuth is TLS plus htpasswd basic authentication.
	TLSAuth
)

func (f Flavour) String() string {
	return [...]string{"plain", "tls", "tls+auth"}[f]
}

// Options configure Start.
type Options struct {
	Flavour Flavour
	// Username and Password for TLSAuth; defaults "tester" and "s3cret".
	Username, Password string
	// Dir holds config, storage, certificates and the log; default t.TempDir().
	Dir string
}

// Registry is a running docker-registry.
type Registry struct {
	Addr     string // "127.0.0.1:PORT"
	CertDir  string // TLS flavours: a directory with ca.crt (for --cert-dir or certs.d)
	CAFile   string // TLS flavours: the CA certificate (PEM)
	Username string
	Password string
	LogPath  string
	Flavour  Flavour
	// StorageDir is the registry's filesystem storage root.
	StorageDir string

	config string
	cmd    *exec.Cmd
	logf   *os.File
}

// Start starts a registry and waits until it answers on /v2/.
func Start(t testing.TB, o Options) *Registry {
	t.Helper()
	if _, err := exec.LookPath("docker-registry"); err != nil {
		t.Fatalf("docker-registry is not installed (apt-get install docker-registry): %v", err)
	}
	dir := o.Dir
	if dir == "" {
		dir = t.TempDir()
	}
	r := &Registry{Flavour: o.Flavour, LogPath: filepath.Join(dir, "registry.log"), StorageDir: filepath.Join(dir, "storage")}
	var tlsBlock, authBlock string
	if o.Flavour == TLS || o.Flavour == TLSAuth {
		r.CertDir = filepath.Join(dir, "certs")
		crt, key, err := makeCerts(r.CertDir)
		if err != nil {
			t.Fatalf("making registry certificates: %v", err)
		}
		r.CAFile = filepath.Join(r.CertDir, "ca.crt")
		tlsBlock = fmt.Sprintf("  tls:\n    certificate: %s\n    key: %s\n", crt, key)
	}
	if o.Flavour == TLSAuth {
		r.Username, r.Password = o.Username, o.Password
		if r.Username == "" {
			r.Username = "tester"
		}
		if r.Password == "" {
			r.Password = "s3cret"
		}
		hash, err := bcrypt.GenerateFromPassword([]byte(r.Password), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		htpasswd := filepath.Join(dir, "htpasswd")
		if err := os.WriteFile(htpasswd, []byte(r.Username+":"+string(hash)+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		authBlock = fmt.Sprintf("auth:\n  htpasswd:\n    realm: test-registry\n    path: %s\n", htpasswd)
	}
	r.config = filepath.Join(dir, "config.yml")
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		port, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		r.Addr = fmt.Sprintf("127.0.0.1:%d", port)
		cfg := fmt.Sprintf(`version: 0.1
log:
  level: info
  formatter: text
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: %s
  secret: test-secret
%s%s`, r.StorageDir, r.Addr, tlsBlock, authBlock)
		if err := os.WriteFile(r.config, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		if lastErr = r.start(); lastErr == nil {
			break
		}
	}
	if lastErr != nil {
		t.Fatalf("starting %s registry: %v\n%s", o.Flavour, lastErr, r.logTail())
	}
	t.Cleanup(r.Stop)
	return r
}

func (r *Registry) start() error {
	f, err := os.OpenFile(r.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command("docker-registry", "serve", r.config)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		f.Close()
		return err
	}
	r.cmd, r.logf = cmd, f
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	client := r.Client()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			r.cmd = nil
			f.Close()
			return fmt.Errorf("registry exited early")
		default:
		}
		resp, err := client.Get(r.URL() + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	r.Kill()
	return fmt.Errorf("registry on %s did not answer /v2/ within 10s", r.Addr)
}

// URL is the registry's base URL, http:// or https://.
func (r *Registry) URL() string {
	if r.Flavour == Plain {
		return "http://" + r.Addr
	}
	return "https://" + r.Addr
}

// Client is an HTTP client that trusts the registry's CA.
func (r *Registry) Client() *http.Client {
	tr := &http.Transport{DisableKeepAlives: true}
	if r.CAFile != "" {
		pool := x509.NewCertPool()
		pem, err := os.ReadFile(r.CAFile)
		if err == nil {
			pool.AppendCertsFromPEM(pem)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool}
	}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// Get makes an authenticated GET (or HEAD) request to path under the registry.
func (r *Registry) Do(method, path string, header map[string]string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(context.Background(), method, r.URL()+path, nil)
	if err != nil {
		return nil, err
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	if r.Username != "" {
		req.SetBasicAuth(r.Username, r.Password)
	}
	return r.Client().Do(req)
}

// ManifestStatus returns the HTTP status of GET /v2/REPO/manifests/REF,
// accepting every manifest type.
func (r *Registry) ManifestStatus(repo, ref string) int {
	resp, err := r.Do(http.MethodGet, "/v2/"+repo+"/manifests/"+ref, map[string]string{"Accept": AcceptManifests})
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// AcceptManifests is an Accept header listing every manifest media type.
const AcceptManifests = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json"

// Host is the registry's host:port, for references.
func (r *Registry) Host() string { return r.Addr }

// Ref returns "docker://127.0.0.1:PORT/repoTag".
func (r *Registry) Ref(repoTag string) string { return "docker://" + r.Addr + "/" + repoTag }

// Stop stops the registry with SIGTERM, then SIGKILL after 5s.
func (r *Registry) Stop() {
	if r.cmd == nil || r.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGTERM)
	for i := 0; i < 100; i++ {
		if syscall.Kill(r.cmd.Process.Pid, 0) != nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	r.Kill()
}

// Kill stops the registry at once with SIGKILL (for fault tests).
func (r *Registry) Kill() {
	if r.cmd == nil || r.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL)
	for i := 0; i < 100 && syscall.Kill(r.cmd.Process.Pid, 0) == nil; i++ {
		time.Sleep(20 * time.Millisecond)
	}
	r.cmd = nil
	if r.logf != nil {
		r.logf.Close()
		r.logf = nil
	}
}

// Restart starts the registry again on the same port and storage.
func (r *Registry) Restart(t testing.TB) {
	t.Helper()
	r.Kill()
	var err error
	for i := 0; i < 20; i++ {
		if err = r.start(); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("restarting registry on %s: %v\n%s", r.Addr, err, r.logTail())
}

// Request is one line of the registry's access log.
type Request struct {
	Method string
	Path   string
	Status int
}

// IsBlobUpload reports whether the request uploads blob data (POST, PATCH or
// PUT under /blobs/uploads/, excluding cross-repository mounts).
func (q Request) IsBlobUpload() bool {
	if !strings.Contains(q.Path, "/blobs/uploads/") {
		return false
	}
	if q.Method == http.MethodPost && strings.Contains(q.Path, "mount=") {
		return false
	}
	return q.Method == http.MethodPatch || q.Method == http.MethodPut
}

var accessLine = regexp.MustCompile(`"([A-Z]+) (\S+) HTTP/[0-9.]+" (\d{3}) `)

// Requests parses every request from the access log so far.
func (r *Registry) Requests() []Request {
	f, err := os.Open(r.LogPath)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []Request
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		m := accessLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		code, _ := strconv.Atoi(m[3])
		out = append(out, Request{Method: m[1], Path: m[2], Status: code})
	}
	return out
}

// Count returns how many requests match the method and contain substr in
// their path.
func (r *Registry) Count(method, substr string) int {
	n := 0
	for _, q := range r.Requests() {
		if (method == "" || q.Method == method) && strings.Contains(q.Path, substr) {
			n++
		}
	}
	return n
}

// Uploads returns how many blob-upload requests (PATCH/PUT) the log has.
func (r *Registry) Uploads() int {
	n := 0
	for _, q := range r.Requests() {
		if q.IsBlobUpload() {
			n++
		}
	}
	return n
}

func (r *Registry) logTail() string {
	b, _ := os.ReadFile(r.LogPath)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// makeCerts writes ca.crt and a server certificate for 127.0.0.1/localhost
// into dir; it returns the server certificate and key paths.
func makeCerts(dir string) (string, string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", err
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "ocisuite test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return "", "", err
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return "", "", err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return "", "", err
	}
	write := func(name, typ string, b []byte) error {
		return os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}), 0o600)
	}
	if err := write("ca.crt", "CERTIFICATE", caDER); err != nil {
		return "", "", err
	}
	// The server pair lives beside ca.crt under names that containers/image
	// does not read as client certificates (*.cert/*.key).
	if err := write("server.pem", "CERTIFICATE", der); err != nil {
		return "", "", err
	}
	if err := write("server-key.pem", "EC PRIVATE KEY", keyDER); err != nil {
		return "", "", err
	}
	return filepath.Join(dir, "server.pem"), filepath.Join(dir, "server-key.pem"), nil
}

// SystemContext is a containers/image SystemContext that reaches this
// registry: TLS verification off for Plain, the test CA for TLS, and the
// credentials for TLSAuth.
func (r *Registry) SystemContext() *types.SystemContext {
	sys := &types.SystemContext{}
	switch r.Flavour {
	case Plain:
		sys.DockerInsecureSkipTLSVerify = types.OptionalBoolTrue
	default:
		sys.DockerCertPath = r.CertDir
	}
	if r.Username != "" {
		sys.DockerAuthConfig = &types.DockerAuthConfig{Username: r.Username, Password: r.Password}
	}
	return sys
}

// Flags are the transport command-line flags that reach this registry, with
// prefix "", "src-" or "dest-": --PREFIXtls-verify=false for Plain,
// --PREFIXcert-dir for TLS, plus --PREFIXcreds for TLSAuth.
func (r *Registry) Flags(prefix string) []string {
	var f []string
	switch r.Flavour {
	case Plain:
		f = append(f, "--"+prefix+"tls-verify=false")
	default:
		f = append(f, "--"+prefix+"cert-dir", r.CertDir)
	}
	if r.Username != "" {
		f = append(f, "--"+prefix+"creds", r.Username+":"+r.Password)
	}
	return f
}
