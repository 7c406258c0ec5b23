package copier

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
)

// Ignore is a parsed .containerignore or .dockerignore file. Patterns and
// their "!" exceptions follow BuildKit (github.com/moby/patternmatcher): a
// path is excluded when the last pattern matching it or one of its parent
// directories is not an exception.
type Ignore struct {
	file string // the file it was read from, "" if none
	m    *matcher
}

// LoadIgnore reads the ignore file of the build context contextDir: explicit
// when it is not empty (--ignorefile), else contextDir/.containerignore, else
// contextDir/.dockerignore. Without any of them it returns an empty Ignore.
func LoadIgnore(contextDir, explicit string) (*Ignore, error) {
	candidates := []string{explicit}
	if explicit == "" {
		candidates = []string{
			filepath.Join(contextDir, ".containerignore"),
			filepath.Join(contextDir, ".dockerignore"),
		}
	}
	for _, name := range candidates {
		f, err := os.Open(name)
		if err != nil {
			if explicit == "" && errors.Is(err, os.ErrNotExist) {
				continue
			}
			return nil, fmt.Errorf("reading ignore file: %w", err)
		}
		ig, err := ParseIgnore(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("reading ignore file %s: %w", name, err)
		}
		ig.file = name
		return ig, nil
	}
	return &Ignore{}, nil
}

// ParseIgnore parses ignore file content: a leading UTF-8 BOM is dropped,
// lines starting with "#" are comments, whitespace around patterns is
// trimmed, patterns are cleaned and a leading "/" is removed.
func ParseIgnore(r io.Reader) (*Ignore, error) {
	var lines []string
	s := bufio.NewScanner(r)
	first := true
	for s.Scan() {
		line := s.Bytes()
		if first {
			line = bytes.TrimPrefix(line, []byte("\xEF\xBB\xBF"))
			first = false
		}
		p := string(line)
		if strings.HasPrefix(p, "#") {
			continue
		}
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		lines = append(lines, p)
	}
	if err := s.Err(); err != nil {
		return nil, err
	}
	return NewIgnore(lines)
}

// NewIgnore builds an Ignore from patterns as they appear in an ignore file.
func NewIgnore(patterns []string) (*Ignore, error) {
	m, err := newMatcher(patterns)
	if err != nil {
		return nil, err
	}
	return &Ignore{m: m}, nil
}

// File returns the path of the file the rules were read from, "" if none.
func (i *Ignore) File() string {
	if i == nil {
		return ""
	}
	return i.file
}

// Excluded reports whether rel, a slash path relative to the context root,
// is left out of the build context. The root itself is never excluded.
func (i *Ignore) Excluded(rel string) bool {
	if i == nil || i.m == nil {
		return false
	}
	rel = path.Clean("/" + filepath.ToSlash(rel))[1:]
	if rel == "" {
		return false
	}
	return i.m.matches(rel)
}

func (i *Ignore) matcher() *matcher {
	if i == nil || i.m == nil || len(i.m.patterns) == 0 {
		return nil
	}
	return i.m
}

// matcher is an ordered list of patterns with the semantics of
// github.com/moby/patternmatcher, which BuildKit uses for ignore files,
// --exclude and --parents.
type matcher struct {
	patterns []*pattern
}

type matchKind int

const (
	matchExact matchKind = iota
	matchPrefix
	matchSuffix
	matchRegexp
)

type pattern struct {
	text      string // cleaned, slash separated, without the "!"
	exception bool
	kind      matchKind
	re        *regexp.Regexp
}

func newMatcher(lines []string) (*matcher, error) {
	m := &matcher{}
	for _, line := range lines {
		p := strings.TrimSpace(line)
		if p == "" {
			continue
		}
		pat := &pattern{}
		if p[0] == '!' {
			pat.exception = true
			p = strings.TrimSpace(p[1:])
			if p == "" {
				return nil, errors.New(`illegal exclusion pattern: "!"`)
			}
		}
		p = path.Clean(filepath.ToSlash(p))
		if len(p) > 1 && p[0] == '/' {
			p = p[1:]
		}
		if _, err := path.Match(p, "."); err != nil {
			return nil, fmt.Errorf("invalid pattern %q: %w", line, err)
		}
		pat.text = p
		if err := pat.compile(); err != nil {
			return nil, fmt.Errorf("invalid pattern %q: %w", line, err)
		}
		m.patterns = append(m.patterns, pat)
	}
	return m, nil
}

// compile classifies the pattern and builds its regular expression: "*"
// and "?" never match "/", "**" matches any number of directories.
func (p *pattern) compile() error {
	var re strings.Builder
	re.WriteString("^")
	p.kind = matchExact
	rs := []rune(p.text)
	for i := 0; i < len(rs); i++ {
		switch c := rs[i]; {
		case c == '*' && i+1 < len(rs) && rs[i+1] == '*':
			start := i
			i++
			if i+1 < len(rs) && rs[i+1] == '/' {
				i++
			}
			if i+1 == len(rs) {
				if p.kind == matchExact {
					p.kind = matchPrefix
				} else {
					re.WriteString(".*")
					p.kind = matchRegexp
				}
			} else {
				re.WriteString("(.*/)?")
				p.kind = matchRegexp
			}
			if start == 0 {
				p.kind = matchSuffix
			}
		case c == '*':
			re.WriteString("[^/]*")
			p.kind = matchRegexp
		case c == '?':
			re.WriteString("[^/]")
			p.kind = matchRegexp
		case strings.ContainsRune(".+()|{}$", c):
			re.WriteString(`\` + string(c))
		case c == '\\':
			if i+1 < len(rs) {
				i++
				re.WriteString(`\` + string(rs[i]))
				p.kind = matchRegexp
			} else {
				re.WriteString(`\`)
			}
		case c == '[' || c == ']':
			re.WriteRune(c)
			p.kind = matchRegexp
		default:
			re.WriteRune(c)
		}
	}
	if p.kind != matchRegexp {
		return nil
	}
	re.WriteString("$")
	r, err := regexp.Compile(re.String())
	if err != nil {
		return err
	}
	p.re = r
	return nil
}

func (p *pattern) match(s string) bool {
	switch p.kind {
	case matchExact:
		return s == p.text
	case matchPrefix:
		return strings.HasPrefix(s, p.text[:len(p.text)-2])
	case matchSuffix:
		suffix := p.text[2:]
		if strings.HasSuffix(s, suffix) {
			return true
		}
		return suffix != "" && suffix[0] == '/' && s == suffix[1:]
	default:
		return p.re.MatchString(s)
	}
}

// matchesParents reports whether p matches one of the parent directories
// of the slash path s.
func (p *pattern) matchesParents(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '/' && p.match(s[:i]) {
			return true
		}
	}
	return false
}

// mayMatchBelow reports whether p could match a path strictly below the
// directory dir. It errs on the side of true: it only prunes walks.
func (p *pattern) mayMatchBelow(dir string) bool {
	if strings.ContainsAny(p.text, `\[`) {
		return true
	}
	pc := strings.Split(p.text, "/")
	dc := strings.Split(dir, "/")
	for i, d := range dc {
		if i >= len(pc) {
			return false
		}
		if strings.Contains(pc[i], "**") {
			return true
		}
		if ok, _ := path.Match(pc[i], d); !ok {
			return false
		}
	}
	return true
}

// matches reports whether the slash path s or one of its parents is
// matched (patternmatcher's MatchesOrParentMatches).
func (m *matcher) matches(s string) bool {
	matched := false
	for _, p := range m.patterns {
		if p.exception != matched {
			continue
		}
		if p.match(s) || p.matchesParents(s) {
			matched = !p.exception
		}
	}
	return matched
}

// matchesFrom is matches for a walk: parent holds the per-pattern results
// of s's parent directory (nil when unknown), and the results for s are
// returned for its children (patternmatcher's MatchesUsingParentResults).
func (m *matcher) matchesFrom(s string, parent []bool) (bool, []bool) {
	matched := false
	info := make([]bool, len(m.patterns))
	for i, p := range m.patterns {
		match := parent != nil && parent[i]
		if !match {
			if p.exception != matched {
				continue
			}
			match = p.match(s) || (parent == nil && p.matchesParents(s))
		}
		info[i] = match
		if match {
			matched = !p.exception
		}
	}
	return matched, info
}

// mayIncludeBelow reports whether an exception could bring back a path
// below the excluded directory dir.
func (m *matcher) mayIncludeBelow(dir string) bool {
	for _, p := range m.patterns {
		if p.exception && p.mayMatchBelow(dir) {
			return true
		}
	}
	return false
}

// mayMatchBelow reports whether a pattern could match a path below dir.
func (m *matcher) mayMatchBelow(dir string) bool {
	for _, p := range m.patterns {
		if !p.exception && p.mayMatchBelow(dir) {
			return true
		}
	}
	return false
}
