package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// STUB: replaced by the real command.
func newLogoutCmd(g *globalOptions) *cobra.Command {
	return &cobra.Command{Use: "logout", RunE: func(*cobra.Command, []string) error { return errors.New("not implemented") }}
}
