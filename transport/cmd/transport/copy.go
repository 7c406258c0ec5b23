package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/containers/image/v5/copy"
	"github.com/containers/image/v5/docker/reference"
	"github.com/containers/image/v5/manifest"
	"github.com/containers/image/v5/pkg/compression"
	"github.com/containers/image/v5/types"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"

	"github.com/ocisuite/suite/config"
	"github.com/ocisuite/suite/shared/cli"
	"github.com/ocisuite/suite/shared/image"
	"github.com/ocisuite/suite/shared/sign"
	"github.com/ocisuite/suite/transport/imagesync"
)

type copyOptions struct {
	src, dest        *imageFlags
	retry            *retryFlags
	authFile         string
	all              bool
	multiArch        string
	format           string
	preserveDigests  bool
	removeSignatures bool
	digestFile       string
	quiet            bool
	additionalTags   []string
	compress         bool
	compressFormat   string
	compressLevel    int
	forceCompress    bool
	decompress       bool
	ociUncompressed  bool
	precompute       bool
	srcDaemonHost    string
	destDaemonHost   string
	parallelCopies   uint
	sign             sign.Options
}

func newCopyCmd(g *globalOptions) *cobra.Command {
	o := &copyOptions{}
	cmd := &cobra.Command{
		Use:   "copy [flags] SOURCE-IMAGE DESTINATION-IMAGE",
		Short: "Copy an image from one location to another",
		Long: `Copy an image (manifest, layers and signatures) from SOURCE-IMAGE to
DESTINATION-IMAGE. Both are TRANSPORT:DETAILS references: docker://, oci:,
oci-archive:, docker-archive:, dir:, containers-storage:.

Registry to registry, blobs stream through this process and are never written
to local disk; blobs the destination already has are not sent again.`,
		Example: `  transport copy docker://registry.example/app:1 docker://mirror.example/app:1
  transport copy --all oci:./layout:latest docker://127.0.0.1:5000/app:latest`,
		Args: cli.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCopy(cmd, g, o, args[0], args[1])
		},
	}
	f := cmd.Flags()
	o.src = addImageFlags(f, "src-")
	o.dest = addImageFlags(f, "dest-")
	o.retry = addRetryFlags(f)
	f.StringVar(&o.authFile, "authfile", "", "path of the authentication `file` for both source and destination")
	f.BoolVarP(&o.all, "all", "a", false, "copy all images if SOURCE-IMAGE is a list (same as --multi-arch=all)")
	f.StringVar(&o.multiArch, "multi-arch", "system", "how to handle multi-architecture images: `system`, all, or index-only")
	f.StringVarP(&o.format, "format", "f", "", "`MANIFEST TYPE` (oci, v2s2) to use in the destination (default: keep the source's)")
	f.BoolVar(&o.preserveDigests, "preserve-digests", false, "preserve digests of images and lists (fail rather than change them)")
	f.BoolVar(&o.removeSignatures, "remove-signatures", false, "do not copy signatures from SOURCE-IMAGE")
	f.StringVar(&o.digestFile, "digestfile", "", "write the digest of the pushed image to the specified `file`")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "suppress output information when copying images")
	f.StringSliceVar(&o.additionalTags, "additional-tag", nil, "additional `tags` (supports docker-archive)")
	f.BoolVar(&o.compress, "dest-compress", false, "compress tarball image layers when saving to directory using the 'dir' transport")
	f.StringVar(&o.compressFormat, "dest-compress-format", "", "`FORMAT` to use for compression (gzip, zstd, zstd:chunked)")
	f.IntVar(&o.compressLevel, "dest-compress-level", 0, "`LEVEL` to use for compression (gzip 1-9, zstd 1-20)")
	f.BoolVar(&o.forceCompress, "force-compress-format", false, "use the --dest-compress-format even for layers the destination already has in another format")
	f.BoolVar(&o.decompress, "dest-decompress", false, "decompress tarball image layers when saving to directory using the 'dir' transport")
	f.BoolVar(&o.ociUncompressed, "dest-oci-accept-uncompressed-layers", false, "allow uncompressed image layers when saving to an OCI image using the 'oci' transport")
	f.BoolVar(&o.precompute, "dest-precompute-digests", false, "precompute digests so that layers the destination registry has are not uploaded (layers compressed on the fly are then staged in --tmpdir)")
	f.StringVar(&o.srcDaemonHost, "src-daemon-host", "", "use docker daemon `host` for a docker-daemon: source (default unix:///var/run/docker.sock)")
	f.StringVar(&o.destDaemonHost, "dest-daemon-host", "", "use docker daemon `host` for a docker-daemon: destination (default unix:///var/run/docker.sock)")
	f.UintVar(&o.parallelCopies, "image-parallel-copies", 0, "maximum number of image layers to be copied (pulled/pushed) simultaneously (default 6)")
	f.StringVar(&o.sign.SignBy, "sign-by", "", "sign the image using a GPG key with the specified `FINGERPRINT`")
	f.StringVar(&o.sign.SigstorePrivateKey, "sign-by-sigstore-private-key", "", "sign the image using a sigstore private key at `PATH`")
	f.StringVar(&o.sign.PassphraseFile, "sign-passphrase-file", "", "read a passphrase for signing an image from `PATH`")
	f.StringVar(&o.sign.Identity, "sign-identity", "", "identity of the signed image, must be a fully specified docker reference")
	return cmd
}

func runCopy(cmd *cobra.Command, g *globalOptions, o *copyOptions, srcName, destName string) error {
	ctx, cancel := g.commandContext(cmd)
	defer cancel()

	src, err := image.ParseReference(srcName)
	if err != nil {
		return cli.Usage(err)
	}
	dest, err := image.ParseReference(destName)
	if err != nil {
		return cli.Usage(err)
	}
	opts, err := o.copyOptions(cmd, g)
	if err != nil {
		return err
	}
	warnings, err := config.CheckRegistries(opts.SourceCtx)
	if err != nil {
		return err
	}
	for _, w := range warnings {
		logrus.Warn(w.String())
	}
	if o.sign.Enabled() || o.sign.Identity != "" {
		if opts.SignIdentity, err = sign.Identity(o.sign); err != nil {
			return cli.Usage(err)
		}
		signers, closeSigners, err := sign.Signers(ctx, o.sign)
		if err != nil {
			return err
		}
		defer closeSigners()
		opts.Signers = signers
		opts.SimpleSigners = o.sign.SigstorePrivateKey == ""
	}
	if !o.quiet && cli.IsTerminal(os.Stdout) {
		opts.Progress = os.Stdout
	}

	opts.SkipExisting = true
	opts.Direct = imagesync.CopyDirect
	res, err := image.Copy(ctx, src, dest, opts)
	if err != nil {
		return err
	}
	if o.digestFile != "" {
		if err := os.WriteFile(o.digestFile, []byte(res.Digest.String()), 0o644); err != nil {
			return fmt.Errorf("writing digest file: %w", err)
		}
	}
	return nil
}

// copyOptions turns the flags into image.CopyOptions (without signers).
func (o *copyOptions) copyOptions(cmd *cobra.Command, g *globalOptions) (image.CopyOptions, error) {
	var opts image.CopyOptions
	srcCtx, destCtx, err := o.systemContexts(g)
	if err != nil {
		return opts, err
	}
	opts = image.CopyOptions{
		SourceCtx:              srcCtx,
		DestCtx:                destCtx,
		PolicyPath:             g.policyPath,
		InsecurePolicy:         g.insecurePolicy,
		PreserveDigests:        o.preserveDigests,
		RemoveSignatures:       o.removeSignatures,
		ForceCompressionFormat: o.forceCompress,
		ImageParallelCopies:    o.parallelCopies,
		RetryTimes:             o.retry.times,
	}
	if opts.RetryDelay, err = o.retry.parseDelay(); err != nil {
		return opts, err
	}
	if opts.ImageListSelection, err = listSelection(o.all, o.multiArch, cmd.Flags().Changed("multi-arch")); err != nil {
		return opts, err
	}
	if opts.ForceManifestMIMEType, err = manifestType(o.format); err != nil {
		return opts, err
	}
	if o.compressFormat != "" {
		alg, err := compression.AlgorithmByName(o.compressFormat)
		if err != nil {
			return opts, cli.Usage(fmt.Errorf("invalid --dest-compress-format %q: %w", o.compressFormat, err))
		}
		opts.DestCompression = &alg
	}
	if o.forceCompress && opts.DestCompression == nil {
		return opts, cli.Usage(fmt.Errorf("--force-compress-format needs --dest-compress-format"))
	}
	if cmd.Flags().Changed("dest-compress-level") {
		lvl := o.compressLevel
		opts.DestCompressionLevel = &lvl
	}
	return opts, nil
}

// systemContexts builds the source and destination SystemContexts.
func (o *copyOptions) systemContexts(g *globalOptions) (*types.SystemContext, *types.SystemContext, error) {
	srcOpts, destOpts := o.src.options(g), o.dest.options(g)
	// --authfile serves both sides unless a side has its own.
	if srcOpts.AuthFile == "" {
		srcOpts.AuthFile = o.authFile
	}
	if destOpts.AuthFile == "" {
		destOpts.AuthFile = o.authFile
	}
	for _, t := range o.additionalTags {
		named, err := reference.ParseNormalizedNamed(t)
		if err != nil {
			return nil, nil, cli.Usage(fmt.Errorf("invalid --additional-tag %q: %w", t, err))
		}
		tagged, ok := named.(reference.NamedTagged)
		if !ok {
			return nil, nil, cli.Usage(fmt.Errorf("invalid --additional-tag %q: it has no tag", t))
		}
		destOpts.DockerArchiveAdditionalTags = append(destOpts.DockerArchiveAdditionalTags, tagged)
	}
	srcCtx, err := srcOpts.SystemContext()
	if err != nil {
		return nil, nil, cli.Usage(fmt.Errorf("source: %w", err))
	}
	destCtx, err := destOpts.SystemContext()
	if err != nil {
		return nil, nil, cli.Usage(fmt.Errorf("destination: %w", err))
	}
	if o.compress && o.decompress {
		return nil, nil, cli.Usage(fmt.Errorf("--dest-compress and --dest-decompress conflict"))
	}
	if o.srcDaemonHost != "" {
		srcCtx.DockerDaemonHost, srcCtx.DockerDaemonCertPath = o.srcDaemonHost, o.src.certDir
	}
	if o.destDaemonHost != "" {
		destCtx.DockerDaemonHost, destCtx.DockerDaemonCertPath = o.destDaemonHost, o.dest.certDir
	}
	destCtx.DirForceCompress = o.compress
	destCtx.DirForceDecompress = o.decompress
	destCtx.OCIAcceptUncompressedLayers = o.ociUncompressed
	destCtx.DockerRegistryPushPrecomputeDigests = o.precompute
	return srcCtx, destCtx, nil
}

// listSelection maps --all and --multi-arch to containers/image's choice.
func listSelection(all bool, multiArch string, multiArchSet bool) (copy.ImageListSelection, error) {
	if all {
		if multiArchSet && multiArch != "all" {
			return 0, cli.Usage(fmt.Errorf("--all conflicts with --multi-arch=%s", multiArch))
		}
		return copy.CopyAllImages, nil
	}
	switch multiArch {
	case "system", "":
		return copy.CopySystemImage, nil
	case "all":
		return copy.CopyAllImages, nil
	case "index-only":
		return copy.CopySpecificImages, nil
	}
	return 0, cli.Usage(fmt.Errorf("invalid --multi-arch %q: want system, all or index-only", multiArch))
}

// manifestType maps --format to a manifest MIME type.
func manifestType(format string) (string, error) {
	switch strings.ToLower(format) {
	case "":
		return "", nil
	case "oci":
		return imgspecv1.MediaTypeImageManifest, nil
	case "v2s2":
		return manifest.DockerV2Schema2MediaType, nil
	case "v2s1":
		return manifest.DockerV2Schema1SignedMediaType, nil
	}
	return "", cli.Usage(fmt.Errorf("invalid --format %q: want oci, v2s2 or v2s1", format))
}

// parseDelay parses --retry-delay (0: jittered exponential backoff).
func (r *retryFlags) parseDelay() (time.Duration, error) {
	if r.delay == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(r.delay)
	if err != nil || d < 0 {
		return 0, cli.Usage(fmt.Errorf("invalid --retry-delay %q: want a duration such as 2s", r.delay))
	}
	return d, nil
}
