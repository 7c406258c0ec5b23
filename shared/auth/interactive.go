package auth

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/containers/image/v5/types"
	"golang.org/x/sys/unix"
)

// ErrInvalidOptions marks a login whose options contradict each other;
// callers report it as a command-line error.
var ErrInvalidOptions = errors.New("invalid login options")

// LoginOptions are what a user gives a login command (podman's, buildah's
// and skopeo's flags).
type LoginOptions struct {
	Username, Password string
	PasswordStdin      bool // read the password from Stdin
	GetLogin           bool // print the stored user instead of logging in
	Verbose            bool // say which auth file was written
	Stdin              io.Reader
	Stdout             io.Writer
	// Terminal is the terminal the user types at, or nil: missing
	// credentials are prompted for only there, the password with echo off.
	Terminal *os.File
}

// LoginFlow is the whole login command: --get-login, --password-stdin,
// reuse of stored credentials that still work, prompts for what is missing,
// then Login. Every login command of the suite runs it.
func LoginFlow(ctx context.Context, sys *types.SystemContext, registry string, o LoginOptions) error {
	out := o.Stdout
	if o.GetLogin {
		user, err := Username(sys, registry)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(out, user)
		return err
	}
	if o.Password != "" && o.PasswordStdin {
		return fmt.Errorf("%w: --password and --password-stdin cannot be used together", ErrInvalidOptions)
	}
	if o.PasswordStdin && o.Username == "" {
		return fmt.Errorf("%w: --password-stdin needs --username", ErrInvalidOptions)
	}
	stdin := bufio.NewReader(o.Stdin)
	if o.PasswordStdin {
		line, err := stdin.ReadString('\n')
		if err != nil && err != io.EOF {
			return fmt.Errorf("reading the password from stdin: %w", err)
		}
		o.Password = strings.TrimRight(line, "\r\n")
		if o.Password == "" {
			return fmt.Errorf("logging in to %s: no password on stdin", registry)
		}
	}
	if o.Username == "" && o.Password == "" {
		// Reuse stored credentials that still work, like podman.
		if c, err := Stored(sys, registry); err == nil && c.Username != "" && c.Password != "" {
			fmt.Fprintf(out, "Authenticating with existing credentials for %s\n", registry)
			err := Check(ctx, sys, registry, c.Username, c.Password)
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
	// Prompt for what is missing when a user is at the terminal.
	if (o.Username == "" || o.Password == "") && o.Terminal != nil {
		if o.Username == "" {
			fmt.Fprint(out, "Username: ")
			line, err := stdin.ReadString('\n')
			if err != nil {
				return fmt.Errorf("reading the username: %w", err)
			}
			o.Username = strings.TrimSpace(line)
		}
		if o.Password == "" {
			var err error
			if o.Password, err = readPassword(o.Terminal, stdin, out, "Password: "); err != nil {
				return fmt.Errorf("reading the password: %w", err)
			}
		}
	}
	path, err := Login(ctx, sys, registry, o.Username, o.Password)
	if err != nil {
		return err
	}
	if o.Verbose {
		fmt.Fprintf(out, "Used: %s\n", path)
	}
	_, err = fmt.Fprintln(out, "Login Succeeded!")
	return err
}

// LogoutFlow is the whole logout command: one registry, or all with "".
func LogoutFlow(sys *types.SystemContext, registry string, out io.Writer) error {
	if registry == "" {
		if err := LogoutAll(sys); err != nil {
			return err
		}
		_, err := fmt.Fprintln(out, "Removed login credentials for all registries")
		return err
	}
	if err := Logout(sys, registry); err != nil {
		return err
	}
	_, err := fmt.Fprintf(out, "Removed login credentials for %s\n", registry)
	return err
}

// readPassword reads one line from the terminal tty (through in, which
// reads it) with echo off. Echo is switched off before the prompt is
// written, so nothing typed after the prompt appears is ever echoed.
func readPassword(tty *os.File, in *bufio.Reader, out io.Writer, prompt string) (string, error) {
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
	// Restoring the user's terminal is best effort.
	defer func() { _ = unix.IoctlSetTermios(fd, unix.TCSETS, old) }()
	fmt.Fprint(out, prompt)
	line, err := in.ReadString('\n')
	fmt.Fprintln(out)
	if err != nil && (err != io.EOF || line == "") {
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}
