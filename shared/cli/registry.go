//go:build !thin

package cli

import (
	"github.com/containers/image/v5/types"
	"github.com/spf13/pflag"

	shimage "github.com/ocisuite/suite/shared/image"
)

// RegistryFlags are the registry options of the commands that talk to
// registries (pull, push, login, from, build, …), with podman's and
// buildah's names.
type RegistryFlags struct {
	authFile  string
	creds     string
	certDir   string
	tlsVerify bool
	fs        *pflag.FlagSet
}

// AddRegistryFlags adds --authfile, --cert-dir, --tls-verify and, with
// creds, --creds to fs.
func AddRegistryFlags(fs *pflag.FlagSet, creds bool) *RegistryFlags {
	f := &RegistryFlags{fs: fs}
	fs.StringVar(&f.authFile, "authfile", "", "path of the authentication `file` (default: ${XDG_RUNTIME_DIR}/containers/auth.json)")
	if creds {
		fs.StringVar(&f.creds, "creds", "", "use `USERNAME[:PASSWORD]` for accessing the registry")
	}
	fs.StringVar(&f.certDir, "cert-dir", "", "use certificates at `path` (*.crt, *.cert, *.key) to connect to the registry")
	fs.BoolVar(&f.tlsVerify, "tls-verify", true, "require HTTPS and verify certificates when contacting registries (default from registries.conf)")
	return f
}

// Options are the flags as registry options; registriesConf is the global
// --registries-conf.
func (f *RegistryFlags) Options(registriesConf string) shimage.SystemOptions {
	o := shimage.SystemOptions{
		AuthFile:       f.authFile,
		Creds:          f.creds,
		CertDir:        f.certDir,
		RegistriesConf: registriesConf,
	}
	if f.fs.Changed("tls-verify") {
		o.TLSVerify = types.NewOptionalBool(f.tlsVerify)
	}
	return o
}
