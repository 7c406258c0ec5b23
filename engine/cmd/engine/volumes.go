package main

import "github.com/spf13/cobra"

// volumeCommands are "engine volume …".
func volumeCommands(g *globalOptions) []*cobra.Command { return nil }
