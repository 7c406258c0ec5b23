package imagesync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"

	"github.com/containers/image/v5/copy"
	"github.com/containers/image/v5/docker"
	"github.com/containers/image/v5/docker/reference"
	cimage "github.com/containers/image/v5/image"
	"github.com/containers/image/v5/manifest"
	"github.com/containers/image/v5/pkg/sysregistriesv2"
	"github.com/containers/image/v5/signature"
	"github.com/containers/image/v5/transports"
	"github.com/containers/image/v5/types"
	digest "github.com/opencontainers/go-digest"
	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/sirupsen/logrus"

	"github.com/ocisuite/suite/shared/image"
	"github.com/ocisuite/suite/shared/registry"
	"github.com/ocisuite/suite/shared/retry"
)

// direct copies the plain registry-to-registry images of a sync itself,
// with one shared/registry client (one connection pool, one /v2/ ping) per
// registry for the whole sync, instead of containers/image's copy.Image,
// which opens new clients, pings each registry again and goes through the
// on-disk blob info cache for every image. What one image uploaded is
// known to the next ones: a blob is asked for and, if missing, sent once
// per destination repository, with one POST (which asks the registry to
// mount the blob from the repository itself, or from another repository of
// the same registry that this sync gave it) and one PUT.
//
// It copies an image only when containers/image would write the source
// manifest unchanged and nothing else: a single image (not a list) in the
// Docker v2s2 or OCI format, with no foreign or encrypted layers, from a
// registry without mirrors or rewrites, with no signatures at the source
// (none in the lookaside storage or the registry, no sigstore attachments
// configured), and a trust policy for it that needs no signature. Every
// other image (and any image whose registry the client does not handle)
// goes through copy.Image as before; the trust policy is evaluated for
// every image either way.
type direct struct {
	o       Options
	tags    *destTags // for images copied by containers/image
	fetched sync.Map  // source reference → *fetchedManifest, from probe to copy
	// report, if not nil, shows the steps of the copy (CopyDirect).
	report *report
	// cache, set by CopyDirect, is containers/image's blob info cache: a
	// single copy knows nothing of the destination, so, as
	// containers/image does, it asks the destination repository for each
	// blob with a HEAD request first, mounts a missing blob from a
	// repository of the registry where the cache saw it, and records
	// where it read and wrote blobs.
	cache types.BlobInfoCache

	mu       sync.Mutex
	clients  memo[clientKey, *registry.Client]
	policies memo[*types.SystemContext, *signature.Policy]
	attach   memo[*types.SystemContext, bool]
	lists    memo[string, map[string]bool] // destination "host/repo" → its tags; nil: unknown
	blobs    map[string]*blobEntry
	// stored: registry → blob digest → a repository of that registry
	// where this sync found or put the blob (for mounts).
	stored map[string]map[digest.Digest]string
}

type clientKey struct {
	host string
	sys  *types.SystemContext
}

// blobEntry is one blob copy to one destination repository.
type blobEntry struct {
	done chan struct{}
	err  error
}

type fetchedManifest struct {
	m        []byte
	mimeType string
}

// canCopyDirectly reports whether the sync's options let direct copy
// anything: registry to registry, with no format or compression change,
// no signing, and no list copied whole.
func canCopyDirectly(o Options) bool {
	return o.DestKind == "docker" && (o.SourceKind == "docker" || o.SourceKind == "yaml") &&
		plainOptions(o.Copy) && o.Copy.Progress == nil
}

// plainOptions reports whether containers/image would copy an image with
// c unchanged: no format or compression change, no signing, no list
// copied whole.
func plainOptions(c image.CopyOptions) bool {
	return len(c.Signers) == 0 && c.ForceManifestMIMEType == "" && c.DestCompression == nil &&
		c.DestCompressionLevel == nil && !c.ForceCompressionFormat && c.ImageListSelection == copy.CopySystemImage
}

func newDirect(o Options, tags *destTags) *direct {
	return &direct{
		o: o, tags: tags,
		blobs:  map[string]*blobEntry{},
		stored: map[string]map[digest.Digest]string{},
	}
}

func (d *direct) close() {
	d.clients.each(func(c *registry.Client) {
		if c != nil {
			c.Close()
		}
	})
}

// client returns the sync's client for host with sys, made on first use.
func (d *direct) client(ctx context.Context, host string, sys *types.SystemContext) (*registry.Client, error) {
	return d.clients.get(clientKey{host, sys}, func() (*registry.Client, error) {
		c, err := registry.New(ctx, sys, host, retry.Options{Times: d.o.Copy.RetryTimes, Delay: d.o.Copy.RetryDelay})
		if err != nil {
			logrus.Debugf("copying images of %s with containers/image: %v", host, err)
		}
		return c, err
	})
}

// side is one end of a direct copy.
type side struct {
	c    *registry.Client
	repo string // path in the registry, "ns/app"
	ref  string // tag or digest
}

// endpoints returns the clients for the item's source and destination, or
// ok false when direct does not copy it.
func (d *direct) endpoints(ctx context.Context, it item) (src, dst side, ok bool) {
	srcNamed, ok1 := dockerNamed(it.src.Ref)
	dstNamed, ok2 := dockerNamed(unwrap(it.dst))
	if !ok1 || !ok2 || !plainSource(srcNamed, it.src.Sys) {
		return side{}, side{}, false
	}
	sc, err := d.client(ctx, reference.Domain(srcNamed), it.src.Sys)
	if err != nil || sc.SupportsSignatures() && !d.o.Copy.RemoveSignatures {
		return side{}, side{}, false
	}
	dc, err := d.client(ctx, reference.Domain(dstNamed), d.o.DestCtx)
	if err != nil {
		return side{}, side{}, false
	}
	return side{sc, reference.Path(srcNamed), tagOrDigest(srcNamed)}, side{dc, reference.Path(dstNamed), tagOrDigest(dstNamed)}, true
}

func dockerNamed(ref types.ImageReference) (reference.Named, bool) {
	if ref.Transport().Name() != "docker" || ref.DockerReference() == nil {
		return nil, false
	}
	n := ref.DockerReference()
	return n, tagOrDigest(n) != ""
}

func tagOrDigest(n reference.Named) string {
	if c, ok := n.(reference.Canonical); ok {
		return c.Digest().String()
	}
	if t, ok := n.(reference.NamedTagged); ok {
		return t.Tag()
	}
	return ""
}

// plainSource reports whether containers/image would read named from its
// own registry only: no mirrors, no rewritten location, not blocked.
func plainSource(named reference.Named, sys *types.SystemContext) bool {
	reg, err := sysregistriesv2.FindRegistry(sys, named.String())
	if err != nil {
		return false
	}
	if reg == nil {
		return true
	}
	if reg.Blocked {
		return false
	}
	srcs, err := reg.PullSourcesFromReference(named)
	return err == nil && len(srcs) == 1 && srcs[0].Reference.String() == named.String()
}

// probe is destTags.probe for the images direct copies. When the
// destination's tag list (read once per repository) lacks the tag, the
// source manifest is read (one GET, kept for the copy); otherwise the
// source and destination digests are compared with HEAD requests, and the
// source manifest is read only if they differ. A list of images goes to
// destTags.probe, which finds the platform image a copy would write.
func (d *direct) probe(ctx context.Context, it item, o Options) probeResult {
	src, dst, ok := d.endpoints(ctx, it)
	if !ok {
		return d.tags.probe(ctx, it, o)
	}
	if known, present := d.destHas(ctx, dst); !known || present {
		key, err := src.c.ManifestDigest(ctx, src.repo, src.ref)
		if err != nil {
			return probeResult{} // the copy reports the error
		}
		if have, err := dst.c.ManifestDigest(ctx, dst.repo, dst.ref); err == nil && have == key {
			return probeResult{key: key, have: have}
		}
	}
	m, mimeType, err := src.c.Manifest(ctx, src.repo, src.ref)
	if err != nil {
		return probeResult{}
	}
	if !plainManifest(m, mimeType) {
		return d.tags.probe(ctx, it, o)
	}
	key, err := manifest.Digest(m)
	if err != nil {
		return probeResult{}
	}
	d.fetched.Store(transportString(it.src.Ref), &fetchedManifest{m, mimeType})
	return probeResult{key: key}
}

// destHas reports whether the destination repository's tag list is known
// and, if so, whether it holds dst's tag.
func (d *direct) destHas(ctx context.Context, dst side) (known, present bool) {
	tags, _ := d.lists.get(dst.c.Host()+"/"+dst.repo, func() (map[string]bool, error) {
		tags, err := dst.c.Tags(ctx, dst.repo)
		if err != nil && !registry.NotFound(err) {
			return nil, nil
		}
		return tagSet(tags), nil
	})
	if tags == nil {
		return false, false
	}
	return true, tags[dst.ref]
}

// plainManifest reports whether m is a single image direct can copy as it
// is: Docker v2s2 or OCI, an image config, no foreign, non-distributable
// or encrypted layers.
func plainManifest(m []byte, mimeType string) bool {
	mimeType = manifest.NormalizedMIMEType(mimeType)
	if mimeType != manifest.DockerV2Schema2MediaType && mimeType != imgspecv1.MediaTypeImageManifest {
		return false
	}
	var mf struct {
		Config imgspecv1.Descriptor   `json:"config"`
		Layers []imgspecv1.Descriptor `json:"layers"`
	}
	if err := json.Unmarshal(m, &mf); err != nil {
		return false
	}
	if mf.Config.MediaType != manifest.DockerV2Schema2ConfigMediaType && mf.Config.MediaType != imgspecv1.MediaTypeImageConfig {
		return false
	}
	for _, l := range mf.Layers {
		if len(l.URLs) > 0 || strings.Contains(l.MediaType, "foreign") || strings.Contains(l.MediaType, "nondistributable") ||
			strings.HasSuffix(l.MediaType, "+encrypted") {
			return false
		}
	}
	return true
}

// copy copies the item directly when it can, and with copyShared
// (containers/image) otherwise.
func (d *direct) copy(ctx context.Context, it item, opts image.CopyOptions) (image.CopyResult, error) {
	res, err := d.copyDirect(ctx, it, opts)
	if errors.Is(err, errNotDirect) {
		return copyShared(ctx, it.src.Ref, it.dst, opts)
	}
	if err != nil {
		return res, fmt.Errorf("copying %s to %s: %w", transports.ImageName(it.src.Ref), transports.ImageName(unwrap(it.dst)), err)
	}
	return res, nil
}

// copyRefs is copy as a copyFunc: the engine passes the item's source
// context in opts.
func (d *direct) copyRefs(ctx context.Context, src, dst types.ImageReference, opts image.CopyOptions) (image.CopyResult, error) {
	return d.copy(ctx, item{src: Source{Ref: src, Sys: opts.SourceCtx}, dst: dst}, opts)
}

// listTags lists a source repository's tags with the sync's client for its
// registry, or with containers/image when direct does not handle it.
func (d *direct) listTags(ctx context.Context, sys *types.SystemContext, ref types.ImageReference) ([]string, error) {
	named, ok := dockerNamed(ref)
	if !ok || !plainSource(named, sys) {
		return docker.GetRepositoryTags(ctx, sys, ref)
	}
	c, err := d.client(ctx, reference.Domain(named), sys)
	if err != nil {
		return docker.GetRepositoryTags(ctx, sys, ref)
	}
	return c.Tags(ctx, reference.Path(named))
}

// errNotDirect: the image is copied with containers/image.
var errNotDirect = fmt.Errorf("not a plain image: %w", image.ErrNotDirect)

func (d *direct) copyDirect(ctx context.Context, it item, opts image.CopyOptions) (image.CopyResult, error) {
	src, dst, ok := d.endpoints(ctx, it)
	if !ok {
		return image.CopyResult{}, errNotDirect
	}
	var m []byte
	var mimeType string
	if f, ok := d.fetched.LoadAndDelete(transportString(it.src.Ref)); ok {
		m, mimeType = f.(*fetchedManifest).m, f.(*fetchedManifest).mimeType
	} else {
		var err error
		if m, mimeType, err = src.c.Manifest(ctx, src.repo, src.ref); err != nil {
			return image.CopyResult{}, err
		}
	}
	if !plainManifest(m, mimeType) {
		return image.CopyResult{}, errNotDirect
	}
	dg, err := manifest.Digest(m)
	if err != nil {
		return image.CopyResult{}, err
	}
	if err := d.checkCopyable(ctx, it, m, mimeType, dg); err != nil {
		return image.CopyResult{}, err
	}
	mf, err := manifest.FromBlob(m, manifest.NormalizedMIMEType(mimeType))
	if err != nil {
		return image.CopyResult{}, err
	}
	blobs := []types.BlobInfo{mf.ConfigInfo()}
	for _, l := range mf.LayerInfos() {
		blobs = append(blobs, l.BlobInfo)
	}
	r := d.report
	r.printf("Getting image source signatures\n")
	err = d.copyBlobs(ctx, src, dst, blobs, opts.ImageParallelCopies, r)
	r.wait()
	if err != nil {
		return image.CopyResult{}, err
	}
	r.printf("Writing manifest to image destination\n")
	if err := dst.c.PutManifest(ctx, dst.repo, dst.ref, m, mimeType); err != nil {
		return image.CopyResult{}, err
	}
	logrus.Infof("wrote %s (%s)", transports.ImageName(unwrap(it.dst)), dg)
	return image.CopyResult{Manifest: m, Digest: dg}, nil
}

// checkCopyable returns errNotDirect when the source has (or may have)
// signatures to copy or the trust policy needs signatures for it, and the
// policy's verdict otherwise.
func (d *direct) checkCopyable(ctx context.Context, it item, m []byte, mimeType string, dg digest.Digest) error {
	if !d.o.Copy.RemoveSignatures {
		signed, err := d.maySign(it, dg)
		if err != nil || signed {
			return errNotDirect
		}
	}
	policy, err := d.policy(it.src.Sys)
	if err != nil {
		return err
	}
	if !signatureFree(policy, it.src.Ref) {
		return errNotDirect
	}
	pc, err := signature.NewPolicyContext(policy)
	if err != nil {
		return err
	}
	defer func() { _ = pc.Destroy() }()
	src := &manifestSource{ref: it.src.Ref, m: m, mimeType: mimeType}
	if _, err := pc.IsRunningImageAllowed(ctx, cimage.UnparsedInstance(src, nil)); err != nil {
		return fmt.Errorf("Source image rejected: %w", err)
	}
	return nil
}

// policy is the trust policy for sources read with sys, read once.
func (d *direct) policy(sys *types.SystemContext) (*signature.Policy, error) {
	return d.policies.get(sys, func() (*signature.Policy, error) {
		return image.LoadPolicy(d.o.Copy.PolicyPath, d.o.Copy.InsecurePolicy, sys)
	})
}

// signatureFree reports whether every requirement the policy has for ref
// is decided without signatures: insecureAcceptAnything or reject.
func signatureFree(p *signature.Policy, ref types.ImageReference) bool {
	reqs := p.Default
	if scopes, ok := p.Transports[ref.Transport().Name()]; ok {
		// The most specific scope wins, as in containers/image.
		for _, s := range append([]string{ref.PolicyConfigurationIdentity()}, append(ref.PolicyConfigurationNamespaces(), "")...) {
			if r, ok := scopes[s]; ok {
				reqs = r
				break
			}
		}
	}
	for _, r := range reqs {
		b, err := json.Marshal(r)
		if err != nil {
			return false
		}
		var t struct {
			Type string `json:"type"`
		}
		if json.Unmarshal(b, &t) != nil || (t.Type != "insecureAcceptAnything" && t.Type != "reject") {
			return false
		}
	}
	return true
}

// maySign reports whether containers/image would find signatures for the
// source image dg: a signature in its lookaside storage (a file:
// location is looked at; any other location counts as signed), or
// sigstore attachments enabled in registries.d.
func (d *direct) maySign(it item, dg digest.Digest) (bool, error) {
	on, err := d.attachments(it.src.Sys)
	if err != nil || on {
		return true, err
	}
	u, err := docker.SignatureStorageBaseURL(it.src.Sys, it.src.Ref, false)
	if err != nil {
		return true, err
	}
	if u.Scheme != "file" {
		return true, nil
	}
	_, err = os.Stat(fmt.Sprintf("%s@%s=%s/signature-1", u.Path, dg.Algorithm(), dg.Encoded()))
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	return true, err
}

// attachments reports whether any registries.d configuration for sys
// enables sigstore attachments.
func (d *direct) attachments(sys *types.SystemContext) (bool, error) {
	return d.attach.get(sys, func() (bool, error) { return registry.SigstoreAttachments(sys) })
}

// retagDirect writes manifest under the item's destination tag, after the
// trust policy check, with the sync's client when direct handles the item.
func (d *direct) retag(ctx context.Context, it item, o Options, m []byte) error {
	_, dst, ok := d.endpoints(ctx, it)
	mimeType := manifest.GuessMIMEType(m)
	if !ok || !plainManifest(m, mimeType) {
		return retag(ctx, it, o, m)
	}
	dg, err := manifest.Digest(m)
	if err != nil {
		return err
	}
	if err := d.checkCopyable(ctx, it, m, mimeType, dg); err != nil {
		if errors.Is(err, errNotDirect) {
			return retag(ctx, it, o, m)
		}
		return err
	}
	return dst.c.PutManifest(ctx, dst.repo, dst.ref, m, mimeType)
}

// manifestSource is the source image as the trust policy sees it: its
// manifest, already read. Signatures are not read (the policy evaluated
// with it needs none; asking for them is an error).
type manifestSource struct {
	ref      types.ImageReference
	m        []byte
	mimeType string
}

func (s *manifestSource) Reference() types.ImageReference { return s.ref }
func (s *manifestSource) Close() error                    { return nil }
func (s *manifestSource) HasThreadSafeGetBlob() bool      { return false }

func (s *manifestSource) GetManifest(_ context.Context, instance *digest.Digest) ([]byte, string, error) {
	if instance != nil {
		return nil, "", fmt.Errorf("no manifest %s in a single image", instance)
	}
	return s.m, s.mimeType, nil
}

func (s *manifestSource) GetBlob(context.Context, types.BlobInfo, types.BlobInfoCache) (io.ReadCloser, int64, error) {
	return nil, 0, errors.New("blobs are not read for the trust policy")
}

func (s *manifestSource) GetSignatures(context.Context, *digest.Digest) ([][]byte, error) {
	return nil, errors.New("signatures are not read for this trust policy")
}

func (s *manifestSource) LayerInfosForCopy(context.Context, *digest.Digest) ([]types.BlobInfo, error) {
	return nil, nil
}

// copyBlobs copies the blobs the destination lacks, at most parallel at
// once (0: 6, containers/image's default).
// The first blob is the config. r, if not nil, shows each copy.
func (d *direct) copyBlobs(ctx context.Context, src, dst side, blobs []types.BlobInfo, parallel uint, r *report) error {
	if parallel == 0 {
		parallel = 6
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sem := make(chan struct{}, parallel)
	// The first failure cancels the other copies and is the error: theirs
	// are consequences (fewer attempts, cancellation).
	var first error
	var once sync.Once
	var wg sync.WaitGroup
	for i, b := range blobs {
		sem <- struct{}{}
		wg.Add(1)
		kind := "blob"
		if i == 0 {
			kind = "config"
		}
		t := r.blob(kind, b)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			err := d.copyBlob(ctx, src, dst, b, t.reader)
			t.done(err)
			if err != nil {
				once.Do(func() {
					first = err
					cancel()
				})
			}
		}()
	}
	wg.Wait()
	return first
}

// copyBlob makes sure dst's repository holds blob b, once per sync: the
// first image that needs it asks the destination to mount it, from
// another repository of the registry that this sync gave it, else from
// the source repository when both are in one registry, else from the
// repository itself (which is how the registry says it already has it),
// and uploads it from the source if the registry does not have it; other
// images needing it meanwhile wait for that, and later ones know it is
// there. A mount the registry refuses for want of access to the other
// repository becomes a plain upload. (A single copy, with d.cache, asks
// with HEAD first and mounts from where the blob info cache saw the blob.)
//
// Each read of the blob from the source goes through track.
func (d *direct) copyBlob(ctx context.Context, src, dst side, b types.BlobInfo, track func(io.ReadCloser) io.ReadCloser) error {
	key := dst.c.Host() + "/" + dst.repo + "@" + b.Digest.String()
	for {
		d.mu.Lock()
		e, ok := d.blobs[key]
		if !ok {
			e = &blobEntry{done: make(chan struct{})}
			d.blobs[key] = e
			d.mu.Unlock()
			e.err = d.putBlob(ctx, src, dst, b, track)
			if e.err != nil {
				d.mu.Lock()
				delete(d.blobs, key) // the next image tries again
				d.mu.Unlock()
			}
			close(e.done)
			return e.err
		}
		d.mu.Unlock()
		select {
		case <-e.done:
		case <-ctx.Done():
			return ctx.Err()
		}
		if e.err == nil {
			return nil
		}
	}
}

func (d *direct) putBlob(ctx context.Context, src, dst side, b types.BlobInfo, track func(io.ReadCloser) io.ReadCloser) error {
	from := d.storedIn(dst.c.Host(), b.Digest)
	if d.cache != nil {
		has, err := dst.c.HasBlob(ctx, dst.repo, b.Digest)
		if err != nil {
			return err
		}
		if has {
			d.recordLocation(dst, b.Digest)
			return nil
		}
		if from == "" {
			from = d.cachedLocation(dst, b.Digest)
		}
	}
	if from == "" && src.c.Host() == dst.c.Host() {
		from = src.repo // within one registry: mounted from the source
	}
	put := func(from string) error {
		return dst.c.Do(ctx, fmt.Sprintf("copying blob %s to %s/%s", b.Digest, dst.c.Host(), dst.repo), func() error {
			return dst.c.PutBlob(ctx, dst.repo, b.Digest, from, func() (io.ReadCloser, int64, error) {
				rc, size, err := d.openBlob(ctx, src, b)
				if err != nil {
					return nil, 0, err
				}
				return track(rc), size, nil
			})
		})
	}
	err := put(from)
	var he *registry.HTTPError
	if from != "" && from != dst.repo && errors.As(err, &he) && (he.StatusCode == http.StatusUnauthorized || he.StatusCode == http.StatusForbidden) {
		// No access to the other repository: a plain upload.
		logrus.Debugf("mounting %s from %s/%s: %v", b.Digest, dst.c.Host(), from, err)
		err = put("")
	}
	if err != nil {
		return err
	}
	d.mu.Lock()
	if d.stored[dst.c.Host()] == nil {
		d.stored[dst.c.Host()] = map[digest.Digest]string{}
	}
	d.stored[dst.c.Host()][b.Digest] = dst.repo
	d.mu.Unlock()
	d.recordLocation(dst, b.Digest)
	return nil
}

// recordLocation records in the blob info cache, if any, that s's
// repository holds blob dg.
func (d *direct) recordLocation(s side, dg digest.Digest) {
	if d.cache != nil {
		d.cache.RecordKnownLocation(docker.Transport, types.BICTransportScope{Opaque: s.c.Host()}, dg,
			types.BICLocationReference{Opaque: s.c.Host() + "/" + s.repo})
	}
}

// cachedLocation is another repository of dst's registry where the blob
// info cache saw blob dg, "" if none.
func (d *direct) cachedLocation(dst side, dg digest.Digest) string {
	for _, c := range d.cache.CandidateLocations(docker.Transport, types.BICTransportScope{Opaque: dst.c.Host()}, dg, false) {
		repo, ok := strings.CutPrefix(c.Location.Opaque, dst.c.Host()+"/")
		if ok && c.Digest == dg && repo != dst.repo && repo != "" {
			return repo
		}
	}
	return ""
}

// storedIn is a repository of registry host where this sync found or put
// blob dg, "" if none.
func (d *direct) storedIn(host string, dg digest.Digest) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stored[host][dg]
}

// openBlob reads blob b from the source, checking its size and digest.
func (d *direct) openBlob(ctx context.Context, src side, b types.BlobInfo) (io.ReadCloser, int64, error) {
	rc, size, err := src.c.GetBlob(ctx, src.repo, b.Digest)
	if err != nil {
		return nil, 0, fmt.Errorf("reading blob %s: %w", b.Digest, err)
	}
	d.recordLocation(src, b.Digest)
	if b.Size >= 0 && size >= 0 && size != b.Size {
		rc.Close()
		return nil, 0, fmt.Errorf("reading blob %s: %d bytes, the manifest says %d", b.Digest, size, b.Size)
	}
	if size < 0 {
		size = b.Size
	}
	return &verifier{rc: rc, d: b.Digest, v: b.Digest.Verifier(), left: size}, size, nil
}

// verifier passes a blob through and fails its last read if the blob does
// not have the expected digest and size, so that an upload of wrong data
// fails too.
type verifier struct {
	rc   io.ReadCloser
	d    digest.Digest
	v    digest.Verifier
	left int64
}

func (r *verifier) Read(p []byte) (int, error) {
	n, err := r.rc.Read(p)
	r.v.Write(p[:n])
	r.left -= int64(n)
	if err == io.EOF && (r.left != 0 || !r.v.Verified()) {
		return n, fmt.Errorf("blob %s: the data read does not match its digest or size", r.d)
	}
	return n, err
}

func (r *verifier) Close() error { return r.rc.Close() }
