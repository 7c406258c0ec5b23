package main

import "github.com/spf13/cobra"

// containerCommands are the container commands: run, create, start, ps, …
func containerCommands(g *globalOptions) []*cobra.Command { return nil }
