//go:build !thin

package main

import (
	"fmt"

	"github.com/containers/storage"
	"github.com/spf13/cobra"

	"github.com/ocisuite/suite/shared/cli"
	"github.com/ocisuite/suite/shared/imagestore"
)

type importOptions struct {
	changes  []string
	message  string
	platform string
	os, arch string
	variant  string
	quiet    bool
}

func newImportCmd(g *globalOptions) *cobra.Command {
	o := &importOptions{}
	cmd := &cobra.Command{
		Use:   "import [flags] PATH|URL|- [REFERENCE]",
		Short: "Create an image from a filesystem tarball",
		Long: `Create a one-layer image from a tarball (plain, gzip, bzip2, xz or zstd) read
from PATH, an http(s) URL, or stdin ("-"). --change applies Containerfile
instructions (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, STOPSIGNAL, USER, VOLUME,
WORKDIR) to the configuration. The image ID is printed at the end.`,
		Example: `  engine import rootfs.tar myimage:1
  cat rootfs.tar | engine import --change 'CMD ["/bin/sh"]' -m 'from a tarball' - myimage`,
		Args: cli.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			io_ := imagestore.ImportOptions{Changes: o.changes, Message: o.message, OS: o.os, Arch: o.arch, Variant: o.variant}
			if len(args) == 2 {
				io_.Reference = args[1]
			}
			if o.platform != "" {
				var err error
				if io_.OS, io_.Arch, io_.Variant, err = parsePlatform(o.platform); err != nil {
					return cli.Usage(err)
				}
			}
			src := args[0]
			if src == "-" {
				path, cleanup, err := stdinToTemp(cmd, "engine-import-*.tar", "stdin is a terminal: pipe a tarball into import -")
				if err != nil {
					return err
				}
				defer cleanup()
				src = path
			}
			io_.Progress = imageProgress(cmd, o.quiet)
			return withImageStore(g, func(s storage.Store) error {
				img, err := imagestore.Import(cmd.Context(), s, src, io_)
				if err != nil {
					return err
				}
				_, err = fmt.Fprintln(cmd.OutOrStdout(), "sha256:"+img.ID)
				return err
			})
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&o.changes, "change", "c", nil, "apply a Containerfile `instruction` to the image configuration")
	f.StringVarP(&o.message, "message", "m", "", "set the history comment of the image")
	f.StringVar(&o.platform, "platform", "", "set the image's `OS/ARCH[/VARIANT]`")
	f.StringVar(&o.os, "os", "", "set the image's `os`")
	f.StringVar(&o.arch, "arch", "", "set the image's `arch`")
	f.StringVar(&o.variant, "variant", "", "set the image's `variant`")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "do not print progress")
	return cmd
}
