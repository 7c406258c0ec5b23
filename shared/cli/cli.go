// Package cli holds what the three command-line tools share: the root
// command's persistent flags (--log-level), --version, shell completion, and
// the single place where an error becomes a one-line message and an exit code.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"
)

// Version is the suite's version, set at link time with
// -ldflags "-X github.com/ocisuite/suite/shared/cli.Version=…".
var Version = "0.1.0-dev"

// ExitError carries an explicit exit code through cobra back to Main.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// WithExitCode wraps err so that Main exits with code.
func WithExitCode(code int, err error) error {
	if err == nil {
		return nil
	}
	return &ExitError{Code: code, Err: err}
}

// usageError marks errors from parsing the command line.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// Root configures a root command the way all three tools want it: --version,
// --log-level, silenced cobra error printing (Main prints one line), and flag
// errors marked as usage errors.
func Root(cmd *cobra.Command) *cobra.Command {
	cmd.Version = Version
	cmd.SilenceErrors = true
	cmd.SilenceUsage = true
	cmd.SetVersionTemplate(fmt.Sprintf("%s version {{.Version}}\n", cmd.Name()))
	var level string
	cmd.PersistentFlags().StringVar(&level, "log-level", "warn", "log messages at and above `level`: debug, info, warn, error, fatal, panic")
	prev := cmd.PersistentPreRunE
	cmd.PersistentPreRunE = func(c *cobra.Command, args []string) error {
		if err := SetLogLevel(level); err != nil {
			return usageError{err}
		}
		if prev != nil {
			return prev(c, args)
		}
		return nil
	}
	if cmd.Run == nil && cmd.RunE == nil {
		// Runnable, so that an unknown command is an error (cobra would
		// print the help and exit 0 for a root without a Run).
		cmd.Args = cobra.ArbitraryArgs
		cmd.RunE = func(c *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageError{fmt.Errorf("unrecognized command %q (see '%s --help')", args[0], c.CommandPath())}
			}
			return c.Help()
		}
	}
	if docs := docsCmd(cmd); docs != nil {
		cmd.AddCommand(docs)
	}
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError{fmt.Errorf("%w (see '%s --help')", err, c.CommandPath())}
	})
	return cmd
}

// SetLogLevel sets the level of the logger containers/image and
// containers/storage log through.
func SetLogLevel(level string) error {
	l, err := logrus.ParseLevel(level)
	if err != nil {
		return fmt.Errorf("invalid --log-level %q: want one of debug, info, warn, error, fatal, panic", level)
	}
	logrus.SetLevel(l)
	logrus.SetOutput(os.Stderr)
	logrus.SetFormatter(&logrus.TextFormatter{DisableTimestamp: l != logrus.DebugLevel, FullTimestamp: true, TimestampFormat: "15:04:05.000000"})
	return nil
}

// NoArgs, ExactArgs and friends give one-line errors naming the command.
func ExactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usageError{fmt.Errorf("%q requires exactly %d argument(s), got %d (see '%s --help')", cmd.CommandPath(), n, len(args), cmd.CommandPath())}
		}
		return nil
	}
}

// RangeArgs accepts between min and max arguments.
func RangeArgs(min, max int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < min || len(args) > max {
			return usageError{fmt.Errorf("%q requires %d to %d argument(s), got %d (see '%s --help')", cmd.CommandPath(), min, max, len(args), cmd.CommandPath())}
		}
		return nil
	}
}

// MinArgs accepts at least min arguments.
func MinArgs(min int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < min {
			return usageError{fmt.Errorf("%q requires at least %d argument(s), got %d (see '%s --help')", cmd.CommandPath(), min, len(args), cmd.CommandPath())}
		}
		return nil
	}
}

// Usage marks err as a command-line usage error (exit code UsageCode).
func Usage(err error) error { return usageError{err} }

// Codes maps an error to an exit code; each binary passes its own.
type Codes struct {
	// Default is used for any error not otherwise classified.
	Default int
	// Usage is used for command-line errors.
	Usage int
	// Classify may return a code (and true) for errors it recognises.
	Classify func(error) (int, bool)
}

// Main runs root with a context cancelled on SIGINT/SIGTERM, prints an error
// as one line on stderr prefixed with the binary name, and returns the exit
// code. It is the only place an error becomes an exit code.
func Main(root *cobra.Command, args []string, stderr io.Writer, codes Codes) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	code := codes.Default
	var ee *ExitError
	var ue usageError
	switch {
	case errors.As(err, &ee):
		code = ee.Code
		if ee.Err == nil {
			return code
		}
	case errors.As(err, &ue):
		code = codes.Usage
	case codes.Classify != nil:
		if c, ok := codes.Classify(err); ok {
			code = c
		}
	}
	if ctx.Err() != nil && !errors.As(err, &ee) {
		err = fmt.Errorf("interrupted: %w", err)
	}
	fmt.Fprintf(stderr, "%s: %s\n", root.Name(), oneLine(err.Error()))
	return code
}

func oneLine(s string) string {
	s = strings.TrimSpace(s)
	s = strings.ReplaceAll(s, "\r", "")
	return strings.ReplaceAll(s, "\n", "; ")
}

// DeferGC turns the garbage collector off for the first quarter second of
// the process, with a memory limit as a guard: most commands end sooner
// and never pay for a collection of the garbage that building their
// command tree and reading their configuration leaves. Call it first in
// main.
func DeferGC() {
	debug.SetGCPercent(-1)
	debug.SetMemoryLimit(512 << 20)
	time.AfterFunc(250*time.Millisecond, func() {
		debug.SetGCPercent(100)
		debug.SetMemoryLimit(math.MaxInt64)
	})
}
