package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// STUB: replaced by the real command.
func newManifestDigestCmd(g *globalOptions) *cobra.Command {
	return &cobra.Command{Use: "manifest-digest", RunE: func(*cobra.Command, []string) error { return errors.New("not implemented") }}
}
