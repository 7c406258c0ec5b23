package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// STUB: replaced by the real command.
func newDeleteCmd(g *globalOptions) *cobra.Command {
	return &cobra.Command{Use: "delete", RunE: func(*cobra.Command, []string) error { return errors.New("not implemented") }}
}
