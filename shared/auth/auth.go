// Package auth logs in to and out of registries: credentials are checked
// against the registry before they are stored in auth.json (written 0600 in
// a 0700 directory, at the location podman, buildah and skopeo use).
package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/containers/image/v5/docker"
	"github.com/containers/image/v5/pkg/docker/config"
	"github.com/containers/image/v5/pkg/sysregistriesv2"
	"github.com/containers/image/v5/types"
)

// ErrNoCredentials is returned when no credentials are stored for a registry.
var ErrNoCredentials = errors.New("not logged in")

// Key normalizes what a user types for a registry ("docker://host/ns",
// "https://host", "host:port/") into the auth.json key.
func Key(registry string) (string, error) {
	k := registry
	for _, p := range []string{"docker://", "https://", "http://"} {
		k = strings.TrimPrefix(k, p)
	}
	k = strings.TrimSuffix(k, "/")
	if k == "" {
		return "", fmt.Errorf("invalid registry %q: empty", registry)
	}
	return k, nil
}

// host is the registry part of a key ("host:port/namespace" → "host:port").
func host(key string) string {
	h, _, _ := strings.Cut(key, "/")
	return h
}

// Login checks username and password against the registry and stores them.
// It returns the auth file written.
func Login(ctx context.Context, sys *types.SystemContext, registry, username, password string) (string, error) {
	key, err := Key(registry)
	if err != nil {
		return "", err
	}
	if username == "" {
		return "", fmt.Errorf("logging in to %s: a username is required", key)
	}
	if password == "" {
		return "", fmt.Errorf("logging in to %s: a password is required", key)
	}
	checkSys := withRegistriesInsecure(sys, host(key))
	if err := docker.CheckAuth(ctx, checkSys, username, password, host(key)); err != nil {
		var unauth docker.ErrUnauthorizedForCredentials
		if errors.As(err, &unauth) {
			return "", fmt.Errorf("logging in to %s: authentication required: invalid username or password", key)
		}
		return "", fmt.Errorf("logging in to %s: %w", key, err)
	}
	path, err := config.SetCredentials(sys, key, username, password)
	if err != nil {
		return "", fmt.Errorf("storing credentials for %s: %w", key, err)
	}
	return path, nil
}

// Username returns the user stored for the registry (login --get-login).
func Username(sys *types.SystemContext, registry string) (string, error) {
	key, err := Key(registry)
	if err != nil {
		return "", err
	}
	c, err := config.GetCredentials(sys, key)
	if err != nil {
		return "", fmt.Errorf("reading credentials for %s: %w", key, err)
	}
	if c.Username == "" {
		return "", fmt.Errorf("%s: %w", key, ErrNoCredentials)
	}
	return c.Username, nil
}

// Logout removes the credentials of one registry.
func Logout(sys *types.SystemContext, registry string) error {
	key, err := Key(registry)
	if err != nil {
		return err
	}
	if err := config.RemoveAuthentication(sys, key); err != nil {
		if errors.Is(err, config.ErrNotLoggedIn) {
			return fmt.Errorf("%s: %w", key, ErrNoCredentials)
		}
		return fmt.Errorf("removing credentials for %s: %w", key, err)
	}
	return nil
}

// LogoutAll removes every stored credential.
func LogoutAll(sys *types.SystemContext) error {
	if err := config.RemoveAllAuthentication(sys); err != nil {
		return fmt.Errorf("removing all credentials: %w", err)
	}
	return nil
}

// withRegistriesInsecure skips TLS verification for a registry that
// registries.conf marks insecure, unless the user chose explicitly.
func withRegistriesInsecure(sys *types.SystemContext, h string) *types.SystemContext {
	if sys != nil && sys.DockerInsecureSkipTLSVerify != types.OptionalBoolUndefined {
		return sys
	}
	reg, err := sysregistriesv2.FindRegistry(sys, h)
	if err != nil || reg == nil || !reg.Insecure {
		return sys
	}
	c := types.SystemContext{}
	if sys != nil {
		c = *sys
	}
	c.DockerInsecureSkipTLSVerify = types.OptionalBoolTrue
	return &c
}
