//go:build !thin

package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/containers/storage"
	"github.com/spf13/cobra"

	"github.com/ocisuite/suite/shared/cli"
	"github.com/ocisuite/suite/shared/imagestore"
)

// Exit codes of rmi, as podman documents them.
const (
	rmiNotFound = 1
	rmiInUse    = 2
)

func newRmiCmd(g *globalOptions) *cobra.Command {
	o := imagestore.RemoveOptions{}
	cmd := &cobra.Command{
		Use:   "rmi [flags] IMAGE [IMAGE...]",
		Short: "Remove images from local storage",
		Long: `Remove images. By name, an image with other names only loses that name;
otherwise the image is deleted. An image used by a container is refused
unless --force, which removes those containers too.

Exit codes: 0 all removed, 1 an image was not found, 2 an image is in use,
125 any other error.`,
		Example: `  engine rmi busybox
  engine rmi --force 1234abcd5678
  engine rmi --all`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.All == (len(args) > 0) {
				return cli.Usage(fmt.Errorf("give IMAGE arguments or --all"))
			}
			return withImageStore(g, func(s storage.Store) error {
				rep, errs := imagestore.Remove(s, args, o)
				out := cmd.OutOrStdout()
				for _, n := range rep.Untagged {
					fmt.Fprintf(out, "Untagged: %s\n", n)
				}
				for _, id := range rep.Deleted {
					fmt.Fprintf(out, "Deleted: %s\n", id)
				}
				return rmiError(errs)
			})
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.Force, "force", "f", false, "remove the containers using the image too, and an image by ID with several names")
	f.BoolVarP(&o.All, "all", "a", false, "remove all images")
	f.BoolVarP(&o.Ignore, "ignore", "i", false, "ignore images that do not exist")
	return cmd
}

// rmiError joins the errors and picks podman's exit code: 2 when an image
// is in use, 1 when one was not found, 125 otherwise.
func rmiError(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	msgs := make([]string, len(errs))
	code := 0
	for i, err := range errs {
		msgs[i] = err.Error()
		switch {
		case errors.Is(err, imagestore.ErrInUse):
			code = rmiInUse
		case imagestore.IsNotFound(err) && code == 0:
			code = rmiNotFound
		case !imagestore.IsNotFound(err) && code != rmiInUse:
			code = 125
		}
	}
	return cli.WithExitCode(code, errors.New(strings.Join(msgs, "; ")))
}
