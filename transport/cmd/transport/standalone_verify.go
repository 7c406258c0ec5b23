package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ocisuite/suite/shared/cli"
	"github.com/ocisuite/suite/shared/sign"
)

func newStandaloneVerifyCmd(g *globalOptions) *cobra.Command {
	var o sign.VerifyOptions
	cmd := &cobra.Command{
		Use:   "standalone-verify [options] MANIFEST DOCKER-REFERENCE KEY-FINGERPRINT[,...] SIGNATURE",
		Short: "Verify a signature of a local manifest file (debugging tool)",
		Long: `Verify that SIGNATURE signs the manifest in MANIFEST as DOCKER-REFERENCE, made by
one of the comma-separated KEY-FINGERPRINTs, and print the manifest digest.
Keys come from the default keyring ($GNUPGHOME, else ~/.gnupg), or only from
--public-key-file; with a public key file, KEY-FINGERPRINT "any" accepts any
key in it. Prefer a policy (containers-policy.json(5)) for normal use.`,
		Example: `  transport standalone-verify busybox-manifest.json registry.example.com/example/busybox 1D8230F6CDB6A06716E414C1DB72F2188BB46CC8 busybox.signature`,
		Args:    cli.ExactArgs(4),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.ManifestPath, o.DockerReference, o.SignaturePath = args[0], args[1], args[3]
			o.Fingerprints = strings.Split(args[2], ",")
			ctx, cancel := g.commandContext(cmd)
			defer cancel()
			v, err := sign.VerifyManifest(ctx, o)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Signature verified using fingerprint %s, digest %s\n", v.Fingerprint, v.Digest)
			return nil
		},
	}
	cmd.Flags().StringVar(&o.PublicKeyFile, "public-key-file", "", "verify with the keys in `path` instead of the default keyring")
	return cmd
}
