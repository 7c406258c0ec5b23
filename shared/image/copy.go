package image

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/containers/image/v5/copy"
	"github.com/containers/image/v5/docker"
	"github.com/containers/image/v5/docker/reference"
	"github.com/containers/image/v5/manifest"
	"github.com/containers/image/v5/pkg/compression"
	"github.com/containers/image/v5/pkg/sysregistriesv2"
	"github.com/containers/image/v5/signature"
	"github.com/containers/image/v5/signature/signer"
	"github.com/containers/image/v5/types"
	digest "github.com/opencontainers/go-digest"
	"github.com/sirupsen/logrus"

	"github.com/ocisuite/suite/shared/retry"
)

// CopyOptions control Copy.
type CopyOptions struct {
	SourceCtx, DestCtx *types.SystemContext
	// PolicyPath is the trust policy file; "" uses the default lookup
	// (~/.config/containers/policy.json, then /etc/containers/policy.json).
	PolicyPath string
	// InsecurePolicy accepts any image without a policy check.
	InsecurePolicy bool
	// ImageListSelection: copy.CopySystemImage (default), CopyAllImages,
	// CopySpecificImages (with Instances).
	ImageListSelection copy.ImageListSelection
	Instances          []digest.Digest
	// ForceManifestMIMEType converts the manifest (e.g. to OCI or Docker v2s2).
	ForceManifestMIMEType string
	PreserveDigests       bool
	RemoveSignatures      bool
	Signers               []*signer.Signer
	// SignIdentity is the identity written into signatures (default: the
	// destination reference).
	SignIdentity reference.Named
	// DestCompression, DestCompressionLevel and DestDecompress control layer
	// compression at the destination.
	DestCompression      *compression.Algorithm
	DestCompressionLevel *int
	DestDecompress       bool
	// ForceCompressionFormat recompresses layers the destination already
	// has in another format instead of reusing them.
	ForceCompressionFormat bool
	// ImageParallelCopies bounds concurrent blob copies (0: library default).
	ImageParallelCopies uint
	// RetryTimes and RetryDelay: see retry.Options.
	RetryTimes int
	RetryDelay time.Duration
	// Progress receives progress bars; nil is quiet.
	Progress io.Writer
}

// CopyResult describes the written image.
type CopyResult struct {
	// Manifest is the manifest (or index) written to the destination.
	Manifest []byte
	// Digest is its digest.
	Digest digest.Digest
}

// PolicyContext loads the trust policy.
func PolicyContext(path string, insecure bool, sys *types.SystemContext) (*signature.PolicyContext, error) {
	var policy *signature.Policy
	var err error
	switch {
	case insecure:
		policy = &signature.Policy{Default: signature.PolicyRequirements{signature.NewPRInsecureAcceptAnything()}}
	case path != "":
		policy, err = signature.NewPolicyFromFile(path)
	default:
		policy, err = signature.DefaultPolicy(sys)
	}
	if err != nil {
		return nil, fmt.Errorf("loading trust policy: %w", err)
	}
	return signature.NewPolicyContext(policy)
}

// Copy copies src to dst: blobs stream from source to destination (nothing
// of the image is written to local disk for registry-to-registry copies),
// blobs already at the destination are not sent again, transient failures
// are retried with the shared rule, and a mirror that fails after its
// manifest was read is replaced by the next endpoint in registries.conf.
func Copy(ctx context.Context, src, dst types.ImageReference, opts CopyOptions) (CopyResult, error) {
	pc, err := PolicyContext(opts.PolicyPath, opts.InsecurePolicy, opts.SourceCtx)
	if err != nil {
		return CopyResult{}, err
	}
	defer func() { _ = pc.Destroy() }()

	if opts.PreserveDigests && opts.ForceManifestMIMEType != "" {
		if err := checkNoConversion(ctx, src, opts); err != nil {
			return CopyResult{}, err
		}
	}
	res, err := copyWithRetry(ctx, pc, src, dst, opts, opts.SourceCtx)
	if err == nil || ctx.Err() != nil || errors.As(err, new(signature.PolicyRequirementError)) {
		return res, err
	}
	// A blob or other error after the manifest was read: try the remaining
	// endpoints directly.
	fallbacks, ferr := endpointFallbacks(src, opts.SourceCtx)
	if ferr != nil || len(fallbacks) == 0 {
		return res, err
	}
	defer func() {
		for _, f := range fallbacks {
			f.cleanup()
		}
	}()
	firstErr := err
	for _, f := range fallbacks {
		logrus.Infof("copy from %s failed (%v); falling back to %s", transportsString(src), oneLine(err), f.desc)
		res, err = copyWithRetry(ctx, pc, f.ref, dst, opts, f.sys)
		if err == nil {
			return res, nil
		}
		if ctx.Err() != nil {
			break
		}
	}
	return CopyResult{}, firstErr
}

func copyWithRetry(ctx context.Context, pc *signature.PolicyContext, src, dst types.ImageReference, opts CopyOptions, srcSys *types.SystemContext) (CopyResult, error) {
	co := &copy.Options{
		SourceCtx:                             srcSys,
		DestinationCtx:                        dst0(opts.DestCtx, opts),
		ReportWriter:                          opts.Progress,
		ImageListSelection:                    opts.ImageListSelection,
		Instances:                             opts.Instances,
		ForceManifestMIMEType:                 opts.ForceManifestMIMEType,
		PreserveDigests:                       opts.PreserveDigests,
		RemoveSignatures:                      opts.RemoveSignatures,
		Signers:                               opts.Signers,
		SignIdentity:                          opts.SignIdentity,
		MaxParallelDownloads:                  opts.ImageParallelCopies,
		OptimizeDestinationImageAlreadyExists: true,
		ForceCompressionFormat:                opts.ForceCompressionFormat,
	}
	var manifestBytes []byte
	what := fmt.Sprintf("copying %s to %s", transportsString(src), transportsString(dst))
	err := retry.Do(ctx, retry.Options{Times: opts.RetryTimes, Delay: opts.RetryDelay, What: what}, func() error {
		var err error
		manifestBytes, err = copy.Image(ctx, pc, dst, src, co)
		return err
	})
	if err != nil {
		return CopyResult{}, fmt.Errorf("%s: %w", what, err)
	}
	d, err := manifest.Digest(manifestBytes)
	if err != nil {
		return CopyResult{}, fmt.Errorf("computing the digest of the written manifest: %w", err)
	}
	return CopyResult{Manifest: manifestBytes, Digest: d}, nil
}

// dst0 applies the compression options to a copy of the destination context.
func dst0(sys *types.SystemContext, opts CopyOptions) *types.SystemContext {
	if opts.DestCompression == nil && opts.DestCompressionLevel == nil && !opts.DestDecompress {
		return sys
	}
	c := types.SystemContext{}
	if sys != nil {
		c = *sys
	}
	if opts.DestCompression != nil {
		c.CompressionFormat = opts.DestCompression
	}
	c.CompressionLevel = opts.DestCompressionLevel
	if opts.DestDecompress {
		c.DirForceDecompress = true
		c.OCIAcceptUncompressedLayers = true
	}
	return &c
}

func transportsString(ref types.ImageReference) string {
	name := ref.Transport().Name()
	if name == "docker" {
		return "docker:" + ref.StringWithinTransport()
	}
	return name + ":" + ref.StringWithinTransport()
}

func oneLine(err error) string {
	return string(bytes.ReplaceAll([]byte(err.Error()), []byte("\n"), []byte("; ")))
}

type fallback struct {
	desc    string
	ref     types.ImageReference
	sys     *types.SystemContext
	cleanup func()
}

// endpointFallbacks lists, for a docker:// source whose registry has
// mirrors, every endpoint in registries.conf order, each addressed directly:
// a mirror by its own location (with its insecure flag), the registry
// itself with a registries.conf that has no mirrors for it.
func endpointFallbacks(src types.ImageReference, sys *types.SystemContext) ([]fallback, error) {
	if src.Transport().Name() != "docker" || src.DockerReference() == nil {
		return nil, nil
	}
	named := src.DockerReference()
	reg, err := sysregistriesv2.FindRegistry(sys, named.String())
	if err != nil || reg == nil || len(reg.Mirrors) == 0 {
		return nil, err
	}
	sources, err := reg.PullSourcesFromReference(named)
	if err != nil || len(sources) < 2 {
		return nil, err
	}
	var out []fallback
	for _, ps := range sources {
		isPrimary := ps.Endpoint.Location == reg.Location
		s := types.SystemContext{}
		if sys != nil {
			s = *sys
		}
		f := fallback{cleanup: func() {}}
		if isPrimary {
			conf, cleanup, err := primaryOnlyConf(reg)
			if err != nil {
				return nil, err
			}
			s.SystemRegistriesConfPath = conf
			s.SystemRegistriesConfDirPath = filepath.Join(filepath.Dir(conf), "none.d")
			f.cleanup = cleanup
			f.desc = "the registry " + ps.Endpoint.Location + " itself"
		} else {
			f.desc = "mirror " + ps.Endpoint.Location
			if ps.Endpoint.Insecure {
				s.DockerInsecureSkipTLSVerify = types.OptionalBoolTrue
			}
		}
		ref, err := docker.NewReference(ps.Reference)
		if err != nil {
			f.cleanup()
			return nil, err
		}
		f.ref, f.sys = ref, &s
		out = append(out, f)
	}
	return out, nil
}

// primaryOnlyConf writes a registries.conf describing reg without its
// mirrors, so that the docker transport reads from the registry itself.
func primaryOnlyConf(reg *sysregistriesv2.Registry) (string, func(), error) {
	dir, err := os.MkdirTemp("", "ocisuite-registries-")
	if err != nil {
		return "", nil, err
	}
	cleanup := func() { os.RemoveAll(dir) }
	conf := struct {
		Registry []sysregistriesv2.Registry `toml:"registry"`
	}{Registry: []sysregistriesv2.Registry{{Prefix: reg.Prefix, Endpoint: sysregistriesv2.Endpoint{Location: reg.Location, Insecure: reg.Insecure}}}}
	var buf bytes.Buffer
	if err := toml.NewEncoder(&buf).Encode(conf); err != nil {
		cleanup()
		return "", nil, err
	}
	p := filepath.Join(dir, "registries.conf")
	if err := os.WriteFile(p, buf.Bytes(), 0o600); err != nil {
		cleanup()
		return "", nil, err
	}
	return p, cleanup, nil
}

// checkNoConversion refuses a format change that --preserve-digests forbids,
// instead of keeping the source format silently as containers/image would.
func checkNoConversion(ctx context.Context, ref types.ImageReference, opts CopyOptions) error {
	src, err := ref.NewImageSource(ctx, opts.SourceCtx)
	if err != nil {
		return fmt.Errorf("reading %s: %w", transportsString(ref), err)
	}
	defer src.Close()
	_, mimeType, err := src.GetManifest(ctx, nil)
	if err != nil {
		return fmt.Errorf("reading the manifest of %s: %w", transportsString(ref), err)
	}
	if manifest.NormalizedMIMEType(mimeType) != opts.ForceManifestMIMEType && !manifest.MIMETypeIsMultiImage(manifest.NormalizedMIMEType(mimeType)) {
		return fmt.Errorf("cannot convert %s from %s to %s while preserving digests: a conversion changes the digest", transportsString(ref), mimeType, opts.ForceManifestMIMEType)
	}
	return nil
}
