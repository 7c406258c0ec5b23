//go:build thin

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/containers/storage"
	"github.com/containers/storage/pkg/ioutils"
	"github.com/spf13/cobra"

	"github.com/ocisuite/suite/engine/container"
	"github.com/ocisuite/suite/shared/cli"
	"github.com/ocisuite/suite/shared/userns"
)

// The thin engine (built with the tag "thin") holds the commands that
// scripts and the engine itself run most: the container lifecycle,
// ps, exec, logs, inspect, conmon's exit command and the healthcheck
// timer. It links neither containers/image's copy, signing and
// encryption code, nor CRIU's, nor buildkit's: its start-up is some
// 20 ms shorter. Every other command line, and a run or create that
// must pull, it hands to the full binary (FullBinary, beside it) by
// executing it with the same arguments, before it has changed anything.

// FullBinary is the name of the full engine, installed beside this one.
const FullBinary = "engine-full"

// heldCommands are the commands this binary holds.
func heldCommands(g *globalOptions) map[string]func() *cobra.Command {
	m := containerCommandsByName(g)
	// Of "container", only conmon's exit command.
	m["container"] = func() *cobra.Command {
		group := &cobra.Command{Use: "container", Args: cli.ExactArgs(0)}
		group.AddCommand(newCleanupCmd(g))
		return group
	}
	return m
}

// holds reports whether args name a command of root itself, not a
// group whose other subcommands live in the full binary.
func holds(root *cobra.Command, args []string) bool {
	c, _, err := root.Find(args)
	return err == nil && c != root && !c.HasSubCommands()
}

// allCommands hands the command line to the full binary.
func allCommands(*cobra.Command, *globalOptions) {
	err := handOver()
	fmt.Fprintf(os.Stderr, "engine: %v\n", err)
	os.Exit(125)
}

// pullImage: pulling is the full binary's, which runs the whole command
// line again (nothing is created before the image is resolved).
func pullImage(context.Context, *globalOptions, storage.Store, string, string, bool, *cobra.Command) (string, string, error) {
	return "", "", handOver()
}

// orHandOver hands the command line to the full binary when err says
// only it can do what was asked (nothing has been created then).
func orHandOver(err error) error {
	if errors.Is(err, container.ErrNeedsFullEngine) {
		return handOver()
	}
	return err
}

// inspectImage: inspecting an image is the full binary's; nothing has
// been printed yet when inspect comes to an image.
func inspectImage(context.Context, storage.Store, string) (any, error) {
	allCommands(nil, nil) // hands over, or exits saying why
	return nil, nil
}

// handOver executes the full binary with this process's arguments; it
// returns only if that fails.
func handOver() error {
	self, err := userns.Executable()
	if err != nil {
		return fmt.Errorf("finding %s: %w", FullBinary, err)
	}
	full := filepath.Join(filepath.Dir(self), FullBinary)
	if err := syscall.Exec(full, os.Args, os.Environ()); err != nil {
		return fmt.Errorf("this command needs %s, the full engine: %w", full, err)
	}
	return nil
}

// disposableWrites is called by a run --rm (without --replace) before it
// opens the store. Such a run writes, through containers/storage, only
// the records of a volatile container and its volatile layer (never
// synced to disk, as podman has them) and the run root's mountpoints.json,
// which describes mounts that no reboot keeps: storage syncs the latter
// to disk at each of its six writes by default, which costs 1 to 20 ms
// when the run root is not a tmpfs. This binary never pulls (it hands a
// pull to the full binary first), so no image record is written here.
func disposableWrites() {
	ioutils.SetDefaultOptions(ioutils.AtomicFileWriterOptions{NoSync: true})
}
