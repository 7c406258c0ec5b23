// Package image is the one place the suite talks to registries and image
// transports: reference parsing, short-name resolution, the containers/image
// SystemContext built from the standard config files and command-line
// options, copying with retries, mirror fallback and progress.
package image

import (
	"os"

	"fmt"
	"github.com/containers/image/v5/pkg/cli/environment"
	"strings"

	"github.com/containers/image/v5/docker/reference"
	"github.com/containers/image/v5/types"
)

// SystemOptions are the per-side (source or destination) registry options a
// user can give on the command line. The zero value means "what the config
// files say".
type SystemOptions struct {
	// AuthFile overrides the auth.json lookup (REGISTRY_AUTH_FILE, then
	// $XDG_RUNTIME_DIR/containers/auth.json, then ~/.docker/config.json).
	AuthFile string
	// Creds is "USERNAME[:PASSWORD]"; Username/Password are the split form.
	Creds              string
	Username, Password string
	RegistryToken      string
	NoCreds            bool
	// CertDir holds *.crt (CAs), *.cert/*.key (client) for TLS.
	CertDir string
	// TLSVerify: OptionalBoolUndefined leaves it to registries.conf.
	TLSVerify types.OptionalBool
	// RegistriesConf overrides /etc/containers/registries.conf
	// (CONTAINERS_REGISTRIES_CONF is honoured by containers/image itself).
	RegistriesConf string
	// RegistriesDir is the registries.d directory (signature lookaside).
	RegistriesDir string
	// SharedBlobDir is the shared blob directory for oci: layouts.
	SharedBlobDir string
	// Override the platform used to choose from multi-arch images.
	OverrideArch, OverrideOS, OverrideVariant string
	// DockerArchiveAdditionalTags are extra tags for docker-archive: output.
	DockerArchiveAdditionalTags []reference.NamedTagged
	// UserAgent sent to registries.
	UserAgent string
	// BigFilesTemporaryDir is where large temporary files go, if any.
	BigFilesTemporaryDir string
}

// SystemContext builds the containers/image SystemContext for these options.
func (o SystemOptions) SystemContext() (*types.SystemContext, error) {
	sys := &types.SystemContext{
		AuthFilePath:                o.AuthFile,
		DockerCertPath:              o.CertDir,
		OCISharedBlobDirPath:        o.SharedBlobDir,
		DockerInsecureSkipTLSVerify: invert(o.TLSVerify),
		OCIInsecureSkipTLSVerify:    o.TLSVerify == types.OptionalBoolFalse,
		SystemRegistriesConfPath:    o.RegistriesConf,
		RegistriesDirPath:           o.RegistriesDir,
		ArchitectureChoice:          o.OverrideArch,
		OSChoice:                    o.OverrideOS,
		VariantChoice:               o.OverrideVariant,
		DockerRegistryUserAgent:     o.UserAgent,
		DockerArchiveAdditionalTags: o.DockerArchiveAdditionalTags,
		BigFilesTemporaryDir:        o.BigFilesTemporaryDir,
		DockerLogMirrorChoice:       true,
	}
	// The environment overrides podman, buildah and skopeo honour (the
	// library leaves them to its callers).
	if err := environment.UpdateRegistriesConf(sys); err != nil {
		return nil, err
	}
	if sys.AuthFilePath == "" {
		sys.AuthFilePath = os.Getenv("REGISTRY_AUTH_FILE")
	}
	if sys.DockerRegistryUserAgent == "" {
		sys.DockerRegistryUserAgent = "ocisuite"
	}
	if o.TLSVerify == types.OptionalBoolFalse {
		sys.DockerDaemonInsecureSkipTLSVerify = true
	}
	n := 0
	for _, set := range []bool{o.Creds != "", o.Username != "" || o.Password != "", o.RegistryToken != "", o.NoCreds} {
		if set {
			n++
		}
	}
	if n > 1 {
		return nil, fmt.Errorf("only one of --creds, --username/--password, --registry-token and --no-creds may be given")
	}
	switch {
	case o.Creds != "":
		user, pass, _ := strings.Cut(o.Creds, ":")
		if user == "" {
			return nil, fmt.Errorf("invalid credentials %q: username must not be empty", "USERNAME:***")
		}
		sys.DockerAuthConfig = &types.DockerAuthConfig{Username: user, Password: pass}
	case o.Username != "" || o.Password != "":
		if o.Username == "" || o.Password == "" {
			return nil, fmt.Errorf("--username and --password must be given together")
		}
		sys.DockerAuthConfig = &types.DockerAuthConfig{Username: o.Username, Password: o.Password}
	case o.RegistryToken != "":
		sys.DockerBearerRegistryToken = o.RegistryToken
	case o.NoCreds:
		sys.DockerAuthConfig = &types.DockerAuthConfig{}
	}
	return sys, nil
}

func invert(b types.OptionalBool) types.OptionalBool {
	switch b {
	case types.OptionalBoolTrue:
		return types.OptionalBoolFalse
	case types.OptionalBoolFalse:
		return types.OptionalBoolTrue
	}
	return types.OptionalBoolUndefined
}
