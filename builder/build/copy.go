package build

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"

	"github.com/ocisuite/suite/builder/container"
	"github.com/ocisuite/suite/builder/copier"
	"github.com/ocisuite/suite/shared/oci"
)

// fromImage resolves COPY --from / --mount from=: an earlier stage's
// image, or an image (pulled by the pull policy).
func (st *stage) fromImage(ctx context.Context, ref string) (string, error) {
	b := st.b
	ref = b.expandMeta(ref)
	if j, ok := b.stageIndex(ref); ok && j < st.idx && (b.stages[j].Name != "" || isNumber(ref)) {
		return b.stageImage(ctx, j)
	}
	img, err := b.m.ResolveImage(ctx, ref, pullPolicy(b.o.Pull))
	if err != nil {
		return "", err
	}
	return img.ID, nil
}

// copySpec is one COPY or ADD, resolved.
type copySpec struct {
	cmd      string
	sources  []string
	contents []instructions.SourceContent
	dest     string
	from     string
	chown    string
	chmod    string
	parents  bool
	excludes []string
	extract  bool
	checksum string
}

func (st *stage) copy(ctx context.Context, c *instructions.CopyCommand) error {
	return st.copyStep(ctx, copySpec{
		cmd: "COPY", sources: c.SourcePaths, contents: c.SourceContents, dest: c.DestPath,
		from: c.From, chown: c.Chown, chmod: c.Chmod, parents: c.Parents, excludes: c.ExcludePatterns,
	})
}

func (st *stage) add(ctx context.Context, c *instructions.AddCommand) error {
	extract := c.Unpack == nil || *c.Unpack
	return st.copyStep(ctx, copySpec{
		cmd: "ADD", sources: c.SourcePaths, contents: c.SourceContents, dest: c.DestPath,
		chown: c.Chown, chmod: c.Chmod, excludes: c.ExcludePatterns, extract: extract, checksum: c.Checksum,
	})
}

func isURL(s string) bool {
	return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://")
}

// copyStep runs COPY or ADD.
func (st *stage) copyStep(ctx context.Context, cs copySpec) error {
	b := st.b
	dest := cs.dest
	if !path.IsAbs(dest) {
		wd := st.cfg.Config.WorkingDir
		if wd == "" {
			wd = "/"
		}
		dir := strings.HasSuffix(dest, "/") || dest == "." || strings.HasSuffix(dest, "/.")
		dest = path.Join(wd, dest)
		if dir && !strings.HasSuffix(dest, "/") {
			dest += "/"
		}
	}
	var chmod *os.FileMode
	if cs.chmod != "" {
		n, err := strconv.ParseUint(cs.chmod, 8, 32)
		if err != nil || n > 0o7777 {
			return fmt.Errorf("invalid --chmod=%s: want an octal mode", cs.chmod)
		}
		m := os.FileMode(n)
		chmod = &m
	}
	opts := copier.Options{Chmod: chmod, Parents: cs.parents, Excludes: cs.excludes, Extract: cs.extract}
	srcRoot := b.o.ContextDir
	var urls, local []string
	for _, s := range cs.sources {
		if isURL(s) {
			if cs.cmd != "ADD" {
				return fmt.Errorf("COPY cannot fetch %s: use ADD", s)
			}
			urls = append(urls, s)
			continue
		}
		if strings.HasPrefix(s, "git@") || strings.HasSuffix(s, ".git") {
			return fmt.Errorf("ADD from git (%s) is not supported", s)
		}
		local = append(local, s)
	}
	if cs.checksum != "" && len(local) > 0 {
		return fmt.Errorf("%s --checksum is only for URLs", cs.cmd)
	}
	var inputs string
	var fromID string
	switch {
	case cs.from != "":
		id, err := st.fromImage(ctx, cs.from)
		if err != nil {
			return err
		}
		fromID = id
		opts.PreserveOwnership = true
		opts.SourceName = cs.from
		inputs = "from:" + id + jsonString(local)
	case len(cs.contents) > 0:
		inputs = "heredoc:" + jsonString(cs.contents)
	default:
		opts.Ignore = b.ignore
		if len(local) > 0 {
			d, err := copier.Digest(srcRoot, local, opts)
			if err != nil {
				return err
			}
			inputs = "context:" + d
		}
	}
	// A URL's content is part of the key (unless --checksum names it), so
	// that a changed remote file is fetched again, as buildah does.
	var remote []string
	if cs.checksum == "" {
		for _, u := range urls {
			d, err := urlDigest(ctx, u)
			if err != nil {
				return err
			}
			remote = append(remote, d)
		}
	}
	key := cacheKey("", cs.cmd, dest, cs.chown, cs.chmod, strconv.FormatBool(cs.parents), jsonString(cs.excludes),
		strconv.FormatBool(cs.extract), jsonString(urls), jsonString(remote), cs.checksum, inputs)
	// History as buildah and Docker write it: "dir:", "file:" or
	// "multi:" and a digest of the inputs, then the destination as given.
	sum := strings.TrimPrefix(cacheKey("", inputs), "sha256:")
	what := "multi:" + sum
	if n, single := countSources(srcRoot, cs.from == "", local); n+len(urls)+len(cs.contents) == 1 {
		what = "file:" + sum
		if single != "" && isContextDir(srcRoot, single) {
			what = "dir:" + sum
		}
	}
	createdBy := nop(fmt.Sprintf("%s %s in %s ", cs.cmd, what, cs.dest))
	return st.fsStep(ctx, key, createdBy, func(ctx context.Context, ctr *container.Container, rootfs string) error {
		if cs.chown != "" {
			o, err := chownOwner(rootfs, cs.chown)
			if err != nil {
				return fmt.Errorf("--chown=%s: %w", cs.chown, err)
			}
			opts.Chown = &o
		}
		root := srcRoot
		sources := local
		if fromID != "" {
			mp, err := b.m.Store.MountImage(fromID, nil, "")
			if err != nil {
				return fmt.Errorf("mounting %s: %w", cs.from, err)
			}
			defer func() { _, _ = b.m.Store.UnmountImage(fromID, false) }()
			root = mp
		}
		if len(cs.contents) > 0 {
			tmp, err := os.MkdirTemp("", "builder-heredoc-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(tmp)
			sources = nil
			for _, sc := range cs.contents {
				if _, err := writeTemp(tmp, sc.Path, sc.Data, 0o644); err != nil {
					return err
				}
				sources = append(sources, sc.Path)
			}
			root = tmp
			opts.Ignore = nil
		}
		if len(sources) > 0 {
			if err := copier.Copy(root, sources, rootfs, dest, opts); err != nil {
				return err
			}
		}
		for _, u := range urls {
			if err := copier.Fetch(ctx, u, cs.checksum, rootfs, dest, opts); err != nil {
				return err
			}
		}
		return nil
	})
}

// urlDigest downloads rawURL and returns the digest of its content.
func urlDigest(ctx context.Context, rawURL string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return "", fmt.Errorf("ADD %s: %w", rawURL, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("ADD %s: %w", rawURL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return "", fmt.Errorf("ADD %s: unexpected HTTP status %s", rawURL, resp.Status)
	}
	h := sha256.New()
	if _, err := io.Copy(h, resp.Body); err != nil {
		return "", fmt.Errorf("ADD %s: %w", rawURL, err)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

// countSources counts the local sources with their globs expanded in the
// context (when inContext) and returns the one source when there is one.
func countSources(root string, inContext bool, local []string) (int, string) {
	n, single := 0, ""
	for _, l := range local {
		if !inContext || !strings.ContainsAny(l, "*?[") {
			n++
			single = l
			continue
		}
		m, _ := filepath.Glob(filepath.Join(root, filepath.Clean("/"+l)))
		n += len(m)
		if len(m) == 1 {
			single, _ = filepath.Rel(root, m[0])
		}
	}
	if n != 1 || !inContext {
		single = ""
	}
	return n, single
}

// isContextDir reports whether the source src (no wildcards) is a
// directory of the context root.
func isContextDir(root, src string) bool {
	p, err := securejoin.SecureJoin(root, src)
	if err != nil {
		return false
	}
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// chownOwner resolves COPY/ADD --chown as BuildKit does: a user name
// takes its primary group from /etc/passwd, a numeric user given without a
// group the same number as its group.
func chownOwner(rootfs, spec string) (copier.Owner, error) {
	u, err := oci.ResolveUser(rootfs, spec)
	if err != nil {
		return copier.Owner{}, err
	}
	o := copier.Owner{UID: u.Uid, GID: u.Gid}
	if usr, _, hasGroup := strings.Cut(spec, ":"); !hasGroup {
		if n, err := strconv.Atoi(usr); err == nil {
			o.GID = n
		}
	}
	return o, nil
}

// runCmd runs a host command, with its output in the error.
func runCmd(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %v: %s", name, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// labsFlags are COPY --parents and COPY/ADD --exclude of one instruction.
// BuildKit's instructions package accepts them only when built with its
// dfparents and dfexcludepatterns tags (the "labs" syntax), so takeLabsFlags
// removes them from the parsed nodes before instructions.Parse sees them
// and setLabsFlags puts them on the parsed commands.
type labsFlags struct {
	parents  bool
	excludes []string
}

// takeLabsFlags removes --parents and --exclude from the COPY and ADD
// nodes of root and returns them by the line an instruction starts on.
func takeLabsFlags(root *parser.Node) (map[int]labsFlags, error) {
	out := map[int]labsFlags{}
	for _, n := range root.Children {
		cmd := strings.ToLower(n.Value)
		if cmd != "copy" && cmd != "add" {
			continue
		}
		var lf labsFlags
		var keep []string
		for i, f := range n.Flags {
			if f == "--" {
				keep = append(keep, n.Flags[i:]...)
				break
			}
			name, value, hasValue := strings.Cut(f, "=")
			switch {
			case name == "--parents" && cmd == "copy":
				switch strings.ToLower(value) {
				case "", "true":
					if hasValue && value == "" {
						return nil, fmt.Errorf("on line %d: missing a value on flag: --parents", n.StartLine)
					}
					lf.parents = true
				case "false":
					lf.parents = false
				default:
					return nil, fmt.Errorf("on line %d: expecting boolean value for flag --parents, not: %s", n.StartLine, value)
				}
			case name == "--exclude":
				if !hasValue {
					return nil, fmt.Errorf("on line %d: missing a value on flag: --exclude", n.StartLine)
				}
				lf.excludes = append(lf.excludes, value)
			default:
				keep = append(keep, f)
			}
		}
		if lf.parents || len(lf.excludes) > 0 {
			n.Flags = keep
			out[n.StartLine] = lf
		}
	}
	return out, nil
}

// setLabsFlags sets the flags takeLabsFlags took on the commands parsed
// from the same nodes.
func setLabsFlags(cmds []instructions.Command, flags map[int]labsFlags) {
	if len(flags) == 0 {
		return
	}
	for _, c := range cmds {
		loc := c.Location()
		if len(loc) == 0 {
			continue
		}
		lf, ok := flags[loc[0].Start.Line]
		if !ok {
			continue
		}
		switch c := c.(type) {
		case *instructions.CopyCommand:
			c.Parents, c.ExcludePatterns = lf.parents, lf.excludes
		case *instructions.AddCommand:
			c.ExcludePatterns = lf.excludes
		}
	}
}
