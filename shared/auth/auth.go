// Package auth logs in to and out of registries: credentials are checked
// against the registry before they are stored in auth.json, written 0600 in
// a 0700 directory at the location podman, buildah and skopeo use
// (--authfile, REGISTRY_AUTH_FILE, ${XDG_RUNTIME_DIR}/containers/auth.json,
// /run/containers/UID/auth.json).
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

var (
	// ErrNoCredentials is returned when no credentials are stored for a
	// registry.
	ErrNoCredentials = errors.New("not logged in")
	// ErrInvalidCredentials is returned when the registry rejects the
	// username and password.
	ErrInvalidCredentials = errors.New("authentication required: invalid username or password")
)

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

// Check verifies username and password against the registry without
// storing them. A rejection is ErrInvalidCredentials.
func Check(ctx context.Context, sys *types.SystemContext, registry, username, password string) error {
	key, err := Key(registry)
	if err != nil {
		return err
	}
	if username == "" {
		return fmt.Errorf("logging in to %s: a username is required", key)
	}
	if password == "" {
		return fmt.Errorf("logging in to %s: a password is required", key)
	}
	if err := docker.CheckAuth(ctx, withRegistriesInsecure(sys, host(key)), username, password, host(key)); err != nil {
		var unauth docker.ErrUnauthorizedForCredentials
		if errors.As(err, &unauth) {
			return fmt.Errorf("logging in to %s: %w", key, ErrInvalidCredentials)
		}
		return fmt.Errorf("logging in to %s: %w", key, err)
	}
	return nil
}

// Login checks username and password against the registry and, only if
// the registry accepts them, stores them. It returns the auth file written.
func Login(ctx context.Context, sys *types.SystemContext, registry, username, password string) (string, error) {
	if err := Check(ctx, sys, registry, username, password); err != nil {
		return "", err
	}
	key, err := Key(registry)
	if err != nil {
		return "", err
	}
	path, err := config.SetCredentials(sys, key, username, password)
	if err != nil {
		return "", fmt.Errorf("storing credentials for %s: %w", key, err)
	}
	return path, nil
}

// Stored returns the credentials stored for the registry, or
// ErrNoCredentials. Identity tokens count as stored credentials.
func Stored(sys *types.SystemContext, registry string) (types.DockerAuthConfig, error) {
	key, err := Key(registry)
	if err != nil {
		return types.DockerAuthConfig{}, err
	}
	c, err := config.GetCredentials(sys, key)
	if err != nil {
		return types.DockerAuthConfig{}, fmt.Errorf("reading credentials for %s: %w", key, err)
	}
	if c.Username == "" && c.IdentityToken == "" {
		return types.DockerAuthConfig{}, fmt.Errorf("%w to %s", ErrNoCredentials, key)
	}
	return c, nil
}

// Username returns the user stored for the registry (login --get-login).
func Username(sys *types.SystemContext, registry string) (string, error) {
	c, err := Stored(sys, registry)
	if err != nil {
		return "", err
	}
	if c.Username == "" {
		key, _ := Key(registry)
		return "", fmt.Errorf("%w to %s with a username (only an identity token is stored)", ErrNoCredentials, key)
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
			return fmt.Errorf("%w to %s", ErrNoCredentials, key)
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
