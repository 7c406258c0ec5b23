//go:build !thin

package imagestore

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/containers/image/v5/docker"
	"github.com/containers/image/v5/docker/reference"
	"github.com/containers/image/v5/pkg/docker/config"
	"github.com/containers/image/v5/pkg/sysregistriesv2"
	"github.com/containers/image/v5/pkg/tlsclientconfig"
	"github.com/containers/image/v5/types"

	shimage "github.com/ocisuite/suite/shared/image"
)

// SearchOptions control Search.
type SearchOptions struct {
	Sys shimage.SystemOptions
	// Limit bounds the results per registry (tags with ListTags); 0: 25.
	Limit int
	// ListTags lists the tags of the repository named by the term.
	ListTags bool
}

// SearchResult is one repository (or one tag with ListTags).
type SearchResult struct {
	Index       string
	Name        string
	Description string
	Stars       int
	Official    string
	Automated   string
	Tag         string
}

// Search looks for repositories whose name contains the term in a v2
// registry's catalog. term is "REGISTRY/TERM"; a term without a registry
// searches each of registries.conf's unqualified-search-registries.
func Search(ctx context.Context, term string, o SearchOptions) ([]SearchResult, error) {
	sys, err := o.Sys.SystemContext()
	if err != nil {
		return nil, err
	}
	if o.Limit <= 0 {
		o.Limit = 25
	}
	if o.ListTags {
		return listTags(ctx, sys, term, o.Limit)
	}
	var registries []string
	if hasDomain(term) {
		reg, rest, _ := strings.Cut(term, "/")
		registries, term = []string{reg}, rest
	} else {
		registries, err = sysregistriesv2.UnqualifiedSearchRegistries(sys)
		if err != nil {
			return nil, err
		}
		if len(registries) == 0 {
			return nil, fmt.Errorf("searching %q: no registry given and no unqualified-search-registries in registries.conf", term)
		}
	}
	var out []SearchResult
	var errs []error
	for _, reg := range registries {
		repos, err := catalog(ctx, sys, reg)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		n := 0
		for _, r := range repos {
			if n >= o.Limit {
				break
			}
			if term != "" && term != "*" && !strings.Contains(r, term) {
				continue
			}
			out = append(out, SearchResult{Index: reg, Name: reg + "/" + r})
			n++
		}
	}
	if len(out) == 0 && len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

func listTags(ctx context.Context, sys *types.SystemContext, term string, limit int) ([]SearchResult, error) {
	named, err := reference.ParseNormalizedNamed(term)
	if err != nil {
		return nil, fmt.Errorf("invalid repository %q: %w", term, err)
	}
	if !reference.IsNameOnly(named) {
		return nil, fmt.Errorf("--list-tags takes a repository without a tag or digest, not %q", term)
	}
	ref, err := docker.NewReference(reference.TagNameOnly(named))
	if err != nil {
		return nil, err
	}
	tags, err := docker.GetRepositoryTags(ctx, sys, ref)
	if err != nil {
		return nil, fmt.Errorf("listing the tags of %s: %w", named.Name(), err)
	}
	var out []SearchResult
	for i, t := range tags {
		if i >= limit {
			break
		}
		out = append(out, SearchResult{Index: reference.Domain(named), Name: named.Name(), Tag: t})
	}
	return out, nil
}

// catalog lists a registry's repositories (GET /v2/_catalog), over HTTPS,
// or HTTP for a registry that is insecure by flag or registries.conf.
func catalog(ctx context.Context, sys *types.SystemContext, host string) ([]string, error) {
	insecure := sys.DockerInsecureSkipTLSVerify == types.OptionalBoolTrue
	if sys.DockerInsecureSkipTLSVerify == types.OptionalBoolUndefined {
		if reg, err := sysregistriesv2.FindRegistry(sys, host); err == nil && reg != nil && reg.Insecure {
			insecure = true
		}
	}
	tlsc := &tls.Config{InsecureSkipVerify: insecure} //nolint:gosec // the user asked for it
	certDir := sys.DockerCertPath
	if certDir == "" {
		for _, d := range []string{"/etc/containers/certs.d", "/etc/docker/certs.d"} {
			if _, err := os.Stat(filepath.Join(d, host)); err == nil {
				certDir = filepath.Join(d, host)
				break
			}
		}
	}
	if certDir != "" {
		if err := tlsclientconfig.SetupCertificates(certDir, tlsc); err != nil {
			return nil, err
		}
	}
	tr := tlsclientconfig.NewTransport()
	tr.TLSClientConfig = tlsc
	client := &http.Client{Transport: tr}
	var creds types.DockerAuthConfig
	if sys.DockerAuthConfig != nil {
		creds = *sys.DockerAuthConfig
	} else if c, err := config.GetCredentials(sys, host); err == nil {
		creds = c
	}
	var lastErr error
	schemes := []string{"https"}
	if insecure {
		schemes = append(schemes, "http")
	}
	for _, scheme := range schemes {
		repos, err := catalogPages(ctx, client, scheme+"://"+host, creds)
		if err != nil {
			lastErr = err
			continue
		}
		sort.Strings(repos)
		return repos, nil
	}
	return nil, fmt.Errorf("searching %s: %w", host, lastErr)
}

// catalogPages reads every page of the catalog (the Link header's next).
func catalogPages(ctx context.Context, client *http.Client, base string, creds types.DockerAuthConfig) ([]string, error) {
	var repos []string
	next := "/v2/_catalog?n=1000"
	for pages := 0; next != "" && pages < 1000; pages++ {
		body, link, err := getWithAuth(ctx, client, base+next, creds)
		if err != nil {
			return nil, err
		}
		var cat struct {
			Repositories []string `json:"repositories"`
		}
		if err := json.Unmarshal(body, &cat); err != nil {
			return nil, fmt.Errorf("invalid catalog from %s: %w", base, err)
		}
		repos = append(repos, cat.Repositories...)
		next = ""
		if l, _, ok := strings.Cut(link, ";"); ok && strings.Contains(link, `rel="next"`) {
			next = strings.Trim(strings.TrimSpace(l), "<>")
			if u, err := url.Parse(next); err == nil && u.IsAbs() {
				next = u.RequestURI()
			}
		}
	}
	return repos, nil
}

// getWithAuth GETs u, answering a Basic or Bearer challenge with creds.
func getWithAuth(ctx context.Context, client *http.Client, u string, creds types.DockerAuthConfig) ([]byte, string, error) {
	do := func(auth func(*http.Request)) (*http.Response, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return nil, err
		}
		if auth != nil {
			auth(req)
		}
		return client.Do(req)
	}
	resp, err := do(nil)
	if err != nil {
		return nil, "", err
	}
	if resp.StatusCode == http.StatusUnauthorized {
		challenge := resp.Header.Get("WWW-Authenticate")
		resp.Body.Close()
		scheme, params := parseChallenge(challenge)
		switch strings.ToLower(scheme) {
		case "basic":
			resp, err = do(func(r *http.Request) { r.SetBasicAuth(creds.Username, creds.Password) })
		case "bearer":
			token, terr := bearerToken(ctx, client, params, creds)
			if terr != nil {
				return nil, "", terr
			}
			resp, err = do(func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token) })
		default:
			return nil, "", fmt.Errorf("GET %s: unauthorized (challenge %q)", u, challenge)
		}
		if err != nil {
			return nil, "", err
		}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, "", err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, "", fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return body, resp.Header.Get("Link"), nil
}

func parseChallenge(h string) (string, map[string]string) {
	scheme, rest, _ := strings.Cut(h, " ")
	params := map[string]string{}
	for _, p := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if ok {
			params[strings.ToLower(k)] = strings.Trim(v, `"`)
		}
	}
	return scheme, params
}

func bearerToken(ctx context.Context, client *http.Client, params map[string]string, creds types.DockerAuthConfig) (string, error) {
	realm := params["realm"]
	if realm == "" {
		return "", errors.New("bearer challenge without a realm")
	}
	q := url.Values{}
	if s := params["service"]; s != "" {
		q.Set("service", s)
	}
	q.Set("scope", "registry:catalog:*")
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, realm+"?"+q.Encode(), nil)
	if err != nil {
		return "", err
	}
	if creds.Username != "" {
		req.SetBasicAuth(creds.Username, creds.Password)
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var tok struct {
		Token       string `json:"token"`
		AccessToken string `json:"access_token"`
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("getting a token from %s: %s", realm, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil {
		return "", err
	}
	if tok.Token != "" {
		return tok.Token, nil
	}
	return tok.AccessToken, nil
}
