//go:build !thin

package main

import (
	"errors"

	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"

	"github.com/ocisuite/suite/builder/buildcmd"
	bcontainer "github.com/ocisuite/suite/builder/container"
	"github.com/ocisuite/suite/config"
	"github.com/ocisuite/suite/shared/cli"
	shimage "github.com/ocisuite/suite/shared/image"
	"github.com/ocisuite/suite/shared/store"
)

// newBuildCmd is the builder's build command over the engine's store, so
// that images built either way share one layer cache. As podman build, it
// exits with the status of a RUN step that failed, 125 on other errors.
func newBuildCmd(g *globalOptions) *cobra.Command {
	cmd := buildcmd.New(func(cmd *cobra.Command) (*bcontainer.Manager, func(), error) {
		settings, warnings, err := config.LoadEngine(config.DefaultPaths(config.CurrentEnv()).EngineConfs...)
		for _, w := range warnings {
			logrus.Warn(w.String())
		}
		if err != nil {
			return nil, nil, err
		}
		s, err := store.Open(g.store)
		if err != nil {
			return nil, nil, err
		}
		m, err := bcontainer.NewManager(s, settings, g.runtime)
		if err != nil {
			_, _ = s.Shutdown(false)
			return nil, nil, err
		}
		m.Sys = shimage.SystemOptions{RegistriesConf: g.registriesConf}
		return m, func() { _, _ = s.Shutdown(false) }, nil
	})
	cmd.Aliases = nil // podman has no bud
	cmd.Example = `  engine build -t localhost/app:1 .
  engine build -f Containerfile.dev --build-arg VERSION=2 -t app:dev ctx/`
	run := cmd.RunE
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		err := run(cmd, args)
		var status interface{ ExitCode() int }
		if errors.As(err, &status) && status.ExitCode() > 0 {
			return cli.WithExitCode(status.ExitCode(), err)
		}
		return err
	}
	return cmd
}
