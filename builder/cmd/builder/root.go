package main

import (
	"context"
	"os"

	"github.com/containers/storage"
	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"

	"github.com/ocisuite/suite/builder/container"
	"github.com/ocisuite/suite/builder/preflight"
	"github.com/ocisuite/suite/config"
	"github.com/ocisuite/suite/shared/cli"
	shimage "github.com/ocisuite/suite/shared/image"
	"github.com/ocisuite/suite/shared/store"
)

// globalOptions are the flags every builder command accepts (buildah's).
type globalOptions struct {
	store          store.Options
	runtime        string
	registriesConf string
}

func newRootCmd() *cobra.Command {
	g := &globalOptions{}
	root := &cobra.Command{
		Use:   "builder",
		Short: "Build OCI images from Containerfiles, rootless",
		Long: `builder builds OCI and Docker images from Containerfiles, with a layer cache,
as root or as an unprivileged user, and works with buildah-style working
containers (from, run, copy, config, commit). It shares its image store and
configuration with engine and transport.`,
		Args: cobra.NoArgs,
	}
	cli.Root(root)
	f := root.PersistentFlags()
	f.StringVar(&g.store.GraphRoot, "root", "", "storage root `dir` (default: storage.conf's graphroot)")
	f.StringVar(&g.store.RunRoot, "runroot", "", "storage state `dir` (default: storage.conf's runroot)")
	f.StringVar(&g.store.Driver, "storage-driver", "", "storage `driver` (default: storage.conf's driver)")
	f.StringArrayVar(&g.store.DriverOptions, "storage-opt", nil, "storage driver `option` (replaces storage.conf's options)")
	f.StringVar(&g.runtime, "runtime", "", "OCI runtime `name` or path (default: containers.conf's, runc)")
	f.StringVar(&g.registriesConf, "registries-conf", "", "use `path` instead of the system registries.conf")

	root.AddCommand(buildCommands(g)...)
	root.AddCommand(workingCommands(g)...)
	root.AddCommand(infoCommands(g)...)
	return root
}

// session is what a builder command works with: the store and the
// working-container manager over it.
type session struct {
	store    storage.Store
	manager  *container.Manager
	settings config.Engine
}

func (s *session) close() { _, _ = s.store.Shutdown(false) }

// openSession opens the store and the manager with the engine settings
// (containers.conf: runtime, default capabilities).
func openSession(g *globalOptions) (*session, error) {
	env := config.CurrentEnv()
	settings, warnings, err := config.LoadEngine(config.DefaultPaths(env).EngineConfs...)
	for _, w := range warnings {
		logrus.Warn(w.String())
	}
	if err != nil {
		return nil, err
	}
	o, _, err := preflight.PrepareStore(g.store, os.Stderr)
	if err != nil {
		return nil, err
	}
	s, err := store.Open(o)
	if err != nil {
		return nil, err
	}
	m, err := container.NewManager(s, settings, g.runtime)
	if err != nil {
		s.Shutdown(false)
		return nil, err
	}
	m.Sys = shimage.SystemOptions{RegistriesConf: g.registriesConf}
	return &session{store: s, manager: m, settings: settings}, nil
}

// withSession runs fn with an open session.
func withSession(cmd *cobra.Command, g *globalOptions, fn func(ctx context.Context, s *session) error) error {
	s, err := openSession(g)
	if err != nil {
		return err
	}
	defer s.close()
	return fn(cmd.Context(), s)
}
