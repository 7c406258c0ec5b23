//go:build !thin

package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ocisuite/suite/engine/container"
	"github.com/ocisuite/suite/shared/cli"
)

// The container commands the thin engine does not hold (thin.go).

func newInitCmd(g *globalOptions) *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "init [flags] CONTAINER [CONTAINER...]",
		Short: "Create containers in the runtime without starting them",
		RunE: func(cmd *cobra.Command, args []string) error {
			return onContainers(cmd, g, all, args, nil, func(ctx context.Context, s *session, n string) (string, error) {
				c, err := s.engine.Init(ctx, n, nil)
				if err != nil {
					return "", err
				}
				return c.ID, nil
			})
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "initialize every container")
	return cmd
}

func newRestartCmd(g *globalOptions) *cobra.Command {
	var all bool
	var timeout uint
	cmd := &cobra.Command{
		Use:   "restart [flags] CONTAINER [CONTAINER...]",
		Short: "Restart one or more containers",
		RunE: func(cmd *cobra.Command, args []string) error {
			var o container.StopOptions
			if cmd.Flags().Changed("time") {
				o.Timeout = &timeout
			}
			return onContainers(cmd, g, all, args, nil, func(ctx context.Context, s *session, n string) (string, error) {
				c, err := s.engine.Stop(ctx, n, o)
				if err != nil {
					return "", err
				}
				if _, err := s.engine.Start(ctx, c.ID); err != nil {
					return "", err
				}
				return c.ID, nil
			})
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "restart every container")
	cmd.Flags().UintVarP(&timeout, "time", "t", 10, "`seconds` to wait before killing the container")
	return cmd
}

func newPauseCmd(g *globalOptions) *cobra.Command {
	return simpleCmd(g, "pause", "Pause every process in one or more containers", func(ctx context.Context, s *session, n string) error {
		_, err := s.engine.Pause(ctx, n)
		return err
	})
}

func newUnpauseCmd(g *globalOptions) *cobra.Command {
	return simpleCmd(g, "unpause", "Unpause one or more containers", func(ctx context.Context, s *session, n string) error {
		_, err := s.engine.Unpause(ctx, n)
		return err
	})
}

// simpleCmd is a verb over containers that prints each name it handled.
func simpleCmd(g *globalOptions, verb, short string, fn func(context.Context, *session, string) error) *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   verb + " [flags] CONTAINER [CONTAINER...]",
		Short: short,
		RunE: func(cmd *cobra.Command, args []string) error {
			return onContainers(cmd, g, all, args, nil, func(ctx context.Context, s *session, n string) (string, error) {
				return n, fn(ctx, s, n)
			})
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, verb+" every container")
	return cmd
}

func newRenameCmd(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "rename CONTAINER NAME",
		Short: "Rename a container",
		Args:  cli.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withSession(cmd, g, func(ctx context.Context, s *session) error {
				return s.engine.Rename(ctx, args[0], args[1])
			})
		},
	}
}

func newExistsCmd(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "exists CONTAINER",
		Short: "Exit 0 if the container exists, 1 if not",
		Args:  cli.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withSession(cmd, g, func(ctx context.Context, s *session) error {
				_, err := s.engine.Lookup(args[0])
				if errors.Is(err, container.ErrNoSuchContainer) {
					return &cli.ExitError{Code: 1}
				}
				return err
			})
		},
	}
}

func newPruneCmd(g *globalOptions) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "prune [flags]",
		Short: "Remove every stopped container",
		Args:  cli.ExactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withSession(cmd, g, func(ctx context.Context, s *session) error {
				ctrs, err := s.engine.List()
				if err != nil {
					return err
				}
				for _, c := range ctrs {
					if c.Running() || c.State.Status == container.StatusCreated {
						continue
					}
					if err := s.engine.Remove(ctx, c.ID, container.RemoveOptions{Volumes: true}); err != nil && !errors.Is(err, container.ErrNoSuchContainer) {
						return err
					}
					fmt.Fprintln(cmd.OutOrStdout(), c.ID)
				}
				return nil
			})
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "do not ask for confirmation")
	return cmd
}

func newAttachCmd(g *globalOptions) *cobra.Command {
	var noStdin, sigProxy bool
	var detachKeys string
	cmd := &cobra.Command{
		Use:   "attach [flags] CONTAINER",
		Short: "Attach to a running container",
		Args:  cli.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			keys, err := container.ParseDetachKeys(detachKeys)
			if err != nil {
				return cli.Usage(err)
			}
			return withSession(cmd, g, func(ctx context.Context, s *session) error {
				c, err := s.engine.Lookup(args[0])
				if err != nil {
					return err
				}
				if noStdin {
					c.Stdin = false
				}
				code, err := runAttached(ctx, cmd, s, c, keys, sigProxy, false)
				if errors.Is(err, container.ErrDetached) {
					return nil
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
	cmd.Flags().BoolVar(&noStdin, "no-stdin", false, "do not attach stdin")
	cmd.Flags().BoolVar(&sigProxy, "sig-proxy", true, "proxy received signals to the container's process")
	cmd.Flags().StringVar(&detachKeys, "detach-keys", "ctrl-p,ctrl-q", "key `sequence` for detaching")
	return cmd
}

func newContainerInspectCmd(g *globalOptions) *cobra.Command {
	return inspectCmd(g, "inspect [flags] CONTAINER [CONTAINER...]", "Show the configuration and state of containers", false)
}
