package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/containers/storage"
	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"

	"github.com/ocisuite/suite/config"
	"github.com/ocisuite/suite/engine/container"
	"github.com/ocisuite/suite/shared/cli"
	"github.com/ocisuite/suite/shared/imagestore"
	"github.com/ocisuite/suite/shared/store"
	"github.com/ocisuite/suite/shared/userns"
)

// session is what a container command works with: the store and the
// container engine over it.
type session struct {
	store  storage.Store
	engine *container.Engine
}

func (s *session) close() { _, _ = s.store.Shutdown(false) }

// openSession opens the store and sets up the engine: runtime, conmon and
// the exit command conmon runs (this binary with the same global flags).
func openSession(cmd *cobra.Command, g *globalOptions) (*session, error) {
	env := config.CurrentEnv()
	settings, warnings, err := config.LoadEngine(config.DefaultPaths(env).EngineConfs...)
	for _, w := range warnings {
		logrus.Warn(w.String())
	}
	if err != nil {
		return nil, err
	}
	s, err := store.Open(g.store)
	if err != nil {
		return nil, err
	}
	self, err := userns.Executable()
	if err != nil {
		s.Shutdown(false)
		return nil, err
	}
	exitCmd := []string{self, "--root", s.GraphRoot(), "--runroot", s.RunRoot(), "--storage-driver", s.GraphDriverName()}
	for _, o := range g.store.DriverOptions {
		exitCmd = append(exitCmd, "--storage-opt", o)
	}
	if g.runtime != "" {
		exitCmd = append(exitCmd, "--runtime", g.runtime)
	}
	if g.conmon != "" {
		exitCmd = append(exitCmd, "--conmon", g.conmon)
	}
	level, _ := cmd.Flags().GetString("log-level")
	exitCmd = append(exitCmd, "--log-level", level)
	e, err := container.New(container.Options{
		Store:       s,
		Runtime:     g.runtime,
		Conmon:      g.conmon,
		Settings:    settings,
		ExitCommand: exitCmd,
		LogLevel:    level,
	})
	if err != nil {
		s.Shutdown(false)
		return nil, err
	}
	return &session{store: s, engine: e}, nil
}

// withSession runs fn with an open session.
func withSession(cmd *cobra.Command, g *globalOptions, fn func(ctx context.Context, s *session) error) error {
	s, err := openSession(cmd, g)
	if err != nil {
		return err
	}
	defer s.close()
	return fn(cmd.Context(), s)
}

// eachContainer applies fn to each named container, printing what fn
// returns, and reports every failure (podman goes on past the first).
func eachContainer(cmd *cobra.Command, names []string, fn func(name string) (string, error)) error {
	var errs []error
	for _, n := range names {
		out, err := fn(n)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if out != "" {
			fmt.Fprintln(cmd.OutOrStdout(), out)
		}
	}
	if len(errs) == 1 {
		return errs[0]
	}
	if len(errs) > 1 {
		for _, e := range errs[:len(errs)-1] {
			fmt.Fprintf(cmd.ErrOrStderr(), "Error: %v\n", e)
		}
		return errs[len(errs)-1]
	}
	return nil
}

// allOrNames returns every container's ID for --all, else the names.
func allOrNames(s *session, all bool, names []string, keep func(*container.Container) bool) ([]string, error) {
	if !all {
		if len(names) == 0 {
			return nil, cli.Usage(errors.New("give at least one container name or ID, or --all"))
		}
		return names, nil
	}
	ctrs, err := s.engine.List()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, c := range ctrs {
		if keep == nil || keep(c) {
			out = append(out, c.ID)
		}
	}
	return out, nil
}

// imageResolver finds a container's image locally and pulls it by the
// pull policy, as podman run does.
func imageResolver(g *globalOptions, s storage.Store, policy string, quiet bool, cmd *cobra.Command) container.ImageResolver {
	return func(ctx context.Context, name string) (string, string, error) {
		found, err := imagestore.Lookup(s, name)
		if err == nil && policy != imagestore.PullAlways && policy != imagestore.PullNewer {
			n := found.Name
			if n == "" && len(found.Names) > 0 {
				n = found.Names[0]
			}
			return found.ID, n, nil
		}
		if policy == imagestore.PullNever {
			if err != nil {
				return "", "", fmt.Errorf("%s: image not known, and the pull policy is never: %w", name, storage.ErrImageUnknown)
			}
		}
		return pullImage(ctx, g, s, name, policy, quiet, cmd)
	}
}

// shortID is the 12-character ID podman prints.
func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
