//go:build !thin

package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/docker/go-units"
	"github.com/spf13/cobra"

	"github.com/ocisuite/suite/engine/container"
	"github.com/ocisuite/suite/shared/cli"
)

func newUpdateCmd(g *globalOptions) *cobra.Command {
	var memory, memorySwap, cpus, cpusetCpus string
	var cpuShares uint64
	var pidsLimit int64
	cmd := &cobra.Command{
		Use:   "update [flags] CONTAINER",
		Short: "Change a container's resource limits (at once when it runs)",
		Args:  cli.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var o container.UpdateOptions
			fs := cmd.Flags()
			if fs.Changed("memory") {
				n, err := units.RAMInBytes(memory)
				if err != nil || n <= 0 {
					return cli.Usage(fmt.Errorf("invalid --memory %q", memory))
				}
				o.Memory = &n
			}
			if fs.Changed("memory-swap") {
				n := int64(-1)
				if memorySwap != "-1" {
					var err error
					if n, err = units.RAMInBytes(memorySwap); err != nil {
						return cli.Usage(fmt.Errorf("invalid --memory-swap %q", memorySwap))
					}
				}
				o.MemorySwap = &n
			}
			if fs.Changed("cpus") {
				n, err := strconv.ParseFloat(cpus, 64)
				if err != nil || n < 0 {
					return cli.Usage(fmt.Errorf("invalid --cpus %q", cpus))
				}
				o.CPUs = &n
			}
			if fs.Changed("cpu-shares") {
				o.CPUShares = &cpuShares
			}
			if fs.Changed("cpuset-cpus") {
				o.CpusetCpus = &cpusetCpus
			}
			if fs.Changed("pids-limit") {
				o.PidsLimit = &pidsLimit
			}
			if o == (container.UpdateOptions{}) {
				return cli.Usage(errors.New("give at least one resource to change"))
			}
			return withSession(cmd, g, func(ctx context.Context, s *session) error {
				c, err := s.engine.Update(ctx, args[0], o)
				if err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), c.ID)
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.StringVarP(&memory, "memory", "m", "", "memory `limit` (e.g. 64m)")
	f.StringVar(&memorySwap, "memory-swap", "", "memory plus swap `limit` (-1 for unlimited; default twice --memory)")
	f.StringVar(&cpus, "cpus", "", "`number` of CPUs (0 for no limit)")
	f.Uint64Var(&cpuShares, "cpu-shares", 0, "CPU `shares` (relative weight)")
	f.StringVar(&cpusetCpus, "cpuset-cpus", "", "`CPUs` in which to allow execution (0-3, 0,1)")
	f.Int64Var(&pidsLimit, "pids-limit", 0, "pids `limit` (-1 for unlimited)")
	return cmd
}
