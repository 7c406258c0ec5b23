package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"

	"github.com/ocisuite/suite/builder/container"
	"github.com/ocisuite/suite/builder/copier"
	"github.com/ocisuite/suite/shared/cli"
	"github.com/ocisuite/suite/shared/imagestore"
	"github.com/ocisuite/suite/shared/oci"
)

type copyOptions struct {
	add        bool
	chown      string
	chmod      string
	from       string
	contextDir string
	ignoreFile string
	checksum   string
	quiet      bool
	addHistory bool
}

func newCopyCmd(g *globalOptions, add bool) *cobra.Command {
	o := &copyOptions{add: add}
	cmd := &cobra.Command{
		Use:   "copy [flags] CONTAINER SRC [SRC...] [DEST]",
		Short: "Copy files into a working container",
		Long: `Copy files and directories into the working container as the Containerfile
COPY does: SRC are paths on this host (relative to the current directory,
or to --contextdir with its .containerignore), or in another container or
image with --from. A directory's contents are copied. DEST is a path in the
container, relative to its working directory; without DEST, the working
directory. Several SRC need a DEST ending with "/".`,
		Example: `  builder copy app ./app.conf /etc/app/
  builder copy --chown app:app --chmod 640 app secret.key /home/app/
  builder copy --from builder-stage app /out/bin/tool /usr/local/bin/`,
		Args: cli.MinArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error { return runCopy(cmd, g, o, args) },
	}
	if add {
		cmd.Use = "add [flags] CONTAINER SRC [SRC...] [DEST]"
		cmd.Short = "Add files, archives and URLs to a working container"
		cmd.Long = `Add files to the working container as the Containerfile ADD does: like copy,
and local tar archives (plain or compressed) are extracted into DEST, and
http(s) URLs are downloaded (checked against --checksum when given).`
		cmd.Example = `  builder add app rootfs.tar.gz /
  builder add --checksum sha256:… app https://example.com/tool.tgz /opt/`
	}
	f := cmd.Flags()
	f.StringVar(&o.chown, "chown", "", "set the owner of what is copied to `user[:group]` (names from the container's /etc/passwd)")
	f.StringVar(&o.chmod, "chmod", "", "set the permissions of what is copied to octal `mode`")
	f.StringVar(&o.from, "from", "", "copy from the root of this working `container` or image")
	f.StringVar(&o.contextDir, "contextdir", "", "sources are relative to `dir`, with its .containerignore")
	f.StringVar(&o.ignoreFile, "ignorefile", "", "read ignore patterns from `file` instead of the context's .containerignore")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "print nothing")
	f.BoolVar(&o.addHistory, "add-history", historyDefault(), "add an entry for the copy to the image's history (default: $BUILDAH_HISTORY)")
	if add {
		f.StringVar(&o.checksum, "checksum", "", "`digest` the downloaded URL must have (sha256:…)")
	}
	return cmd
}

func isURL(s string) bool {
	return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://")
}

func runCopy(cmd *cobra.Command, g *globalOptions, o *copyOptions, args []string) error {
	name, sources, dest := args[0], args[1:], ""
	if len(sources) > 1 {
		dest, sources = sources[len(sources)-1], sources[:len(sources)-1]
	}
	verb := "copy"
	if o.add {
		verb = "add"
	}
	var opts copier.Options
	if o.chmod != "" {
		m, err := strconv.ParseUint(o.chmod, 8, 32)
		if err != nil || m > 0o7777 {
			return cli.Usage(fmt.Errorf("invalid --chmod %q: want an octal mode such as 0644", o.chmod))
		}
		mode := os.FileMode(m)
		opts.Chmod = &mode
	}
	if o.ignoreFile != "" && o.contextDir == "" {
		return cli.Usage(errors.New("--ignorefile needs --contextdir"))
	}
	if o.from != "" && o.contextDir != "" {
		return cli.Usage(errors.New("--from and --contextdir cannot be used together"))
	}
	var local, urls []string
	for _, src := range sources {
		if o.add && isURL(src) {
			if o.from != "" {
				return cli.Usage(fmt.Errorf("%s: a URL cannot be added --from a container or image", src))
			}
			urls = append(urls, src)
		} else {
			local = append(local, src)
		}
	}
	if o.checksum != "" && (len(urls) != 1 || len(local) > 0) {
		return cli.Usage(errors.New("--checksum needs exactly one URL source"))
	}
	return withSession(cmd, g, func(ctx context.Context, s *session) error {
		c, err := s.lookup(name)
		if err != nil {
			return err
		}
		rootfs, err := c.Mount()
		if err != nil {
			return err
		}
		defer func() {
			if err := c.Unmount(false); err != nil {
				logrus.Warn(err)
			}
		}()
		if o.chown != "" {
			u, err := oci.ResolveUser(rootfs, o.chown)
			if err != nil {
				return fmt.Errorf("--chown: %w", err)
			}
			opts.Chown = &copier.Owner{UID: u.Uid, GID: u.Gid}
		}
		target := containerDest(c.Config.Config.WorkingDir, dest)
		if len(sources) > 1 && !strings.HasSuffix(target, "/") {
			return fmt.Errorf("%s: with more than one source, the destination must be a directory ending with /", verb)
		}
		opts.Extract = o.add
		if len(local) > 0 {
			srcRoot, release, err := copySourceRoot(ctx, s, o, &opts, local)
			if err != nil {
				return err
			}
			defer release()
			if err := copier.Copy(srcRoot, local, rootfs, target, opts); err != nil {
				return err
			}
		}
		for _, u := range urls {
			if err := copier.Fetch(ctx, u, o.checksum, rootfs, target, opts); err != nil {
				return err
			}
		}
		if o.addHistory {
			instr := "COPY"
			if o.add {
				instr = "ADD"
			}
			c.AddHistory(fmt.Sprintf("/bin/sh -c #(nop) %s %s in %s", instr, strings.Join(sources, " "), target), "", now())
			return c.Save()
		}
		return nil
	})
}

// containerDest is DEST in the container: relative to the working
// directory, which it is when empty; a trailing "/" (or "." ) is kept.
func containerDest(workDir, dest string) string {
	if workDir == "" {
		workDir = "/"
	}
	if dest == "" {
		return strings.TrimSuffix(workDir, "/") + "/"
	}
	dir := strings.HasSuffix(dest, "/") || dest == "." || strings.HasSuffix(dest, "/.")
	if !path.IsAbs(dest) {
		dest = path.Join(workDir, dest)
	}
	dest = path.Clean(dest)
	if dir && dest != "/" {
		dest += "/"
	}
	return dest
}

// copySourceRoot sets up where the sources are read from: the root of
// another container or image (--from, owners kept), --contextdir with its
// ignore file, or this host with the sources made absolute. It rewrites
// sources for the host case and returns a release function.
func copySourceRoot(ctx context.Context, s *session, o *copyOptions, opts *copier.Options, sources []string) (string, func(), error) {
	nothing := func() {}
	switch {
	case o.from != "":
		opts.PreserveOwnership = true
		if c, err := s.manager.Lookup(o.from); err == nil {
			p, err := c.Mount()
			if err != nil {
				return "", nil, err
			}
			opts.SourceName = "container " + c.Name
			return p, func() { _ = c.Unmount(false) }, nil
		} else if !errors.Is(err, container.ErrNoSuchContainer) {
			return "", nil, err
		}
		f, err := imagestore.Lookup(s.store, o.from)
		if errors.Is(err, imagestore.ErrNotFound) {
			imgs, perr := imagestore.Pull(ctx, s.store, o.from, imagestore.PullOptions{Sys: s.manager.Sys, Policy: imagestore.PullMissing})
			if perr != nil {
				return "", nil, fmt.Errorf("--from %s: not a working container, and the image: %w", o.from, perr)
			}
			f = imagestore.Found{Image: imgs[0]}
			err = nil
		}
		if err != nil {
			return "", nil, fmt.Errorf("--from %s: %w", o.from, err)
		}
		p, err := s.store.MountImage(f.ID, nil, "")
		if err != nil {
			return "", nil, fmt.Errorf("mounting image %s: %w", o.from, err)
		}
		opts.SourceName = "image " + o.from
		return p, func() { _, _ = s.store.UnmountImage(f.ID, false) }, nil
	case o.contextDir != "":
		dir, err := filepath.Abs(o.contextDir)
		if err != nil {
			return "", nil, err
		}
		ig, err := copier.LoadIgnore(dir, o.ignoreFile)
		if err != nil {
			return "", nil, err
		}
		opts.Ignore = ig
		opts.SourceName = dir
		return dir, nothing, nil
	}
	for i, src := range sources {
		abs, err := filepath.Abs(src)
		if err != nil {
			return "", nil, err
		}
		if strings.HasSuffix(src, "/") {
			abs += "/"
		}
		sources[i] = abs
	}
	opts.SourceName = "this host's filesystem"
	return "/", nothing, nil
}
