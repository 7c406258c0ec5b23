package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/containers/image/v5/transports"
	"github.com/spf13/cobra"

	"github.com/ocisuite/suite/builder/container"
	"github.com/ocisuite/suite/shared/cli"
	"github.com/ocisuite/suite/shared/imagestore"
)

type commitOptions struct {
	reg       *cli.RegistryFlags
	format    string
	squash    bool
	quiet     bool
	rm        bool
	iidFile   string
	timestamp int64
	unsetEnv  []string
}

// defaultCreatedBy is the created_by of commit's history entry when config
// --created-by set none, as buildah writes it.
const defaultCreatedBy = "/bin/sh"

func newCommitCmd(g *globalOptions) *cobra.Command {
	o := &commitOptions{}
	cmd := &cobra.Command{
		Use:   "commit [flags] CONTAINER [IMAGE]",
		Short: "Write a working container to an image",
		Long: `Write an image from the working container: the base image's layers, one
new layer with what changed in the root filesystem, and the configuration
set with config. IMAGE names it in local storage (a name without a registry
goes under localhost/); TRANSPORT:DETAILS (docker://…, oci:…, dir:…)
writes it there instead. The image ID is printed.`,
		Example: `  builder commit app myapp:1
  builder commit --format docker --rm app registry.example/app:1
  builder commit --squash --timestamp 0 app reproducible`,
		Args: cli.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error { return runCommit(cmd, g, o, args) },
	}
	f := cmd.Flags()
	o.reg = cli.AddRegistryFlags(f, true)
	f.StringVarP(&o.format, "format", "f", "", "image `format`: oci or docker (default: the container's, from 'from --format')")
	f.BoolVar(&o.squash, "squash", false, "write the whole root filesystem as the image's only layer")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "print no progress when writing to another transport")
	f.BoolVar(&o.rm, "rm", false, "remove the working container after the commit")
	f.StringVar(&o.iidFile, "iidfile", "", "write the image ID to `file` (instead of printing it)")
	f.Int64Var(&o.timestamp, "timestamp", 0, "creation time of the image and its new files, in `seconds` since the epoch (reproducible images)")
	f.StringSliceVar(&o.unsetEnv, "unsetenv", nil, "remove environment `variable` from the image")
	return cmd
}

// splitDest tells a local image name from TRANSPORT:DETAILS; it returns
// the local name, or "" and the destination.
func splitDest(dest string) (local, remote string) {
	if t, rest, ok := strings.Cut(dest, ":"); ok && transports.Get(t) != nil {
		if t == "containers-storage" {
			return rest, ""
		}
		return "", dest
	}
	return dest, ""
}

func runCommit(cmd *cobra.Command, g *globalOptions, o *commitOptions, args []string) error {
	if o.format != "" && o.format != "oci" && o.format != "docker" {
		return cli.Usage(fmt.Errorf("invalid --format %q: want oci or docker", o.format))
	}
	local, remote := "", ""
	if len(args) == 2 {
		if local, remote = splitDest(args[1]); local == "" && remote == "" {
			return cli.Usage(fmt.Errorf("invalid image name %q", args[1]))
		}
		if local != "" {
			if _, err := imagestore.NormalizeName(local); err != nil {
				return cli.Usage(err)
			}
		}
	}
	co := container.CommitOptions{Format: o.format}
	if cmd.Flags().Changed("timestamp") {
		ts := time.Unix(o.timestamp, 0).UTC()
		co.Timestamp = &ts
	}
	if local != "" {
		co.Names = []string{local}
	}
	return withSession(cmd, g, func(ctx context.Context, s *session) error {
		c, err := s.lookup(args[0])
		if err != nil {
			return err
		}
		x, err := c.Extra()
		if err != nil {
			return err
		}
		co.CreatedBy, co.Comment, co.Annotations = x.CreatedBy, x.HistoryComment, x.Annotations
		if co.CreatedBy == "" {
			co.CreatedBy = defaultCreatedBy
		}
		for _, k := range o.unsetEnv {
			c.Config.Config.Env = slices.DeleteFunc(c.Config.Config.Env, func(e string) bool { return strings.SplitN(e, "=", 2)[0] == k })
		}
		before := map[string]bool{}
		if remote != "" {
			imgs, err := s.store.Images()
			if err != nil {
				return err
			}
			for _, img := range imgs {
				before[img.ID] = true
			}
		}
		commit := c.Commit
		if o.squash {
			commit = c.CommitSquashed
		}
		id, err := commit(ctx, co)
		if err != nil {
			return err
		}
		if remote != "" {
			var progress = cmd.ErrOrStderr()
			if o.quiet {
				progress = nil
			}
			_, err := imagestore.Push(ctx, s.store, id, remote, imagestore.PushOptions{Sys: o.reg.Options(g.registriesConf), Progress: progress})
			if !before[id] {
				// The image was only the way to the destination.
				if _, derr := s.store.DeleteImage(id, true); derr != nil && err == nil {
					err = derr
				}
			}
			if err != nil {
				return fmt.Errorf("writing %s: %w", remote, err)
			}
		}
		if o.rm {
			if err := c.Remove(); err != nil {
				return err
			}
		}
		if o.iidFile != "" {
			if err := os.WriteFile(o.iidFile, []byte("sha256:"+id), 0o644); err != nil {
				return fmt.Errorf("writing the image ID file: %w", err)
			}
			return nil
		}
		_, err = fmt.Fprintln(cmd.OutOrStdout(), id)
		return err
	})
}

type pushOptions struct {
	reg              *cli.RegistryFlags
	format           string
	digestFile       string
	quiet            bool
	removeSignatures bool
	retry            int
}

func newPushCmd(g *globalOptions) *cobra.Command {
	o := &pushOptions{}
	cmd := &cobra.Command{
		Use:   "push [flags] IMAGE [DESTINATION]",
		Short: "Push an image to a registry or another transport",
		Long: `Copy the local IMAGE to DESTINATION: a registry name (registry.example/app:1,
docker://…) or TRANSPORT:DETAILS (oci:, oci-archive:, docker-archive:, dir:).
Without DESTINATION the image goes where its name says.`,
		Example: `  builder push registry.example/app:1
  builder push --format v2s2 app docker://registry.example/team/app:1
  builder push app oci-archive:/tmp/app.tar`,
		Args: cli.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			dest := ""
			if len(args) == 2 {
				dest = args[1]
			}
			if _, err := imagestore.ManifestType(o.format); err != nil {
				return cli.Usage(err)
			}
			return withSession(cmd, g, func(ctx context.Context, s *session) error {
				progress := cmd.ErrOrStderr()
				if o.quiet {
					progress = nil
				}
				d, err := imagestore.Push(ctx, s.store, args[0], dest, imagestore.PushOptions{
					Sys: o.reg.Options(g.registriesConf), Format: o.format, RemoveSignatures: o.removeSignatures,
					Progress: progress, RetryTimes: o.retry,
				})
				if err != nil {
					return err
				}
				if o.digestFile != "" {
					if err := os.WriteFile(o.digestFile, []byte(d.String()), 0o644); err != nil {
						return fmt.Errorf("writing the digest file: %w", err)
					}
				}
				return nil
			})
		},
	}
	f := cmd.Flags()
	o.reg = cli.AddRegistryFlags(f, true)
	f.StringVarP(&o.format, "format", "f", "", "manifest `type` to push: oci, v2s2 or v2s1 (default: as stored)")
	f.StringVar(&o.digestFile, "digestfile", "", "write the digest of the pushed manifest to `file`")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "do not print progress")
	f.BoolVar(&o.removeSignatures, "remove-signatures", false, "do not copy signatures")
	f.IntVar(&o.retry, "retry", 3, "number of `times` to retry on a transient network error")
	return cmd
}

func newTagCmd(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "tag IMAGE NAME [NAME...]",
		Short: "Add names to a local image",
		Long: `Add names to a local image. A name without a registry is stored under
localhost/ and a name without a tag gets :latest.`,
		Example: `  builder tag myapp registry.example/team/myapp:1`,
		Args:    cli.MinArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withSession(cmd, g, func(ctx context.Context, s *session) error {
				return imagestore.Tag(s.store, args[0], args[1:])
			})
		},
	}
}

type rmiOptions struct {
	remove imagestore.RemoveOptions
	prune  bool
}

func newRmiCmd(g *globalOptions) *cobra.Command {
	o := &rmiOptions{}
	cmd := &cobra.Command{
		Use:   "rmi [flags] IMAGE [IMAGE...]",
		Short: "Remove images from local storage",
		Long: `Remove local images. By name, an image with other names only loses that
name ("untagged"); otherwise it is deleted and its ID printed. An image a
working or engine container uses is refused unless --force, which removes
those containers too. --prune removes the images that have no name and no
container.`,
		Example: `  builder rmi myapp:1
  builder rmi --force base
  builder rmi --prune`,
		RunE: func(cmd *cobra.Command, args []string) error { return runRmi(cmd, g, o, args) },
	}
	f := cmd.Flags()
	f.BoolVarP(&o.remove.All, "all", "a", false, "remove all images")
	f.BoolVarP(&o.remove.Force, "force", "f", false, "remove the containers using the images too")
	f.BoolVarP(&o.prune, "prune", "p", false, "remove dangling images")
	return cmd
}

func runRmi(cmd *cobra.Command, g *globalOptions, o *rmiOptions, args []string) error {
	switch {
	case o.prune && (o.remove.All || len(args) > 0):
		return cli.Usage(errors.New("--prune takes no IMAGE and no --all"))
	case !o.prune && o.remove.All == (len(args) > 0):
		return cli.Usage(errors.New("give IMAGE arguments, --all or --prune"))
	}
	return withSession(cmd, g, func(ctx context.Context, s *session) error {
		out := cmd.OutOrStdout()
		if o.prune {
			ids, err := imagestore.Prune(s.store, false)
			for _, id := range ids {
				fmt.Fprintln(out, id)
			}
			return err
		}
		rep, errs := imagestore.Remove(s.store, args, o.remove)
		for _, n := range rep.Untagged {
			fmt.Fprintf(out, "untagged: %s\n", n)
		}
		for _, id := range rep.Deleted {
			fmt.Fprintln(out, id)
		}
		if len(errs) == 0 {
			return nil
		}
		msgs := make([]string, len(errs))
		for i, err := range errs {
			msgs[i] = err.Error()
		}
		return errors.New(strings.Join(msgs, "; "))
	})
}
