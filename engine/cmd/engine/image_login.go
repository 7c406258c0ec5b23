package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/ocisuite/suite/shared/auth"
	"github.com/ocisuite/suite/shared/cli"
)

type loginOptions struct {
	reg           *imageRegistryFlags
	username      string
	password      string
	passwordStdin bool
	getLogin      bool
	verbose       bool
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
	o.reg = addImageRegistryFlags(f, false)
	f.StringVarP(&o.username, "username", "u", "", "`username` for the registry")
	f.StringVarP(&o.password, "password", "p", "", "`password` for the registry")
	f.BoolVar(&o.passwordStdin, "password-stdin", false, "take the password from stdin")
	f.BoolVar(&o.getLogin, "get-login", false, "return the current login user for the registry")
	f.BoolVarP(&o.verbose, "verbose", "v", false, "write more detailed information to stdout")
	return cmd
}

func runImageLogin(cmd *cobra.Command, g *globalOptions, o *loginOptions, registry string) error {
	ctx := cmd.Context()
	sys, err := o.reg.options(g).SystemContext()
	if err != nil {
		return cli.Usage(err)
	}
	out := cmd.OutOrStdout()
	if o.getLogin {
		user, err := auth.Username(sys, registry)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(out, user)
		return err
	}
	if o.password != "" && o.passwordStdin {
		return cli.Usage(fmt.Errorf("--password and --password-stdin cannot be used together"))
	}
	if o.passwordStdin && o.username == "" {
		return cli.Usage(fmt.Errorf("--password-stdin needs --username"))
	}
	stdin := bufio.NewReader(cmd.InOrStdin())
	if o.passwordStdin {
		line, err := stdin.ReadString('\n')
		if err != nil && err != io.EOF {
			return fmt.Errorf("reading the password from stdin: %w", err)
		}
		o.password = strings.TrimRight(line, "\r\n")
		if o.password == "" {
			return fmt.Errorf("logging in to %s: no password on stdin", registry)
		}
	}
	if o.username == "" && o.password == "" {
		// Reuse stored credentials that still work, like podman.
		if c, err := auth.Stored(sys, registry); err == nil && c.Username != "" && c.Password != "" {
			fmt.Fprintf(out, "Authenticating with existing credentials for %s\n", registry)
			err := auth.Check(ctx, sys, registry, c.Username, c.Password)
			if err == nil {
				_, err = fmt.Fprintf(out, "Existing credentials are valid. Already logged in to %s\n", registry)
				return err
			}
			if ctx.Err() != nil {
				return err
			}
			fmt.Fprintf(out, "Existing credentials are invalid, please enter valid username and password (%v)\n", err)
		}
	}
	if (o.username == "" || o.password == "") && cmd.InOrStdin() == os.Stdin && cli.IsTerminal(os.Stdin) {
		if o.username == "" {
			fmt.Fprint(out, "Username: ")
			line, err := stdin.ReadString('\n')
			if err != nil {
				return fmt.Errorf("reading the username: %w", err)
			}
			o.username = strings.TrimSpace(line)
		}
		if o.password == "" {
			if o.password, err = readImagePassword(os.Stdin, stdin, out, "Password: "); err != nil {
				return fmt.Errorf("reading the password: %w", err)
			}
		}
	}
	path, err := auth.Login(ctx, sys, registry, o.username, o.password)
	if err != nil {
		return err
	}
	if o.verbose {
		fmt.Fprintf(out, "Used: %s\n", path)
	}
	_, err = fmt.Fprintln(out, "Login Succeeded!")
	return err
}

// readImagePassword reads one line from the terminal with echo off (set
// before the prompt is written).
func readImagePassword(tty *os.File, in *bufio.Reader, out io.Writer, prompt string) (string, error) {
	fd := int(tty.Fd())
	old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return "", err
	}
	quiet := *old
	quiet.Lflag &^= unix.ECHO
	quiet.Lflag |= unix.ICANON | unix.ISIG
	quiet.Iflag |= unix.ICRNL
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &quiet); err != nil {
		return "", err
	}
	defer func() { _ = unix.IoctlSetTermios(fd, unix.TCSETS, old) }()
	fmt.Fprint(out, prompt)
	line, err := in.ReadString('\n')
	fmt.Fprintln(out)
	if err != nil && (err != io.EOF || line == "") {
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
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
			reg := &imageRegistryFlags{authFile: authFile, fs: cmd.Flags()}
			sys, err := reg.options(g).SystemContext()
			if err != nil {
				return cli.Usage(err)
			}
			if all {
				if err := auth.LogoutAll(sys); err != nil {
					return err
				}
				_, err = fmt.Fprintln(cmd.OutOrStdout(), "Removed login credentials for all registries")
				return err
			}
			if err := auth.Logout(sys, args[0]); err != nil {
				return err
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "Removed login credentials for %s\n", args[0])
			return err
		},
	}
	cmd.Flags().StringVar(&authFile, "authfile", "", "path of the authentication `file`")
	cmd.Flags().BoolVarP(&all, "all", "a", false, "remove the credentials of every registry")
	return cmd
}
