package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/ocisuite/suite/shared/cli"
)

// globalOptions are the flags every transport command accepts.
type globalOptions struct {
	policyPath      string
	insecurePolicy  bool
	registriesDir   string
	registriesConf  string
	overrideArch    string
	overrideOS      string
	overrideVariant string
	commandTimeout  time.Duration
	tmpDir          string
	userAgent       string
}

// commandContext returns the command's context, bounded by --command-timeout.
func (g *globalOptions) commandContext(cmd *cobra.Command) (context.Context, context.CancelFunc) {
	ctx := cmd.Context()
	if g.commandTimeout > 0 {
		return context.WithTimeout(ctx, g.commandTimeout)
	}
	return context.WithCancel(ctx)
}

func newRootCmd() *cobra.Command {
	g := &globalOptions{}
	root := &cobra.Command{
		Use:   "transport",
		Short: "Copy, inspect, sync and delete container images between registries and archives",
		Long: `transport works with remote images and archives without pulling them into
local storage. It reads the standard containers configuration: registries.conf
(mirrors, insecure and blocked registries, short-name aliases), policy.json,
registries.d, auth.json and certs.d.`,
		// Runnable, so that an unknown command is an error (cobra would
		// print the help and exit 0 for a root without a Run).
		Args: cobra.ArbitraryArgs,
		RunE: requireSubcommand,
	}
	cli.Root(root)
	f := root.PersistentFlags()
	f.StringVar(&g.policyPath, "policy", "", "trust policy `path` (default: ~/.config/containers/policy.json, then /etc/containers/policy.json)")
	f.BoolVar(&g.insecurePolicy, "insecure-policy", false, "run the command without any policy check")
	f.StringVar(&g.registriesDir, "registries.d", "", "use registry configuration files in `dir` (e.g. for signature storage)")
	f.StringVar(&g.registriesConf, "registries-conf", "", "use `path` instead of the system registries.conf")
	f.StringVar(&g.overrideArch, "override-arch", "", "use `arch` instead of the machine's architecture when choosing images")
	f.StringVar(&g.overrideOS, "override-os", "", "use `os` instead of the running OS when choosing images")
	f.StringVar(&g.overrideVariant, "override-variant", "", "use `variant` instead of the machine's architecture variant when choosing images")
	f.DurationVar(&g.commandTimeout, "command-timeout", 0, "timeout for the command execution")
	f.StringVar(&g.tmpDir, "tmpdir", "", "directory used to store temporary files")
	f.StringVar(&g.userAgent, "user-agent", "", "User-Agent sent to registries")

	root.AddCommand(
		newCopyCmd(g),
		newInspectCmd(g),
		newListTagsCmd(g),
		newDeleteCmd(g),
		newManifestDigestCmd(g),
		newLoginCmd(g),
		newLogoutCmd(g),
		newSyncCmd(g),
		newStandaloneSignCmd(g),
		newStandaloneVerifyCmd(g),
	)
	return root
}

// requireSubcommand shows the help without arguments and refuses an unknown
// command, as skopeo does.
func requireSubcommand(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return cli.Usage(fmt.Errorf("unrecognized command %q (see '%s --help')", args[0], cmd.CommandPath()))
	}
	return cmd.Help()
}
