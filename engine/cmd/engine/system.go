package main

import "github.com/spf13/cobra"

// systemCommands are info, version, events, healthcheck and "engine system …".
func systemCommands(g *globalOptions) []*cobra.Command { return nil }
