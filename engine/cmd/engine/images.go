package main

import "github.com/spf13/cobra"

// imageCommands are the image commands: pull, push, images, rmi, tag, …
func imageCommands(g *globalOptions) []*cobra.Command { return nil }
