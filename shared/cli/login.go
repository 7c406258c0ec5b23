//go:build !thin

package cli

import (
	"errors"
	"os"

	"github.com/spf13/cobra"

	"github.com/ocisuite/suite/shared/auth"
	shimage "github.com/ocisuite/suite/shared/image"
)

// LoginCmd is podman's and buildah's login over shared/auth for the tool
// named tool; registriesConf points at the global --registries-conf.
func LoginCmd(tool string, registriesConf *string) *cobra.Command {
	var reg *RegistryFlags
	var flow auth.LoginOptions
	cmd := &cobra.Command{
		Use:   "login [flags] REGISTRY",
		Short: "Log in to a container registry",
		Long: `Check the credentials against REGISTRY and store them in auth.json
(--authfile, REGISTRY_AUTH_FILE, or ${XDG_RUNTIME_DIR}/containers/auth.json),
written with mode 0600.`,
		Example: "  " + tool + " login -u alice registry.example\n" +
			"  echo \"$TOKEN\" | " + tool + " login -u alice --password-stdin registry.example",
		Args: ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			sys, err := reg.Options(*registriesConf).SystemContext()
			if err != nil {
				return Usage(err)
			}
			f := flow
			f.Stdin, f.Stdout = cmd.InOrStdin(), cmd.OutOrStdout()
			if cmd.InOrStdin() == os.Stdin && IsTerminal(os.Stdin) {
				f.Terminal = os.Stdin
			}
			err = auth.LoginFlow(cmd.Context(), sys, args[0], f)
			if errors.Is(err, auth.ErrInvalidOptions) {
				return Usage(err)
			}
			return err
		},
	}
	fs := cmd.Flags()
	reg = AddRegistryFlags(fs, false)
	fs.StringVarP(&flow.Username, "username", "u", "", "`username` for the registry")
	fs.StringVarP(&flow.Password, "password", "p", "", "`password` for the registry")
	fs.BoolVar(&flow.PasswordStdin, "password-stdin", false, "take the password from stdin")
	fs.BoolVar(&flow.GetLogin, "get-login", false, "print the user logged in to the registry")
	fs.BoolVarP(&flow.Verbose, "verbose", "v", false, "say which auth file was written")
	return cmd
}

// LogoutCmd is podman's and buildah's logout over shared/auth.
func LogoutCmd(tool string, registriesConf *string) *cobra.Command {
	var authFile string
	var all bool
	cmd := &cobra.Command{
		Use:     "logout [flags] REGISTRY | --all",
		Short:   "Log out of a container registry",
		Example: "  " + tool + " logout registry.example\n  " + tool + " logout --all",
		Args:    RangeArgs(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if all == (len(args) == 1) {
				return Usage(errors.New("give either a REGISTRY or --all"))
			}
			sys, err := shimage.SystemOptions{AuthFile: authFile, RegistriesConf: *registriesConf}.SystemContext()
			if err != nil {
				return Usage(err)
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
