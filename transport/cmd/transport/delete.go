package main

import (
	"errors"
	"fmt"

	"github.com/docker/distribution/registry/api/errcode"
	"github.com/spf13/cobra"

	"github.com/ocisuite/suite/shared/cli"
	"github.com/ocisuite/suite/shared/image"
	"github.com/ocisuite/suite/shared/retry"
)

type deleteOptions struct {
	image *imageFlags
	retry *retryFlags
}

func newDeleteCmd(g *globalOptions) *cobra.Command {
	o := &deleteOptions{}
	cmd := &cobra.Command{
		Use:   "delete [flags] IMAGE",
		Short: "Delete an image from a registry",
		Long: `Delete IMAGE (its manifest) from a registry. A tag is resolved to its
manifest digest first, so every tag pointing at that manifest goes too. The
registry must allow deletion (docker-registry: REGISTRY_STORAGE_DELETE_ENABLED=true);
the blobs are freed by the registry's garbage collection.`,
		Example: `  transport delete docker://registry.example/app:1`,
		Args:    cli.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDelete(cmd, g, o, args[0])
		},
	}
	o.image = addImageFlags(cmd.Flags(), "")
	o.retry = addRetryFlags(cmd.Flags())
	return cmd
}

func runDelete(cmd *cobra.Command, g *globalOptions, o *deleteOptions, name string) error {
	ctx, cancel := g.commandContext(cmd)
	defer cancel()
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
	err = retry.Do(ctx, retry.Options{Times: o.retry.times, Delay: delay, What: "deleting " + name}, func() error {
		return ref.DeleteImage(ctx, sys)
	})
	// docker-registry answers 405 UNSUPPORTED when deletion is disabled.
	var ec errcode.ErrorCoder
	if errors.As(err, &ec) && ec.ErrorCode() == errcode.ErrorCodeUnsupported {
		return fmt.Errorf("deleting %s: the registry does not allow deleting images (%v)%.0w", name, ec, err)
	}
	if err != nil {
		return fmt.Errorf("deleting %s: %w", name, err)
	}
	return nil
}
