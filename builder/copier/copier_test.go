package copier

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// spec describes a tree: "dir/" is a directory, "name=content" a file,
// "name->target" a symbolic link. A file or directory may end with
// " mode=0750" or " owner=1:2".
func build(t *testing.T, root string, spec ...string) {
	t.Helper()
	for _, s := range spec {
		var mode fs.FileMode
		var owner *Owner
		end := len(s)
		if i := strings.Index(s, " mode="); i >= 0 {
			var m uint32
			fmt.Sscanf(s[i+len(" mode="):], "%o", &m)
			mode = fs.FileMode(m)
			end = min(end, i)
		}
		if i := strings.Index(s, " owner="); i >= 0 {
			var o Owner
			fmt.Sscanf(s[i+len(" owner="):], "%d:%d", &o.UID, &o.GID)
			owner = &o
			end = min(end, i)
		}
		s = s[:end]
		var p string
		switch {
		case strings.Contains(s, "->"):
			name, target, _ := strings.Cut(s, "->")
			p = filepath.Join(root, name)
			must(t, os.MkdirAll(filepath.Dir(p), 0o755))
			must(t, os.Symlink(target, p))
		case strings.Contains(s, "="):
			name, content, _ := strings.Cut(s, "=")
			p = filepath.Join(root, name)
			must(t, os.MkdirAll(filepath.Dir(p), 0o755))
			if mode == 0 {
				mode = 0o644
			}
			must(t, os.WriteFile(p, []byte(content), mode))
		case strings.HasSuffix(s, "/"):
			p = filepath.Join(root, s)
			if mode == 0 {
				mode = 0o755
			}
			must(t, os.MkdirAll(p, mode))
		default:
			t.Fatalf("bad spec %q", s)
		}
		if mode != 0 {
			must(t, os.Chmod(p, mode))
		}
		if owner != nil {
			must(t, os.Lchown(p, owner.UID, owner.GID))
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// list describes every entry below root: "d", "f:content" or "l:target".
func list(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == root {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			out[rel] = "l:" + l
		case d.IsDir():
			out[rel] = "d"
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			out[rel] = "f:" + string(b)
		}
		return nil
	})
	must(t, err)
	return out
}

func keys(m map[string]string) []string {
	var k []string
	for s := range m {
		k = append(k, s)
	}
	sort.Strings(k)
	return k
}

func stat(t *testing.T, p string) (fs.FileMode, int, int) {
	t.Helper()
	fi, err := os.Lstat(p)
	must(t, err)
	st := fi.Sys().(*syscall.Stat_t)
	return fi.Mode(), int(st.Uid), int(st.Gid)
}

func newContext(t *testing.T) string {
	ctx := t.TempDir()
	build(t, ctx,
		"a.txt=A",
		"b.txt=B",
		"c.md=C",
		"arr[0].txt=ARR",
		"link-a->a.txt",
		"dir/x.txt=X",
		"dir/.hidden=H",
		"dir/sub/y.txt=Y",
		"dir/link->x.txt",
	)
	return ctx
}

func TestCopySemantics(t *testing.T) {
	tests := []struct {
		name    string
		rootfs  []string // existing content of the container root
		sources []string
		dest    string
		opts    Options
		want    map[string]string // entries that must exist (rootfs-relative)
		absent  []string
		err     string
	}{
		{
			name: "directory contents", sources: []string{"dir"}, dest: "/dst",
			want: map[string]string{
				"dst/x.txt": "f:X", "dst/.hidden": "f:H", "dst/sub/y.txt": "f:Y", "dst/link": "l:x.txt",
			},
			absent: []string{"dst/dir"},
		},
		{
			name: "directory with trailing slash", sources: []string{"dir/"}, dest: "/dst/",
			want:   map[string]string{"dst/x.txt": "f:X", "dst/sub/y.txt": "f:Y"},
			absent: []string{"dst/dir"},
		},
		{
			name: "directory merged into existing", rootfs: []string{"dst/old=O", "dst/sub/keep=K"},
			sources: []string{"dir"}, dest: "/dst",
			want: map[string]string{"dst/old": "f:O", "dst/sub/keep": "f:K", "dst/sub/y.txt": "f:Y"},
		},
		{
			name: "context root", sources: []string{"."}, dest: "/app/",
			want: map[string]string{"app/a.txt": "f:A", "app/dir/x.txt": "f:X", "app/link-a": "l:a.txt"},
		},
		{
			name: "file to directory", sources: []string{"a.txt"}, dest: "/d/",
			want: map[string]string{"d": "d", "d/a.txt": "f:A"},
		},
		{
			name: "file to new name", sources: []string{"a.txt"}, dest: "/d/e/new",
			want: map[string]string{"d/e/new": "f:A"},
		},
		{
			name: "file to existing directory without slash", rootfs: []string{"existing/"},
			sources: []string{"a.txt"}, dest: "/existing",
			want: map[string]string{"existing/a.txt": "f:A"},
		},
		{
			name: "file replaces file", rootfs: []string{"etc/conf=old"},
			sources: []string{"a.txt"}, dest: "/etc/conf",
			want: map[string]string{"etc/conf": "f:A"},
		},
		{
			name: "file replaces symbolic link", rootfs: []string{"d/x.txt->/elsewhere"},
			sources: []string{"dir"}, dest: "/d",
			want: map[string]string{"d/x.txt": "f:X"},
		},
		{
			name: "file to dest/.", sources: []string{"a.txt"}, dest: "/d/.",
			want: map[string]string{"d/a.txt": "f:A"},
		},
		{
			name: "several sources need a slash", sources: []string{"a.txt", "b.txt"}, dest: "/d",
			err: "When using COPY with more than one source file, the destination must be a directory and end with a /",
		},
		{
			name: "several sources", sources: []string{"a.txt", "b.txt", "dir"}, dest: "/d/",
			want: map[string]string{"d/a.txt": "f:A", "d/b.txt": "f:B", "d/x.txt": "f:X", "d/sub/y.txt": "f:Y"},
		},
		{
			name: "glob", sources: []string{"*.txt"}, dest: "/g/",
			want:   map[string]string{"g/a.txt": "f:A", "g/b.txt": "f:B", "g/arr[0].txt": "f:ARR"},
			absent: []string{"g/c.md"},
		},
		{
			name: "glob in a subdirectory", sources: []string{"dir/*/*.txt"}, dest: "/g/",
			want:   map[string]string{"g/y.txt": "f:Y"},
			absent: []string{"g/x.txt"},
		},
		{
			name: "glob with several matches needs a slash", sources: []string{"?.txt"}, dest: "/g",
			err: "When using COPY with more than one source file",
		},
		{
			name: "glob with one match", sources: []string{"c*"}, dest: "/single",
			want: map[string]string{"single": "f:C"},
		},
		{
			name: "escaped glob characters", sources: []string{"arr[[]0].txt"}, dest: "/e/",
			want: map[string]string{"e/arr[0].txt": "f:ARR"},
		},
		{
			name: "glob matching nothing", sources: []string{"*.none"}, dest: "/g/",
			err: `COPY failed: no source files match pattern "*.none"`,
		},
		{
			name: "missing source", sources: []string{"nope"}, dest: "/x",
			err: `COPY source "nope": no such file or directory in the build context`,
		},
		{
			name: "source outside the context", sources: []string{"../x"}, dest: "/x",
			err: "COPY source ../x is outside the build context",
		},
		{
			name: "source climbing out and back", sources: []string{"dir/../../etc"}, dest: "/x",
			err: "outside the build context",
		},
		{
			name: "leading slash is the context root", sources: []string{"/a.txt"}, dest: "/r/",
			want: map[string]string{"r/a.txt": "f:A"},
		},
		{
			name: "top-level symbolic link is followed", sources: []string{"link-a"}, dest: "/l/",
			want: map[string]string{"l/link-a": "f:A"},
		},
		{
			name: "directory onto a file", rootfs: []string{"f=F"}, sources: []string{"dir"}, dest: "/f",
			err: "/f exists and is not a directory",
		},
		{
			name: "file onto a directory inside a directory copy", rootfs: []string{"d/x.txt/"},
			sources: []string{"dir"}, dest: "/d",
			err: "cannot replace directory /d/x.txt with a file",
		},
		{
			name: "directory onto a link inside a directory copy", rootfs: []string{"d/sub->/tmp"},
			sources: []string{"dir"}, dest: "/d",
			err: "cannot copy to non-directory: /d/sub",
		},
		{
			name: "ADD names itself", sources: []string{"a.txt", "b.txt"}, dest: "/d", opts: Options{Extract: true},
			err: "When using ADD with more than one source file",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := newContext(t)
			rootfs := t.TempDir()
			build(t, rootfs, tt.rootfs...)
			err := Copy(ctx, tt.sources, rootfs, tt.dest, tt.opts)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error = %v, want one containing %q", err, tt.err)
				}
				if strings.Contains(err.Error(), rootfs) || strings.Contains(err.Error(), ctx) {
					t.Errorf("error %q names a host path", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := list(t, rootfs)
			for p, w := range tt.want {
				if got[p] != w {
					t.Errorf("%s = %q, want %q (tree: %v)", p, got[p], w, keys(got))
				}
			}
			for _, p := range tt.absent {
				if _, ok := got[p]; ok {
					t.Errorf("%s exists, want it absent", p)
				}
			}
		})
	}
}

func TestCopyMetadata(t *testing.T) {
	ctx := t.TempDir()
	build(t, ctx,
		"dir/ mode=0750 owner=1234:5678",
		"dir/exec=#!/bin/sh mode=0755 owner=1234:5678",
		"dir/secret=s mode=0600 owner=1234:5678",
		"dir/sub/ mode=0700 owner=1234:5678",
		"dir/sub/f=f mode=0644 owner=1234:5678",
		"dir/link->exec",
	)
	must(t, os.Lchown(filepath.Join(ctx, "dir/link"), 1234, 5678))
	old := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	for _, p := range []string{"dir/exec", "dir/sub/f", "dir/sub", "dir"} {
		must(t, os.Chtimes(filepath.Join(ctx, p), old, old))
	}

	type meta struct {
		mode     fs.FileMode
		uid, gid int
	}
	tests := []struct {
		name string
		opts Options
		want map[string]meta
	}{
		{
			// A destination directory made by the copy takes the source
			// directory's mode (BuildKit); its parents are 0755.
			name: "context files belong to root and keep their modes",
			want: map[string]meta{
				"dst":         {fs.ModeDir | 0o750, 0, 0},
				"dst/exec":    {0o755, 0, 0},
				"dst/secret":  {0o600, 0, 0},
				"dst/sub":     {fs.ModeDir | 0o700, 0, 0},
				"dst/sub/f":   {0o644, 0, 0},
				"dst/link":    {fs.ModeSymlink | 0o777, 0, 0},
				"parent":      {fs.ModeDir | 0o755, 0, 0},
				"parent/dst2": {fs.ModeDir | 0o750, 0, 0},
			},
		},
		{
			name: "chown applies to copies and created directories",
			opts: Options{Chown: &Owner{UID: 1000, GID: 1001}},
			want: map[string]meta{
				"dst":         {fs.ModeDir | 0o750, 1000, 1001},
				"dst/exec":    {0o755, 1000, 1001},
				"dst/sub":     {fs.ModeDir | 0o700, 1000, 1001},
				"dst/sub/f":   {0o644, 1000, 1001},
				"dst/link":    {fs.ModeSymlink | 0o777, 1000, 1001},
				"parent":      {fs.ModeDir | 0o755, 1000, 1001},
				"parent/dst2": {fs.ModeDir | 0o750, 1000, 1001},
			},
		},
		{
			name: "--from keeps owners",
			opts: Options{PreserveOwnership: true},
			want: map[string]meta{
				"dst":       {fs.ModeDir | 0o750, 1234, 5678},
				"dst/exec":  {0o755, 1234, 5678},
				"dst/sub":   {fs.ModeDir | 0o700, 1234, 5678},
				"dst/sub/f": {0o644, 1234, 5678},
				"dst/link":  {fs.ModeSymlink | 0o777, 1234, 5678},
			},
		},
		{
			name: "chmod applies to files and directories",
			opts: Options{Chmod: ptr(fs.FileMode(0o640))},
			want: map[string]meta{
				"dst":         {fs.ModeDir | 0o640, 0, 0},
				"dst/exec":    {0o640, 0, 0},
				"dst/secret":  {0o640, 0, 0},
				"dst/sub":     {fs.ModeDir | 0o640, 0, 0},
				"dst/sub/f":   {0o640, 0, 0},
				"dst/link":    {fs.ModeSymlink | 0o777, 0, 0},
				"parent":      {fs.ModeDir | 0o755, 0, 0},
				"parent/dst2": {fs.ModeDir | 0o640, 0, 0},
			},
		},
		{
			name: "chmod with special bits",
			opts: Options{Chmod: ptr(fs.FileMode(0o4755))},
			want: map[string]meta{
				"dst/exec": {fs.ModeSetuid | 0o755, 0, 0},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rootfs := t.TempDir()
			must(t, Copy(ctx, []string{"dir"}, rootfs, "/dst", tt.opts))
			must(t, Copy(ctx, []string{"dir"}, rootfs, "/parent/dst2", tt.opts))
			for p, w := range tt.want {
				mode, uid, gid := stat(t, filepath.Join(rootfs, p))
				if got := (meta{mode, uid, gid}); got != w {
					t.Errorf("%s: mode %v owner %d:%d, want mode %v owner %d:%d", p, got.mode, got.uid, got.gid, w.mode, w.uid, w.gid)
				}
			}
			for _, p := range []string{"dst/exec", "dst/sub/f", "dst/sub", "dst"} {
				fi, err := os.Lstat(filepath.Join(rootfs, p))
				must(t, err)
				if !fi.ModTime().Equal(old) {
					t.Errorf("%s: mtime %v, want the source's %v", p, fi.ModTime(), old)
				}
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestCopySingleFileMetadata(t *testing.T) {
	ctx := t.TempDir()
	build(t, ctx, "tool=bin mode=0750 owner=42:43")
	old := time.Date(2010, 1, 1, 0, 0, 0, 0, time.UTC)
	must(t, os.Chtimes(filepath.Join(ctx, "tool"), old, old))
	rootfs := t.TempDir()
	build(t, rootfs, "usr/ owner=7:7")
	must(t, Copy(ctx, []string{"tool"}, rootfs, "/usr/local/bin/", Options{Chown: &Owner{UID: 5, GID: 6}}))
	if mode, uid, gid := stat(t, filepath.Join(rootfs, "usr/local/bin/tool")); mode != 0o750 || uid != 5 || gid != 6 {
		t.Errorf("tool: %v %d:%d", mode, uid, gid)
	}
	if mode, uid, gid := stat(t, filepath.Join(rootfs, "usr/local")); mode != fs.ModeDir|0o755 || uid != 5 || gid != 6 {
		t.Errorf("created usr/local: %v %d:%d", mode, uid, gid)
	}
	if _, uid, gid := stat(t, filepath.Join(rootfs, "usr")); uid != 7 || gid != 7 {
		t.Errorf("existing usr changed owner to %d:%d", uid, gid)
	}
	fi, err := os.Stat(filepath.Join(rootfs, "usr/local/bin/tool"))
	must(t, err)
	if !fi.ModTime().Equal(old) {
		t.Errorf("mtime %v, want %v", fi.ModTime(), old)
	}
}

func TestCopyHardLinks(t *testing.T) {
	ctx := t.TempDir()
	build(t, ctx, "d/one=same")
	must(t, os.Link(filepath.Join(ctx, "d/one"), filepath.Join(ctx, "d/two")))
	rootfs := t.TempDir()
	must(t, Copy(ctx, []string{"d"}, rootfs, "/x", Options{}))
	a, err := os.Stat(filepath.Join(rootfs, "x/one"))
	must(t, err)
	b, err := os.Stat(filepath.Join(rootfs, "x/two"))
	must(t, err)
	if !os.SameFile(a, b) {
		t.Error("hard links within one copy are not kept")
	}
}

func TestIgnoreMatching(t *testing.T) {
	tests := []struct {
		patterns []string
		path     string
		want     bool
	}{
		{[]string{"*.log"}, "x.log", true},
		{[]string{"*.log"}, "sub/x.log", false},
		{[]string{"**/*.log"}, "sub/deep/x.log", true},
		{[]string{"**/*.log"}, "x.log", true},
		{[]string{"build"}, "build/out/bin", true},
		{[]string{"build/"}, "build/out/bin", true},
		{[]string{"/build"}, "build", true},
		{[]string{"build"}, "sub/build", false},
		{[]string{"*/temp*"}, "dir/temporary", true},
		{[]string{"temp?"}, "temp1", true},
		{[]string{"temp?"}, "temp12", false},
		{[]string{"secret", "!secret/keep"}, "secret/keep", false},
		{[]string{"secret", "!secret/keep"}, "secret/keep/deep", false},
		{[]string{"secret", "!secret/keep"}, "secret/other", true},
		{[]string{"secret", "!secret/keep"}, "secret", true},
		{[]string{"!secret/keep", "secret"}, "secret/keep", true},
		{[]string{"*.md", "!README.md"}, "README.md", false},
		{[]string{"*.md", "!README.md", "README.md"}, "README.md", true},
		{[]string{"docs/**"}, "docs/a/b", true},
		{[]string{"docs/**"}, "docsx", false},
		{[]string{"a/**/b"}, "a/b", true},
		{[]string{"a/**/b"}, "a/x/y/b", true},
		{[]string{"[ab].txt"}, "b.txt", true},
		{[]string{"."}, "anything", false},
		{[]string{"*"}, "x", true},
		{[]string{"./x"}, "x", true},
		{[]string{"x.txt"}, ".", false},
	}
	for _, tt := range tests {
		ig, err := NewIgnore(tt.patterns)
		must(t, err)
		if got := ig.Excluded(tt.path); got != tt.want {
			t.Errorf("patterns %q: Excluded(%q) = %v, want %v", tt.patterns, tt.path, got, tt.want)
		}
	}
	if _, err := NewIgnore([]string{"!"}); err == nil {
		t.Error(`pattern "!" accepted`)
	}
	if _, err := NewIgnore([]string{"a[b"}); err == nil {
		t.Error(`bad pattern "a[b" accepted`)
	}
}

func TestParseIgnore(t *testing.T) {
	ig, err := ParseIgnore(strings.NewReader("\xEF\xBB\xBF*.log\n# comment\n  \n  /tmp/  \n!  tmp/keep\n#*.txt\n"))
	must(t, err)
	for p, want := range map[string]bool{
		"a.log": true, "tmp/x": true, "tmp/keep": false, "a.txt": false, "# comment": false,
	} {
		if got := ig.Excluded(p); got != want {
			t.Errorf("Excluded(%q) = %v, want %v", p, got, want)
		}
	}
}

func TestLoadIgnore(t *testing.T) {
	ctx := t.TempDir()
	ig, err := LoadIgnore(ctx, "")
	must(t, err)
	if ig.Excluded("x") || ig.File() != "" {
		t.Error("no ignore file excludes something")
	}

	build(t, ctx, ".dockerignore=docker", "x=")
	ig, err = LoadIgnore(ctx, "")
	must(t, err)
	if !ig.Excluded("docker") || ig.File() != filepath.Join(ctx, ".dockerignore") {
		t.Errorf(".dockerignore not used (file %q)", ig.File())
	}

	build(t, ctx, ".containerignore=container")
	ig, err = LoadIgnore(ctx, "")
	must(t, err)
	if !ig.Excluded("container") || ig.Excluded("docker") {
		t.Error(".containerignore does not take precedence over .dockerignore")
	}

	explicit := filepath.Join(t.TempDir(), "my.ignore")
	must(t, os.WriteFile(explicit, []byte("mine\n"), 0o644))
	ig, err = LoadIgnore(ctx, explicit)
	must(t, err)
	if !ig.Excluded("mine") || ig.Excluded("container") {
		t.Error("explicit ignore file not used alone")
	}

	missing := filepath.Join(ctx, "missing.ignore")
	if _, err := LoadIgnore(ctx, missing); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing explicit file: error %v does not name it", err)
	}
	bad := filepath.Join(ctx, "bad.ignore")
	must(t, os.WriteFile(bad, []byte("a[b\n"), 0o644))
	if _, err := LoadIgnore(ctx, bad); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("bad pattern: error %v does not name the file", err)
	}
}

func TestCopyWithIgnore(t *testing.T) {
	ctx := t.TempDir()
	build(t, ctx,
		"app.go=package main",
		"debug.log=L",
		"sub/trace.log=T",
		"secret/key=K",
		"secret/keep.txt=KEEP",
		"secret/deep/x=X",
		"build/tmp/o=O",
		"build/out/bin=BIN",
		"docs/a.md=A",
		"docs/README.md=R",
		".git/HEAD=ref",
	)
	ig, err := NewIgnore([]string{"*.log", "secret/", "!secret/keep.txt", "build", "!build/out/**", "docs/*.md", "!docs/README.md", ".git"})
	must(t, err)

	rootfs := t.TempDir()
	must(t, Copy(ctx, []string{"."}, rootfs, "/app", Options{Ignore: ig}))
	got := list(t, rootfs)
	want := []string{
		"app", "app/app.go", "app/build", "app/build/out", "app/build/out/bin", "app/docs", "app/docs/README.md",
		"app/secret", "app/secret/keep.txt", "app/sub", "app/sub/trace.log",
	}
	if k := keys(got); strings.Join(k, " ") != strings.Join(want, " ") {
		t.Errorf("copied %v\nwant %v", k, want)
	}

	// A directory excluded with an exception below it still exists.
	rootfs = t.TempDir()
	must(t, Copy(ctx, []string{"secret"}, rootfs, "/s/", Options{Ignore: ig}))
	if k := keys(list(t, rootfs)); strings.Join(k, " ") != "s s/keep.txt" {
		t.Errorf("copied %v, want only s/keep.txt", k)
	}

	for _, src := range []string{"debug.log", ".git", "build/tmp/o"} {
		err := Copy(ctx, []string{src}, t.TempDir(), "/x/", Options{Ignore: ig})
		if err == nil || !strings.Contains(err.Error(), "no such file or directory in the build context") {
			t.Errorf("COPY %s: error %v, want not found", src, err)
		}
	}
	err = Copy(ctx, []string{"*.log"}, t.TempDir(), "/x/", Options{Ignore: ig})
	if err == nil || !strings.Contains(err.Error(), `no source files match pattern "*.log"`) {
		t.Errorf("glob of ignored files: error %v", err)
	}
}

func TestCopyExclude(t *testing.T) {
	ctx := t.TempDir()
	build(t, ctx,
		"dir1/file-101.png=2", "dir1/file-102.txt=3", "dir1/file-103.jpeg=4",
		"dir2/file-201.pdf=6", "dir2/file-202.jpeg=7",
		"dir3/file-301.mp3=9", "dir3/file-302.mpeg=10", "dir3/sub/file-303.mp3=11",
		"home.txt=h", "home.md=m", "homer.go=g",
	)
	tests := []struct {
		name     string
		sources  []string
		dest     string
		excludes []string
		want     string
	}{
		{"relative to the source directory", []string{"."}, "/1", []string{"*/*.png", "*/*.jpeg", "home*"},
			"1 1/dir1 1/dir1/file-102.txt 1/dir2 1/dir2/file-201.pdf 1/dir3 1/dir3/file-301.mp3 1/dir3/file-302.mpeg 1/dir3/sub 1/dir3/sub/file-303.mp3"},
		{"star does not cross directories", []string{"dir3/"}, "/3/", []string{"*.mp3"},
			"3 3/file-302.mpeg 3/sub 3/sub/file-303.mp3"},
		{"double star does", []string{"dir3"}, "/3/", []string{"**/*.mp3"},
			"3 3/file-302.mpeg 3/sub"},
		{"glob of directories", []string{"dir*"}, "/4/", []string{"*.mp3", "*.jpeg", "*.png", "*.pdf", "*.txt", "sub"},
			"4 4/file-302.mpeg"},
		{"glob matches themselves", []string{"hom*"}, "/h/", []string{"*.txt", "*.md"},
			"h h/homer.go"},
		{"exception", []string{"dir3"}, "/5/", []string{"sub", "!sub/file-303.mp3", "*.mpeg"},
			"5 5/file-301.mp3 5/sub 5/sub/file-303.mp3"},
		{"everything", []string{"dir*"}, "/6/", []string{"*"}, "6"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rootfs := t.TempDir()
			must(t, Copy(ctx, tt.sources, rootfs, tt.dest, Options{Excludes: tt.excludes}))
			if got := strings.Join(keys(list(t, rootfs)), " "); got != tt.want {
				t.Errorf("copied %s\nwant   %s", got, tt.want)
			}
		})
	}
}

func TestCopyParents(t *testing.T) {
	ctx := t.TempDir()
	build(t, ctx,
		"a/ mode=0750",
		"a/b/ mode=0700",
		"a/b/file.txt=F",
		"a/b/other.txt=O",
		"a/c/file.txt=C",
		"x/y/a.txt=XA",
		"x/y/b.txt=XB",
		"x/z/c.txt=XC",
		"top.txt=T",
		"a/b/l->file.txt",
	)
	tests := []struct {
		name     string
		sources  []string
		dest     string
		excludes []string
		want     string
		err      string
	}{
		{name: "file", sources: []string{"a/b/file.txt"}, dest: "/dst/",
			want: "dst dst/a dst/a/b dst/a/b/file.txt"},
		{name: "no trailing slash is still a directory", sources: []string{"./a/b/file.txt", "top.txt"}, dest: "/dst",
			want: "dst dst/a dst/a/b dst/a/b/file.txt dst/top.txt"},
		{name: "glob", sources: []string{"*/*/file.txt"}, dest: "/p/",
			want: "p p/a p/a/b p/a/b/file.txt p/a/c p/a/c/file.txt"},
		{name: "directory", sources: []string{"a/b"}, dest: "/p/",
			want: "p p/a p/a/b p/a/b/file.txt p/a/b/l p/a/b/other.txt"},
		{name: "pivot", sources: []string{"./x/./y/*.txt"}, dest: "/parents/",
			want: "parents parents/y parents/y/a.txt parents/y/b.txt"},
		{name: "exclude", sources: []string{"a"}, dest: "/e/", excludes: []string{"a/b/other.txt", "a/c"},
			want: "e e/a e/a/b e/a/b/file.txt e/a/b/l"},
		{name: "symbolic link kept", sources: []string{"a/b/l"}, dest: "/s/",
			want: "s s/a s/a/b s/a/b/l"},
		{name: "missing", sources: []string{"a/nope"}, dest: "/m/",
			err: `COPY source "a/nope": no such file or directory in the build context`},
		{name: "glob matching nothing", sources: []string{"a/*.none"}, dest: "/m/",
			err: `no source files match pattern "a/*.none"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rootfs := t.TempDir()
			err := Copy(ctx, tt.sources, rootfs, tt.dest, Options{Parents: true, Excludes: tt.excludes})
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error = %v, want %q", err, tt.err)
				}
				return
			}
			must(t, err)
			if got := strings.Join(keys(list(t, rootfs)), " "); got != tt.want {
				t.Errorf("copied %s\nwant   %s", got, tt.want)
			}
		})
	}

	// Parent directories keep the source's modes.
	rootfs := t.TempDir()
	must(t, Copy(ctx, []string{"a/b/file.txt"}, rootfs, "/dst/", Options{Parents: true}))
	if mode, _, _ := stat(t, filepath.Join(rootfs, "dst/a")); mode != fs.ModeDir|0o750 {
		t.Errorf("dst/a mode %v, want drwxr-x---", mode)
	}
	if mode, _, _ := stat(t, filepath.Join(rootfs, "dst/a/b")); mode != fs.ModeDir|0o700 {
		t.Errorf("dst/a/b mode %v, want drwx------", mode)
	}
}

// TestCopyDestinationSymlinks checks that links in the image never make a
// write land outside the root filesystem.
func TestCopyDestinationSymlinks(t *testing.T) {
	ctx := newContext(t)
	host := t.TempDir() // stands for the host's /etc
	build(t, host, "passwd=host")
	outside := filepath.Join(host, "outside")
	must(t, os.Mkdir(outside, 0o755))

	rootfs := t.TempDir()
	rel, err := filepath.Rel(rootfs, outside)
	must(t, err)
	build(t, rootfs,
		"etc->"+host, // absolute link to a host directory
		"up->"+rel,   // relative link climbing out of rootfs
		"d/x.txt->"+filepath.Join(host, "passwd"),
		"self->/self",
	)

	steps := []struct {
		sources []string
		dest    string
	}{
		{[]string{"a.txt"}, "/etc/"},
		{[]string{"c.md"}, "/etc"},
		{[]string{"a.txt"}, "/etc/passwd"},
		{[]string{"dir"}, "/up/"},
		{[]string{"b.txt"}, "/up/deeper/b"},
		{[]string{"dir"}, "/d"},
	}
	for _, s := range steps {
		if err := Copy(ctx, s.sources, rootfs, s.dest, Options{}); err != nil {
			t.Fatalf("COPY %v %s: %v", s.sources, s.dest, err)
		}
	}
	if b, err := os.ReadFile(filepath.Join(host, "passwd")); err != nil || string(b) != "host" {
		t.Fatalf("host file changed: %q %v", b, err)
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 0 {
		t.Fatalf("files written outside rootfs: %v", ents)
	}
	if ents, _ := os.ReadDir(host); len(ents) != 2 {
		t.Fatalf("files written in the host directory: %v", ents)
	}
	got := list(t, rootfs)
	// The links resolve inside rootfs, as if it were the root directory,
	// where their targets are created.
	inHost := strings.TrimPrefix(host, "/")
	inUp := strings.TrimPrefix(path.Clean("/"+filepath.ToSlash(rel)), "/")
	for _, p := range []string{
		filepath.Join(inHost, "a.txt"),
		filepath.Join(inHost, "c.md"),
		filepath.Join(inHost, "passwd"),
		filepath.Join(inUp, "x.txt"),
		filepath.Join(inUp, "deeper/b"),
	} {
		if !strings.HasPrefix(got[p], "f:") {
			t.Errorf("%s not written inside rootfs (tree %v)", p, keys(got))
		}
	}
	if got["d/x.txt"] != "f:X" {
		t.Errorf("link d/x.txt not replaced by the file: %q", got["d/x.txt"])
	}
	if err := Copy(ctx, []string{"a.txt"}, rootfs, "/self/", Options{}); err == nil {
		t.Error("copy through a link loop succeeded")
	}
}

// TestCopySourceSymlinks checks that sources cannot escape the context.
func TestCopySourceSymlinks(t *testing.T) {
	host := t.TempDir()
	build(t, host, "secret.txt=SECRET")
	ctx := t.TempDir()
	build(t, ctx,
		"abs->"+filepath.Join(host, "secret.txt"),
		"absdir->"+host,
		"rel->../../../../../../../../.."+filepath.Join(host, "secret.txt"),
		"inside->sub/f",
		"sub/f=F",
	)
	for _, src := range []string{"abs", "rel", "absdir/secret.txt", "absdir/*"} {
		rootfs := t.TempDir()
		err := Copy(ctx, []string{src}, rootfs, "/x/", Options{})
		if err == nil {
			t.Errorf("COPY %s succeeded: %v", src, keys(list(t, rootfs)))
			continue
		}
		if !strings.Contains(err.Error(), "in the build context") {
			t.Errorf("COPY %s: error %v", src, err)
		}
	}
	rootfs := t.TempDir()
	must(t, Copy(ctx, []string{"inside"}, rootfs, "/x", Options{}))
	must(t, Copy(ctx, []string{"."}, rootfs, "/all", Options{}))
	got := list(t, rootfs)
	if got["x"] != "f:F" {
		t.Errorf("link inside the context not followed: %q", got["x"])
	}
	if got["all/abs"] != "l:"+filepath.Join(host, "secret.txt") {
		t.Errorf("link below a source not copied as a link: %q", got["all/abs"])
	}
	for p, v := range got {
		if strings.Contains(v, "SECRET") {
			t.Errorf("%s holds the host's secret", p)
		}
	}
}

type tarEntry struct {
	name, body, link string
	typ              byte
	mode             int64
	uid              int
}

func makeTar(t *testing.T, entries []tarEntry) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	mtime := time.Date(2005, 6, 7, 8, 9, 10, 0, time.UTC)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Linkname: e.link, Mode: e.mode, Uid: e.uid, Gid: e.uid, ModTime: mtime, Format: tar.FormatPAX}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if e.typ == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		must(t, tw.WriteHeader(h))
		if e.typ == tar.TypeReg {
			_, err := tw.Write([]byte(e.body))
			must(t, err)
		}
	}
	must(t, tw.Close())
	return buf.Bytes()
}

func compress(t *testing.T, kind string, data []byte) []byte {
	var buf bytes.Buffer
	switch kind {
	case "plain":
		return data
	case "gzip":
		w := gzip.NewWriter(&buf)
		w.Write(data)
		must(t, w.Close())
	case "xz":
		w, err := xz.NewWriter(&buf)
		must(t, err)
		w.Write(data)
		must(t, w.Close())
	case "zstd":
		w, err := zstd.NewWriter(&buf)
		must(t, err)
		w.Write(data)
		must(t, w.Close())
	case "bzip2":
		cmd := exec.Command("bzip2", "-c")
		cmd.Stdin = bytes.NewReader(data)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("bzip2: %v", err)
		}
		return out
	}
	return buf.Bytes()
}

func TestAddExtract(t *testing.T) {
	archive := makeTar(t, []tarEntry{
		{name: "top/", typ: tar.TypeDir, mode: 0o750, uid: 1234},
		{name: "top/f.txt", typ: tar.TypeReg, body: "F", uid: 1234},
		{name: "top/run", typ: tar.TypeReg, body: "R", mode: 0o4755},
		{name: "../../evil.txt", typ: tar.TypeReg, body: "EVIL"},
		{name: "/abs.txt", typ: tar.TypeReg, body: "ABS"},
		{name: "lnk", typ: tar.TypeSymlink, link: "/etc"},
		{name: "lnk/written-through", typ: tar.TypeReg, body: "W"},
		{name: "uplink", typ: tar.TypeSymlink, link: "../../../../../../../.."},
		{name: "uplink/escaped.txt", typ: tar.TypeReg, body: "E"},
		{name: "hl", typ: tar.TypeLink, link: "../../top/f.txt"},
		{name: "implicit/dir/file", typ: tar.TypeReg, body: "I"},
	})
	for _, kind := range []string{"plain", "gzip", "bzip2", "xz", "zstd"} {
		t.Run(kind, func(t *testing.T) {
			parent := t.TempDir()
			ctx := filepath.Join(parent, "ctx")
			rootfs := filepath.Join(parent, "rootfs")
			must(t, os.MkdirAll(ctx, 0o755))
			must(t, os.MkdirAll(rootfs, 0o755))
			must(t, os.WriteFile(filepath.Join(ctx, "archive.tar.x"), compress(t, kind, archive), 0o644))
			must(t, Copy(ctx, []string{"archive.tar.x"}, rootfs, "/opt/app", Options{Extract: true}))

			got := list(t, rootfs)
			want := map[string]string{
				"opt/app/top/f.txt":           "f:F",
				"opt/app/evil.txt":            "f:EVIL",
				"opt/app/abs.txt":             "f:ABS",
				"opt/app/lnk":                 "l:/etc",
				"opt/app/etc/written-through": "f:W",
				"opt/app/escaped.txt":         "f:E",
				"opt/app/hl":                  "f:F",
				"opt/app/implicit/dir/file":   "f:I",
				"opt/app/uplink":              "l:../../../../../../../..",
				"opt/app/top/run":             "f:R",
				"opt/app/top":                 "d",
				"opt/app/implicit":            "d",
				"opt/app/implicit/dir":        "d",
				"opt/app/etc":                 "d",
				"opt":                         "d",
				"opt/app":                     "d",
			}
			if strings.Join(keys(got), " ") != strings.Join(keys(want), " ") {
				t.Errorf("extracted %v\nwant      %v", keys(got), keys(want))
			}
			for p, w := range want {
				if got[p] != w {
					t.Errorf("%s = %q, want %q", p, got[p], w)
				}
			}
			if ents, _ := os.ReadDir(parent); len(ents) != 2 {
				t.Errorf("entries written next to rootfs: %v", ents)
			}
			if _, err := os.Lstat("/etc/written-through"); err == nil {
				t.Fatal("archive wrote to the host's /etc")
			}
			if mode, uid, gid := stat(t, filepath.Join(rootfs, "opt/app/top/f.txt")); mode != 0o644 || uid != 1234 || gid != 1234 {
				t.Errorf("top/f.txt: %v %d:%d, want the archive's", mode, uid, gid)
			}
			if mode, uid, _ := stat(t, filepath.Join(rootfs, "opt/app/top")); mode != fs.ModeDir|0o750 || uid != 1234 {
				t.Errorf("top: %v uid %d, want the archive's", mode, uid)
			}
			if mode, _, _ := stat(t, filepath.Join(rootfs, "opt/app/top/run")); mode != fs.ModeSetuid|0o755 {
				t.Errorf("top/run: %v, want setuid", mode)
			}
			fi, err := os.Stat(filepath.Join(rootfs, "opt/app/top"))
			must(t, err)
			if want := time.Date(2005, 6, 7, 8, 9, 10, 0, time.UTC); !fi.ModTime().Equal(want) {
				t.Errorf("top mtime %v, want %v", fi.ModTime(), want)
			}
		})
	}
}

func TestAddExtractOptions(t *testing.T) {
	ctx := t.TempDir()
	archive := makeTar(t, []tarEntry{{name: "f", typ: tar.TypeReg, body: "F", uid: 1234}})
	must(t, os.WriteFile(filepath.Join(ctx, "a.tgz"), compress(t, "gzip", archive), 0o644))
	must(t, os.WriteFile(filepath.Join(ctx, "notes.tar.gz"), []byte("just text, not an archive"), 0o644))
	must(t, os.WriteFile(filepath.Join(ctx, "text.gz"), compress(t, "gzip", []byte("compressed text")), 0o644))

	rootfs := t.TempDir()
	must(t, Copy(ctx, []string{"a.tgz"}, rootfs, "/c/", Options{Extract: true, Chown: &Owner{UID: 7, GID: 8}}))
	if _, uid, gid := stat(t, filepath.Join(rootfs, "c/f")); uid != 7 || gid != 8 {
		t.Errorf("chown not applied to extracted files: %d:%d", uid, gid)
	}
	must(t, Copy(ctx, []string{"notes.tar.gz", "text.gz"}, rootfs, "/n/", Options{Extract: true}))
	must(t, Copy(ctx, []string{"a.tgz"}, rootfs, "/copy/", Options{}))
	got := list(t, rootfs)
	if got["n/notes.tar.gz"] != "f:just text, not an archive" {
		t.Errorf("non-archive not copied as is: %q", got["n/notes.tar.gz"])
	}
	if !strings.HasPrefix(got["n/text.gz"], "f:\x1f\x8b") {
		t.Errorf("compressed non-archive not copied as is: %q", got["n/text.gz"])
	}
	if _, ok := got["copy/a.tgz"]; !ok {
		t.Errorf("COPY extracted an archive: %v", keys(got))
	}

	// An archive cannot replace a directory with a file.
	build(t, rootfs, "d/f/")
	if err := Copy(ctx, []string{"a.tgz"}, rootfs, "/d", Options{Extract: true}); err == nil ||
		!strings.Contains(err.Error(), "cannot overwrite directory") {
		t.Errorf("error = %v", err)
	}
}

func TestDigest(t *testing.T) {
	ctx := t.TempDir()
	build(t, ctx,
		"src/a.txt=A",
		"src/b.txt=B",
		"src/sub/c.txt=C",
		"src/l->a.txt",
		"src/ignored.log=L",
		"src/excluded.tmp=T",
		"other.txt=O",
	)
	ig, err := NewIgnore([]string{"*/*.log"})
	must(t, err)
	opts := Options{Ignore: ig, Excludes: []string{"*.tmp"}}
	digest := func(o Options, sources ...string) string {
		t.Helper()
		d, err := Digest(ctx, sources, o)
		must(t, err)
		if !strings.HasPrefix(d, "sha256:") || len(d) != len("sha256:")+64 {
			t.Fatalf("digest %q", d)
		}
		return d
	}
	base := digest(opts, "src")
	if again := digest(opts, "src"); again != base {
		t.Fatal("digest not stable")
	}

	unchanged := []struct {
		name   string
		change func()
	}{
		{"ignored file", func() { build(t, ctx, "src/ignored.log=changed") }},
		{"excluded file", func() { build(t, ctx, "src/excluded.tmp=changed") }},
		{"file not selected", func() { build(t, ctx, "other.txt=changed", "new.txt=N") }},
		{"mtime", func() {
			tm := time.Now().Add(-time.Hour)
			must(t, os.Chtimes(filepath.Join(ctx, "src/a.txt"), tm, tm))
		}},
		{"owner without PreserveOwnership", func() { must(t, os.Chown(filepath.Join(ctx, "src/a.txt"), 99, 99)) }},
	}
	for _, c := range unchanged {
		c.change()
		if d := digest(opts, "src"); d != base {
			t.Errorf("changing the %s changed the digest", c.name)
		}
	}

	changed := []struct {
		name   string
		change func()
	}{
		{"content", func() { build(t, ctx, "src/a.txt=a") }},
		{"content of the same size", func() { build(t, ctx, "src/a.txt=Z") }},
		{"mode", func() { must(t, os.Chmod(filepath.Join(ctx, "src/b.txt"), 0o600)) }},
		{"new file", func() { build(t, ctx, "src/sub/new=") }},
		{"new empty directory", func() { build(t, ctx, "src/emptydir/") }},
		{"rename", func() { must(t, os.Rename(filepath.Join(ctx, "src/sub/c.txt"), filepath.Join(ctx, "src/sub/d.txt"))) }},
		{"link target", func() {
			must(t, os.Remove(filepath.Join(ctx, "src/l")))
			build(t, ctx, "src/l->b.txt")
		}},
		{"removed file", func() { must(t, os.Remove(filepath.Join(ctx, "src/b.txt"))) }},
	}
	prev := base
	for _, c := range changed {
		c.change()
		d := digest(opts, "src")
		if d == prev {
			t.Errorf("changing the %s left the digest unchanged", c.name)
		}
		prev = d
	}

	// Owners count when they are copied.
	po := opts
	po.PreserveOwnership = true
	before := digest(po, "src")
	must(t, os.Lchown(filepath.Join(ctx, "src/a.txt"), 1, 2))
	if digest(po, "src") == before {
		t.Error("owner change ignored with PreserveOwnership")
	}

	// Different selections differ; the same files reached by another
	// argument give the same digest.
	if digest(opts, "src/a.txt") == digest(opts, "src/sub/new") {
		t.Error("different files, same digest")
	}
	if digest(opts, "src/a.txt") != digest(opts, "./src/../src/a.txt") {
		t.Error("same file, different digests")
	}
	if digest(opts, "src/*.txt") != digest(opts, "src/a.txt") {
		t.Error("a glob matching one file and that file give different digests")
	}
	if digest(opts, "src/*.txt", "other.txt") == digest(opts, "src/a.txt") {
		t.Error("an extra source left the digest unchanged")
	}
	pp := opts
	pp.Parents = true
	if digest(pp, "src/sub") == digest(opts, "src/sub") {
		t.Error("--parents layout not part of the digest")
	}
	if _, err := Digest(ctx, []string{"missing"}, opts); err == nil {
		t.Error("digest of a missing source succeeded")
	}

	// Contents are delimited: moving bytes from one file to the next
	// changes the digest.
	c1, c2 := t.TempDir(), t.TempDir()
	build(t, c1, "a=AB", "b=")
	build(t, c2, "a=A", "b=B")
	d1, err := Digest(c1, []string{"."}, Options{})
	must(t, err)
	d2, err := Digest(c2, []string{"."}, Options{})
	must(t, err)
	if d1 == d2 {
		t.Error("a=AB b= and a=A b=B give the same digest")
	}
}

func TestDigestLargeContext(t *testing.T) {
	if testing.Short() {
		t.Skip("large context")
	}
	ctx := t.TempDir()
	chunk := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	for i := 0; i < 50; i++ {
		must(t, os.MkdirAll(filepath.Join(ctx, fmt.Sprintf("d%d", i%5)), 0o755))
		must(t, os.WriteFile(filepath.Join(ctx, fmt.Sprintf("d%d/f%d", i%5, i)), chunk, 0o644))
	}
	start := time.Now()
	d1, err := Digest(ctx, []string{"."}, Options{})
	must(t, err)
	elapsed := time.Since(start)
	t.Logf("digest of 50 MiB in %v", elapsed)
	if elapsed > 10*time.Second {
		t.Errorf("digest of 50 MiB took %v", elapsed)
	}
	chunk[12345] ^= 1
	must(t, os.WriteFile(filepath.Join(ctx, "d3/f33"), chunk, 0o644))
	d2, err := Digest(ctx, []string{"."}, Options{})
	must(t, err)
	if d1 == d2 {
		t.Error("one flipped bit left the digest unchanged")
	}
}

func TestFetch(t *testing.T) {
	content := []byte("downloaded content\n")
	sum := fmt.Sprintf("sha256:%x", sha256.Sum256(content))
	lastModified := time.Date(2015, 10, 21, 7, 28, 0, 0, time.UTC)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/files/tool.bin", "/":
			w.Header().Set("Last-Modified", lastModified.Format(http.TimeFormat))
			w.Write(content)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	ctx := context.Background()

	t.Run("good checksum", func(t *testing.T) {
		rootfs := t.TempDir()
		must(t, Fetch(ctx, srv.URL+"/files/tool.bin", sum, rootfs, "/dl/", Options{}))
		p := filepath.Join(rootfs, "dl/tool.bin")
		b, err := os.ReadFile(p)
		must(t, err)
		if !bytes.Equal(b, content) {
			t.Errorf("content %q", b)
		}
		if mode, uid, gid := stat(t, p); mode != 0o600 || uid != 0 || gid != 0 {
			t.Errorf("mode %v owner %d:%d, want 0600 0:0", mode, uid, gid)
		}
		fi, err := os.Stat(p)
		must(t, err)
		if !fi.ModTime().Equal(lastModified) {
			t.Errorf("mtime %v, want Last-Modified %v", fi.ModTime(), lastModified)
		}
		if got := keys(list(t, rootfs)); strings.Join(got, " ") != "dl dl/tool.bin" {
			t.Errorf("rootfs holds %v", got)
		}
	})

	t.Run("bad checksum", func(t *testing.T) {
		rootfs := t.TempDir()
		bad := "sha256:" + strings.Repeat("0", 64)
		err := Fetch(ctx, srv.URL+"/files/tool.bin", bad, rootfs, "/dl/", Options{})
		if err == nil || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), sum) {
			t.Fatalf("error %v does not name both digests", err)
		}
		if got := list(t, rootfs); len(got) != 0 {
			t.Errorf("written despite the mismatch: %v", keys(got))
		}
	})

	t.Run("file name, chmod and chown", func(t *testing.T) {
		rootfs := t.TempDir()
		o := Options{Chmod: ptr(fs.FileMode(0o755)), Chown: &Owner{UID: 3, GID: 4}}
		must(t, Fetch(ctx, srv.URL+"/files/tool.bin", "", rootfs, "/usr/bin/tool", o))
		if mode, uid, gid := stat(t, filepath.Join(rootfs, "usr/bin/tool")); mode != 0o755 || uid != 3 || gid != 4 {
			t.Errorf("mode %v owner %d:%d", mode, uid, gid)
		}
		must(t, Fetch(ctx, srv.URL+"/files/tool.bin", "", rootfs, "/usr/bin", Options{}))
		must(t, Fetch(ctx, srv.URL, "", rootfs, "/u/", Options{}))
		got := list(t, rootfs)
		for _, p := range []string{"usr/bin/tool", "usr/bin/tool.bin", "u/__unnamed__"} {
			if got[p] != "f:"+string(content) {
				t.Errorf("%s = %q", p, got[p])
			}
		}
	})

	t.Run("archives are not extracted", func(t *testing.T) {
		rootfs := t.TempDir()
		must(t, Fetch(ctx, srv.URL+"/files/tool.bin", "", rootfs, "/x/", Options{Extract: true}))
		if got := list(t, rootfs); got["x/tool.bin"] == "" {
			t.Errorf("rootfs holds %v", keys(got))
		}
	})

	t.Run("errors", func(t *testing.T) {
		rootfs := t.TempDir()
		if err := Fetch(ctx, srv.URL+"/missing", "", rootfs, "/x/", Options{}); err == nil || !strings.Contains(err.Error(), "404") {
			t.Errorf("404: error %v", err)
		}
		if err := Fetch(ctx, srv.URL+"/files/tool.bin", "md5:abc", rootfs, "/x/", Options{}); err == nil || !strings.Contains(err.Error(), "checksum") {
			t.Errorf("bad checksum syntax: error %v", err)
		}
		if got := list(t, rootfs); len(got) != 0 {
			t.Errorf("written on error: %v", keys(got))
		}
		build(t, rootfs, "dir/tool.bin/")
		if err := Fetch(ctx, srv.URL+"/files/tool.bin", "", rootfs, "/dir/", Options{}); err == nil {
			t.Error("download replaced a directory")
		}
	})

	t.Run("destination links stay inside", func(t *testing.T) {
		host := t.TempDir()
		rootfs := t.TempDir()
		build(t, rootfs, "opt->"+host, host[1:]+"/x/")
		must(t, Fetch(ctx, srv.URL+"/files/tool.bin", sum, rootfs, "/opt/", Options{}))
		must(t, Fetch(ctx, srv.URL+"/files/tool.bin", sum, rootfs, "/opt/x", Options{}))
		if ents, _ := os.ReadDir(host); len(ents) != 0 {
			t.Errorf("written outside rootfs: %v", ents)
		}
		for _, p := range []string{"tool.bin", "x/tool.bin"} {
			if _, err := os.Stat(filepath.Join(rootfs, host, p)); err != nil {
				t.Error(err)
			}
		}
	})
}

func TestCopyMessagesAndRoots(t *testing.T) {
	ctx := newContext(t)
	o := Options{PreserveOwnership: true, SourceName: `stage "builder"`}
	err := Copy(ctx, []string{"/missing"}, t.TempDir(), "/x", o)
	if err == nil || err.Error() != `COPY source "/missing": no such file or directory in stage "builder"` {
		t.Errorf("error %v", err)
	}
	if err := Copy(ctx, []string{"a.txt"}, "", "/x", Options{}); err == nil {
		t.Error("empty destination root accepted")
	}
	if err := Copy("", []string{"a.txt"}, t.TempDir(), "/x", Options{}); err == nil {
		t.Error("empty source root accepted")
	}
	if err := Copy(ctx, nil, t.TempDir(), "/x", Options{}); err == nil || !strings.Contains(err.Error(), "no source files were specified") {
		t.Errorf("no sources: error %v", err)
	}
	if err := Copy(ctx, []string{"a.txt"}, t.TempDir(), "/x", Options{Excludes: []string{"a[b"}}); err == nil || !strings.Contains(err.Error(), "--exclude") {
		t.Errorf("bad --exclude: error %v", err)
	}
}

func TestCopySpecialFilesAndXattrs(t *testing.T) {
	ctx := t.TempDir()
	build(t, ctx, "d/f=F")
	must(t, syscall.Mkfifo(filepath.Join(ctx, "d/fifo"), 0o640))
	if err := syscall.Setxattr(filepath.Join(ctx, "d/f"), "user.origin", []byte("ctx"), 0); err != nil {
		t.Fatalf("the test directory does not take user xattrs: %v", err)
	}
	rootfs := t.TempDir()
	must(t, Copy(ctx, []string{"d"}, rootfs, "/x", Options{}))
	fi, err := os.Lstat(filepath.Join(rootfs, "x/fifo"))
	must(t, err)
	if fi.Mode() != fs.ModeNamedPipe|0o640 {
		t.Errorf("fifo copied as %v", fi.Mode())
	}
	buf := make([]byte, 16)
	n, err := syscall.Getxattr(filepath.Join(rootfs, "x/f"), "user.origin", buf)
	if err != nil || string(buf[:n]) != "ctx" {
		t.Errorf("xattr user.origin = %q, %v", buf[:n], err)
	}

	before, err := Digest(ctx, []string{"d"}, Options{})
	must(t, err)
	must(t, syscall.Setxattr(filepath.Join(ctx, "d/f"), "user.origin", []byte("changed"), 0))
	after, err := Digest(ctx, []string{"d"}, Options{})
	must(t, err)
	if before == after {
		t.Error("changing a copied xattr left the digest unchanged")
	}
}

func TestDigestParents(t *testing.T) {
	ctx := t.TempDir()
	build(t, ctx, "x/y/a.txt=A", "x/y/b.md=B", "x/z/c.txt=C")
	o := Options{Parents: true}
	d1, err := Digest(ctx, []string{"x/./y/*.txt"}, o)
	must(t, err)
	build(t, ctx, "x/z/c.txt=changed", "x/y/b.md=changed")
	d2, err := Digest(ctx, []string{"x/./y/*.txt"}, o)
	must(t, err)
	if d1 != d2 {
		t.Error("files outside the --parents pattern changed the digest")
	}
	build(t, ctx, "x/y/a.txt=changed")
	d3, err := Digest(ctx, []string{"x/./y/*.txt"}, o)
	must(t, err)
	if d3 == d2 {
		t.Error("a selected file's change left the digest unchanged")
	}
	if _, err := Digest(ctx, []string{"x/*.none"}, o); err == nil {
		t.Error("digest of a --parents pattern matching nothing succeeded")
	}
}
