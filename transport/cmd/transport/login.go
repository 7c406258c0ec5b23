package main

import (
	"errors"
	"os"

	"github.com/spf13/cobra"

	"github.com/ocisuite/suite/shared/auth"
	"github.com/ocisuite/suite/shared/cli"
)

type loginOptions struct {
	image *imageFlags
	flow  auth.LoginOptions
}

func newLoginCmd(g *globalOptions) *cobra.Command {
	o := &loginOptions{}
	cmd := &cobra.Command{
		Use:   "login [flags] REGISTRY",
		Short: "Log in to a container registry",
		Long: `Check the credentials against REGISTRY and store them in auth.json
(--authfile, REGISTRY_AUTH_FILE, or ${XDG_RUNTIME_DIR}/containers/auth.json),
written with mode 0600.`,
		Example: `  transport login -u alice registry.example
  echo "$TOKEN" | transport login -u alice --password-stdin registry.example`,
		Args: cli.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runLogin(cmd, g, o, args[0])
		},
	}
	f := cmd.Flags()
	// login has its own -u/-p; only the TLS and authfile flags of the group.
	o.image = &imageFlags{fs: f}
	f.StringVar(&o.image.authFile, "authfile", "", "path of the authentication `file`")
	f.StringVar(&o.image.certDir, "cert-dir", "", "use certificates at `path` (*.crt, *.cert, *.key) to connect to the registry")
	f.BoolVar(&o.image.tlsVerify, "tls-verify", true, "require HTTPS and verify certificates when contacting registries (default from registries.conf)")
	f.StringVarP(&o.flow.Username, "username", "u", "", "`username` for the registry")
	f.StringVarP(&o.flow.Password, "password", "p", "", "`password` for the registry")
	f.BoolVar(&o.flow.PasswordStdin, "password-stdin", false, "take the password from stdin")
	f.BoolVar(&o.flow.GetLogin, "get-login", false, "return the current login user for the registry")
	f.BoolVarP(&o.flow.Verbose, "verbose", "v", false, "write more detailed information to stdout")
	return cmd
}

func runLogin(cmd *cobra.Command, g *globalOptions, o *loginOptions, registry string) error {
	ctx, cancel := g.commandContext(cmd)
	defer cancel()
	sys, err := o.image.systemContext(g)
	if err != nil {
		return cli.Usage(err)
	}
	flow := o.flow
	flow.Stdin, flow.Stdout = cmd.InOrStdin(), cmd.OutOrStdout()
	if cmd.InOrStdin() == os.Stdin && cli.IsTerminal(os.Stdin) {
		flow.Terminal = os.Stdin
	}
	err = auth.LoginFlow(ctx, sys, registry, flow)
	if errors.Is(err, auth.ErrInvalidOptions) {
		return cli.Usage(err)
	}
	return err
}
