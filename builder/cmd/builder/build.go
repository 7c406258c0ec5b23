package main

import (
	"github.com/spf13/cobra"

	"github.com/ocisuite/suite/builder/buildcmd"
	"github.com/ocisuite/suite/builder/container"
)

func buildCommands(g *globalOptions) []*cobra.Command {
	return []*cobra.Command{buildcmd.New(func(cmd *cobra.Command) (*container.Manager, func(), error) {
		s, err := openSession(g)
		if err != nil {
			return nil, nil, err
		}
		return s.manager, s.close, nil
	})}
}
