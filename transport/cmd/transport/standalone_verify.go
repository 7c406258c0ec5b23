package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// STUB: replaced by the real command.
func newStandaloneVerifyCmd(g *globalOptions) *cobra.Command {
	return &cobra.Command{Use: "standalone-verify", RunE: func(*cobra.Command, []string) error { return errors.New("not implemented") }}
}
