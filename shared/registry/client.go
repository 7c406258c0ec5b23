// Package registry is a small client for the registry HTTP API (the OCI
// distribution specification): manifests, blobs and tag lists of one
// registry, over one connection pool, with one /v2/ ping for the client's
// lifetime. It reads the same configuration as containers/image's docker
// transport (registries.conf insecure and blocked entries, certs.d
// directories, credentials from auth files and helpers) and applies the
// suite's retry rule to every request, uploads included, honouring a
// server's Retry-After.
//
// It covers the plain cases only. New returns an error wrapping
// ErrUnsupported for a registry it would not talk to the way
// containers/image does (a blocked registry, an identity token, a fixed
// bearer token); callers then use containers/image.
package registry

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/containers/image/v5/pkg/docker/config"
	"github.com/containers/image/v5/pkg/sysregistriesv2"
	"github.com/containers/image/v5/pkg/tlsclientconfig"
	"github.com/containers/image/v5/types"
	"github.com/sirupsen/logrus"

	"github.com/ocisuite/suite/shared/retry"
)

// ErrUnsupported is wrapped by New's errors for registries this client does
// not handle.
var ErrUnsupported = errors.New("not supported by the plain registry client")

// Client talks to one registry. It is safe for concurrent use.
type Client struct {
	host  string // as in image references ("docker.io", "localhost:5000")
	api   string // host answering the API ("registry-1.docker.io")
	sys   *types.SystemContext
	retry retry.Options
	http  *http.Client
	base  string // "https://host" or "http://host", set by the ping

	username, password string
	// signatures: the registry stores signatures itself
	// (X-Registry-Supports-Signatures).
	signatures bool

	mu         sync.Mutex
	challenges []challenge
	tokens     map[string]string // scope → bearer token
}

// New returns a client for the registry at host ("HOST[:PORT]", as in an
// image reference), after pinging it: https first, then, if TLS
// verification is off for it (sys or registries.conf), plain http.
// Requests are retried according to r (see Do).
func New(ctx context.Context, sys *types.SystemContext, host string, r retry.Options) (*Client, error) {
	api := host
	if host == "docker.io" {
		api = "registry-1.docker.io"
	}
	if sys != nil && (sys.DockerBearerRegistryToken != "" || sys.DockerProxyURL != nil) {
		return nil, fmt.Errorf("registry %s: a fixed bearer token or a proxy: %w", host, ErrUnsupported)
	}
	tlsc := &tls.Config{}
	dir, err := certDir(sys, host)
	if err != nil {
		return nil, err
	}
	if err := tlsclientconfig.SetupCertificates(dir, tlsc); err != nil {
		return nil, fmt.Errorf("registry %s: %w", host, err)
	}
	reg, err := sysregistriesv2.FindRegistry(sys, host)
	if err != nil {
		return nil, fmt.Errorf("loading registries: %w", err)
	}
	if reg != nil {
		if reg.Blocked {
			return nil, fmt.Errorf("registry %s is blocked: %w", host, ErrUnsupported)
		}
		tlsc.InsecureSkipVerify = reg.Insecure
	}
	if sys != nil && sys.DockerInsecureSkipTLSVerify != types.OptionalBoolUndefined {
		tlsc.InsecureSkipVerify = sys.DockerInsecureSkipTLSVerify == types.OptionalBoolTrue
	}
	auth, err := config.GetCredentials(sys, host)
	if err != nil {
		return nil, fmt.Errorf("getting the credentials for %s: %w", host, err)
	}
	if auth.IdentityToken != "" {
		return nil, fmt.Errorf("registry %s: an identity token: %w", host, ErrUnsupported)
	}
	tr := tlsclientconfig.NewTransport()
	tr.TLSClientConfig = tlsc
	tr.MaxIdleConnsPerHost = 16
	c := &Client{
		host: host, api: api, sys: sys, retry: r,
		http:     &http.Client{Transport: tr},
		username: auth.Username, password: auth.Password,
		tokens: map[string]string{},
	}
	err = c.ping(ctx, "https")
	if err != nil && tlsc.InsecureSkipVerify {
		err = c.ping(ctx, "http")
	}
	if err != nil {
		return nil, fmt.Errorf("pinging container registry %s: %w", host, err)
	}
	return c, nil
}

// Host is the registry's name as in image references.
func (c *Client) Host() string { return c.host }

// SupportsSignatures reports whether the registry stores signatures itself
// (the X-Registry-Supports-Signatures extension).
func (c *Client) SupportsSignatures() bool { return c.signatures }

// Close releases the client's idle connections.
func (c *Client) Close() { c.http.CloseIdleConnections() }

func (c *Client) ping(ctx context.Context, scheme string) error {
	return c.Do(ctx, "pinging "+c.host, func() error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, scheme+"://"+c.api+"/v2/", nil)
		if err != nil {
			return err
		}
		resp, err := c.send(req)
		if err != nil {
			return err
		}
		defer drain(resp)
		if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusUnauthorized {
			return responseError(resp)
		}
		c.base = scheme + "://" + c.api
		c.challenges = parseChallenges(resp.Header)
		c.signatures = resp.Header.Get("X-Registry-Supports-Signatures") == "1"
		return nil
	})
}

// send makes one request, with the User-Agent set.
func (c *Client) send(req *http.Request) (*http.Response, error) {
	ua := "ocisuite"
	if c.sys != nil && c.sys.DockerRegistryUserAgent != "" {
		ua = c.sys.DockerRegistryUserAgent
	}
	req.Header.Set("User-Agent", ua)
	logrus.Debugf("%s %s", req.Method, req.URL.Redacted())
	return c.http.Do(req)
}

// request is one API request: Body, if not nil, is called for each attempt
// (authentication can need a second one).
type request struct {
	method string
	url    string // absolute, or a path below the registry's base
	header http.Header
	body   func() (io.Reader, int64, error)
	scope  string // "repository:NAME:ACTIONS" for a bearer token
}

// do sends rq with the registry's authentication: a request answered 401
// is sent once more with fresh credentials for the challenge. The caller
// closes the response body; a status ≥ 400 is returned as an *HTTPError.
func (c *Client) do(ctx context.Context, rq request) (*http.Response, error) {
	for attempt := 0; ; attempt++ {
		u := rq.url
		if strings.HasPrefix(u, "/") {
			u = c.base + u
		}
		var body io.Reader
		size := int64(-1)
		if rq.body != nil {
			b, n, err := rq.body()
			if err != nil {
				return nil, err
			}
			body, size = b, n
		}
		req, err := http.NewRequestWithContext(ctx, rq.method, u, body)
		if err != nil {
			return nil, err
		}
		if size >= 0 {
			req.ContentLength = size
		}
		for k, v := range rq.header {
			req.Header[k] = v
		}
		if err := c.authorize(ctx, req, rq.scope, attempt > 0); err != nil {
			return nil, err
		}
		resp, err := c.send(req)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode == http.StatusUnauthorized && attempt == 0 && c.learnChallenges(resp.Header) {
			drain(resp)
			continue
		}
		if resp.StatusCode >= 400 {
			defer drain(resp)
			return nil, responseError(resp)
		}
		return resp, nil
	}
}

// drain reads a little of an unread body, so that the connection can be
// reused, and closes it.
func drain(resp *http.Response) {
	_, _ = io.CopyN(io.Discard, resp.Body, 64<<10)
	resp.Body.Close()
}

// Do runs fn with the suite's retry rule (retry.Do with the client's
// options). In addition, like containers/image, an HTTP 429 is retried up
// to 5 times whatever the options say, after the server's Retry-After
// (or 2 s, doubling); unlike containers/image, also for requests with a
// body (uploads and manifest writes), since fn makes the whole request
// again.
func (c *Client) Do(ctx context.Context, what string, fn func() error) error {
	o := c.retry
	o.What = what
	return retry.Do(ctx, o, func() error {
		wait := 2 * time.Second
		for n := 0; ; n++ {
			err := fn()
			var he *HTTPError
			if err == nil || n == 5 || !errors.As(err, &he) || he.StatusCode != http.StatusTooManyRequests {
				return err
			}
			d := wait
			if he.After > 0 {
				d = min(he.After, 60*time.Second)
			}
			wait = min(2*wait, 60*time.Second)
			logrus.Infof("%s: too many requests, trying again in %s", what, d)
			t := time.NewTimer(d)
			select {
			case <-ctx.Done():
				t.Stop()
				return err
			case <-t.C:
			}
		}
	})
}

// certDir is the directory of TLS certificates for host, looked up as
// containers/image does: sys.DockerCertPath, sys.DockerPerHostCertDirPath,
// then ~/.config/containers/certs.d, /etc/containers/certs.d and
// /etc/docker/certs.d.
func certDir(sys *types.SystemContext, host string) (string, error) {
	if sys != nil && sys.DockerCertPath != "" {
		return sys.DockerCertPath, nil
	}
	if sys != nil && sys.DockerPerHostCertDirPath != "" {
		return filepath.Join(sys.DockerPerHostCertDirPath, host), nil
	}
	home, _ := os.UserHomeDir()
	dirs := []string{filepath.Join(home, ".config/containers/certs.d")}
	for _, d := range []string{"/etc/containers/certs.d", "/etc/docker/certs.d"} {
		if sys != nil && sys.RootForImplicitAbsolutePaths != "" {
			d = filepath.Join(sys.RootForImplicitAbsolutePaths, d)
		}
		dirs = append(dirs, d)
	}
	var full string
	for _, d := range dirs {
		full = filepath.Join(d, host)
		_, err := os.Stat(full)
		if err == nil {
			break
		}
		if os.IsNotExist(err) || os.IsPermission(err) {
			continue
		}
		return "", err
	}
	return full, nil
}

// HTTPError is a registry's error response.
type HTTPError struct {
	Method, URL string
	StatusCode  int
	// Code and Message are the registry's error code ("MANIFEST_INVALID")
	// and message, if it sent them.
	Code, Message string
	// After is the server's Retry-After, 0 if none.
	After time.Duration
}

func (e *HTTPError) Error() string {
	msg := e.Message
	switch {
	case msg != "":
	case e.StatusCode == http.StatusUnauthorized:
		// As containers/image says it (an answer to HEAD has no body).
		msg = "authentication required"
	default:
		msg = http.StatusText(e.StatusCode)
	}
	return fmt.Sprintf("%s %s: %d (%s)", e.Method, e.URL, e.StatusCode, msg)
}

// RetryAfter makes an HTTPError a retry.RetryAfterError.
func (e *HTTPError) RetryAfter() time.Duration { return e.After }

// responseError reads a failed response: its status, the first error of
// a registry's JSON error body, and Retry-After.
func responseError(resp *http.Response) error {
	u := *resp.Request.URL
	u.RawQuery = ""
	e := &HTTPError{Method: resp.Request.Method, URL: u.Redacted(), StatusCode: resp.StatusCode}
	e.Code, e.Message = errorBody(resp.Body)
	if ra := resp.Header.Get("Retry-After"); ra != "" {
		var secs int64
		if _, err := fmt.Sscan(ra, &secs); err == nil && secs > 0 {
			e.After = time.Duration(secs) * time.Second
		} else if t, err := http.ParseTime(ra); err == nil && time.Until(t) > 0 {
			e.After = time.Until(t)
		}
	}
	return e
}

// parseURL resolves a Location header against the request's URL.
func parseURL(resp *http.Response, loc string) (string, error) {
	u, err := url.Parse(loc)
	if err != nil {
		return "", fmt.Errorf("invalid Location %q: %w", loc, err)
	}
	return resp.Request.URL.ResolveReference(u).String(), nil
}
