//go:build !thin

package main

import (
	"fmt"
	"strings"

	"github.com/containers/storage"
	"github.com/spf13/cobra"

	"github.com/ocisuite/suite/shared/cli"
	"github.com/ocisuite/suite/shared/imagestore"
)

type pullOptions struct {
	reg        *cli.RegistryFlags
	policy     string
	platform   string
	os, arch   string
	variant    string
	allTags    bool
	quiet      bool
	retry      int
	policyPath string
}

func newPullCmd(g *globalOptions) *cobra.Command {
	o := &pullOptions{}
	cmd := &cobra.Command{
		Use:   "pull [flags] IMAGE [IMAGE...]",
		Short: "Pull images from a registry",
		Long: `Pull images into local storage. A short name (busybox) resolves through
registries.conf: aliases, then unqualified-search-registries in order; a
registry's mirrors are tried first. IMAGE may also be TRANSPORT:DETAILS
(docker-archive:, oci-archive:, oci:, dir:). The image ID is printed at the end.`,
		Example: `  engine pull busybox
  engine pull --platform linux/arm64 registry.example/app:1
  engine pull --all-tags registry.example/app`,
		Args: cli.MinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runPull(cmd, g, o, args) },
	}
	f := cmd.Flags()
	o.reg = cli.AddRegistryFlags(f, true)
	f.StringVar(&o.policy, "policy", "always", "pull `policy`: always, missing, never or newer")
	f.StringVar(&o.platform, "platform", "", "choose `OS/ARCH[/VARIANT]` from a multi-platform image")
	f.StringVar(&o.os, "os", "", "choose `os` from a multi-platform image")
	f.StringVar(&o.arch, "arch", "", "choose `arch` from a multi-platform image")
	f.StringVar(&o.variant, "variant", "", "choose `variant` from a multi-platform image")
	f.BoolVarP(&o.allTags, "all-tags", "a", false, "pull every tag of the repository")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "print only the image ID")
	f.IntVar(&o.retry, "retry", 3, "number of times to retry on a transient network error")
	f.StringVar(&o.policyPath, "signature-policy", "", "trust policy `path` (default: policy.json)")
	_ = f.MarkHidden("signature-policy")
	return cmd
}

func parsePlatform(p string) (osName, arch, variant string, err error) {
	parts := strings.Split(p, "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return "", "", "", fmt.Errorf("invalid --platform %q: want OS/ARCH[/VARIANT]", p)
	}
	if len(parts) == 3 {
		variant = parts[2]
	}
	return parts[0], parts[1], variant, nil
}

func runPull(cmd *cobra.Command, g *globalOptions, o *pullOptions, names []string) error {
	po := imagestore.PullOptions{
		Sys: o.reg.Options(g.registriesConf), Policy: o.policy, AllTags: o.allTags,
		OS: o.os, Arch: o.arch, Variant: o.variant,
		Progress: imageProgress(cmd, o.quiet), RetryTimes: o.retry, PolicyPath: o.policyPath,
	}
	if _, err := imagestore.ParsePullPolicy(o.policy); err != nil {
		return cli.Usage(err)
	}
	if o.platform != "" {
		if o.os != "" || o.arch != "" || o.variant != "" {
			return cli.Usage(fmt.Errorf("--platform conflicts with --os, --arch and --variant"))
		}
		var err error
		if po.OS, po.Arch, po.Variant, err = parsePlatform(o.platform); err != nil {
			return cli.Usage(err)
		}
	}
	return withImageStore(g, func(s storage.Store) error {
		for _, n := range names {
			imgs, err := imagestore.Pull(cmd.Context(), s, n, po)
			if err != nil {
				return err
			}
			for _, img := range imgs {
				fmt.Fprintln(cmd.OutOrStdout(), img.ID)
			}
		}
		return nil
	})
}
