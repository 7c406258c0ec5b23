package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// STUB: replaced by the real command.
func newListTagsCmd(g *globalOptions) *cobra.Command {
	return &cobra.Command{Use: "list-tags", RunE: func(*cobra.Command, []string) error { return errors.New("not implemented") }}
}
