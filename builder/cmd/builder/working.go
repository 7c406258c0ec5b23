package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ocisuite/suite/builder/container"
	"github.com/ocisuite/suite/shared/cli"
)

// workingCommands are buildah's working-container commands: from, run,
// copy, add, config, commit, mount, umount, rm, containers, images,
// inspect, push, tag, rmi, login, logout, unshare.
func workingCommands(g *globalOptions) []*cobra.Command {
	return []*cobra.Command{
		newFromCmd(g),
		newRunCmd(g),
		newCopyCmd(g, false),
		newCopyCmd(g, true),
		newConfigCmd(g),
		newCommitCmd(g),
		newMountCmd(g),
		newUmountCmd(g),
		newRmCmd(g),
		newContainersCmd(g),
		newImagesCmd(g),
		newInspectCmd(g),
		newPushCmd(g),
		newTagCmd(g),
		newRmiCmd(g),
		cli.LoginCmd("builder", &g.registriesConf),
		cli.LogoutCmd("builder", &g.registriesConf),
		newUnshareCmd(g),
	}
}

type fromOptions struct {
	reg      *cli.RegistryFlags
	from     container.FromOptions
	platform string
	quiet    bool
	cidFile  string
}

func newFromCmd(g *globalOptions) *cobra.Command {
	o := &fromOptions{}
	cmd := &cobra.Command{
		Use:   "from [flags] IMAGE",
		Short: "Create a working container from an image",
		Long: `Create a working container from IMAGE (pulled as --pull says), or from
nothing with "scratch", and print its name. The container's root filesystem
and image configuration are then changed with run, copy, add and config, and
written to an image with commit.`,
		Example: `  builder from busybox
  builder from --name app --pull always registry.example/base:1
  builder from scratch`,
		Args: cli.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runFrom(cmd, g, o, args[0]) },
	}
	f := cmd.Flags()
	o.reg = cli.AddRegistryFlags(f, true)
	f.StringVar(&o.from.Name, "name", "", "`name` of the working container (default: IMAGE-working-container)")
	f.StringVar(&o.from.Pull, "pull", "missing", "pull `policy`, given as --pull=POLICY: always, missing, never, newer (true: missing, false: never)")
	f.Lookup("pull").NoOptDefVal = "true"
	f.StringVarP(&o.from.Format, "format", "f", "oci", "default image `format` of commit: oci or docker")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "do not print pull progress")
	f.StringVar(&o.cidFile, "cidfile", "", "write the container ID to `file`")
	f.StringVar(&o.from.Arch, "arch", "", "pull the image for `architecture` instead of the host's")
	f.StringVar(&o.from.OS, "os", "", "pull the image for `OS` instead of the host's")
	f.StringVar(&o.from.Variant, "variant", "", "pull the image for architecture `variant`")
	f.StringVar(&o.platform, "platform", "", "pull the image for `OS/ARCH[/VARIANT]`")
	return cmd
}

// pullPolicy maps buildah's --pull values to the store's policies.
func pullPolicy(p string) (string, error) {
	switch p {
	case "true", "missing", "ifmissing":
		return "missing", nil
	case "false", "never":
		return "never", nil
	case "always", "newer":
		return p, nil
	case "ifnewer":
		return "newer", nil
	}
	return "", fmt.Errorf("invalid --pull %q: want always, missing, never, newer, true or false", p)
}

func runFrom(cmd *cobra.Command, g *globalOptions, o *fromOptions, image string) error {
	fo := o.from
	var err error
	if fo.Pull, err = pullPolicy(fo.Pull); err != nil {
		return cli.Usage(err)
	}
	if fo.Format != "oci" && fo.Format != "docker" {
		return cli.Usage(fmt.Errorf("invalid --format %q: want oci or docker", fo.Format))
	}
	if o.platform != "" {
		if fo.OS, fo.Arch, fo.Variant, err = parsePlatform(o.platform); err != nil {
			return cli.Usage(err)
		}
	}
	return withSession(cmd, g, func(ctx context.Context, s *session) error {
		s.manager.Sys = o.reg.Options(g.registriesConf)
		if !o.quiet {
			s.manager.Progress = cmd.ErrOrStderr()
		}
		c, err := s.manager.From(ctx, image, fo)
		if errors.Is(err, container.ErrNameInUse) {
			return fmt.Errorf("the container name %q is already in use: choose another --name or remove that container", fo.Name)
		}
		if err != nil {
			return err
		}
		if o.cidFile != "" {
			if err := os.WriteFile(o.cidFile, []byte(c.ID), 0o644); err != nil {
				_ = c.Remove()
				return fmt.Errorf("writing the container ID file: %w", err)
			}
		}
		_, err = fmt.Fprintln(cmd.OutOrStdout(), c.Name)
		return err
	})
}

// parsePlatform splits OS/ARCH[/VARIANT].
func parsePlatform(p string) (osName, arch, variant string, err error) {
	parts := strings.Split(p, "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return "", "", "", fmt.Errorf("invalid --platform %q: want OS/ARCH[/VARIANT]", p)
	}
	if len(parts) == 3 {
		variant = parts[2]
	}
	return parts[0], parts[1], variant, nil
}

// lookup finds a working container by name or ID.
func (s *session) lookup(name string) (*container.Container, error) {
	return s.manager.Lookup(name)
}

// now is the time of history entries.
func now() time.Time { return time.Now().UTC() }
