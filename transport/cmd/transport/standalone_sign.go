package main

import (
	"errors"

	"github.com/spf13/cobra"

	"github.com/ocisuite/suite/shared/cli"
	"github.com/ocisuite/suite/shared/sign"
)

func newStandaloneSignCmd(g *globalOptions) *cobra.Command {
	var o sign.SignOptions
	cmd := &cobra.Command{
		Use:   "standalone-sign [options] MANIFEST DOCKER-REFERENCE KEY-FINGERPRINT --output|-o SIGNATURE",
		Short: "Create a signature of a local manifest file (debugging tool)",
		Long: `Sign the manifest in MANIFEST as DOCKER-REFERENCE with the GPG key KEY-FINGERPRINT
from the default keyring ($GNUPGHOME, else ~/.gnupg) and write the signature to
SIGNATURE. This is a debugging tool; use "transport copy --sign-by" to publish
and sign an image in one step.`,
		Example: `  transport standalone-sign busybox-manifest.json registry.example.com/example/busybox 1D8230F6CDB6A06716E414C1DB72F2188BB46CC8 --output busybox.signature`,
		Args:    cli.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.OutputPath == "" {
				return cli.Usage(errors.New("standalone-sign needs --output SIGNATURE"))
			}
			o.ManifestPath, o.DockerReference, o.Fingerprint = args[0], args[1], args[2]
			ctx, cancel := g.commandContext(cmd)
			defer cancel()
			return sign.SignManifest(ctx, o)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.OutputPath, "output", "o", "", "write the signature to `path`")
	f.StringVar(&o.PassphraseFile, "passphrase-file", "", "read the key's passphrase from the first line of `path`")
	return cmd
}
