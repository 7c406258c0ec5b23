// Package copier implements the file semantics of the Containerfile COPY and
// ADD instructions as BuildKit does them: copying from a build context or
// another root filesystem into a mounted container root filesystem, with
// ignore files, --exclude, --parents, --chown, --chmod, local archive
// extraction and URL downloads.
//
// Every destination path is resolved inside the container root with
// github.com/cyphar/filepath-securejoin, so symbolic links in the image
// cannot make a write land outside of it; paths below a resolved directory
// are never followed through symbolic links.
package copier

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"

	securejoin "github.com/cyphar/filepath-securejoin"
)

// Owner is a numeric owner.
type Owner struct {
	UID, GID int
}

// Options are the flags of one COPY or ADD.
type Options struct {
	// Chown is the resolved --chown owner of everything copied and of the
	// directories created for it. Nil keeps the default: files copied from
	// the build context belong to 0:0 (Docker semantics), files copied
	// with PreserveOwnership keep their owner, created directories belong
	// to 0:0.
	Chown *Owner
	// Chmod is --chmod, given as octal permission bits (0o4000, 0o2000 and
	// 0o1000 are setuid, setgid and sticky). It applies to every copied
	// file and directory, and to the destination directory a source
	// directory's contents are copied into when it is created.
	Chmod *os.FileMode
	// Parents is --parents: sources keep their path relative to the source
	// root, or to a "/./" pivot in them, below the destination directory.
	Parents bool
	// Excludes are --exclude patterns (ignore-file syntax). They match
	// paths relative to each source directory being copied (BuildKit),
	// and files a glob matches relative to the directory the glob starts
	// from or to the source root. A source named without a glob is never
	// excluded itself.
	Excludes []string
	// PreserveOwnership keeps the owner of the source files (COPY --from).
	PreserveOwnership bool
	// Extract makes sources that are tar archives (plain, gzip, bzip2, xz
	// or zstd, detected from their content) be extracted into the
	// destination directory instead of copied (ADD).
	Extract bool
	// Ignore holds the context ignore rules (nil when nothing is ignored,
	// as for --from sources).
	Ignore *Ignore
	// SourceName names the source root in error messages; empty means
	// "the build context".
	SourceName string
}

func (o *Options) cmd() string {
	if o.Extract {
		return "ADD"
	}
	return "COPY"
}

func (o *Options) sourceName() string {
	if o.SourceName != "" {
		return o.SourceName
	}
	return "the build context"
}

// owner returns the owner a copied entry with source info fi gets.
func (o *Options) owner(fi fs.FileInfo) (int, int) {
	if o.Chown != nil {
		return o.Chown.UID, o.Chown.GID
	}
	if o.PreserveOwnership {
		if uid, gid, ok := statOwner(fi); ok {
			return uid, gid
		}
	}
	return 0, 0
}

// dirOwner returns the owner of directories created on the way.
func (o *Options) dirOwner() Owner {
	if o.Chown != nil {
		return *o.Chown
	}
	return Owner{}
}

// mode returns the permission bits a copied entry with source mode m gets.
func (o *Options) mode(m fs.FileMode) fs.FileMode {
	if o.Chmod == nil {
		return m & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)
	}
	return chmodBits(*o.Chmod)
}

// chmodBits converts octal permission bits (or Go mode bits) to a FileMode
// for os.Chmod.
func chmodBits(c os.FileMode) fs.FileMode {
	m := c & fs.ModePerm
	if c&0o4000 != 0 || c&fs.ModeSetuid != 0 {
		m |= fs.ModeSetuid
	}
	if c&0o2000 != 0 || c&fs.ModeSetgid != 0 {
		m |= fs.ModeSetgid
	}
	if c&0o1000 != 0 || c&fs.ModeSticky != 0 {
		m |= fs.ModeSticky
	}
	return m
}

// unit is one source to copy after glob expansion.
type unit struct {
	arg     string      // the source argument as written
	src     string      // host path, the argument's symbolic links resolved
	ctxRel  string      // slash path of src relative to the source root
	name    string      // base name a non-directory gets in a destination directory
	info    fs.FileInfo // of src
	include *matcher    // --parents pattern, relative to src
}

// Copy copies sources, paths relative to srcRoot that may contain
// filepath.Match wildcards, to dest, an absolute path in the container
// whose root filesystem is mounted at rootfs. A trailing "/" on dest makes
// it a directory.
//
// A source directory's contents are copied into dest. A file goes to
// dest/name when dest ends with "/" or is an existing directory, else it
// becomes dest. Several sources need a dest ending with "/". The source
// arguments themselves are followed when they are symbolic links (inside
// srcRoot); links below them are copied as links.
func Copy(srcRoot string, sources []string, rootfs, dest string, o Options) (err error) {
	if srcRoot, err = absRoot("source", srcRoot); err != nil {
		return err
	}
	if rootfs, err = absRoot("destination root", rootfs); err != nil {
		return err
	}
	defer func() { err = hideRoots(err, srcRoot, rootfs) }()

	units, exclude, err := plan(srcRoot, sources, &o)
	if err != nil {
		return err
	}
	dest = filepath.ToSlash(dest)
	dirDest := strings.HasSuffix(dest, "/") || strings.HasSuffix(dest, "/.") || dest == "."
	if !o.Parents && len(units) > 1 && !dirDest {
		//lint:ignore ST1005 Docker's message, word for word
		return fmt.Errorf("When using %s with more than one source file, the destination must be a directory and end with a /", o.cmd())
	}
	w := &writer{o: &o, links: map[fileID]string{}}
	for _, u := range units {
		if err := w.copyUnit(u, rootfs, dest, exclude); err != nil {
			return fmt.Errorf("%s %s: %w", o.cmd(), u.arg, err)
		}
	}
	return nil
}

// absRoot makes a root directory absolute and clean. An empty root is
// refused: resolving inside it would mean the host's root directory.
func absRoot(what, p string) (string, error) {
	if p == "" {
		return "", fmt.Errorf("no %s directory given", what)
	}
	return filepath.Abs(p)
}

func excludeMatcher(o *Options) (*matcher, error) {
	if len(o.Excludes) == 0 {
		return nil, nil
	}
	m, err := newMatcher(o.Excludes)
	if err != nil {
		return nil, fmt.Errorf("%s --exclude: %w", o.cmd(), err)
	}
	return m, nil
}

// plan expands the source arguments into units, in argument order and,
// for globs, in lexical order. It also returns the --exclude matcher.
func plan(srcRoot string, sources []string, o *Options) ([]*unit, *matcher, error) {
	if len(sources) == 0 {
		return nil, nil, fmt.Errorf("%s failed: no source files were specified", o.cmd())
	}
	exclude, err := excludeMatcher(o)
	if err != nil {
		return nil, nil, err
	}
	var units []*unit
	for _, arg := range sources {
		var us []*unit
		var err error
		if o.Parents {
			us, err = planParents(srcRoot, arg, o)
		} else {
			us, err = planSource(srcRoot, arg, o, exclude)
		}
		if err != nil {
			return nil, nil, err
		}
		units = append(units, us...)
	}
	return units, exclude, nil
}

// cleanSource makes a source argument a slash path relative to the source
// root ("" for the root), refusing paths that climb out of it.
func cleanSource(arg string, o *Options) (string, error) {
	p := filepath.ToSlash(arg)
	rel := path.Clean(strings.TrimLeft(p, "/"))
	if rel == ".." || strings.HasPrefix(rel, "../") {
		return "", fmt.Errorf("%s source %s is outside %s", o.cmd(), arg, o.sourceName())
	}
	if rel == "." {
		rel = ""
	}
	return rel, nil
}

func (o *Options) notFound(arg string) error {
	return fmt.Errorf("%s source %q: no such file or directory in %s", o.cmd(), arg, o.sourceName())
}

// planSource expands one source argument. Files matched by a glob are
// left out when an --exclude pattern matches their path relative to the
// directory the glob starts from or to the source root (the directories it
// matches are filtered inside, as BuildKit does).
func planSource(srcRoot, arg string, o *Options, exclude *matcher) ([]*unit, error) {
	rel, err := cleanSource(arg, o)
	if err != nil {
		return nil, err
	}
	ig := o.Ignore.matcher()
	if !hasWildcards(rel) {
		u, err := resolveUnit(srcRoot, rel, arg, ig)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, o.notFound(arg)
			}
			return nil, fmt.Errorf("%s source %q: %w", o.cmd(), arg, err)
		}
		return []*unit{u}, nil
	}
	matches, err := glob(srcRoot, rel, ig)
	if err != nil {
		return nil, fmt.Errorf("%s source %q: %w", o.cmd(), arg, err)
	}
	var units []*unit
	for _, m := range matches {
		u, err := resolveUnit(srcRoot, m.rel, arg, ig)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				// A dangling link, or one into ignored files.
				return nil, o.notFound(m.rel)
			}
			return nil, fmt.Errorf("%s source %q: %w", o.cmd(), arg, err)
		}
		if exclude != nil && !u.info.IsDir() && (exclude.matches(m.baseRel) || exclude.matches(m.rel)) {
			continue
		}
		units = append(units, u)
	}
	if len(matches) == 0 {
		return nil, fmt.Errorf("%s failed: no source files match pattern %q in %s", o.cmd(), arg, o.sourceName())
	}
	return units, nil
}

// resolveUnit resolves the source rel (relative to srcRoot, symbolic links
// followed inside it) and checks it is not ignored.
func resolveUnit(srcRoot, rel, arg string, ig *matcher) (*unit, error) {
	if ig != nil && rel != "" && excludedEntirely(ig, rel) {
		return nil, fs.ErrNotExist
	}
	src, err := securejoin.SecureJoin(srcRoot, rel)
	if err != nil {
		return nil, err
	}
	fi, err := os.Lstat(src)
	if err != nil {
		return nil, err
	}
	ctxRel, err := filepath.Rel(srcRoot, src)
	if err != nil {
		return nil, err
	}
	ctxRel = filepath.ToSlash(ctxRel)
	if ctxRel == "." {
		ctxRel = ""
	}
	if ig != nil && ctxRel != "" && ctxRel != rel && excludedEntirely(ig, ctxRel) {
		return nil, fs.ErrNotExist
	}
	name := path.Base(rel)
	if rel == "" {
		name = path.Base(ctxRel)
	}
	return &unit{arg: arg, src: src, ctxRel: ctxRel, name: name, info: fi}, nil
}

// excludedEntirely reports whether rel is ignored with nothing below it
// brought back by an exception.
func excludedEntirely(ig *matcher, rel string) bool {
	return ig.matches(rel) && !ig.mayIncludeBelow(rel)
}

// hasWildcards reports whether p has an unescaped "*", "?" or "[".
func hasWildcards(p string) bool {
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '\\':
			i++
		case '*', '?', '[':
			return true
		}
	}
	return false
}

// globMatch is a path matched by a glob.
type globMatch struct {
	rel     string // relative to the source root
	baseRel string // relative to the directory the glob starts from
}

// glob returns the paths matching the slash pattern pat (relative to
// srcRoot) with path.Match semantics, skipping ignored ones. Directories
// matched are not searched further; symbolic links are not descended into.
func glob(srcRoot, pat string, ig *matcher) ([]globMatch, error) {
	parts := strings.Split(pat, "/")
	i := 0
	for i < len(parts) && !hasWildcards(parts[i]) {
		i++
	}
	base := strings.Join(parts[:i], "/")
	comps := parts[i:]
	baseHost, err := securejoin.SecureJoin(srcRoot, base)
	if err != nil {
		return nil, err
	}
	baseRel, err := filepath.Rel(srcRoot, baseHost)
	if err != nil {
		return nil, err
	}
	baseRel = filepath.ToSlash(baseRel)
	if baseRel == "." {
		baseRel = ""
	}
	var out []globMatch
	var walk func(dir, rel, brel string, depth int) error
	walk = func(dir, rel, brel string, depth int) error {
		ents, err := os.ReadDir(dir)
		if err != nil {
			if depth == 0 && (errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)) {
				return nil
			}
			return err
		}
		for _, de := range ents {
			name := de.Name()
			if ok, err := path.Match(comps[depth], name); err != nil {
				return fmt.Errorf("bad pattern %q: %w", pat, err)
			} else if !ok {
				continue
			}
			r, br := joinRel(rel, name), joinRel(brel, name)
			if depth == len(comps)-1 {
				if ig != nil && excludedEntirely(ig, r) {
					continue
				}
				out = append(out, globMatch{rel: r, baseRel: br})
				continue
			}
			if !de.IsDir() {
				continue
			}
			if ig != nil && excludedEntirely(ig, r) {
				continue
			}
			if err := walk(filepath.Join(dir, name), r, br, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(baseHost, baseRel, "", 0); err != nil {
		return nil, err
	}
	return out, nil
}

func joinRel(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}

// planParents expands one --parents source: the source root (or the part
// before a "/./" pivot) is copied filtered by the rest as a pattern.
func planParents(srcRoot, arg string, o *Options) ([]*unit, error) {
	s := filepath.ToSlash(arg)
	pivot, pat, ok := strings.Cut(s, "/./")
	if !ok {
		pivot, pat = "", s
	}
	pivotRel, err := cleanSource(pivot, o)
	if err != nil {
		return nil, err
	}
	patRel, err := cleanSource(pat, o)
	if err != nil {
		return nil, err
	}
	ig := o.Ignore.matcher()
	u, err := resolveUnit(srcRoot, pivotRel, arg, ig)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, o.notFound(arg)
		}
		return nil, fmt.Errorf("%s source %q: %w", o.cmd(), arg, err)
	}
	if !u.info.IsDir() {
		return nil, fmt.Errorf("%s source %q: %s is not a directory", o.cmd(), arg, pivot)
	}
	if patRel == "" {
		return []*unit{u}, nil
	}
	if !hasWildcards(patRel) {
		// Report a missing path as such rather than as an empty match.
		if _, err := resolveUnit(srcRoot, joinRel(pivotRel, patRel), arg, ig); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, o.notFound(arg)
			}
			return nil, fmt.Errorf("%s source %q: %w", o.cmd(), arg, err)
		}
	}
	inc, err := newMatcher([]string{patRel})
	if err != nil {
		return nil, fmt.Errorf("%s source %q: %w", o.cmd(), arg, err)
	}
	u.include = inc
	return []*unit{u}, nil
}
