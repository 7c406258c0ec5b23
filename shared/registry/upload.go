package registry

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"sync"

	digest "github.com/opencontainers/go-digest"
)

// Upload writes the blob that stream holds to repo and returns its digest
// and size. d and size are the blob's digest and size when known ("" and
// -1 when not: a layer compressed on the fly). A blob d that repo already
// holds is not sent: a HEAD request asks first, as containers/image does.
// (Not a mount request from repo itself, as PutBlob makes: a registry
// rewrites the blob's link in repo for it, and a manifest PUT checking
// that link at the same time can fail; containers/image's copies of
// several images to one repository make such requests at the same time.)
//
// Every request is made under the retry rule (Do), a 429 waiting for the
// server's Retry-After, except the one that sends stream, which cannot be
// read twice: its failure is returned, an *HTTPError carrying the server's
// Retry-After for a 429, for the caller to retry the upload whole. stream
// is not read after Upload returns.
func (c *Client) Upload(ctx context.Context, repo string, stream io.Reader, d digest.Digest, size int64) (digest.Digest, int64, error) {
	what := "uploading a blob to " + c.host + "/" + repo
	body := &guardedReader{r: stream}
	defer body.end()
	if d != "" {
		present, n, err := c.statBlob(ctx, repo, d)
		if err != nil {
			return "", 0, err
		}
		if present {
			if size < 0 {
				size = n
			}
			return d, size, nil
		}
	}
	var u *url.URL
	err := c.Do(ctx, what, func() error {
		var err error
		u, err = c.newUpload(ctx, repo)
		return err
	})
	switch {
	case err != nil:
		return "", 0, err
	case d != "":
		if err := c.sendUpload(ctx, repo, u, d, body, size); err != nil {
			return "", 0, err
		}
		return d, body.count(), nil
	}
	// The digest is known once the stream is read: send the stream with a
	// PATCH, then complete the upload with its digest.
	dg := digest.Canonical.Digester()
	body.r = io.TeeReader(stream, dg.Hash())
	resp, err := c.do(ctx, request{
		method: http.MethodPatch, url: u.String(),
		header: http.Header{"Content-Type": {"application/octet-stream"}},
		body:   once(what, body, -1),
		scope:  push(repo),
	})
	if err != nil {
		return "", 0, err
	}
	drain(resp)
	if u, err = c.uploadLocation(resp, repo); err != nil {
		return "", 0, err
	}
	d = dg.Digest()
	err = c.Do(ctx, what, func() error {
		resp, err := c.do(ctx, request{method: http.MethodPut, url: withDigest(u, d), scope: push(repo)})
		if err != nil {
			return err
		}
		drain(resp)
		return nil
	})
	if err != nil {
		return "", 0, err
	}
	return d, body.count(), nil
}

// statBlob asks whether repo holds the blob d, and its size (HEAD, under
// the retry rule).
func (c *Client) statBlob(ctx context.Context, repo string, d digest.Digest) (present bool, size int64, err error) {
	err = c.Do(ctx, "looking up blob "+d.String()+" in "+c.host+"/"+repo, func() error {
		var err error
		present, size, err = c.headBlob(ctx, repo, d)
		return err
	})
	return present, size, err
}

// guardedReader counts what is read from r, and fails reads once end was
// called: the HTTP client may still be reading a request body when the
// request has failed.
type guardedReader struct {
	mu   sync.Mutex
	r    io.Reader
	n    int64
	done bool
}

var errUploadEnded = errors.New("reading a blob after its upload ended")

func (g *guardedReader) Read(p []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.done {
		return 0, errUploadEnded
	}
	n, err := g.r.Read(p)
	g.n += int64(n)
	return n, err
}

func (g *guardedReader) count() int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.n
}

func (g *guardedReader) end() {
	g.mu.Lock()
	g.done = true
	g.mu.Unlock()
}
