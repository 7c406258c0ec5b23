package copier

import (
	"io/fs"
	"os"
	"path/filepath"
)

// entry is one file, directory or link below a unit's source directory.
type entry struct {
	src  string      // host path
	rel  string      // slash path relative to the unit's source directory
	info fs.FileInfo // Lstat of src
}

// visitor receives the entries a unit copies, parents before children.
// A directory that is itself filtered out but has selected entries below
// it is visited too (as BuildKit creates such parents), right before the
// first of them.
type visitor interface {
	enterDir(e *entry) error
	leaveDir(e *entry) error
	leaf(e *entry) error
}

// filters select the entries of one unit.
type filters struct {
	ignore  *matcher // paths relative to the source root
	exclude *matcher // paths relative to the unit
	include *matcher // paths relative to the unit (--parents)
}

// matchState holds the per-pattern results of a directory for its
// children.
type matchState struct {
	ignore, exclude, include []bool
}

type walker struct {
	f       filters
	v       visitor
	pending []*pendingDir
	visited int // entries given to the visitor
}

type pendingDir struct {
	e       *entry
	entered bool
}

// walkUnit walks the directory unit u, giving the selected entries to v. It
// returns the number of entries visited.
func walkUnit(u *unit, f filters, v visitor) (int, error) {
	w := &walker{f: f, v: v}
	var st matchState
	if f.ignore != nil && u.ctxRel != "" {
		_, st.ignore = f.ignore.matchesFrom(u.ctxRel, nil)
	}
	err := w.walk(u.src, u.ctxRel, "", st)
	return w.visited, err
}

func (w *walker) flush() error {
	for _, p := range w.pending {
		if !p.entered {
			if err := w.v.enterDir(p.e); err != nil {
				return err
			}
			p.entered = true
			w.visited++
		}
	}
	return nil
}

func (w *walker) walk(dir, ctxRel, rel string, st matchState) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, de := range ents {
		name := de.Name()
		src := filepath.Join(dir, name)
		cr, r := joinRel(ctxRel, name), joinRel(rel, name)
		isDir := de.IsDir()
		var ns matchState
		skip, prune := false, false
		if m := w.f.ignore; m != nil {
			var excluded bool
			excluded, ns.ignore = m.matchesFrom(cr, st.ignore)
			if excluded {
				skip = true
				prune = prune || !isDir || !m.mayIncludeBelow(cr)
			}
		}
		if m := w.f.exclude; m != nil && !prune {
			var excluded bool
			excluded, ns.exclude = m.matchesFrom(r, st.exclude)
			if excluded {
				skip = true
				prune = prune || !isDir || !m.mayIncludeBelow(r)
			}
		}
		if m := w.f.include; m != nil && !prune {
			var included bool
			included, ns.include = m.matchesFrom(r, st.include)
			if !included {
				skip = true
				prune = prune || !isDir || !m.mayMatchBelow(r)
			}
		}
		if prune {
			continue
		}
		info, err := os.Lstat(src)
		if err != nil {
			return err
		}
		e := &entry{src: src, rel: r, info: info}
		if !info.IsDir() {
			if err := w.flush(); err != nil {
				return err
			}
			if err := w.v.leaf(e); err != nil {
				return err
			}
			w.visited++
			continue
		}
		p := &pendingDir{e: e}
		w.pending = append(w.pending, p)
		if !skip {
			if err := w.flush(); err != nil {
				return err
			}
		}
		if err := w.walk(src, cr, r, ns); err != nil {
			return err
		}
		w.pending = w.pending[:len(w.pending)-1]
		if p.entered {
			if err := w.v.leaveDir(e); err != nil {
				return err
			}
		}
	}
	return nil
}
