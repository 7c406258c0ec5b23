package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// challenge is one WWW-Authenticate challenge.
type challenge struct {
	scheme string // lower case: "basic", "bearer"
	params map[string]string
}

// parseChallenges reads the WWW-Authenticate headers of a response.
func parseChallenges(h http.Header) []challenge {
	var out []challenge
	for _, v := range h.Values("WWW-Authenticate") {
		scheme, rest, _ := strings.Cut(strings.TrimSpace(v), " ")
		ch := challenge{scheme: strings.ToLower(scheme), params: map[string]string{}}
		for rest = strings.TrimSpace(rest); rest != ""; {
			k, r, ok := strings.Cut(rest, "=")
			if !ok {
				break
			}
			k = strings.ToLower(strings.TrimSpace(k))
			r = strings.TrimSpace(r)
			var val string
			if strings.HasPrefix(r, `"`) {
				end := strings.Index(r[1:], `"`)
				if end < 0 {
					break
				}
				val, r = r[1:1+end], r[2+end:]
			} else {
				val, r, _ = strings.Cut(r, ",")
				r = "," + r
			}
			ch.params[k] = val
			rest = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(r), ","))
		}
		out = append(out, ch)
	}
	return out
}

// learnChallenges records the challenges of a 401 response, dropping the
// tokens issued so far; it reports whether there is a challenge to answer.
func (c *Client) learnChallenges(h http.Header) bool {
	chs := parseChallenges(h)
	if len(chs) == 0 {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.challenges = chs
	c.tokens = map[string]string{}
	return true
}

// authorize sets the Authorization header for the registry's challenge:
// basic credentials, or a bearer token for scope (one or more
// "repository:NAME:ACTIONS", space-separated), fetched once per scope, or
// again when fresh is set.
func (c *Client) authorize(ctx context.Context, req *http.Request, scope string, fresh bool) error {
	if req.URL.Host != c.api {
		return nil // an upload location or a redirect elsewhere gets no credentials
	}
	c.mu.Lock()
	chs := c.challenges
	tok, ok := c.tokens[scope]
	c.mu.Unlock()
	for _, ch := range chs {
		switch ch.scheme {
		case "basic":
			if c.username != "" || c.password != "" {
				req.SetBasicAuth(c.username, c.password)
			}
			return nil
		case "bearer":
			if !ok || fresh {
				var err error
				if tok, err = c.token(ctx, ch, scope); err != nil {
					return err
				}
				c.mu.Lock()
				c.tokens[scope] = tok
				c.mu.Unlock()
			}
			req.Header.Set("Authorization", "Bearer "+tok)
			return nil
		}
	}
	return nil
}

// token asks the challenge's realm for a bearer token for scope.
func (c *Client) token(ctx context.Context, ch challenge, scope string) (string, error) {
	realm := ch.params["realm"]
	if realm == "" {
		return "", fmt.Errorf("registry %s: bearer challenge without a realm", c.host)
	}
	u, err := url.Parse(realm)
	if err != nil {
		return "", fmt.Errorf("registry %s: invalid realm %q: %w", c.host, realm, err)
	}
	q := u.Query()
	if c.username != "" {
		q.Set("account", c.username)
	}
	if s := ch.params["service"]; s != "" {
		q.Set("service", s)
	}
	for _, s := range strings.Fields(scope) {
		q.Add("scope", s)
	}
	u.RawQuery = q.Encode()
	var tok string
	err = c.Do(ctx, "requesting a token from "+u.Host, func() error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
		if err != nil {
			return err
		}
		if c.username != "" && c.password != "" {
			req.SetBasicAuth(c.username, c.password)
		}
		resp, err := c.send(req)
		if err != nil {
			return err
		}
		defer drain(resp)
		if resp.StatusCode != http.StatusOK {
			return responseError(resp)
		}
		var body struct {
			Token       string `json:"token"`
			AccessToken string `json:"access_token"`
		}
		if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&body); err != nil {
			return fmt.Errorf("reading the token from %s: %w", u.Host, err)
		}
		tok = body.Token
		if tok == "" {
			tok = body.AccessToken
		}
		if tok == "" {
			return fmt.Errorf("%s sent no token", u.Host)
		}
		return nil
	})
	return tok, err
}

// errorBody reads a registry's JSON error body
// ({"errors":[{"code":…,"message":…}]}): the first error's code and its
// message (the code in words when it has none), or "", "".
func errorBody(r io.Reader) (code, message string) {
	var body struct {
		Errors []struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	if err := json.NewDecoder(io.LimitReader(r, 64<<10)).Decode(&body); err != nil || len(body.Errors) == 0 {
		return "", ""
	}
	e := body.Errors[0]
	if e.Message != "" {
		return e.Code, e.Message
	}
	return e.Code, strings.ToLower(strings.ReplaceAll(e.Code, "_", " "))
}
