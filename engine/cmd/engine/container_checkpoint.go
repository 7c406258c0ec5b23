//go:build !thin

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ocisuite/suite/engine/container"
	"github.com/ocisuite/suite/engine/network"
	"github.com/ocisuite/suite/shared/cli"
	"github.com/ocisuite/suite/shared/format"
)

// printChecks prints preflight checks as podman-style lines (or JSON) and
// fails when one failed.
func printChecks(cmd *cobra.Command, checks []container.Check, asJSON bool) error {
	if asJSON {
		if err := format.JSON(cmd.OutOrStdout(), checks); err != nil {
			return err
		}
	} else {
		for _, c := range checks {
			status := "ok"
			switch {
			case !c.OK && c.Warning:
				status = "warn"
			case !c.OK:
				status = "FAIL"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%-4s  %-18s %s\n", status, c.Name, c.Detail)
			if c.Fix != "" && !c.OK {
				fmt.Fprintf(cmd.OutOrStdout(), "      fix: %s\n", c.Fix)
			}
		}
	}
	if container.Failed(checks) {
		var names []string
		for _, c := range checks {
			if !c.OK && !c.Warning {
				names = append(names, c.Name)
			}
		}
		return fmt.Errorf("preflight failed: %s", strings.Join(names, ", "))
	}
	return nil
}

func newCheckpointCmd(g *globalOptions) *cobra.Command {
	var all, printStats, check, checkJSON bool
	var o container.CheckpointOptions
	cmd := &cobra.Command{
		Use:   "checkpoint [flags] CONTAINER [CONTAINER...]",
		Short: "Checkpoint one or more running containers with CRIU",
		RunE: func(cmd *cobra.Command, args []string) error {
			if check {
				if all || len(args) != 1 {
					return cli.Usage(errors.New("--check takes exactly one container"))
				}
				return withSession(cmd, g, func(ctx context.Context, s *session) error {
					checks, err := s.engine.CheckpointCheck(ctx, args[0])
					if err != nil {
						return err
					}
					return printChecks(cmd, checks, checkJSON)
				})
			}
			if o.Export != "" && (all || len(args) != 1) {
				return cli.Usage(errors.New("--export takes exactly one container"))
			}
			if (o.IgnoreRootfs || o.IgnoreVolumes) && o.Export == "" && o.CreateImage == "" {
				return cli.Usage(errors.New("--ignore-rootfs and --ignore-volumes need --export or --create-image"))
			}
			if o.PreCheckpoint && (o.CreateImage != "" || o.WithPrevious || o.LeaveRunning || o.IncludeImage || o.IgnoreRootfs || o.IgnoreVolumes) {
				return cli.Usage(errors.New("--pre-checkpoint cannot be combined with --create-image, --with-previous, --leave-running, --include-image, --ignore-rootfs or --ignore-volumes"))
			}
			if o.IncludeImage && o.Export == "" && o.CreateImage == "" {
				return cli.Usage(errors.New("--include-image needs --export or --create-image"))
			}
			if o.CreateImage != "" && (all || len(args) != 1) {
				return cli.Usage(errors.New("--create-image takes exactly one container"))
			}
			var results []*container.CheckpointResult
			err := onContainers(cmd, g, all, args, func(c *container.Container) bool { return c.State.Status == container.StatusRunning },
				func(ctx context.Context, s *session, n string) (string, error) {
					r, err := s.engine.Checkpoint(ctx, n, o)
					if err != nil {
						return "", err
					}
					results = append(results, r)
					if printStats {
						return "", nil
					}
					return n, nil
				})
			if printStats && len(results) > 0 {
				if werr := format.JSON(cmd.OutOrStdout(), results); werr != nil && err == nil {
					err = werr
				}
			}
			return err
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&all, "all", "a", false, "checkpoint every running container")
	f.BoolVarP(&o.LeaveRunning, "leave-running", "R", false, "leave the container running after the checkpoint")
	f.BoolVarP(&o.Keep, "keep", "k", false, "keep CRIU's log and statistics files")
	f.BoolVar(&o.TCPEstablished, "tcp-established", false, "checkpoint established TCP connections")
	f.BoolVar(&o.FileLocks, "file-locks", false, "checkpoint file locks")
	f.StringVarP(&o.Export, "export", "e", "", "also write the checkpoint as one archive `file`")
	f.StringVar(&o.Compress, "compress", "zstd", "compression of the --export archive: zstd, gzip or none")
	f.BoolVar(&o.IgnoreRootfs, "ignore-rootfs", false, "leave the root filesystem changes out of the --export archive or --create-image image")
	f.BoolVar(&o.IgnoreVolumes, "ignore-volumes", false, "leave the named volumes' content out of the --export archive or --create-image image")
	f.BoolVar(&o.IncludeImage, "include-image", false, "put the base image into the --export archive or --create-image image, for a target that lacks it and cannot pull it")
	f.StringVar(&o.CreateImage, "create-image", "", "also store the checkpoint as a one-layer image `name` (push it, then restore IMAGE elsewhere)")
	f.BoolVar(&check, "check", false, "only check that the container can be checkpointed here (CRIU, runtime, kernel, storage, networks, volumes, processes)")
	f.BoolVar(&checkJSON, "check-json", false, "with --check, print the checks as JSON")
	f.BoolVarP(&o.PreCheckpoint, "pre-checkpoint", "P", false, "dump only the memory and leave the container running (needs soft-dirty memory tracking); with --export, as an archive for restore --import-previous")
	f.BoolVar(&o.WithPrevious, "with-previous", false, "checkpoint on top of the last --pre-checkpoint: only memory changed since is dumped")
	f.BoolVar(&printStats, "print-stats", false, "print CRIU's statistics as JSON")
	return cmd
}

func newRestoreCmd(g *globalOptions) *cobra.Command {
	var all, printStats, check, checkJSON bool
	var importFile string
	var publish []string
	var o container.RestoreOptions
	cmd := &cobra.Command{
		Use:   "restore [flags] CONTAINER [CONTAINER...]",
		Short: "Restore one or more checkpointed containers",
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().Changed("publish") {
				o.Publish = []network.PortMapping{}
				for _, p := range publish {
					m, err := parsePublish(p)
					if err != nil {
						return cli.Usage(err)
					}
					o.Publish = append(o.Publish, m...)
				}
			}
			if check {
				if importFile == "" || importFile == "-" || all || len(args) > 0 {
					return cli.Usage(errors.New("--check takes --import FILE and no container names"))
				}
				return withSession(cmd, g, func(ctx context.Context, s *session) error {
					f, err := os.Open(importFile)
					if err != nil {
						return err
					}
					defer f.Close()
					checks, err := s.engine.RestoreImportCheck(ctx, f)
					if err != nil {
						return err
					}
					return printChecks(cmd, checks, checkJSON)
				})
			}
			var results []*container.RestoreResult
			show := func(err error) error {
				if printStats && len(results) > 0 {
					if werr := format.JSON(cmd.OutOrStdout(), results); werr != nil && err == nil {
						err = werr
					}
				}
				return err
			}
			if o.ImportPrevious != "" && importFile == "" {
				return cli.Usage(errors.New("--import-previous needs --import, the checkpoint made on top of the pre-checkpoint (checkpoint --with-previous --export)"))
			}
			if o.ImportPrevious == "-" {
				return cli.Usage(errors.New("--import-previous takes a file, not standard input"))
			}
			if importFile != "" {
				if all || len(args) > 0 {
					return cli.Usage(errors.New("--import takes no container names"))
				}
				return withSession(cmd, g, func(ctx context.Context, s *session) error {
					var r io.Reader = cmd.InOrStdin()
					if importFile != "-" {
						f, err := os.Open(importFile)
						if err != nil {
							return err
						}
						defer f.Close()
						r = f
					}
					res, err := s.engine.RestoreImport(ctx, r, o)
					if err != nil {
						return err
					}
					results = append(results, res)
					if !printStats {
						fmt.Fprintln(cmd.OutOrStdout(), res.ID)
					}
					return show(nil)
				})
			}
			// Checkpoint images among the names (that are no container).
			var images []string
			if !all && len(args) > 0 {
				rest := args[:0:0]
				err := withSession(cmd, g, func(ctx context.Context, s *session) error {
					for _, a := range args {
						if _, err := s.engine.Lookup(a); err != nil {
							if _, ok := s.engine.CheckpointImage(ctx, a); ok {
								images = append(images, a)
								continue
							}
						}
						rest = append(rest, a)
					}
					return nil
				})
				if err != nil {
					return err
				}
				args = rest
			}
			if len(images) > 0 {
				if o.Name != "" && len(images) > 1 {
					return cli.Usage(errors.New("--name takes one checkpoint image"))
				}
				err := withSession(cmd, g, func(ctx context.Context, s *session) error {
					for _, img := range images {
						res, err := s.engine.RestoreFromImage(ctx, img, o)
						if err != nil {
							return err
						}
						results = append(results, res)
						if !printStats {
							fmt.Fprintln(cmd.OutOrStdout(), res.ID)
						}
					}
					return nil
				})
				if err != nil || len(args) == 0 {
					return show(err)
				}
			}
			if o.Name != "" {
				return cli.Usage(errors.New("--name needs --import or a checkpoint image"))
			}
			if o.IgnoreRootfs || o.IgnoreVolumes || o.Publish != nil || o.IgnoreStaticIP || o.IgnoreStaticMAC {
				return cli.Usage(errors.New("--ignore-rootfs, --ignore-volumes, --publish, --ignore-static-ip and --ignore-static-mac need --import or a checkpoint image"))
			}
			err := onContainers(cmd, g, all, args, func(c *container.Container) bool { return c.State.Checkpointed },
				func(ctx context.Context, s *session, n string) (string, error) {
					r, err := s.engine.Restore(ctx, n, o)
					if err != nil {
						return "", err
					}
					results = append(results, r)
					if printStats {
						return "", nil
					}
					return n, nil
				})
			return show(err)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&all, "all", "a", false, "restore every checkpointed container")
	f.BoolVar(&check, "check", false, "with --import, only check that the archive can be restored here, comparing this host with the source")
	f.BoolVar(&checkJSON, "check-json", false, "with --check, print the checks as JSON")
	f.BoolVarP(&o.Keep, "keep", "k", false, "keep the CRIU images and log after restoring")
	f.BoolVar(&o.TCPEstablished, "tcp-established", false, "restore established TCP connections")
	f.BoolVar(&o.FileLocks, "file-locks", false, "restore file locks")
	f.StringVarP(&importFile, "import", "i", "", "create and restore a container from a checkpoint archive `file` (- for standard input); CONTAINER may also be a checkpoint image")
	f.StringVar(&o.ImportPrevious, "import-previous", "", "with --import of a checkpoint made --with-previous, the pre-checkpoint archive `file` it was made on (checkpoint --pre-checkpoint --export)")
	f.BoolVar(&o.IgnoreRootfs, "ignore-rootfs", false, "with --import or a checkpoint image, do not apply the archive's root filesystem changes")
	f.BoolVar(&o.IgnoreVolumes, "ignore-volumes", false, "with --import or a checkpoint image, do not create and fill the archive's named volumes")
	f.StringArrayVarP(&publish, "publish", "p", nil, "with --import or a checkpoint image, publish `[IP:][HOSTPORT:]PORT[/PROTO]` instead of the archive's ports (repeatable)")
	f.BoolVar(&o.IgnoreStaticIP, "ignore-static-ip", false, "with --import or a checkpoint image, drop the archive's --network ip=/ip6= settings: the copy gets new addresses")
	f.BoolVar(&o.IgnoreStaticMAC, "ignore-static-mac", false, "with --import or a checkpoint image, drop the archive's --network mac= settings")
	f.StringVarP(&o.Name, "name", "n", "", "with --import or a checkpoint image, the new container's `name`")
	f.StringVar(&o.LazyPagesFrom, "lazy-pages-from", "", "restore a lazy-pages checkpoint, faulting its memory in from the page server at `IP:PORT` (migrate --lazy-pages passes it)")
	f.BoolVar(&printStats, "print-stats", false, "print CRIU's statistics as JSON")
	return cmd
}
