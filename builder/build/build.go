// Package build executes Containerfiles: it parses them with BuildKit's
// Dockerfile parser and instruction types, and runs each stage against the
// shared store through builder/container working containers, with a layer
// cache kept as cache keys on intermediate images. builder build and
// engine build both call Build.
package build

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/sirupsen/logrus"

	"github.com/ocisuite/suite/builder/container"
	"github.com/ocisuite/suite/builder/copier"
	"github.com/ocisuite/suite/shared/imagestore"
)

// Options are a build's inputs, with buildah's option names in comments.
type Options struct {
	// ContextDir is the build context directory.
	ContextDir string
	// Containerfile is the file's path (-f); "" looks for Containerfile,
	// then Dockerfile, in the context. ContainerfileData, when set, is the
	// content (-f - reads stdin) and Containerfile only names it.
	Containerfile     string
	ContainerfileData []byte
	// Tags name the final image (-t).
	Tags []string
	// BuildArgs are --build-arg values.
	BuildArgs map[string]string
	// Target is the stage to build (--target); "" the last.
	Target string
	// Layers keeps an image per instruction and uses the cache (--layers).
	Layers bool
	// NoCache builds every step anew (--no-cache).
	NoCache bool
	// Pull is the pull policy for base images (--pull).
	Pull string
	// Format is oci or docker (--format).
	Format string
	// Squash commits all of a stage's changes as one layer (--squash).
	Squash bool
	// Labels, Annotations, Env and UnsetEnv adjust the final image.
	Labels, Annotations, Env, UnsetEnv []string
	// Network of RUN steps: host (default) or none (--network).
	Network string
	// Secrets by id (--secret).
	Secrets map[string]Secret
	// Volumes are build-time bind mounts for every RUN (-v).
	Volumes []string
	// CapAdd and CapDrop adjust RUN's capabilities.
	CapAdd, CapDrop []string
	// Isolation is oci (default; rootless is the same) or chroot.
	Isolation string
	// Quiet prints only the image ID (-q).
	Quiet bool
	// Timestamp makes the output reproducible (--timestamp).
	Timestamp *time.Time
	// IgnoreFile overrides .containerignore/.dockerignore (--ignorefile).
	IgnoreFile string
	// From replaces the base image of the first stage (--from).
	From string
	// Jobs is how many stages may run at once (--jobs); 0 is 1.
	Jobs int
	// Out receives the build's progress and RUN output; nil is discarded.
	Out io.Writer
	// CacheFrom are registry repositories to look for cached steps in
	// (--cache-from); CacheTo is where steps built here are pushed
	// (--cache-to). A step's image is tagged with its cache key.
	CacheFrom, CacheTo []string
}

// Secret is where a --secret's content comes from: a file or a variable.
type Secret struct {
	Path string
	Env  string
}

// ParseSecret parses "id=ID,src=PATH" or "id=ID,env=VAR" (type= ignored).
func ParseSecret(s string) (string, Secret, error) {
	var id string
	var sec Secret
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return "", sec, fmt.Errorf("invalid --secret %q: want id=ID,src=PATH or id=ID,env=VAR", s)
		}
		switch k {
		case "id":
			id = v
		case "src", "source":
			sec.Path = v
		case "env":
			sec.Env = v
		case "type":
		default:
			return "", sec, fmt.Errorf("invalid --secret %q: unknown key %q", s, k)
		}
	}
	if id == "" {
		return "", sec, fmt.Errorf("invalid --secret %q: no id", s)
	}
	if sec.Path == "" && sec.Env == "" {
		sec.Path = id
		if _, err := os.Stat(id); err != nil {
			sec.Path, sec.Env = "", id
		}
	}
	return id, sec, nil
}

// Result is what a build made.
type Result struct {
	// ImageID is the final image's ID.
	ImageID string
	// Names are the names it was given.
	Names []string
}

// Build runs the build and returns the final image. On failure nothing of
// it is left: no working container, mount or partial image (intermediate
// images of completed steps stay as the cache when Layers is set).
func Build(ctx context.Context, m *container.Manager, o Options) (*Result, error) {
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.Format == "" {
		o.Format = "oci"
	}
	if o.Format != "oci" && o.Format != "docker" {
		return nil, fmt.Errorf("invalid format %q: want oci or docker", o.Format)
	}
	if _, err := imagestore.ParsePullPolicy(pullPolicy(o.Pull)); err != nil {
		return nil, err
	}
	if _, err := container.ParseNetwork(o.Network); err != nil {
		return nil, err
	}
	if _, err := container.ParseIsolation(o.Isolation); err != nil {
		return nil, err
	}
	ctxDir, err := filepath.Abs(o.ContextDir)
	if err != nil {
		return nil, err
	}
	if st, err := os.Stat(ctxDir); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("build context %s is not a directory", o.ContextDir)
	}
	o.ContextDir = ctxDir
	file, data, err := readContainerfile(o)
	if err != nil {
		return nil, err
	}
	res, err := parser.Parse(bytes.NewReader(data))
	if err != nil {
		return nil, locate(file, err)
	}
	for _, w := range res.Warnings {
		logrus.Debugf("%s: %s", file, w.Short)
	}
	labs, err := takeLabsFlags(res.AST)
	if err != nil {
		return nil, locate(file, err)
	}
	stages, metaArgs, err := instructions.Parse(res.AST, nil)
	if err != nil {
		return nil, locate(file, err)
	}
	for _, s := range stages {
		setLabsFlags(s.Commands, labs)
	}
	if len(stages) == 0 {
		return nil, fmt.Errorf("%s: no FROM instruction", file)
	}
	ignore, err := copier.LoadIgnore(ctxDir, o.IgnoreFile)
	if err != nil {
		return nil, err
	}
	b := &builder{
		m: m, o: o, file: file, stages: stages, ignore: ignore,
		escape: rune(res.EscapeToken), used: map[string]bool{},
	}
	if b.escape == 0 {
		b.escape = '\\'
	}
	if err := b.globalArgs(metaArgs); err != nil {
		return nil, err
	}
	target := len(stages) - 1
	if o.Target != "" {
		i, ok := b.stageIndex(o.Target)
		if !ok {
			return nil, fmt.Errorf("%s: no stage named %q to build (--target)", file, o.Target)
		}
		target = i
	}
	defer b.cleanup()
	id, err := b.run(ctx, target)
	if err != nil {
		return nil, err
	}
	b.warnUnusedArgs()
	out := &Result{ImageID: id}
	if len(o.Tags) > 0 {
		var names []string
		for _, t := range o.Tags {
			if n, err := imagestore.NormalizeName(t); err == nil {
				names = append(names, n.String())
			}
		}
		b.printf("COMMIT %s\n", strings.Join(names, ", "))
		if err := container.SetNames(m.Store, id, o.Tags); err != nil {
			return nil, err
		}
		img, err := m.Store.Image(id)
		if err == nil {
			out.Names = img.Names
		}
		if !o.Quiet {
			for _, t := range o.Tags {
				if n, err := imagestore.NormalizeName(t); err == nil {
					fmt.Fprintf(o.Out, "Successfully tagged %s\n", n.String())
				}
			}
		}
	}
	return out, nil
}

func pullPolicy(p string) string {
	if p == "" {
		return imagestore.PullMissing
	}
	return p
}

// readContainerfile finds and reads the Containerfile.
func readContainerfile(o Options) (string, []byte, error) {
	if o.ContainerfileData != nil {
		name := o.Containerfile
		if name == "" || name == "-" {
			name = "Containerfile"
		}
		return name, o.ContainerfileData, nil
	}
	if o.Containerfile != "" {
		b, err := os.ReadFile(o.Containerfile)
		if err != nil {
			return "", nil, fmt.Errorf("reading %s: %w", o.Containerfile, err)
		}
		return o.Containerfile, b, nil
	}
	for _, n := range []string{"Containerfile", "Dockerfile"} {
		p := filepath.Join(o.ContextDir, n)
		if b, err := os.ReadFile(p); err == nil {
			return p, b, nil
		}
	}
	return "", nil, fmt.Errorf("no Containerfile or Dockerfile in %s (use -f)", o.ContextDir)
}

var lineRE = regexp.MustCompile(`(?i)(?:dockerfile parse error )?on line (\d+): ?`)

// locate turns a parse error into "FILE:LINE: message".
func locate(file string, err error) error {
	var le *parser.LocationError
	line := 0
	if errors.As(err, &le) && len(le.Locations) > 0 && len(le.Locations[0]) > 0 {
		line = le.Locations[0][0].Start.Line
	}
	msg := err.Error()
	if m := lineRE.FindStringSubmatch(msg); m != nil {
		if n, err := strconv.Atoi(m[1]); err == nil && line == 0 {
			line = n
		}
		msg = strings.Replace(msg, m[0], "", 1)
	}
	if line > 0 {
		return fmt.Errorf("%s:%d: %s", file, line, msg)
	}
	return fmt.Errorf("%s: %s", file, msg)
}

// builder is one build's state.
type builder struct {
	m      *container.Manager
	o      Options
	file   string
	stages []instructions.Stage
	ignore *copier.Ignore
	escape rune

	// meta holds the arguments declared before the first FROM, with
	// their values (build args applied).
	meta     map[string]string
	metaKeys []string

	mu      sync.Mutex
	used    map[string]bool // build args consumed
	results map[int]*stageResult
	// temporary images (stages without --layers) removed at the end.
	temps []string
	// working containers open right now, removed on any exit.
	open map[string]*container.Container
}

type stageResult struct {
	done    chan struct{}
	imageID string
	err     error
}

// stageIndex finds a stage by name or index.
func (b *builder) stageIndex(ref string) (int, bool) {
	for i, s := range b.stages {
		if s.Name != "" && strings.EqualFold(s.Name, ref) {
			return i, true
		}
	}
	if n, err := strconv.Atoi(ref); err == nil && n >= 0 && n < len(b.stages) {
		return n, true
	}
	return 0, false
}

// run builds stage target and the stages it needs, independent ones in
// parallel (up to Jobs), and returns target's image.
func (b *builder) run(ctx context.Context, target int) (string, error) {
	jobs := b.o.Jobs
	if jobs < 1 {
		jobs = 1
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	b.results = map[int]*stageResult{}
	sem := make(chan struct{}, jobs)
	var start func(i int) *stageResult
	start = func(i int) *stageResult {
		b.mu.Lock()
		if r, ok := b.results[i]; ok {
			b.mu.Unlock()
			return r
		}
		r := &stageResult{done: make(chan struct{})}
		b.results[i] = r
		b.mu.Unlock()
		go func() {
			defer close(r.done)
			deps := b.dependencies(i)
			for _, d := range deps {
				dr := start(d)
				select {
				case <-dr.done:
				case <-ctx.Done():
					r.err = ctx.Err()
					return
				}
				if dr.err != nil {
					r.err = dr.err
					return
				}
			}
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				r.err = ctx.Err()
				return
			}
			defer func() { <-sem }()
			r.imageID, r.err = b.buildStage(ctx, i, i == target)
			if r.err != nil {
				cancel()
			}
		}()
		return r
	}
	// Start every needed stage at once so independent ones overlap.
	for _, i := range b.needed(target) {
		start(i)
	}
	r := start(target)
	<-r.done
	// A failed dependency's error is the one to report.
	for _, i := range b.needed(target) {
		dr := b.results[i]
		<-dr.done
		if dr.err != nil && !errors.Is(dr.err, context.Canceled) {
			return "", dr.err
		}
	}
	if r.err != nil {
		return "", r.err
	}
	return r.imageID, nil
}

// needed lists the stages target depends on, transitively, and target.
func (b *builder) needed(target int) []int {
	seen := map[int]bool{}
	var out []int
	var visit func(i int)
	visit = func(i int) {
		if seen[i] {
			return
		}
		seen[i] = true
		for _, d := range b.dependencies(i) {
			visit(d)
		}
		out = append(out, i)
	}
	visit(target)
	return out
}

// dependencies are the earlier stages stage i uses: as its base, in
// COPY --from and in RUN --mount from=.
func (b *builder) dependencies(i int) []int {
	var refs []string
	s := b.stages[i]
	refs = append(refs, b.expandMeta(s.BaseName))
	for _, c := range s.Commands {
		switch c := c.(type) {
		case *instructions.CopyCommand:
			if c.From != "" {
				refs = append(refs, b.expandMeta(c.From))
			}
		case *instructions.RunCommand:
			for _, f := range c.FlagsUsed {
				_ = f
			}
			for _, m := range mountFromRefs(c) {
				refs = append(refs, b.expandMeta(m))
			}
		}
	}
	var out []int
	for _, r := range refs {
		if j, ok := b.stageIndex(r); ok && j < i {
			// A stage number only counts when the ref is a number.
			if _, err := strconv.Atoi(r); err == nil || b.stages[j].Name != "" {
				out = append(out, j)
			}
		}
	}
	return out
}

// cleanup removes what the build leaves behind: open working containers
// and temporary stage images.
func (b *builder) cleanup() {
	b.mu.Lock()
	open := b.open
	temps := b.temps
	b.open = nil
	b.mu.Unlock()
	for _, c := range open {
		if err := c.Remove(); err != nil {
			logrus.Warnf("removing working container %s: %v", c.Name, err)
		}
	}
	for _, id := range temps {
		if _, err := b.m.Store.DeleteImage(id, true); err != nil {
			logrus.Debugf("removing temporary image %s: %v", id, err)
		}
	}
}

// track records an open working container; untrack removes it.
func (b *builder) track(c *container.Container) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.open == nil {
		b.open = map[string]*container.Container{}
	}
	b.open[c.ID] = c
}

func (b *builder) untrack(c *container.Container) {
	b.mu.Lock()
	delete(b.open, c.ID)
	b.mu.Unlock()
	if err := c.Remove(); err != nil {
		logrus.Warnf("removing working container %s: %v", c.Name, err)
	}
}

// printf writes progress unless quiet.
func (b *builder) printf(format string, args ...any) {
	if b.o.Quiet {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	fmt.Fprintf(b.o.Out, format, args...)
}

// nativePlatform is the platform RUN steps can execute on.
func nativePlatform() (os, arch, variant string) {
	return runtime.GOOS, runtime.GOARCH, ""
}
