package main

import (
	"context"
	"errors"
	"fmt"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/ocisuite/suite/engine/container"
	"github.com/ocisuite/suite/shared/cli"
)

// newHealthcheckCmd is "engine healthcheck run" and the hidden timer each
// container with a healthcheck runs under while it is up.
func newHealthcheckCmd(g *globalOptions) *cobra.Command {
	group := &cobra.Command{
		Use:   "healthcheck",
		Short: "Run container healthchecks",
		Args:  cli.ExactArgs(0),
		RunE:  func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	run := &cobra.Command{
		Use:   "run CONTAINER",
		Short: "Run a container's healthcheck now (exit 0 healthy, 1 unhealthy)",
		Args:  cli.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withSession(cmd, g, func(ctx context.Context, s *session) error {
				res, err := s.engine.HealthCheck(ctx, args[0])
				if err != nil {
					return err
				}
				if !res.Passed {
					// podman prints the status of a failed check and exits 1.
					fmt.Fprintln(cmd.OutOrStdout(), container.HealthUnhealthy)
					return &cli.ExitError{Code: 1}
				}
				return nil
			})
		},
	}
	timer := &cobra.Command{
		Use:    "timer CONTAINER",
		Short:  "Run a container's healthcheck every interval while it runs (started by the engine)",
		Args:   cli.ExactArgs(1),
		Hidden: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			cmd.SetContext(ctx)
			return withSession(cmd, g, func(ctx context.Context, s *session) error {
				err := s.engine.HealthTimer(ctx, args[0])
				if errors.Is(err, container.ErrNoSuchContainer) {
					return nil
				}
				return err
			})
		},
	}
	group.AddCommand(run, timer)
	return group
}
