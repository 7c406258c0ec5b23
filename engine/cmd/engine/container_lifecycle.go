package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ocisuite/suite/engine/container"
	"github.com/ocisuite/suite/shared/cli"
)

func newStartCmd(g *globalOptions) *cobra.Command {
	var attach, interactive, all, sigProxy bool
	var detachKeys string
	var filters []string
	cmd := &cobra.Command{
		Use:   "start [flags] CONTAINER [CONTAINER...]",
		Short: "Start one or more containers",
		RunE: func(cmd *cobra.Command, args []string) error {
			keys, err := container.ParseDetachKeys(detachKeys)
			if err != nil {
				return cli.Usage(err)
			}
			if attach && len(args) != 1 {
				return cli.Usage(errors.New("--attach takes exactly one container"))
			}
			return withSession(cmd, g, func(ctx context.Context, s *session) error {
				if attach {
					c, err := s.engine.Lookup(args[0])
					if err != nil {
						return err
					}
					c.Stdin = c.Stdin || interactive
					code, err := runAttached(ctx, cmd, s, c, keys, sigProxy, true)
					if errors.Is(err, container.ErrDetached) {
						return nil
					}
					if err != nil {
						return startError(err)
					}
					if code != 0 {
						return &cli.ExitError{Code: code}
					}
					return nil
				}
				match, err := psFilter(filters)
				if err != nil {
					return cli.Usage(err)
				}
				if len(filters) > 0 && len(args) == 0 {
					all = true // as podman: --filter alone selects among all containers
				}
				names, err := allOrNames(s, all, args, func(c *container.Container) bool { return !c.Running() && match(c) })
				if err != nil {
					return err
				}
				return eachContainer(cmd, names, func(n string) (string, error) {
					if _, err := s.engine.Start(ctx, n); err != nil {
						return "", startError(err)
					}
					return n, nil
				})
			})
		},
	}
	cmd.Flags().BoolVarP(&attach, "attach", "a", false, "attach the container's output (and input with -i)")
	cmd.Flags().BoolVarP(&interactive, "interactive", "i", false, "attach the container's input")
	cmd.Flags().BoolVar(&all, "all", false, "start every container that is not running")
	cmd.Flags().BoolVar(&sigProxy, "sig-proxy", true, "proxy received signals to the container's process (with --attach)")
	cmd.Flags().StringVar(&detachKeys, "detach-keys", "ctrl-p,ctrl-q", "key `sequence` for detaching")
	cmd.Flags().StringArrayVarP(&filters, "filter", "f", nil, "with --all, start only the containers matching `key=value` (ps's filters, e.g. restart-policy=always)")
	return cmd
}

func newStopCmd(g *globalOptions) *cobra.Command {
	var all, ignore bool
	var timeout uint
	cmd := &cobra.Command{
		Use:   "stop [flags] CONTAINER [CONTAINER...]",
		Short: "Stop one or more containers",
		RunE: func(cmd *cobra.Command, args []string) error {
			var o container.StopOptions
			if cmd.Flags().Changed("time") {
				o.Timeout = &timeout
			}
			return onContainers(cmd, g, all, args, func(c *container.Container) bool { return c.Running() }, func(ctx context.Context, s *session, n string) (string, error) {
				_, err := s.engine.Stop(ctx, n, o)
				if ignore && errors.Is(err, container.ErrNoSuchContainer) {
					return "", nil
				}
				return n, err
			})
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "stop every running container")
	cmd.Flags().BoolVarP(&ignore, "ignore", "i", false, "ignore errors when a container does not exist")
	cmd.Flags().UintVarP(&timeout, "time", "t", 10, "`seconds` to wait before killing the container")
	return cmd
}

func newKillCmd(g *globalOptions) *cobra.Command {
	var all bool
	var signal string
	cmd := &cobra.Command{
		Use:   "kill [flags] CONTAINER [CONTAINER...]",
		Short: "Send a signal to one or more running containers",
		RunE: func(cmd *cobra.Command, args []string) error {
			sig, err := container.ParseSignal(signal)
			if err != nil {
				return cli.Usage(err)
			}
			return onContainers(cmd, g, all, args, func(c *container.Container) bool { return c.Running() }, func(ctx context.Context, s *session, n string) (string, error) {
				_, err := s.engine.Kill(ctx, n, sig)
				return n, err
			})
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "signal every running container")
	cmd.Flags().StringVarP(&signal, "signal", "s", "KILL", "`signal` to send")
	return cmd
}

func newRmCmd(g *globalOptions) *cobra.Command {
	var all, force, volumes, ignore bool
	var timeout uint
	cmd := &cobra.Command{
		Use:   "rm [flags] CONTAINER [CONTAINER...]",
		Short: "Remove one or more containers",
		RunE: func(cmd *cobra.Command, args []string) error {
			return onContainers(cmd, g, all, args, nil, func(ctx context.Context, s *session, n string) (string, error) {
				if force && cmd.Flags().Changed("time") && timeout > 0 {
					// Give the container its stop signal and timeout first.
					if _, err := s.engine.Stop(ctx, n, container.StopOptions{Timeout: &timeout}); err != nil && !errors.Is(err, container.ErrNoSuchContainer) {
						return "", err
					}
				}
				err := s.engine.Remove(context.WithoutCancel(ctx), n, container.RemoveOptions{Force: force, Volumes: volumes})
				if ignore && errors.Is(err, container.ErrNoSuchContainer) {
					return "", nil
				}
				return n, err
			})
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "remove every container")
	cmd.Flags().BoolVarP(&force, "force", "f", false, "stop and remove running containers")
	cmd.Flags().BoolVarP(&volumes, "volumes", "v", false, "remove the container's anonymous volumes")
	cmd.Flags().BoolVarP(&ignore, "ignore", "i", false, "ignore errors when a container does not exist")
	cmd.Flags().UintVarP(&timeout, "time", "t", 10, "with --force, `seconds` to wait for the stop signal before killing")
	return cmd
}

// onContainers runs fn on each named container, or with all on every
// container keep accepts (nil: every one), printing what fn returns.
func onContainers(cmd *cobra.Command, g *globalOptions, all bool, names []string, keep func(*container.Container) bool, fn func(context.Context, *session, string) (string, error)) error {
	return withSession(cmd, g, func(ctx context.Context, s *session) error {
		names, err := allOrNames(s, all, names, keep)
		if err != nil {
			return err
		}
		return eachContainer(cmd, names, func(n string) (string, error) { return fn(ctx, s, n) })
	})
}

func newWaitCmd(g *globalOptions) *cobra.Command {
	var conditions []string
	var interval string
	cmd := &cobra.Command{
		Use:   "wait [flags] CONTAINER [CONTAINER...]",
		Short: "Wait for containers to stop and print their exit codes",
		Args:  cli.MinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			iv, err := time.ParseDuration(interval)
			if err != nil {
				if n, aerr := strconv.Atoi(interval); aerr == nil {
					iv = time.Duration(n) * time.Millisecond
				} else {
					return cli.Usage(fmt.Errorf("invalid --interval %q", interval))
				}
			}
			return withSession(cmd, g, func(ctx context.Context, s *session) error {
				return eachContainer(cmd, args, func(n string) (string, error) {
					code, err := s.engine.Wait(ctx, n, container.WaitOptions{Conditions: conditions, Interval: iv})
					if err != nil {
						return "", err
					}
					return strconv.Itoa(code), nil
				})
			})
		},
	}
	cmd.Flags().StringSliceVar(&conditions, "condition", nil, "`condition` to wait for: stopped (default), exited, running, created, paused")
	cmd.Flags().StringVarP(&interval, "interval", "i", "250ms", "time `interval` between polls")
	return cmd
}

func newCleanupCmd(g *globalOptions) *cobra.Command {
	var rm bool
	cmd := &cobra.Command{
		Use:    "cleanup CONTAINER",
		Short:  "Clean up after a container that exited (run by its monitor)",
		Args:   cli.ExactArgs(1),
		Hidden: false,
		RunE: func(cmd *cobra.Command, args []string) error {
			return withSession(cmd, g, func(ctx context.Context, s *session) error {
				err := s.engine.Cleanup(ctx, args[0])
				if errors.Is(err, container.ErrNoSuchContainer) {
					return nil // already removed
				}
				if err == nil && rm {
					err = s.engine.Remove(ctx, args[0], container.RemoveOptions{Force: true, Volumes: true})
					if errors.Is(err, container.ErrNoSuchContainer) {
						err = nil
					}
				}
				return err
			})
		},
	}
	cmd.Flags().BoolVar(&rm, "rm", false, "remove the container after cleaning up")
	return cmd
}

func newLogsCmd(g *globalOptions) *cobra.Command {
	var o container.LogOptions
	var since, until string
	var tail int
	cmd := &cobra.Command{
		Use:   "logs [flags] CONTAINER",
		Short: "Show a container's output",
		Args:  cli.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if o.Since, err = parseTime(since); err != nil {
				return cli.Usage(fmt.Errorf("--since: %w", err))
			}
			if o.Until, err = parseTime(until); err != nil {
				return cli.Usage(fmt.Errorf("--until: %w", err))
			}
			o.Tail = tail
			return withSession(cmd, g, func(ctx context.Context, s *session) error {
				return s.engine.Logs(ctx, args[0], o, cmd.OutOrStdout(), cmd.ErrOrStderr())
			})
		},
	}
	cmd.Flags().BoolVarP(&o.Follow, "follow", "f", false, "follow the log until the container exits")
	cmd.Flags().BoolVarP(&o.Timestamps, "timestamps", "t", false, "show timestamps")
	cmd.Flags().StringVar(&since, "since", "", "show logs since `time` (RFC 3339, Unix seconds, or a duration like 10m)")
	cmd.Flags().StringVar(&until, "until", "", "show logs until `time`")
	cmd.Flags().IntVarP(&tail, "tail", "n", -1, "show the last `n` lines (-1 for all)")
	return cmd
}

// parseTime reads RFC 3339, Unix seconds, or a duration back from now.
func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return time.Now().Add(-d), nil
	}
	if n, err := strconv.ParseFloat(s, 64); err == nil {
		sec := int64(n)
		return time.Unix(sec, int64((n-float64(sec))*1e9)), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("invalid time %q", s)
}

func newExecCmd(g *globalOptions) *cobra.Command {
	var o container.ExecOptions
	var envFile []string
	cmd := &cobra.Command{
		Use:   "exec [flags] CONTAINER COMMAND [ARG...]",
		Short: "Run a process in a running container",
		Args:  cli.MinArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Args = args[1:]
			fileEnv, err := (&createFlags{envFile: envFile}).environment()
			if err != nil {
				return cli.Usage(err)
			}
			o.Env = append(fileEnv, o.Env...)
			for i, e := range o.Env {
				if !strings.Contains(e, "=") {
					o.Env[i] = e + "=" + os.Getenv(e)
				}
			}
			return withSession(cmd, g, func(ctx context.Context, s *session) error {
				code, err := s.engine.Exec(ctx, args[0], o, [3]*os.File{os.Stdin, os.Stdout, os.Stderr})
				var ee *container.ExecError
				if errors.As(err, &ee) {
					return cli.WithExitCode(ee.Code, err)
				}
				if err != nil {
					return err
				}
				if code != 0 {
					return &cli.ExitError{Code: code}
				}
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.SetInterspersed(false)
	f.BoolVarP(&o.Interactive, "interactive", "i", false, "keep stdin open")
	f.BoolVarP(&o.Terminal, "tty", "t", false, "allocate a pseudo-TTY")
	f.BoolVarP(&o.Detach, "detach", "d", false, "run the process in the background")
	f.StringArrayVarP(&o.Env, "env", "e", nil, "set environment `variable`")
	f.StringArrayVar(&envFile, "env-file", nil, "read environment variables from `file`")
	f.StringVarP(&o.User, "user", "u", "", "`user[:group]` to run as")
	f.StringVarP(&o.WorkDir, "workdir", "w", "", "working `directory`")
	f.BoolVar(&o.Privileged, "privileged", false, "give the process every capability")
	return cmd
}
