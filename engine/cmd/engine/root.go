package main

import (
	"github.com/spf13/cobra"

	"github.com/ocisuite/suite/shared/cli"
	"github.com/ocisuite/suite/shared/store"
)

// globalOptions are the flags every engine command accepts (podman's names).
type globalOptions struct {
	store          store.Options
	runtime        string // --runtime: name or path of the OCI runtime
	conmon         string // --conmon: path of conmon
	registriesConf string // --registries-conf
	cgroupManager  string // --cgroup-manager: only cgroupfs is supported
}

// newRootCmd is the engine command with the commands args can run: all
// of them, or only the one args name when it is one of heldCommands. A
// thin binary (thin.go) hands a command line it does not hold to the full
// binary here.
func newRootCmd(args []string) *cobra.Command {
	g := &globalOptions{}
	root := &cobra.Command{
		Use:   "engine",
		Short: "Run OCI containers and manage images with no daemon",
		Long: `engine manages images and runs OCI containers with no daemon: each command
does its work and exits, and every running container's parent is its own
monitor (conmon). Its commands and flags follow podman's, so that
'alias docker=engine' keeps working.`,
		Args: cobra.NoArgs,
	}
	cli.Root(root)
	f := root.PersistentFlags()
	f.StringVar(&g.store.GraphRoot, "root", "", "storage root `dir` (default: storage.conf's graphroot)")
	f.StringVar(&g.store.RunRoot, "runroot", "", "storage state `dir` (default: storage.conf's runroot)")
	f.StringVar(&g.store.Driver, "storage-driver", "", "storage `driver` (default: storage.conf's driver)")
	f.StringArrayVar(&g.store.DriverOptions, "storage-opt", nil, "storage driver `option` (replaces storage.conf's options)")
	f.StringVar(&g.runtime, "runtime", "", "OCI runtime `name` or path (default: containers.conf's, runc)")
	f.StringVar(&g.conmon, "conmon", "", "`path` of conmon (default: containers.conf's conmon_path)")
	f.StringVar(&g.registriesConf, "registries-conf", "", "use `path` instead of the system registries.conf")
	f.StringVar(&g.cgroupManager, "cgroup-manager", "cgroupfs", "cgroup `manager`: only cgroupfs is supported")

	if build, ok := heldCommands(g)[cli.CommandName(root, args)]; ok {
		root.AddCommand(build())
		if holds(root, args) {
			return root
		}
	}
	allCommands(root, g)
	return root
}

// containerCommandsByName are the top-level commands, by name, that both
// engines build alone: the container commands scripts and the engine
// itself (the healthcheck timer) run most.
func containerCommandsByName(g *globalOptions) map[string]func() *cobra.Command {
	return map[string]func() *cobra.Command{
		"run":         func() *cobra.Command { return newRunCmd(g) },
		"create":      func() *cobra.Command { return newCreateCmd(g) },
		"start":       func() *cobra.Command { return newStartCmd(g) },
		"stop":        func() *cobra.Command { return newStopCmd(g) },
		"kill":        func() *cobra.Command { return newKillCmd(g) },
		"rm":          func() *cobra.Command { return newRmCmd(g) },
		"ps":          func() *cobra.Command { return newPsCmd(g) },
		"exec":        func() *cobra.Command { return newExecCmd(g) },
		"logs":        func() *cobra.Command { return newLogsCmd(g) },
		"wait":        func() *cobra.Command { return newWaitCmd(g) },
		"inspect":     func() *cobra.Command { return newInspectCmd(g) },
		"healthcheck": func() *cobra.Command { return newHealthcheckCmd(g) },
	}
}
