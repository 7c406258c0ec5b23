package build

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/containers/storage"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ocisuite/suite/builder/container"
	"github.com/ocisuite/suite/shared/oci"
)

// defaultPath is the PATH of a stage from scratch.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// defaultShell runs shell-form instructions.
var defaultShell = []string{"/bin/sh", "-c"}

// stage is the state of one stage being built.
type stage struct {
	b     *builder
	idx   int
	final bool
	// imageID is the image the stage stands on now ("" for scratch).
	imageID string
	cfg     dockerspec.DockerOCIImage
	// key is the cache key of the state so far.
	key string
	sc  *scope
	// ctr is the stage's working container without --layers.
	ctr *container.Container
	// layerEntry, when not -1, is the existing history entry the next
	// filesystem step's layer belongs to (a WORKDIR whose directory is
	// made at the end of the stage), so that it adds none.
	layerEntry int
	// lastLayerEntry is the history entry of the last filesystem step
	// without --layers (-1: none yet).
	lastLayerEntry int
	// dirs are WORKDIRs to create at the next filesystem step.
	dirs []pendingDir
	// cmdSet records a CMD in this stage (ENTRYPOINT then keeps it).
	cmdSet   bool
	step, of int
	label    string
	changed  bool // the configuration changed since the last image
}

type pendingDir struct {
	path, user string
}

// layers reports whether each step gets its own image (and the cache).
func (b *builder) layers() bool { return b.o.Layers && !b.o.Squash }

// buildStage builds stage i and returns its image.
func (b *builder) buildStage(ctx context.Context, i int, final bool) (string, error) {
	s := b.stages[i]
	st := &stage{b: b, idx: i, final: final, sc: newScope(), lastLayerEntry: -1, layerEntry: -1}
	if len(b.stages) > 1 {
		st.label = fmt.Sprintf("[%d/%d] ", i+1, len(b.stages))
	}
	cmds := s.Commands
	base := b.expandMeta(s.BaseName)
	if i == 0 && b.o.From != "" {
		base = b.o.From
	}
	if err := b.checkPlatform(s); err != nil {
		return "", err
	}
	st.of = len(cmds) + 1
	st.printStep(s.SourceCode)
	if err := st.from(ctx, base); err != nil {
		return "", st.fail(s.SourceCode, s.Location, err)
	}
	// ONBUILD triggers of the base run first, then are dropped.
	if triggers := st.cfg.Config.OnBuild; len(triggers) > 0 {
		var pre []instructions.Command
		for _, t := range triggers {
			c, err := parseTrigger(t)
			if err != nil {
				return "", fmt.Errorf("%s: ONBUILD trigger %q of %s: %w", b.file, t, base, err)
			}
			pre = append(pre, c)
		}
		st.cfg.Config.OnBuild = nil
		st.key = cacheKey(st.key, "ONBUILD-CLEAR")
		st.changed = true
		cmds = append(pre, cmds...)
		st.of += len(pre)
	}
	for _, e := range b.o.Env {
		k, v, _ := strings.Cut(e, "=")
		st.cfg.Config.Env = setEnv(st.cfg.Config.Env, k, v)
		st.key = cacheKey(st.key, "ENV "+e)
		st.changed = true
	}
	for _, c := range cmds {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		text := fmt.Sprint(c)
		st.printStep(text)
		if err := st.dispatch(ctx, c); err != nil {
			return "", st.fail(text, c.Location(), err)
		}
	}
	return st.finish(ctx)
}

func (b *builder) checkPlatform(s instructions.Stage) error {
	if s.Platform == "" {
		return nil
	}
	p := b.expandMeta(s.Platform)
	goos, arch, _ := nativePlatform()
	if p == goos+"/"+arch || p == arch {
		return nil
	}
	return fmt.Errorf("%s: FROM --platform=%s: only the native platform %s/%s can be built here", b.file, p, goos, arch)
}

// parseTrigger parses an ONBUILD trigger as an instruction.
func parseTrigger(t string) (instructions.Command, error) {
	res, err := parser.Parse(strings.NewReader(t))
	if err != nil {
		return nil, err
	}
	if len(res.AST.Children) != 1 {
		return nil, errors.New("not one instruction")
	}
	labs, err := takeLabsFlags(res.AST)
	if err != nil {
		return nil, err
	}
	c, err := instructions.ParseCommand(res.AST.Children[0])
	if err != nil {
		return nil, err
	}
	setLabsFlags([]instructions.Command{c}, labs)
	return c, nil
}

func (st *stage) printStep(text string) {
	st.step++
	st.b.printf("%sSTEP %d/%d: %s\n", st.label, st.step, st.of, text)
}

// fail wraps a step's error with the file and line.
func (st *stage) fail(text string, loc []parser.Range, err error) error {
	if errors.Is(err, context.Canceled) {
		return err
	}
	line := ""
	if len(loc) > 0 {
		line = fmt.Sprintf(":%d", loc[0].Start.Line)
	}
	return fmt.Errorf("%s%s: %s: %w", st.b.file, line, oneLine(text), err)
}

func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i] + " …"
	}
	return s
}

// stageImage waits for stage j, which run started as a dependency, and
// returns its image. The results map is read under the lock: run may
// still be adding the entries of other stages.
func (b *builder) stageImage(ctx context.Context, j int) (string, error) {
	b.mu.Lock()
	r := b.results[j]
	b.mu.Unlock()
	if r == nil {
		return "", fmt.Errorf("stage %d (%s) is not built in this build", j, b.stages[j].Name)
	}
	select {
	case <-r.done:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	return r.imageID, r.err
}

// from sets the stage's base: an earlier stage, scratch or an image.
func (st *stage) from(ctx context.Context, base string) error {
	b := st.b
	if j, ok := b.stageIndex(base); ok && j < st.idx && (b.stages[j].Name != "" || isNumber(base)) {
		id, err := b.stageImage(ctx, j)
		if err != nil {
			return err
		}
		st.imageID = id
	} else if base == container.Scratch {
		st.imageID = ""
	} else {
		img, err := b.m.ResolveImage(ctx, base, pullPolicy(b.o.Pull))
		if err != nil {
			return err
		}
		st.imageID = img.ID
	}
	if st.imageID == "" {
		st.cfg = container.ScratchConfig()
		// As BuildKit and buildah, a stage from scratch has the
		// default PATH.
		st.cfg.Config.Env = []string{"PATH=" + defaultPath}
	} else {
		cfg, err := container.ImageConfig(ctx, b.m.Store, st.imageID)
		if err != nil {
			return err
		}
		st.cfg = cfg
	}
	st.key = cacheKey("", "FROM", st.imageID, b.o.Format, timestampKey(b.o.Timestamp))
	return nil
}

func isNumber(s string) bool { _, err := strconv.Atoi(s); return err == nil }

func timestampKey(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// cacheKey chains a key with a step's inputs.
func cacheKey(prev string, parts ...string) string {
	h := sha256.New()
	h.Write([]byte(prev))
	for _, p := range parts {
		h.Write([]byte{0})
		h.Write([]byte(p))
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// now is the time of history entries: the fixed timestamp when given.
func (st *stage) now() time.Time {
	if st.b.o.Timestamp != nil {
		return st.b.o.Timestamp.UTC()
	}
	return time.Now().UTC()
}

// meta records a step that changes only the configuration.
func (st *stage) meta(createdBy string) {
	st.cfg.History = append(st.cfg.History, v1.History{Created: ptr(st.now()), CreatedBy: createdBy, EmptyLayer: true})
	st.key = cacheKey(st.key, createdBy)
	st.changed = true
}

func ptr[T any](v T) *T { return &v }

// nop is how buildah writes configuration-only steps in history.
func nop(s string) string { return "/bin/sh -c #(nop) " + s }

// expander expands words with the stage's ENV and ARGs.
func (st *stage) expander() instructions.SingleWordExpander {
	env := st.b.envGetter(st.sc, st.cfg.Config.Env)
	return func(word string) (string, error) {
		r, err := st.b.lex().ProcessWordWithMatches(word, env)
		if err != nil {
			return "", err
		}
		return r.Result, nil
	}
}

// shell is the stage's SHELL.
func (st *stage) shell() []string {
	if len(st.cfg.Config.Shell) > 0 {
		return st.cfg.Config.Shell
	}
	return defaultShell
}

// commandLine turns CMD/ENTRYPOINT/RUN arguments into argv.
func (st *stage) commandLine(c instructions.ShellDependantCmdLine) []string {
	if !c.PrependShell {
		return slices.Clone(c.CmdLine)
	}
	if len(c.CmdLine) == 0 {
		return nil
	}
	return append(slices.Clone(st.shell()), strings.Join(c.CmdLine, " "))
}

// dispatch executes one instruction.
func (st *stage) dispatch(ctx context.Context, c instructions.Command) error {
	if e, ok := c.(instructions.SupportsSingleWordExpansion); ok {
		if err := e.Expand(st.expander()); err != nil {
			return err
		}
	}
	if e, ok := c.(instructions.SupportsSingleWordExpansionRaw); ok {
		if err := e.ExpandRaw(st.expander()); err != nil {
			return err
		}
	}
	cfg := &st.cfg.Config
	switch c := c.(type) {
	case *instructions.EnvCommand:
		var parts []string
		for _, kv := range c.Env {
			cfg.Env = setEnv(cfg.Env, kv.Key, kv.Value)
			parts = append(parts, kv.Key+"="+kv.Value)
		}
		st.meta(nop("ENV " + strings.Join(parts, " ")))
	case *instructions.LabelCommand:
		if cfg.Labels == nil {
			cfg.Labels = map[string]string{}
		}
		var parts []string
		for _, kv := range c.Labels {
			cfg.Labels[kv.Key] = kv.Value
			parts = append(parts, strconv.Quote(kv.Key)+"="+strconv.Quote(kv.Value))
		}
		st.meta(nop("LABEL " + strings.Join(parts, " ")))
	case *instructions.MaintainerCommand:
		st.cfg.Author = c.Maintainer
		st.meta(nop("MAINTAINER " + c.Maintainer))
	case *instructions.ExposeCommand:
		if cfg.ExposedPorts == nil {
			cfg.ExposedPorts = map[string]struct{}{}
		}
		var all []string
		for _, p := range c.Ports {
			words, err := st.b.lex().ProcessWords(p, st.b.envGetter(st.sc, cfg.Env))
			if err != nil {
				return err
			}
			for _, w := range words {
				ports, err := expandPorts(w)
				if err != nil {
					return err
				}
				for _, port := range ports {
					cfg.ExposedPorts[port] = struct{}{}
					all = append(all, port)
				}
			}
		}
		st.meta(nop("EXPOSE " + strings.Join(all, " ")))
	case *instructions.VolumeCommand:
		if cfg.Volumes == nil {
			cfg.Volumes = map[string]struct{}{}
		}
		for _, v := range c.Volumes {
			if v == "" {
				return errors.New("VOLUME specified can not be an empty string")
			}
			cfg.Volumes[v] = struct{}{}
		}
		st.meta(nop("VOLUME " + fmt.Sprint(c.Volumes)))
	case *instructions.UserCommand:
		cfg.User = c.User
		st.meta(nop("USER " + c.User))
	case *instructions.WorkdirCommand:
		wd := c.Path
		if !path.IsAbs(wd) {
			cur := cfg.WorkingDir
			if cur == "" {
				cur = "/"
			}
			wd = path.Join(cur, wd)
		}
		cfg.WorkingDir = path.Clean(wd)
		st.dirs = append(st.dirs, pendingDir{path: cfg.WorkingDir, user: cfg.User})
		st.meta(nop("WORKDIR " + cfg.WorkingDir))
	case *instructions.ShellCommand:
		cfg.Shell = slices.Clone(c.Shell)
		st.meta(nop("SHELL " + jsonString(c.Shell)))
	case *instructions.StopSignalCommand:
		cfg.StopSignal = c.Signal
		st.meta(nop("STOPSIGNAL " + c.Signal))
	case *instructions.HealthCheckCommand:
		h := *c.Health
		cfg.Healthcheck = &h
		st.meta(nop("HEALTHCHECK " + jsonString(h)))
	case *instructions.CmdCommand:
		cfg.Cmd = st.commandLine(c.ShellDependantCmdLine)
		st.cmdSet = true
		st.meta(nop("CMD " + jsonString(cfg.Cmd)))
	case *instructions.EntrypointCommand:
		cfg.Entrypoint = st.commandLine(c.ShellDependantCmdLine)
		if !st.cmdSet {
			cfg.Cmd = nil
		}
		st.meta(nop("ENTRYPOINT " + jsonString(cfg.Entrypoint)))
	case *instructions.OnbuildCommand:
		cfg.OnBuild = append(cfg.OnBuild, c.Expression)
		st.meta(nop("ONBUILD " + c.Expression))
	case *instructions.ArgCommand:
		var parts []string
		for _, a := range c.Args {
			if err := st.b.declare(st.sc, cfg.Env, a); err != nil {
				return err
			}
			if a.Value == nil {
				parts = append(parts, a.Key)
			} else {
				parts = append(parts, a.Key+"="+*a.Value)
			}
		}
		// The history entry (as Docker and buildah record one) names
		// the defaults only: a --build-arg value reaches the cache key
		// through the RUN steps that see it.
		st.meta(nop("ARG " + strings.Join(parts, " ")))
	case *instructions.RunCommand:
		return st.run(ctx, c)
	case *instructions.CopyCommand:
		return st.copy(ctx, c)
	case *instructions.AddCommand:
		return st.add(ctx, c)
	default:
		return fmt.Errorf("instruction %T is not supported", c)
	}
	return nil
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// expandPorts turns "80", "80/udp" or "8000-8002/tcp" into "N/proto" ports.
func expandPorts(p string) ([]string, error) {
	num, proto, _ := strings.Cut(p, "/")
	if proto == "" {
		proto = "tcp"
	}
	proto = strings.ToLower(proto)
	if proto != "tcp" && proto != "udp" && proto != "sctp" {
		return nil, fmt.Errorf("invalid EXPOSE protocol %q", proto)
	}
	lo, hi, isRange := strings.Cut(num, "-")
	a, err := strconv.ParseUint(lo, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("invalid EXPOSE port %q", p)
	}
	b := a
	if isRange {
		if b, err = strconv.ParseUint(hi, 10, 16); err != nil || b < a {
			return nil, fmt.Errorf("invalid EXPOSE port range %q", p)
		}
	}
	var out []string
	for n := a; n <= b; n++ {
		out = append(out, fmt.Sprintf("%d/%s", n, proto))
	}
	return out, nil
}

// fsStep runs a step that changes the filesystem. With --layers the step
// is looked up in the cache by key first; else it runs in a new working
// container on the current image, which is committed as the step's image.
// Without --layers it runs in the stage's one container.
func (st *stage) fsStep(ctx context.Context, key, createdBy string, do func(ctx context.Context, c *container.Container, rootfs string) error) error {
	b := st.b
	key = cacheKey(st.key, key)
	if b.layers() && !b.o.NoCache {
		if id := b.cached(key); id != "" {
			cfg, err := container.ImageConfig(ctx, b.m.Store, id)
			if err == nil {
				st.imageID, st.cfg, st.key, st.changed, st.dirs = id, cfg, cacheKey(key, id), false, nil
				b.printf("--> Using cache %s\n", id)
				return nil
			}
		}
	}
	if b.layers() && !b.o.NoCache && len(b.o.CacheFrom) > 0 {
		if id := b.pullCached(ctx, key); id != "" {
			cfg, err := container.ImageConfig(ctx, b.m.Store, id)
			if err == nil {
				st.imageID, st.cfg, st.key, st.changed, st.dirs = id, cfg, cacheKey(key, id), false, nil
				b.printf("--> Using cache %s (from a registry)\n", id)
				return nil
			}
		}
	}
	c, err := st.container(ctx)
	if err != nil {
		return err
	}
	rootfs, err := c.Mount()
	if err != nil {
		return err
	}
	err = st.makeDirs(c, rootfs)
	if err == nil {
		err = do(ctx, c, rootfs)
	}
	if uerr := c.Unmount(false); err == nil {
		err = uerr
	}
	if err != nil {
		return err
	}
	if !b.layers() {
		if st.layerEntry >= 0 {
			st.lastLayerEntry = st.layerEntry
		} else {
			st.cfg.History = append(st.cfg.History, v1.History{Created: ptr(st.now()), CreatedBy: createdBy, EmptyLayer: true})
			st.lastLayerEntry = len(st.cfg.History) - 1
		}
		st.key = cacheKey(key, "nolayers")
		return nil
	}
	c.Config = st.cfg
	co := container.CommitOptions{
		Format: b.o.Format, CreatedBy: createdBy, Timestamp: b.o.Timestamp, Metadata: cacheMetadata(key),
	}
	if st.layerEntry >= 0 {
		c.Config.History = slices.Clone(c.Config.History)
		c.Config.History[st.layerEntry].EmptyLayer = false
		co.NoHistory = true
	}
	id, err := c.Commit(ctx, co)
	b.untrack(c)
	if err != nil {
		return err
	}
	cfg, err := container.ImageConfig(ctx, b.m.Store, id)
	if err != nil {
		return err
	}
	st.imageID, st.cfg, st.changed = id, cfg, false
	if err := b.pushCached(ctx, key, id); err != nil {
		return err
	}
	// The steps after a fresh one chain on its result, so that they miss
	// the cache unless this step made the same image as before.
	st.key = cacheKey(key, id)
	b.printf("--> %s\n", id[:12])
	return nil
}

// container is the working container for the next step.
func (st *stage) container(ctx context.Context) (*container.Container, error) {
	b := st.b
	if !b.layers() && st.ctr != nil {
		return st.ctr, nil
	}
	c, err := b.m.FromImageID(ctx, st.imageID, st.cfg, b.o.Format)
	if err != nil {
		return nil, err
	}
	b.track(c)
	if !b.layers() {
		st.ctr = c
	}
	return c, nil
}

// makeDirs creates the pending WORKDIRs.
func (st *stage) makeDirs(c *container.Container, rootfs string) error {
	for _, d := range st.dirs {
		uid, gid := 0, 0
		if d.user != "" {
			if u, err := oci.ResolveUser(rootfs, d.user); err == nil {
				uid, gid = u.Uid, u.Gid
			}
		}
		if err := c.EnsureDir(rootfs, d.path, uid, gid); err != nil {
			return err
		}
	}
	st.dirs = nil
	return nil
}

// finish commits the stage's image: the last step's image when nothing
// changed since, else one with the final configuration.
func (st *stage) finish(ctx context.Context) (string, error) {
	b := st.b
	if len(st.dirs) > 0 {
		// A WORKDIR with no filesystem step after it: create it, in a
		// layer of the WORKDIR's own history entry (as BuildKit).
		createdBy := nop("WORKDIR " + st.cfg.Config.WorkingDir)
		for i := len(st.cfg.History) - 1; i >= 0; i-- {
			if h := st.cfg.History[i]; h.EmptyLayer && h.CreatedBy == createdBy {
				st.layerEntry = i
				break
			}
		}
		err := st.fsStep(ctx, "WORKDIR-CREATE", createdBy, func(context.Context, *container.Container, string) error { return nil })
		st.layerEntry = -1
		if err != nil {
			return "", err
		}
	}
	if st.final {
		st.applyFinal()
	}
	key := st.key
	if !b.layers() {
		c, err := st.container(ctx)
		if err != nil {
			return "", err
		}
		c.Config = st.cfg
		o := container.CommitOptions{Format: b.o.Format, Timestamp: b.o.Timestamp, Annotations: st.annotations(), NoHistory: true}
		if st.lastLayerEntry >= 0 {
			c.Config.History[st.lastLayerEntry].EmptyLayer = false
		} else {
			o.EmptyLayer = true
		}
		id, err := c.Commit(ctx, o)
		b.untrack(c)
		st.ctr = nil
		if err != nil {
			return "", err
		}
		if !st.final {
			b.mu.Lock()
			b.temps = append(b.temps, id)
			b.mu.Unlock()
		}
		b.printf("--> %s\n", id[:12])
		return id, nil
	}
	if !st.changed && st.imageID != "" && len(st.annotations()) == 0 {
		return st.imageID, nil
	}
	if !b.o.NoCache {
		if id := b.cached(key); id != "" {
			b.printf("--> Using cache %s\n", id)
			return id, nil
		}
	}
	id, err := b.m.CommitConfig(ctx, st.imageID, st.cfg, container.CommitOptions{
		Format: b.o.Format, Timestamp: b.o.Timestamp, Metadata: cacheMetadata(key), Annotations: st.annotations(),
	})
	if err != nil {
		return "", err
	}
	b.printf("--> %s\n", id[:12])
	return id, nil
}

// applyFinal applies --label, --unsetenv to the final stage's
// configuration (--env was applied at its start).
func (st *stage) applyFinal() {
	b := st.b
	cfg := &st.cfg.Config
	for _, l := range b.o.Labels {
		k, v, _ := strings.Cut(l, "=")
		if cfg.Labels == nil {
			cfg.Labels = map[string]string{}
		}
		cfg.Labels[k] = v
		st.key = cacheKey(st.key, "LABEL "+l)
		st.changed = true
	}
	for _, u := range b.o.UnsetEnv {
		cfg.Env = slices.DeleteFunc(cfg.Env, func(kv string) bool { k, _, _ := strings.Cut(kv, "="); return k == u })
		st.key = cacheKey(st.key, "UNSETENV "+u)
		st.changed = true
	}
	if a := st.annotations(); len(a) > 0 {
		st.key = cacheKey(st.key, "ANNOTATIONS "+jsonString(a))
	}
}

// annotations are the manifest annotations of the final image.
func (st *stage) annotations() map[string]string {
	if !st.final || len(st.b.o.Annotations) == 0 {
		return nil
	}
	out := map[string]string{}
	for _, a := range st.b.o.Annotations {
		k, v, _ := strings.Cut(a, "=")
		out[k] = v
	}
	return out
}

// cacheMetadata is the image metadata holding a cache key.
func cacheMetadata(key string) string {
	return jsonString(map[string]string{cacheKeyField: key})
}

const cacheKeyField = "ocisuite.build-cache-key"

// cached finds the newest image stored with key.
func (b *builder) cached(key string) string {
	imgs, err := b.m.Store.Images()
	if err != nil {
		return ""
	}
	var best *storage.Image
	for i := range imgs {
		img := &imgs[i]
		if !strings.Contains(img.Metadata, key) {
			continue
		}
		var md map[string]string
		if json.Unmarshal([]byte(img.Metadata), &md) != nil || md[cacheKeyField] != key {
			continue
		}
		if best == nil || img.Created.After(best.Created) {
			best = img
		}
	}
	if best == nil {
		return ""
	}
	return best.ID
}

// writeTemp writes content to a file in a new temporary directory.
func writeTemp(dir, name, content string, mode os.FileMode) (string, error) {
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return "", err
	}
	return p, os.WriteFile(p, []byte(content), mode)
}
