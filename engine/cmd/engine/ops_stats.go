//go:build !thin

package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/docker/go-units"
	"github.com/spf13/cobra"

	"github.com/ocisuite/suite/engine/container"
	"github.com/ocisuite/suite/shared/cli"
	"github.com/ocisuite/suite/shared/format"
)

// statsRow is one container's line of stats: the template fields and the
// JSON keys are podman's.
type statsRow struct {
	ID            string `json:"id"`
	Name          string `json:"name"`
	CPU           string `json:"cpu_time"`
	CPUPerc       string `json:"cpu_percent"`
	AVGCPU        string `json:"avg_cpu"`
	MemUsage      string `json:"mem_usage"`
	MemUsageBytes uint64 `json:"mem_usage_bytes"`
	MemPerc       string `json:"mem_percent"`
	NetIO         string `json:"net_io"`
	BlockIO       string `json:"block_io"`
	PIDS          string `json:"pids"`
	UpTime        string `json:"up_time"`
}

func size(n uint64) string { return units.HumanSizeWithPrecision(float64(n), 3) }

func newStatsRow(s *container.Stats, noTrunc bool) statsRow {
	id := s.ID
	if !noTrunc {
		id = shortID(id)
	}
	return statsRow{
		ID: id, Name: s.Name,
		CPU:           (time.Duration(s.CPUNano)).Truncate(time.Microsecond).String(),
		CPUPerc:       fmt.Sprintf("%.2f%%", s.CPUPercent),
		AVGCPU:        fmt.Sprintf("%.2f%%", s.AvgCPU),
		MemUsage:      size(s.MemUsage) + " / " + size(s.MemLimit),
		MemUsageBytes: s.MemUsage,
		MemPerc:       fmt.Sprintf("%.2f%%", s.MemPercent),
		NetIO:         size(s.NetInput) + " / " + size(s.NetOutput),
		BlockIO:       size(s.BlockInput) + " / " + size(s.BlockOut),
		PIDS:          strconv.FormatUint(s.PIDs, 10),
		UpTime:        s.UpTime.Truncate(time.Second).String(),
	}
}

func newStatsCmd(g *globalOptions) *cobra.Command {
	var all, noStream, noTrunc bool
	var tmpl string
	var interval int
	cmd := &cobra.Command{
		Use:   "stats [flags] [CONTAINER...]",
		Short: "Show containers' resource use (CPU, memory, network, block I/O, PIDs)",
		RunE: func(cmd *cobra.Command, args []string) error {
			if all && len(args) > 0 {
				return cli.Usage(errors.New("give containers or --all, not both"))
			}
			if interval < 1 {
				return cli.Usage(errors.New("--interval must be at least 1"))
			}
			text := tmpl
			switch text {
			case "":
				text = "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDS}}\t{{.CPU}}\t{{.AVGCPU}}"
			case "json":
				text = ""
			}
			headers := map[string]string{"ID": "ID", "CPUPerc": "CPU %", "MemUsage": "MEM USAGE / LIMIT", "MemPerc": "MEM %",
				"NetIO": "NET IO", "BlockIO": "BLOCK IO", "PIDS": "PIDS", "CPU": "CPU TIME", "AVGCPU": "AVG CPU %"}
			return withSession(cmd, g, func(ctx context.Context, s *session) error {
				prev := map[string]*container.Stats{}
				for first := true; ; first = false {
					names := args
					if len(names) == 0 {
						ctrs, err := s.engine.List()
						if err != nil {
							return err
						}
						for _, c := range ctrs {
							if all || c.Running() {
								names = append(names, c.ID)
							}
						}
					}
					rows := []statsRow{}
					for _, n := range names {
						st, err := s.engine.ContainerStats(ctx, n, prev[n])
						if errors.Is(err, container.ErrInvalidState) && (all || !first) {
							continue // stopped meanwhile, or listed by --all
						}
						if err != nil {
							return err
						}
						prev[n] = st
						rows = append(rows, newStatsRow(st, noTrunc))
					}
					out := cmd.OutOrStdout()
					if !noStream && cli.IsTerminal(out) {
						fmt.Fprint(out, "\033[2J\033[H")
					}
					if text == "" {
						if err := format.JSON(out, rows); err != nil {
							return err
						}
					} else {
						w, err := format.NewWriter(out, text, headers, false)
						if err != nil {
							return cli.Usage(err)
						}
						for _, r := range rows {
							if err := w.Write(r); err != nil {
								return err
							}
						}
						if err := w.Flush(); err != nil {
							return err
						}
					}
					if noStream {
						return nil
					}
					select {
					case <-ctx.Done():
						return nil
					case <-time.After(time.Duration(interval) * time.Second):
					}
				}
			})
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&all, "all", "a", false, "show every container, not only running ones")
	f.BoolVar(&noStream, "no-stream", false, "print one sample and exit")
	f.BoolVar(&noTrunc, "no-trunc", false, "print full container IDs")
	f.StringVar(&tmpl, "format", "", "Go `template` for each container (table … for columns), or json")
	f.IntVarP(&interval, "interval", "i", 5, "`seconds` between samples")
	return cmd
}
