package image

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/containers/image/v5/copy"
	"github.com/containers/image/v5/docker/reference"
	"github.com/containers/image/v5/manifest"
	"github.com/containers/image/v5/pkg/compression"
	"github.com/containers/image/v5/signature"
	"github.com/containers/image/v5/signature/signer"
	"github.com/containers/image/v5/transports"
	"github.com/containers/image/v5/types"
	digest "github.com/opencontainers/go-digest"
	"github.com/sirupsen/logrus"

	"github.com/ocisuite/suite/shared/progress"
	"github.com/ocisuite/suite/shared/registry"
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
	// CopySpecificImages (with Instances; none = the index alone).
	ImageListSelection copy.ImageListSelection
	Instances          []digest.Digest
	// ForceManifestMIMEType converts the manifest (e.g. to OCI or Docker v2s2).
	ForceManifestMIMEType string
	// PreserveDigests fails rather than change the image's digest; with a
	// ForceManifestMIMEType that differs from the source's it is refused.
	PreserveDigests  bool
	RemoveSignatures bool
	Signers          []*signer.Signer
	// SimpleSigners says that Signers make simple signing (GPG)
	// signatures only, no sigstore ones.
	SimpleSigners bool
	// SignIdentity is the identity written into signatures (default: the
	// destination reference).
	SignIdentity reference.Named
	// DestCompression and DestCompressionLevel choose how layers are
	// compressed at the destination (nil: the library's default, gzip).
	DestCompression      *compression.Algorithm
	DestCompressionLevel *int
	// ForceCompressionFormat recompresses layers the destination already
	// has in another format instead of reusing them.
	ForceCompressionFormat bool
	// ImageParallelCopies bounds concurrent blob copies (0: library default).
	ImageParallelCopies uint
	// RetryTimes and RetryDelay: see retry.Options.
	RetryTimes int
	RetryDelay time.Duration
	// SkipExisting looks first, reading the source and the destination at
	// the same time, whether a registry destination already holds the
	// source image unchanged (and the trust policy accepts it), and stops
	// there if so; see alreadyPresent.
	SkipExisting bool
	// Progress receives progress bars (when it is a terminal) or one line
	// per step. nil: the steps are logged at info level, nothing printed.
	Progress io.Writer
	// Direct, when set, copies the image instead of containers/image, after
	// the SkipExisting check: it returns an error wrapping ErrNotDirect for
	// an image it does not copy, which Copy then copies with
	// containers/image. It is given these options (Direct included).
	Direct func(ctx context.Context, src, dst types.ImageReference, opts CopyOptions) (CopyResult, error)
}

// ErrNotDirect is what a CopyOptions.Direct function returns for an image
// it leaves to containers/image.
var ErrNotDirect = errors.New("not copied directly")

// CopyResult describes the written image.
type CopyResult struct {
	// Manifest is the manifest (or index) written to the destination.
	Manifest []byte
	// Digest is its digest.
	Digest digest.Digest
}

// PolicyContext loads the trust policy: path, or the default lookup when
// path is "", or accept-anything when insecure.
func PolicyContext(path string, insecure bool, sys *types.SystemContext) (*signature.PolicyContext, error) {
	policy, err := LoadPolicy(path, insecure, sys)
	if err != nil {
		return nil, err
	}
	return signature.NewPolicyContext(policy)
}

// LoadPolicy reads the trust policy as PolicyContext does. A policy can be
// read once and used for many copies, with a signature.PolicyContext each
// (a context is not safe for concurrent use).
func LoadPolicy(path string, insecure bool, sys *types.SystemContext) (*signature.Policy, error) {
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
	return policy, nil
}

// Copy copies src to dst. Blobs stream from source to destination (nothing
// of the image is written to local disk for registry-to-registry copies),
// blobs already at the destination are not sent again, and the whole copy
// is retried on transient errors (cheap: what arrived is skipped). A
// docker:// source whose registry has mirrors in registries.conf is read
// the library's way first: from the first endpoint that serves the
// manifest. When that copy fails, the endpoints after that one are tried
// directly, in order, each fallback logged at info level.
func Copy(ctx context.Context, src, dst types.ImageReference, opts CopyOptions) (CopyResult, error) {
	pc, err := PolicyContext(opts.PolicyPath, opts.InsecurePolicy, opts.SourceCtx)
	if err != nil {
		return CopyResult{}, err
	}
	defer func() { _ = pc.Destroy() }()

	if res, ok := alreadyPresent(ctx, pc, src, dst, opts); ok {
		return res, nil
	}
	if opts.PreserveDigests && opts.ForceManifestMIMEType != "" {
		if err := checkNoConversion(ctx, src, opts); err != nil {
			return CopyResult{}, err
		}
	}
	if opts.Direct != nil {
		res, err := opts.Direct(ctx, src, dst, opts)
		if !errors.Is(err, ErrNotDirect) {
			return res, err
		}
		logrus.Debugf("copying %s with containers/image: %v", transports.ImageName(src), err)
	}
	res, err := copyWithRetry(ctx, pc, src, dst, opts, opts.SourceCtx)
	if err == nil || !worthFallback(ctx, err) {
		return res, err
	}
	fb, ferr := mirrorFallbacks(src, opts.SourceCtx)
	if ferr != nil {
		logrus.Debugf("not trying the mirrors of %s one by one: %v", transports.ImageName(src), ferr)
		return res, err
	}
	if fb == nil {
		return res, err
	}
	defer fb.cleanup()
	served := fb.served(ctx)
	if served < 0 || served == len(fb.endpoints)-1 {
		return res, err // no endpoint left that has the image
	}
	failed, lastErr := fb.endpoints[served].desc, err
	for _, e := range fb.endpoints[served+1:] {
		logrus.Infof("copying from %s failed: %s; falling back to %s", failed, oneLine(lastErr), e.desc)
		var fres CopyResult
		fres, lastErr = copyWithRetry(ctx, pc, src, dst, opts, e.sys)
		if lastErr == nil {
			logrus.Infof("copied %s from %s", transports.ImageName(src), e.desc)
			return fres, nil
		}
		if !worthFallback(ctx, lastErr) {
			break
		}
		failed = e.desc
	}
	logrus.Infof("copying from %s failed: %s; no endpoint left", failed, oneLine(lastErr))
	return CopyResult{}, err
}

// worthFallback reports whether another source endpoint might succeed
// where this copy failed: not after cancellation or a policy rejection.
func worthFallback(ctx context.Context, err error) bool {
	var pre signature.PolicyRequirementError
	return ctx.Err() == nil && !errors.Is(err, context.Canceled) && !errors.As(err, &pre)
}

func copyWithRetry(ctx context.Context, pc *signature.PolicyContext, src, dst types.ImageReference, opts CopyOptions, srcSys *types.SystemContext) (CopyResult, error) {
	co := &copy.Options{
		SourceCtx:                             srcSys,
		DestinationCtx:                        destContext(opts),
		ReportWriter:                          ReportWriter(opts.Progress),
		ImageListSelection:                    opts.ImageListSelection,
		Instances:                             opts.Instances,
		ForceManifestMIMEType:                 opts.ForceManifestMIMEType,
		PreserveDigests:                       opts.PreserveDigests,
		RemoveSignatures:                      opts.RemoveSignatures,
		Signers:                               opts.Signers,
		SignIdentity:                          opts.SignIdentity,
		MaxParallelDownloads:                  opts.ImageParallelCopies,
		OptimizeDestinationImageAlreadyExists: optimizeExisting(dst),
		ForceCompressionFormat:                opts.ForceCompressionFormat,
	}
	var manifestBytes []byte
	what := fmt.Sprintf("copying %s to %s", transports.ImageName(src), transports.ImageName(dst))
	dst = retryingDest(dst, opts)
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
	logrus.Infof("wrote %s (%s)", transports.ImageName(dst), d)
	return CopyResult{Manifest: manifestBytes, Digest: d}, nil
}

// DestinationWrapper is implemented by a destination reference that wraps
// another: Copy wraps the inner one, with wrap, instead of the reference.
type DestinationWrapper interface {
	WrapDestination(wrap func(types.ImageReference) types.ImageReference) types.ImageReference
}

// retryingDest is dst, when it is a registry, with blob uploads and
// manifest PUTs made under the retry rule, Retry-After included
// (registry.Destination), unless the copy needs what containers/image
// reaches only on its own destination: sigstore signatures to create or
// copy, or a required compression format.
func retryingDest(dst types.ImageReference, opts CopyOptions) types.ImageReference {
	if dst.Transport().Name() != "docker" || opts.ForceCompressionFormat || (len(opts.Signers) > 0 && !opts.SimpleSigners) {
		return dst
	}
	for _, sys := range []*types.SystemContext{opts.SourceCtx, opts.DestCtx} {
		if on, err := registry.SigstoreAttachments(sys); err != nil || on {
			return dst
		}
	}
	if w, ok := dst.(DestinationWrapper); ok {
		return w.WrapDestination(registry.Destination)
	}
	return registry.Destination(dst)
}

// optimizeExisting reports whether the copy may skip an image the
// destination already has. Not for containers-storage: there the skip
// commits without a manifest ("CommitWithOptions() called without
// PutManifest()") and would not move the name to the image either.
func optimizeExisting(dst types.ImageReference) bool {
	return dst.Transport().Name() != "containers-storage"
}

// ReportWriter is where a copy reports its steps: w, or the info log when
// w is nil and info is enabled, or nil.
func ReportWriter(w io.Writer) io.Writer {
	if w != nil {
		return w
	}
	if logrus.IsLevelEnabled(logrus.InfoLevel) {
		return progress.Lines(func(line string) { logrus.Info(line) })
	}
	return nil
}

// destContext applies the compression options to a copy of the
// destination context.
func destContext(opts CopyOptions) *types.SystemContext {
	if opts.DestCompression == nil && opts.DestCompressionLevel == nil {
		return opts.DestCtx
	}
	c := types.SystemContext{}
	if opts.DestCtx != nil {
		c = *opts.DestCtx
	}
	if opts.DestCompression != nil {
		c.CompressionFormat = opts.DestCompression
	}
	if opts.DestCompressionLevel != nil {
		c.CompressionLevel = opts.DestCompressionLevel
	}
	return &c
}

func oneLine(err error) string {
	return strings.ReplaceAll(strings.TrimSpace(err.Error()), "\n", "; ")
}

// checkNoConversion refuses a format change that --preserve-digests forbids,
// instead of keeping the source format silently as containers/image would.
func checkNoConversion(ctx context.Context, ref types.ImageReference, opts CopyOptions) error {
	src, err := ref.NewImageSource(ctx, opts.SourceCtx)
	if err != nil {
		return fmt.Errorf("reading %s: %w", transports.ImageName(ref), err)
	}
	defer src.Close()
	_, mimeType, err := src.GetManifest(ctx, nil)
	if err != nil {
		return fmt.Errorf("reading the manifest of %s: %w", transports.ImageName(ref), err)
	}
	t := manifest.NormalizedMIMEType(mimeType)
	if t != opts.ForceManifestMIMEType && !manifest.MIMETypeIsMultiImage(t) {
		return fmt.Errorf("cannot convert %s from %s to %s while preserving digests: a conversion changes the digest", transports.ImageName(ref), mimeType, opts.ForceManifestMIMEType)
	}
	return nil
}
