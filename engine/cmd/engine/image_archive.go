//go:build !thin

package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/containers/storage"
	"github.com/spf13/cobra"

	"github.com/ocisuite/suite/shared/cli"
	shimage "github.com/ocisuite/suite/shared/image"
	"github.com/ocisuite/suite/shared/imagestore"
)

type saveOptions struct {
	format     string
	output     string
	multiImage bool
	compress   bool
	quiet      bool
}

func newSaveCmd(g *globalOptions) *cobra.Command {
	o := &saveOptions{}
	cmd := &cobra.Command{
		Use:   "save [flags] IMAGE [IMAGE...]",
		Short: "Save images to an archive or directory",
		Long: `Save images as a docker-archive (default) or oci-archive tar, or as an OCI
layout (oci-dir) or dir: directory (docker-dir). Without --output the archive
goes to stdout, which must not be a terminal. Several images go into one
docker-archive with --multi-image-archive.`,
		Example: `  engine save -o busybox.tar busybox
  engine save --format oci-archive busybox > busybox.oci.tar
  engine save -m -o images.tar busybox alpine`,
		Args: cli.MinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runSave(cmd, g, o, args) },
	}
	f := cmd.Flags()
	f.StringVar(&o.format, "format", imagestore.FormatDockerArchive, "`format`: docker-archive, oci-archive, oci-dir or docker-dir")
	f.StringVarP(&o.output, "output", "o", "", "write to `path` (default: stdout)")
	f.BoolVarP(&o.multiImage, "multi-image-archive", "m", false, "save several images into one docker-archive")
	f.BoolVar(&o.compress, "compress", false, "compress layers in the directory formats")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "do not print progress")
	return cmd
}

func runSave(cmd *cobra.Command, g *globalOptions, o *saveOptions, names []string) error {
	switch o.format {
	case imagestore.FormatDockerArchive, imagestore.FormatOCIArchive, imagestore.FormatOCIDir, imagestore.FormatDockerDir:
	default:
		return cli.Usage(fmt.Errorf("invalid --format %q: want docker-archive, oci-archive, oci-dir or docker-dir", o.format))
	}
	if o.compress && o.format != imagestore.FormatOCIDir && o.format != imagestore.FormatDockerDir {
		return cli.Usage(errors.New("--compress applies to --format oci-dir and docker-dir only"))
	}
	out := o.output
	toStdout := out == "" || out == "/dev/stdout"
	if toStdout {
		if o.format == imagestore.FormatOCIDir || o.format == imagestore.FormatDockerDir {
			return cli.Usage(fmt.Errorf("--format %s needs --output DIR", o.format))
		}
		if cli.IsTerminal(cmd.OutOrStdout()) {
			return cli.Usage(errors.New("refusing to save to a terminal: use --output or redirect stdout"))
		}
		tmp, err := os.MkdirTemp("", "engine-save-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		out = tmp + "/image.tar"
	}
	err := withImageStore(g, func(s storage.Store) error {
		return imagestore.Save(cmd.Context(), s, names, imagestore.SaveOptions{
			Format: o.format, Output: out, MultiImage: o.multiImage, Compress: o.compress,
		})
	})
	if err != nil || !toStdout {
		return err
	}
	f, err := os.Open(out)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(cmd.OutOrStdout(), f)
	return err
}

type loadOptions struct {
	input string
	quiet bool
}

func newLoadCmd(g *globalOptions) *cobra.Command {
	o := &loadOptions{}
	cmd := &cobra.Command{
		Use:   "load [flags]",
		Short: "Load images from an archive",
		Long: `Load the images of a docker-archive or oci-archive tar (from --input, or
stdin), or of an OCI layout or dir: directory (--input), into local storage.`,
		Example: `  engine load -i busybox.tar
  engine load < busybox.oci.tar`,
		Args: cli.ExactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			in := o.input
			if in == "" {
				path, cleanup, err := stdinToTemp(cmd, "engine-load-*.tar", "no --input and stdin is a terminal: give an archive")
				if err != nil {
					return err
				}
				defer cleanup()
				in = path
			}
			return withImageStore(g, func(s storage.Store) error {
				res, err := imagestore.Load(cmd.Context(), s, in, imagestore.LoadOptions{Sys: shimage.SystemOptions{RegistriesConf: g.registriesConf}})
				if err != nil {
					return err
				}
				for _, n := range res.Names {
					fmt.Fprintf(cmd.OutOrStdout(), "Loaded image: %s\n", n)
				}
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.input, "input", "i", "", "read from `path` (default: stdin)")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "do not print progress")
	return cmd
}
