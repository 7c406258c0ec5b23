package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ocisuite/suite/shared/cli"
	"github.com/ocisuite/suite/shared/format"
	"github.com/ocisuite/suite/shared/image"
	"github.com/ocisuite/suite/shared/retry"
	"github.com/ocisuite/suite/transport/inspect"
)

type inspectOptions struct {
	image  *imageFlags
	retry  *retryFlags
	raw    bool
	config bool
	format string
	noTags bool
}

func newInspectCmd(g *globalOptions) *cobra.Command {
	o := &inspectOptions{}
	cmd := &cobra.Command{
		Use:   "inspect [flags] IMAGE",
		Short: "Inspect an image in a registry or archive without pulling it",
		Long: `Print low-level information about IMAGE: its name, the top-level manifest
digest, the repository's tags, and the config of the instance matching this
platform (or --override-os/--override-arch).`,
		Example: `  transport inspect docker://registry.example/app:1
  transport inspect --raw docker://registry.example/app:1
  transport inspect --format '{{.Digest}}' docker://registry.example/app:1`,
		Args: cli.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runInspect(cmd, g, o, args[0])
		},
	}
	f := cmd.Flags()
	o.image = addImageFlags(f, "")
	o.retry = addRetryFlags(f)
	f.BoolVar(&o.raw, "raw", false, "output the raw manifest or config data, depending on --config")
	f.BoolVar(&o.config, "config", false, "output the image configuration (OCI format; with --raw the blob as stored)")
	f.StringVarP(&o.format, "format", "f", "", "format the output using the given Go `template`")
	f.BoolVarP(&o.noTags, "no-tags", "n", false, "do not list the repository's tags (RepoTags stays empty)")
	return cmd
}

func runInspect(cmd *cobra.Command, g *globalOptions, o *inspectOptions, name string) error {
	ctx, cancel := g.commandContext(cmd)
	defer cancel()
	if o.raw && o.format != "" {
		return cli.Usage(fmt.Errorf("--format cannot be used with --raw"))
	}
	var tmpl *format.Template
	if o.format != "" {
		var err error
		if tmpl, err = format.Parse(o.format); err != nil {
			return cli.Usage(err)
		}
	}
	ref, err := image.ParseReference(name)
	if err != nil {
		return cli.Usage(err)
	}
	sys, err := o.image.systemContext(g)
	if err != nil {
		return cli.Usage(err)
	}
	delay, err := o.retry.parseDelay()
	if err != nil {
		return err
	}
	r := retry.Options{Times: o.retry.times, Delay: delay, What: "inspecting " + name}
	out := cmd.OutOrStdout()
	var v any
	switch {
	case o.raw:
		var b []byte
		if o.config {
			b, err = inspect.RawConfig(ctx, ref, sys, r)
		} else {
			b, err = inspect.RawManifest(ctx, ref, sys, r)
		}
		if err != nil {
			return err
		}
		_, err = out.Write(b)
		return err
	case o.config:
		v, err = inspect.Config(ctx, ref, sys, r)
	default:
		v, err = inspect.Inspect(ctx, ref, sys, inspect.Options{NoTags: o.noTags, Retry: r})
	}
	if err != nil {
		return err
	}
	if tmpl != nil {
		return tmpl.Execute(out, v)
	}
	return format.JSON(out, v)
}
