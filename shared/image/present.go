package image

import (
	"context"
	"fmt"

	"github.com/containers/image/v5/copy"
	"github.com/containers/image/v5/docker"
	ciimage "github.com/containers/image/v5/image"
	"github.com/containers/image/v5/manifest"
	"github.com/containers/image/v5/signature"
	"github.com/containers/image/v5/transports"
	"github.com/containers/image/v5/types"
	digest "github.com/opencontainers/go-digest"
	"github.com/sirupsen/logrus"
)

// alreadyPresent is the fast path of a repeat copy to a registry: it reads
// the source manifest and asks the destination for its manifest digest at
// the same time, and reports true when the destination already holds
// exactly the source image, which the trust policy accepts, so that there
// is nothing to copy. containers/image reaches the same conclusion
// (OptimizeDestinationImageAlreadyExists) only after reading the source,
// opening its blob info cache, fetching the config and then, one after the
// other, contacting the destination.
//
// It applies only when the copy would write the source manifest unchanged:
// a single image (not a list), no format or compression change, no
// signing, and no signatures to copy. Anything else, and any error or
// doubt, returns false: the full copy then runs and reports errors itself.
func alreadyPresent(ctx context.Context, pc *signature.PolicyContext, src, dst types.ImageReference, opts CopyOptions) (CopyResult, bool) {
	if !opts.SkipExisting || dst.Transport().Name() != "docker" ||
		(src.Transport().Name() != "docker" && src.Transport().Name() != "oci" && src.Transport().Name() != "dir") ||
		len(opts.Signers) != 0 || opts.ForceManifestMIMEType != "" || opts.DestCompression != nil ||
		opts.DestCompressionLevel != nil || opts.ForceCompressionFormat || opts.ImageListSelection != copy.CopySystemImage {
		return CopyResult{}, false
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type answer struct {
		digest digest.Digest
		err    error
	}
	destAnswer := make(chan answer, 1)
	go func() {
		d, err := docker.GetDigest(ctx, destContext(opts), dst)
		destAnswer <- answer{d, err}
	}()
	not := func(why string, args ...any) (CopyResult, bool) {
		logrus.Debugf("copying %s: "+why, append([]any{transports.ImageName(src)}, args...)...)
		return CopyResult{}, false
	}

	s, err := src.NewImageSource(ctx, opts.SourceCtx)
	if err != nil {
		return not("reading the source first: %v", err)
	}
	defer s.Close()
	m, mimeType, err := s.GetManifest(ctx, nil)
	if err != nil {
		return not("reading the source manifest first: %v", err)
	}
	if manifest.MIMETypeIsMultiImage(manifest.NormalizedMIMEType(mimeType)) {
		return not("the source is a list of images")
	}
	srcDigest, err := manifest.Digest(m)
	if err != nil {
		return not("%v", err)
	}
	a := <-destAnswer
	if a.err != nil || a.digest != srcDigest {
		return not("the destination does not hold %s (%v %v)", srcDigest, a.digest, a.err)
	}
	if !opts.RemoveSignatures {
		sigs, err := s.GetSignatures(ctx, nil)
		if err != nil || len(sigs) != 0 {
			return not("the source has signatures to copy (%d, %v)", len(sigs), err)
		}
	}
	allowed, err := pc.IsRunningImageAllowed(ctx, ciimage.UnparsedInstance(s, nil))
	if err != nil || !allowed {
		return not("the trust policy does not accept it (%v)", err)
	}
	if w := ReportWriter(opts.Progress); w != nil {
		fmt.Fprintf(w, "Skipping: image already present at destination\n")
	}
	logrus.Debugf("%s already holds %s (%s): nothing to copy", transports.ImageName(dst), transports.ImageName(src), srcDigest)
	return CopyResult{Manifest: m, Digest: srcDigest}, true
}
