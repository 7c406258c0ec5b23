package main

import (
	"github.com/containers/image/v5/types"
	"github.com/spf13/pflag"

	"github.com/ocisuite/suite/shared/image"
)

// imageFlags are the registry options of one side of an operation. The same
// group serves --src-*, --dest-* and the unprefixed form (inspect, delete, …).
type imageFlags struct {
	authFile      string
	creds         string
	username      string
	password      string
	registryToken string
	noCreds       bool
	certDir       string
	tlsVerify     bool
	sharedBlobDir string
	fs            *pflag.FlagSet
	prefix        string
}

// addImageFlags registers the group on fs. prefix is "", "src-" or "dest-".
func addImageFlags(fs *pflag.FlagSet, prefix string) *imageFlags {
	f := &imageFlags{fs: fs, prefix: prefix}
	side := map[string]string{"": "", "src-": " for the source", "dest-": " for the destination"}[prefix]
	fs.StringVar(&f.authFile, prefix+"authfile", "", "path of the authentication `file`"+side)
	fs.StringVar(&f.creds, prefix+"creds", "", "use `USERNAME[:PASSWORD]` for accessing the registry"+side)
	fs.StringVar(&f.username, prefix+"username", "", "`username` for accessing the registry"+side)
	fs.StringVar(&f.password, prefix+"password", "", "`password` for accessing the registry"+side)
	fs.StringVar(&f.registryToken, prefix+"registry-token", "", "bearer `token` for accessing the registry"+side)
	fs.BoolVar(&f.noCreds, prefix+"no-creds", false, "access the registry anonymously"+side)
	fs.StringVar(&f.certDir, prefix+"cert-dir", "", "use certificates at `path` (*.crt, *.cert, *.key) to connect to the registry"+side)
	fs.BoolVar(&f.tlsVerify, prefix+"tls-verify", true, "require HTTPS and verify certificates when talking to the registry"+side+" (default from registries.conf)")
	fs.StringVar(&f.sharedBlobDir, prefix+"shared-blob-dir", "", "`directory` to use to share blobs across OCI repositories")
	return f
}

// options turns the parsed flags into image.SystemOptions.
func (f *imageFlags) options(g *globalOptions) image.SystemOptions {
	o := image.SystemOptions{
		AuthFile:             f.authFile,
		Creds:                f.creds,
		Username:             f.username,
		Password:             f.password,
		RegistryToken:        f.registryToken,
		NoCreds:              f.noCreds,
		CertDir:              f.certDir,
		SharedBlobDir:        f.sharedBlobDir,
		RegistriesConf:       g.registriesConf,
		RegistriesDir:        g.registriesDir,
		OverrideArch:         g.overrideArch,
		OverrideOS:           g.overrideOS,
		OverrideVariant:      g.overrideVariant,
		UserAgent:            g.userAgent,
		BigFilesTemporaryDir: g.tmpDir,
	}
	if f.fs.Changed(f.prefix + "tls-verify") {
		o.TLSVerify = types.NewOptionalBool(f.tlsVerify)
	}
	return o
}

// systemContext builds the SystemContext for this side.
func (f *imageFlags) systemContext(g *globalOptions) (*types.SystemContext, error) {
	return f.options(g).SystemContext()
}

// retryFlags are --retry-times and --retry-delay.
type retryFlags struct {
	times int
	delay string
}

func addRetryFlags(fs *pflag.FlagSet) *retryFlags {
	r := &retryFlags{}
	fs.IntVar(&r.times, "retry-times", 3, "number of times to retry on a transient network error (EOF, connection reset, 408, 429, 5xx)")
	fs.StringVar(&r.delay, "retry-delay", "", "fixed `duration` between retries (default: exponential backoff with jitter)")
	return r
}
