package main

import (
	"fmt"
	"os"

	"github.com/containers/image/v5/copy"
	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"

	"github.com/ocisuite/suite/shared/cli"
	"github.com/ocisuite/suite/shared/sign"
	"github.com/ocisuite/suite/transport/imagesync"
)

type syncOptions struct {
	src, dest        *imageFlags
	retry            *retryFlags
	authFile         string
	srcKind          string
	destKind         string
	scoped           bool
	all              bool
	dryRun           bool
	keepGoing        bool
	preserveDigests  bool
	removeSignatures bool
	format           string
	jobs             int
	digestFile       string
	summaryFormat    string
	sign             sign.Options
}

func newSyncCmd(g *globalOptions) *cobra.Command {
	o := &syncOptions{}
	cmd := &cobra.Command{
		Use:   "sync [flags] --src TRANSPORT --dest TRANSPORT SOURCE DESTINATION",
		Short: "Synchronize images between registries and directories",
		Long: `Copy every image of SOURCE to DESTINATION. SOURCE is a repository
(--src docker: all its tags, or one tag), a directory of dir: images
(--src dir), or a YAML file listing registries and images (--src yaml).
DESTINATION is a registry path (--dest docker) or a directory (--dest dir).

Several images are copied at once (--jobs); a blob shared by several images
is sent once per destination repository; images whose digest already
matches at the destination are skipped after a HEAD request. A summary is
printed at the end, and the exit code is 1 if any image failed.`,
		Example: `  transport sync --src docker --dest docker registry.example/app mirror.example/library
  transport sync --src yaml --dest docker --jobs 8 images.yaml mirror.example/library
  transport sync --src docker --dest dir registry.example/app /srv/images`,
		Args: cli.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runSync(cmd, g, o, args[0], args[1])
		},
	}
	f := cmd.Flags()
	o.src = addImageFlags(f, "src-")
	o.dest = addImageFlags(f, "dest-")
	o.retry = addRetryFlags(f)
	f.StringVar(&o.authFile, "authfile", "", "path of the authentication `file` for both source and destination")
	f.StringVarP(&o.srcKind, "src", "s", "", "source transport: docker, dir or yaml")
	f.StringVarP(&o.destKind, "dest", "d", "", "destination transport: docker or dir")
	f.BoolVar(&o.scoped, "scoped", false, "prefix images with the source image path, so that images with the same name can be stored at the destination")
	f.BoolVarP(&o.all, "all", "a", false, "copy every image of a multi-arch list, and the list itself")
	f.BoolVar(&o.dryRun, "dry-run", false, "list what would be copied without copying")
	f.BoolVar(&o.keepGoing, "keep-going", false, "do not stop at the first failed image")
	f.BoolVar(&o.preserveDigests, "preserve-digests", false, "preserve digests during copying; fail if they cannot be preserved")
	f.BoolVar(&o.removeSignatures, "remove-signatures", false, "do not copy signatures from the source images")
	f.StringVarP(&o.format, "format", "f", "", "`MANIFEST TYPE` (oci, v2s2) to use at the destination")
	f.IntVarP(&o.jobs, "jobs", "j", imagesync.DefaultJobs, "how many images to copy at once")
	f.StringVar(&o.digestFile, "digestfile", "", "write `file` with one line per copied image: DIGEST DESTINATION")
	f.StringVar(&o.summaryFormat, "summary-format", "text", "print the final summary as `text` or json")
	f.StringVar(&o.sign.SignBy, "sign-by", "", "sign the images using a GPG key with the specified `FINGERPRINT`")
	f.StringVar(&o.sign.SigstorePrivateKey, "sign-by-sigstore-private-key", "", "sign the images using a sigstore private key at `PATH`")
	f.StringVar(&o.sign.PassphraseFile, "sign-passphrase-file", "", "read a passphrase for signing from `PATH`")
	return cmd
}

func runSync(cmd *cobra.Command, g *globalOptions, o *syncOptions, source, destination string) error {
	ctx, cancel := g.commandContext(cmd)
	defer cancel()
	opts, err := o.syncOptions(g, source, destination)
	if err != nil {
		return err
	}
	if o.sign.Enabled() {
		signers, closeSigners, err := sign.Signers(ctx, o.sign)
		if err != nil {
			return err
		}
		defer closeSigners()
		opts.Copy.Signers = signers
		opts.Copy.SimpleSigners = o.sign.SigstorePrivateKey == ""
	}
	if cli.IsTerminal(os.Stdout) || logrus.IsLevelEnabled(logrus.InfoLevel) || o.dryRun {
		opts.Log = cmd.OutOrStdout()
	}

	summary, err := imagesync.Sync(ctx, opts)
	if err != nil {
		return err
	}
	write := imagesync.WriteSummary
	if o.summaryFormat == "json" {
		write = imagesync.WriteSummaryJSON
	}
	if err := write(cmd.OutOrStdout(), summary); err != nil {
		return err
	}
	if n := summary.Count(imagesync.Failed); n > 0 {
		return fmt.Errorf("%d of %d images failed to sync", n, len(summary.Results))
	}
	if ctx.Err() != nil {
		return fmt.Errorf("sync interrupted: %w", ctx.Err())
	}
	return nil
}

// syncOptions turns the flags into imagesync.Options (without signers).
func (o *syncOptions) syncOptions(g *globalOptions, source, destination string) (imagesync.Options, error) {
	var opts imagesync.Options
	if o.srcKind == "" || o.destKind == "" {
		return opts, cli.Usage(fmt.Errorf("--src and --dest are required"))
	}
	if o.jobs < 1 {
		return opts, cli.Usage(fmt.Errorf("invalid --jobs %d: want at least 1", o.jobs))
	}
	if o.summaryFormat != "text" && o.summaryFormat != "json" {
		return opts, cli.Usage(fmt.Errorf("invalid --summary-format %q: want text or json", o.summaryFormat))
	}
	srcOpts, destOpts := o.src.options(g), o.dest.options(g)
	// --authfile serves both sides unless a side has its own.
	if srcOpts.AuthFile == "" {
		srcOpts.AuthFile = o.authFile
	}
	if destOpts.AuthFile == "" {
		destOpts.AuthFile = o.authFile
	}
	srcCtx, err := srcOpts.SystemContext()
	if err != nil {
		return opts, cli.Usage(fmt.Errorf("source: %w", err))
	}
	destCtx, err := destOpts.SystemContext()
	if err != nil {
		return opts, cli.Usage(fmt.Errorf("destination: %w", err))
	}
	opts = imagesync.Options{
		SourceKind:  o.srcKind,
		DestKind:    o.destKind,
		Source:      source,
		Destination: destination,
		SourceCtx:   srcCtx,
		DestCtx:     destCtx,
		Scoped:      o.scoped,
		DryRun:      o.dryRun,
		KeepGoing:   o.keepGoing,
		Jobs:        o.jobs,
		DigestFile:  o.digestFile,
	}
	c := &opts.Copy
	c.PolicyPath, c.InsecurePolicy = g.policyPath, g.insecurePolicy
	c.PreserveDigests, c.RemoveSignatures = o.preserveDigests, o.removeSignatures
	c.RetryTimes = o.retry.times
	if c.RetryDelay, err = o.retry.parseDelay(); err != nil {
		return opts, err
	}
	if o.all {
		c.ImageListSelection = copy.CopyAllImages
	}
	if c.ForceManifestMIMEType, err = manifestType(o.format); err != nil {
		return opts, err
	}
	return opts, nil
}
