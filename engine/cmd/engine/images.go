//go:build !thin

package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/containers/storage"
	"github.com/spf13/cobra"

	"github.com/ocisuite/suite/shared/cli"
	"github.com/ocisuite/suite/shared/store"
)

// imageCommands are the image commands, at the top level as podman has
// them (pull, push, images, rmi, tag, …) and again under "engine image".
func imageCommands(g *globalOptions) []*cobra.Command {
	group := &cobra.Command{
		Use:   "image",
		Short: "Manage images",
		Args:  cli.ExactArgs(0),
		RunE:  func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	ls := newImagesCmd(g)
	ls.Use, ls.Aliases = "ls [flags] [IMAGE]", []string{"list"}
	rm := newRmiCmd(g)
	rm.Use, rm.Aliases = "rm [flags] IMAGE [IMAGE...]", []string{"remove"}
	group.AddCommand(ls, rm,
		newPullCmd(g), newPushCmd(g), newTagCmd(g), newUntagCmd(g),
		newSaveCmd(g), newLoadCmd(g), newImportCmd(g), newHistoryCmd(g),
		newImageInspectCmd(g), newImageExistsCmd(g), newImagePruneCmd(g),
		newSearchCmd(g), newBuildCmd(g))
	return []*cobra.Command{
		group,
		newPullCmd(g), newPushCmd(g), newImagesCmd(g), newRmiCmd(g),
		newTagCmd(g), newUntagCmd(g), newSaveCmd(g), newLoadCmd(g),
		newImportCmd(g), newHistoryCmd(g), newSearchCmd(g),
		cli.LoginCmd("engine", &g.registriesConf), cli.LogoutCmd("engine", &g.registriesConf), newBuildCmd(g),
	}
}

// withImageStore opens the store for one command and shuts it down after.
func withImageStore(g *globalOptions, fn func(s storage.Store) error) error {
	s, err := store.Open(g.store)
	if err != nil {
		return err
	}
	defer func() { _, _ = s.Shutdown(false) }()
	return fn(s)
}

// imageProgress is where pull, push and save report their steps: stderr,
// unless quiet.
func imageProgress(cmd *cobra.Command, quiet bool) io.Writer {
	if quiet {
		return nil
	}
	return cmd.ErrOrStderr()
}

// stdinToTemp copies stdin into a temporary file (archives need seeking)
// and returns its path; a terminal on stdin is refused with hint.
func stdinToTemp(cmd *cobra.Command, pattern, hint string) (string, func(), error) {
	if f, ok := cmd.InOrStdin().(*os.File); ok && cli.IsTerminal(f) {
		return "", nil, cli.Usage(errors.New(hint))
	}
	tmp, err := os.CreateTemp("", pattern)
	if err != nil {
		return "", nil, err
	}
	cleanup := func() { os.Remove(tmp.Name()) }
	if _, err := io.Copy(tmp, cmd.InOrStdin()); err != nil {
		tmp.Close()
		cleanup()
		return "", nil, fmt.Errorf("reading stdin: %w", err)
	}
	if err := tmp.Close(); err != nil {
		cleanup()
		return "", nil, err
	}
	return tmp.Name(), cleanup, nil
}
