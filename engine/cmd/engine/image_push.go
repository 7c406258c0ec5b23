//go:build !thin

package main

import (
	"fmt"
	"os"

	"github.com/containers/storage"
	"github.com/spf13/cobra"

	"github.com/ocisuite/suite/shared/cli"
	"github.com/ocisuite/suite/shared/imagestore"
)

type pushOptions struct {
	reg              *cli.RegistryFlags
	format           string
	digestFile       string
	quiet            bool
	removeSignatures bool
	retry            int
	policyPath       string
}

func newPushCmd(g *globalOptions) *cobra.Command {
	o := &pushOptions{}
	cmd := &cobra.Command{
		Use:   "push [flags] IMAGE [DESTINATION]",
		Short: "Push an image to a registry or another transport",
		Long: `Push a local image to DESTINATION: a registry name (registry.example/app:1,
docker://…) or TRANSPORT:DETAILS (oci:, oci-archive:, docker-archive:, dir:).
Without DESTINATION the image goes where its name says.`,
		Example: `  engine push registry.example/app:1
  engine push --format oci app registry.example/team/app:1`,
		Args: cli.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			dest := ""
			if len(args) == 2 {
				dest = args[1]
			}
			if _, err := imagestore.ManifestType(o.format); err != nil {
				return cli.Usage(err)
			}
			return withImageStore(g, func(s storage.Store) error {
				d, err := imagestore.Push(cmd.Context(), s, args[0], dest, imagestore.PushOptions{
					Sys: o.reg.Options(g.registriesConf), Format: o.format, RemoveSignatures: o.removeSignatures,
					Progress: imageProgress(cmd, o.quiet), RetryTimes: o.retry, PolicyPath: o.policyPath,
				})
				if err != nil {
					return err
				}
				if o.digestFile != "" {
					if err := os.WriteFile(o.digestFile, []byte(d.String()), 0o644); err != nil {
						return fmt.Errorf("writing the digest file: %w", err)
					}
				}
				return nil
			})
		},
	}
	f := cmd.Flags()
	o.reg = cli.AddRegistryFlags(f, true)
	f.StringVarP(&o.format, "format", "f", "", "manifest `type` to push: oci, v2s2 or v2s1 (default: as stored)")
	f.StringVar(&o.digestFile, "digestfile", "", "write the digest of the pushed manifest to `file`")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "do not print progress")
	f.BoolVar(&o.removeSignatures, "remove-signatures", false, "do not copy signatures")
	f.IntVar(&o.retry, "retry", 3, "number of times to retry on a transient network error")
	f.StringVar(&o.policyPath, "signature-policy", "", "trust policy `path` (default: policy.json)")
	_ = f.MarkHidden("signature-policy")
	return cmd
}
