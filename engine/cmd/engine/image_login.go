package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/ocisuite/suite/shared/auth"
	"github.com/ocisuite/suite/shared/cli"
	shimage "github.com/ocisuite/suite/shared/image"
)

type loginOptions struct {
	reg  *cli.RegistryFlags
	flow auth.LoginOptions
}

// newImageLoginCmd is podman's login over shared/auth, the same flow and
// flags as transport login.
func newImageLoginCmd(g *globalOptions) *cobra.Command {
	o := &loginOptions{}
	cmd := &cobra.Command{
		Use:   "login [flags] REGISTRY",
		Short: "Log in to a container registry",
		Long: `Check the credentials against REGISTRY and store them in auth.json
(--authfile, REGISTRY_AUTH_FILE, or ${XDG_RUNTIME_DIR}/containers/auth.json),
written with mode 0600.`,
		Example: `  engine login -u alice registry.example
  echo "$TOKEN" | engine login -u alice --password-stdin registry.example`,
		Args: cli.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runImageLogin(cmd, g, o, args[0]) },
	}
	f := cmd.Flags()
	o.reg = cli.AddRegistryFlags(f, false)
	f.StringVarP(&o.flow.Username, "username", "u", "", "`username` for the registry")
	f.StringVarP(&o.flow.Password, "password", "p", "", "`password` for the registry")
	f.BoolVar(&o.flow.PasswordStdin, "password-stdin", false, "take the password from stdin")
	f.BoolVar(&o.flow.GetLogin, "get-login", false, "return the current login user for the registry")
	f.BoolVarP(&o.flow.Verbose, "verbose", "v", false, "write more detailed information to stdout")
	return cmd
}

func runImageLogin(cmd *cobra.Command, g *globalOptions, o *loginOptions, registry string) error {
	ctx := cmd.Context()
	sys, err := o.reg.Options(g.registriesConf).SystemContext()
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

func newImageLogoutCmd(g *globalOptions) *cobra.Command {
	var authFile string
	var all bool
	cmd := &cobra.Command{
		Use:   "logout [flags] REGISTRY",
		Short: "Log out of a container registry",
		Example: `  engine logout registry.example
  engine logout --all`,
		Args: cli.RangeArgs(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if all == (len(args) == 1) {
				return cli.Usage(fmt.Errorf("give either a REGISTRY or --all"))
			}
			sys, err := shimage.SystemOptions{AuthFile: authFile, RegistriesConf: g.registriesConf}.SystemContext()
			if err != nil {
				return cli.Usage(err)
			}
			registry := ""
			if !all {
				registry = args[0]
			}
			return auth.LogoutFlow(sys, registry, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&authFile, "authfile", "", "path of the authentication `file`")
	cmd.Flags().BoolVarP(&all, "all", "a", false, "remove the credentials of every registry")
	return cmd
}
