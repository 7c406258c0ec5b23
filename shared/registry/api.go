package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/containers/image/v5/manifest"
	digest "github.com/opencontainers/go-digest"
	"github.com/sirupsen/logrus"
)

// maxManifestSize bounds a manifest read, as containers/image does.
const maxManifestSize = 4 << 20

// NotFound reports whether err is a registry's 404.
func NotFound(err error) bool {
	var he *HTTPError
	return errors.As(err, &he) && he.StatusCode == http.StatusNotFound
}

func pull(repo string) string { return "repository:" + repo + ":pull" }
func push(repo string) string { return "repository:" + repo + ":pull,push" }

func manifestAccept() http.Header {
	return http.Header{"Accept": manifest.DefaultRequestedManifestMIMETypes}
}

// Tags lists the tags of repo ("NAMESPACE/NAME", without the host),
// following the registry's pagination.
func (c *Client) Tags(ctx context.Context, repo string) ([]string, error) {
	var tags []string
	next := "/v2/" + repo + "/tags/list"
	for next != "" {
		var page struct {
			Tags []string `json:"tags"`
		}
		u := next
		err := c.Do(ctx, "listing the tags of "+c.host+"/"+repo, func() error {
			resp, err := c.do(ctx, request{method: http.MethodGet, url: u, scope: pull(repo)})
			if err != nil {
				return err
			}
			defer drain(resp)
			next = ""
			if l := resp.Header.Get("Link"); l != "" {
				if next, err = nextLink(resp, l); err != nil {
					return err
				}
			}
			return json.NewDecoder(resp.Body).Decode(&page)
		})
		if err != nil {
			return nil, err
		}
		tags = append(tags, page.Tags...)
	}
	return tags, nil
}

// nextLink is the target of a `Link: <URL>; rel="next"` header.
func nextLink(resp *http.Response, link string) (string, error) {
	target, params, _ := strings.Cut(link, ";")
	if !strings.Contains(params, `rel="next"`) {
		return "", nil
	}
	return parseURL(resp, strings.Trim(strings.TrimSpace(target), "<>"))
}

// Manifest reads the manifest of repo at ref (a tag or a digest) and
// returns it with its MIME type.
func (c *Client) Manifest(ctx context.Context, repo, ref string) ([]byte, string, error) {
	var b []byte
	var mimeType string
	err := c.Do(ctx, "reading the manifest of "+c.host+"/"+repo+":"+ref, func() error {
		resp, err := c.do(ctx, request{method: http.MethodGet, url: "/v2/" + repo + "/manifests/" + ref, header: manifestAccept(), scope: pull(repo)})
		if err != nil {
			return err
		}
		defer drain(resp)
		if b, err = io.ReadAll(io.LimitReader(resp.Body, maxManifestSize+1)); err != nil {
			return err
		}
		if len(b) > maxManifestSize {
			return fmt.Errorf("the manifest of %s/%s:%s is larger than %d bytes", c.host, repo, ref, maxManifestSize)
		}
		mimeType = manifest.GuessMIMEType(b)
		if ct := resp.Header.Get("Content-Type"); ct != "" {
			mimeType, _, _ = strings.Cut(ct, ";")
		}
		return nil
	})
	return b, mimeType, err
}

// ManifestDigest asks for the digest of repo's manifest at ref with a HEAD
// request; a missing manifest is an error for which NotFound is true.
func (c *Client) ManifestDigest(ctx context.Context, repo, ref string) (digest.Digest, error) {
	var d digest.Digest
	err := c.Do(ctx, "looking up "+c.host+"/"+repo+":"+ref, func() error {
		resp, err := c.do(ctx, request{method: http.MethodHead, url: "/v2/" + repo + "/manifests/" + ref, header: manifestAccept(), scope: pull(repo)})
		if err != nil {
			return err
		}
		drain(resp)
		d, err = digest.Parse(resp.Header.Get("Docker-Content-Digest"))
		if err != nil {
			return fmt.Errorf("the digest of %s/%s:%s: %w", c.host, repo, ref, err)
		}
		return nil
	})
	return d, err
}

// PutManifest writes m, of the given MIME type, to repo under ref.
func (c *Client) PutManifest(ctx context.Context, repo, ref string, m []byte, mimeType string) error {
	return c.Do(ctx, "writing the manifest of "+c.host+"/"+repo+":"+ref, func() error {
		header := http.Header{}
		if mimeType != "" {
			header.Set("Content-Type", mimeType)
		}
		resp, err := c.do(ctx, request{
			method: http.MethodPut, url: "/v2/" + repo + "/manifests/" + ref,
			header: header,
			body:   func() (io.Reader, int64, error) { return bytes.NewReader(m), int64(len(m)), nil },
			scope:  push(repo),
		})
		if err != nil {
			return err
		}
		drain(resp)
		return nil
	})
}

// HasBlob reports whether repo holds the blob d (HEAD).
func (c *Client) HasBlob(ctx context.Context, repo string, d digest.Digest) (bool, error) {
	has, _, err := c.statBlob(ctx, repo, d)
	return has, err
}

func (c *Client) hasBlob(ctx context.Context, repo string, d digest.Digest) (bool, error) {
	has, _, err := c.headBlob(ctx, repo, d)
	return has, err
}

// headBlob asks whether repo holds the blob d, and its size, with one HEAD
// request.
func (c *Client) headBlob(ctx context.Context, repo string, d digest.Digest) (bool, int64, error) {
	resp, err := c.do(ctx, request{method: http.MethodHead, url: "/v2/" + repo + "/blobs/" + d.String(), scope: pull(repo)})
	if NotFound(err) {
		return false, 0, nil
	}
	if err != nil {
		return false, 0, err
	}
	drain(resp)
	return true, resp.ContentLength, nil
}

// GetBlob opens the blob d of repo; the caller closes it. It is one
// request, not retried: the caller retries what it does with the blob.
func (c *Client) GetBlob(ctx context.Context, repo string, d digest.Digest) (io.ReadCloser, int64, error) {
	resp, err := c.do(ctx, request{method: http.MethodGet, url: "/v2/" + repo + "/blobs/" + d.String(), scope: pull(repo)})
	if err != nil {
		return nil, 0, err
	}
	return resp.Body, resp.ContentLength, nil
}

// PutBlob makes sure repo holds the blob d, sending it only if needed.
// The request that starts the upload asks the registry to mount d from the
// repository from, one of the same registry known to hold it, or from repo
// itself when from is "": a registry that finds the blob there answers 201
// Created and nothing is sent (mounting from repo itself asks whether repo
// already holds the blob in the same request that starts the upload,
// instead of a HEAD request first). Otherwise the registry answers 202
// Accepted and the blob, what open returns (its content and size), is sent
// with one PUT. A registry that refuses mount requests (a 4xx answer) is
// asked with a HEAD request and sent the blob with a plain POST and PUT.
// PutBlob is not retried: the caller retries it whole, with Do.
func (c *Client) PutBlob(ctx context.Context, repo string, d digest.Digest, from string, open func() (io.ReadCloser, int64, error)) error {
	u, err := c.startUpload(ctx, repo, d, from)
	if err != nil || u == nil {
		return err
	}
	body, size, err := open()
	if err != nil {
		return err
	}
	defer body.Close()
	return c.sendUpload(ctx, repo, u, d, body, size)
}

// startUpload starts an upload of d to repo, asking the registry to mount
// it from the repository from (repo itself when ""), and returns where to
// send the blob, or nil if the registry mounted it (see PutBlob).
func (c *Client) startUpload(ctx context.Context, repo string, d digest.Digest, from string) (*url.URL, error) {
	if from == "" {
		from = repo
	}
	rq := request{
		method: http.MethodPost,
		url:    "/v2/" + repo + "/blobs/uploads/?" + url.Values{"mount": {d.String()}, "from": {from}}.Encode(),
		scope:  push(repo),
	}
	if from != repo {
		rq.scope += " " + pull(from)
	}
	resp, err := c.do(ctx, rq)
	if mountRefused(err) {
		logrus.Debugf("%s refused to mount %s from %s (%v): uploading it", c.host, d, from, err)
		has, err := c.hasBlob(ctx, repo, d)
		if err != nil || has {
			return nil, err
		}
		return c.newUpload(ctx, repo)
	} else if err != nil {
		return nil, err
	}
	drain(resp)
	if resp.StatusCode == http.StatusCreated {
		return nil, nil // mounted
	}
	return c.uploadLocation(resp, repo)
}

// newUpload starts an upload to repo with a plain POST and returns where
// to send the blob.
func (c *Client) newUpload(ctx context.Context, repo string) (*url.URL, error) {
	resp, err := c.do(ctx, request{method: http.MethodPost, url: "/v2/" + repo + "/blobs/uploads/", scope: push(repo)})
	if err != nil {
		return nil, err
	}
	drain(resp)
	return c.uploadLocation(resp, repo)
}

// uploadLocation is the Location of resp, a 202 Accepted answer to a
// request starting or continuing an upload to repo.
func (c *Client) uploadLocation(resp *http.Response, repo string) (*url.URL, error) {
	if resp.StatusCode != http.StatusAccepted {
		return nil, fmt.Errorf("starting an upload to %s/%s: %w", c.host, repo, responseError(resp))
	}
	loc, err := parseURL(resp, resp.Header.Get("Location"))
	if err != nil {
		return nil, err
	}
	return url.Parse(loc)
}

// withDigest is u with the digest query parameter that completes an upload.
func withDigest(u *url.URL, d digest.Digest) string {
	v := *u
	q := v.Query()
	q.Set("digest", d.String())
	v.RawQuery = q.Encode()
	return v.String()
}

// sendUpload sends body (size bytes, -1 if unknown) to the upload at u
// with one PUT that completes it as the blob d of repo. It is one request,
// not retried: body cannot be read again.
func (c *Client) sendUpload(ctx context.Context, repo string, u *url.URL, d digest.Digest, body io.Reader, size int64) error {
	resp, err := c.do(ctx, request{
		method: http.MethodPut, url: withDigest(u, d),
		header: http.Header{"Content-Type": {"application/octet-stream"}},
		body:   once(fmt.Sprintf("uploading %s to %s/%s", d, c.host, repo), body, size),
		scope:  push(repo),
	})
	if err != nil {
		return err
	}
	drain(resp)
	return nil
}

// once is a request body that can be sent once: a second attempt (the
// registry asking for authentication after the upload started) fails.
func once(what string, body io.Reader, size int64) func() (io.Reader, int64, error) {
	sent := false
	return func() (io.Reader, int64, error) {
		if sent {
			return nil, 0, fmt.Errorf("%s: authentication asked for after the upload started", what)
		}
		sent = true
		return body, size, nil
	}
}

// mountRefused reports whether err is a registry's refusal of a mount
// request: a 4xx other than 401 (answered by authenticating), 408 and 429
// (retried).
func mountRefused(err error) bool {
	var he *HTTPError
	return errors.As(err, &he) && he.StatusCode >= 400 && he.StatusCode < 500 &&
		he.StatusCode != http.StatusUnauthorized && he.StatusCode != http.StatusRequestTimeout && he.StatusCode != http.StatusTooManyRequests
}
