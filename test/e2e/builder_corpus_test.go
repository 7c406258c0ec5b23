package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ocisuite/suite/test/bin"
	"github.com/ocisuite/suite/test/fixture"
)

// The corpus: Containerfiles with their context, each built by
// TestBuilderCorpus on one shared store and checked against expectations
// written from Docker's (BuildKit's) semantics: the image configuration
// and a normalised listing of the directories the case is about.
// TestBuilderCorpusVsBuildah (OCISUITE_COMPARE_BUILDAH=1, make
// corpus-compare) builds every case with buildah too and reports where
// the two differ.

// cfile is one entry of a build context.
type cfile struct {
	data  string
	mode  os.FileMode // permission bits (0: 0644 files, 0755 dirs); setuid etc. as os.ModeSetuid…
	link  string      // a symbolic link to this target
	dir   bool
	owner *[2]int // uid, gid (default 0:0)
}

func txt(data string) cfile                    { return cfile{data: data} }
func txtMode(data string, m os.FileMode) cfile { return cfile{data: data, mode: m} }
func symlink(target string) cfile              { return cfile{link: target} }
func dirMode(m os.FileMode) cfile              { return cfile{dir: true, mode: m} }
func owned(f cfile, uid, gid int) cfile        { f.owner = &[2]int{uid, gid}; return f }
func listLine(p, kind string, rest ...string) string {
	return p + " " + kind + " " + strings.Join(rest, " ")
}

// D, F, Fany and L are expected listing lines: a directory, a file with
// its content, a file with any content, a symbolic link.
func D(p string, mode int, owner string) string {
	return listLine(p, "d"+strconv.FormatInt(int64(mode), 8), owner)
}

func F(p string, mode int, owner, content string) string {
	return listLine(p, "f"+strconv.FormatInt(int64(mode), 8), owner, contentHash([]byte(content)))
}

func Fany(p string, mode int, owner string) string {
	return listLine(p, "f"+strconv.FormatInt(int64(mode), 8), owner, "*")
}

func L(p, owner, target string) string { return listLine(p, "l", owner, "->", target) }

func contentHash(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])[:16]
}

// imageCfg is the part of an image's configuration the corpus checks.
type imageCfg struct {
	User         string              `json:",omitempty"`
	Env          []string            `json:",omitempty"`
	Entrypoint   []string            `json:",omitempty"`
	Cmd          []string            `json:",omitempty"`
	WorkingDir   string              `json:",omitempty"`
	Labels       map[string]string   `json:",omitempty"`
	ExposedPorts map[string]struct{} `json:",omitempty"`
	Volumes      map[string]struct{} `json:",omitempty"`
	StopSignal   string              `json:",omitempty"`
	Healthcheck  *healthConfig       `json:",omitempty"`
	OnBuild      []string            `json:",omitempty"`
	Shell        []string            `json:",omitempty"`
	Author       string              `json:",omitempty"`
}

type healthConfig struct {
	Test        []string      `json:",omitempty"`
	Interval    time.Duration `json:",omitempty"`
	Timeout     time.Duration `json:",omitempty"`
	StartPeriod time.Duration `json:",omitempty"`
	Retries     int           `json:",omitempty"`
}

const bbPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// bbCfg is the busybox fixture's configuration changed by fn.
func bbCfg(fn func(c *imageCfg)) imageCfg {
	c := imageCfg{Env: []string{bbPath}, Cmd: []string{"sh"}}
	if fn != nil {
		fn(&c)
	}
	return c
}

func keySet(keys ...string) map[string]struct{} {
	m := map[string]struct{}{}
	for _, k := range keys {
		m[k] = struct{}{}
	}
	return m
}

// setupBuild is an image a case needs built first (an ONBUILD parent).
type setupBuild struct {
	tag, containerfile string
}

type corpusCase struct {
	name string
	// containerfile and context flags may hold {{URL}} (a local HTTP
	// server with /files/*), {{SUM}} (sha256 of /files/remote.txt),
	// {{ARCH}}, {{EXT}} (a directory outside the context) and {{RUNID}}.
	containerfile string
	ctx           map[string]cfile
	ext           map[string]string // files in {{EXT}}
	flags         []string
	env           []string // for the build command
	setup         []setupBuild
	cfg           imageCfg
	dirs          []string // listed paths
	want          []string // the listing
	run           []string // engine run --rm IMAGE run... prints runOut
	runOut        string
	// buildah is why the buildah comparison skips this case ("" compares).
	buildah string
	// buildahDiffers is a known, deliberate difference from buildah: the
	// comparison logs the case's differences instead of failing.
	buildahDiffers string
}

// corpusEnv is what the placeholders are replaced with.
type corpusEnv struct {
	url, sum, ext, runID string
}

func (ce corpusEnv) expand(s string) string {
	return strings.NewReplacer("{{URL}}", ce.url, "{{SUM}}", ce.sum, "{{ARCH}}", runtime.GOARCH,
		"{{EXT}}", ce.ext, "{{RUNID}}", ce.runID).Replace(s)
}

const remoteTxt = "remote content\n"

// corpusServer serves /files/remote.txt and /files/r2.txt.
func corpusServer(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/files/remote.txt", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, remoteTxt) })
	mux.HandleFunc("/files/r2.txt", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "second\n") })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// tarball is a tar archive (gzip-compressed when gz) of entries given as
// name -> cfile; owners come from cfile.owner.
func tarball(t *testing.T, gz bool, names []string, entries map[string]cfile) string {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, n := range names {
		f := entries[n]
		h := &tar.Header{Name: n, Mode: int64(f.mode), ModTime: time.Unix(1700000000, 0)}
		if f.owner != nil {
			h.Uid, h.Gid = f.owner[0], f.owner[1]
		}
		switch {
		case f.dir:
			h.Typeflag = tar.TypeDir
		case f.link != "":
			h.Typeflag, h.Linkname, h.Mode = tar.TypeSymlink, f.link, 0o777
		default:
			h.Typeflag, h.Size = tar.TypeReg, int64(len(f.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write([]byte(f.data)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if !gz {
		return buf.String()
	}
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	if _, err := zw.Write(buf.Bytes()); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return z.String()
}

// writeContext writes the case's Containerfile and context into a new
// directory and returns it.
func writeContext(t *testing.T, c corpusCase, ce corpusEnv) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "ctx")
	files := map[string]cfile{"Containerfile": txt(ce.expand(c.containerfile))}
	for k, v := range c.ctx {
		files[k] = v
	}
	writeTree(t, dir, files)
	return dir
}

// writeTree creates files under dir; directories are given their modes
// last, so that a read-only one does not stop its contents.
func writeTree(t *testing.T, dir string, files map[string]cfile) {
	t.Helper()
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var dirs []string
	for _, n := range names {
		f := files[n]
		p := filepath.Join(dir, n)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		switch {
		case f.dir:
			err = os.MkdirAll(p, 0o755)
			dirs = append(dirs, n)
		case f.link != "":
			err = os.Symlink(f.link, p)
		default:
			mode := f.mode
			if mode == 0 {
				mode = 0o644
			}
			if err = os.WriteFile(p, []byte(f.data), 0o600); err == nil {
				err = os.Chmod(p, mode)
			}
		}
		if err == nil && f.owner != nil {
			err = os.Lchown(p, f.owner[0], f.owner[1])
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		f := files[dirs[i]]
		if f.mode != 0 {
			if err := os.Chmod(filepath.Join(dir, dirs[i]), f.mode); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// listing is the normalised listing of paths under root: one line per
// entry, "PATH TYPEMODE UID:GID" and a content hash for files or the
// target for links, sorted. Missing paths give no lines.
func listing(t *testing.T, root string, paths []string) []string {
	t.Helper()
	var out []string
	for _, p := range paths {
		base := filepath.Join(root, p)
		err := filepath.WalkDir(base, func(host string, d fs.DirEntry, err error) error {
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) && host == base {
					return filepath.SkipDir
				}
				return err
			}
			rel, _ := filepath.Rel(root, host)
			if rel == "." {
				return nil // the root directory itself
			}
			out = append(out, listEntry(t, "/"+filepath.ToSlash(rel), host))
			return nil
		})
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("listing %s: %v", p, err)
		}
	}
	sort.Strings(out)
	return out
}

func listEntry(t *testing.T, p, host string) string {
	t.Helper()
	fi, err := os.Lstat(host)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	owner := fmt.Sprintf("%d:%d", st.Uid, st.Gid)
	mode := int(st.Mode & 0o7777)
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		target, err := os.Readlink(host)
		if err != nil {
			t.Fatal(err)
		}
		return L(p, owner, target)
	case fi.IsDir():
		return D(p, mode, owner)
	case fi.Mode().IsRegular():
		b, err := os.ReadFile(host)
		if err != nil {
			t.Fatal(err)
		}
		return listLine(p, "f"+strconv.FormatInt(int64(mode), 8), owner, contentHash(b))
	default:
		return listLine(p, "?"+fi.Mode().Type().String(), owner)
	}
}

// sameListing compares a listing with the expected one ("*" matches any
// content) and returns the differences.
func sameListing(want, got []string) []string {
	want = append([]string(nil), want...)
	sort.Strings(want)
	match := func(w, g string) bool {
		if strings.HasSuffix(w, " *") {
			return strings.HasPrefix(g, strings.TrimSuffix(w, "*")) && !strings.Contains(strings.TrimPrefix(g, strings.TrimSuffix(w, "*")), " ")
		}
		return w == g
	}
	var diffs []string
	used := make([]bool, len(got))
	for _, w := range want {
		found := false
		for i, g := range got {
			if !used[i] && match(w, g) {
				used[i], found = true, true
				break
			}
		}
		if !found {
			diffs = append(diffs, "- "+w)
		}
	}
	for i, g := range got {
		if !used[i] {
			diffs = append(diffs, "+ "+g)
		}
	}
	return diffs
}

// normaliseCfg makes empty and absent fields compare equal.
func normaliseCfg(c imageCfg) imageCfg {
	if len(c.Env) == 0 {
		c.Env = nil
	}
	if len(c.Entrypoint) == 0 {
		c.Entrypoint = nil
	}
	if len(c.Cmd) == 0 {
		c.Cmd = nil
	}
	if len(c.Labels) == 0 {
		c.Labels = nil
	}
	if len(c.ExposedPorts) == 0 {
		c.ExposedPorts = nil
	}
	if len(c.Volumes) == 0 {
		c.Volumes = nil
	}
	if len(c.OnBuild) == 0 {
		c.OnBuild = nil
	}
	if len(c.Shell) == 0 {
		c.Shell = nil
	}
	return c
}

func cfgDiff(want, got imageCfg) string {
	want, got = normaliseCfg(want), normaliseCfg(got)
	if reflect.DeepEqual(want, got) {
		return ""
	}
	w, _ := json.Marshal(want)
	g, _ := json.Marshal(got)
	return fmt.Sprintf("config\n  want %s\n  got  %s", w, g)
}

// corpusInspect is the image configuration as builder inspect and buildah
// inspect print it.
type corpusInspect struct {
	Docker struct {
		Author string `json:"author"`
		Config struct {
			imageCfg
			Healthcheck *healthConfig
		} `json:"config"`
	}
}

func parseImageCfg(t *testing.T, out string) imageCfg {
	t.Helper()
	var in corpusInspect
	if err := json.Unmarshal([]byte(out), &in); err != nil {
		t.Fatalf("inspect output: %v\n%s", err, out)
	}
	c := in.Docker.Config.imageCfg
	c.Healthcheck = in.Docker.Config.Healthcheck
	c.Author = in.Docker.Author
	return c
}

// imageListing mounts image with builder from/mount and lists paths.
func (e *engineStore) imageListing(t *testing.T, image string, paths []string) []string {
	t.Helper()
	ctr := e.wbuilderOut(t, "from", "--pull=never", image)
	defer e.wbuilder(t, "rm", ctr)
	mp := e.wbuilderOut(t, "mount", ctr)
	defer e.wbuilder(t, "umount", ctr)
	return listing(t, mp, paths)
}

// corpusBuild builds dir with bin/builder on e, tagged tag.
func (e *engineStore) corpusBuild(t *testing.T, dir, tag string, flags, env []string) bin.Result {
	t.Helper()
	args := append([]string{"build", "-t", tag}, flags...)
	args = append(args, dir)
	return bin.Run(t, append(append([]string(nil), e.env...), env...), "builder", e.args(args)...)
}

func expandAll(ce corpusEnv, in []string) []string {
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = ce.expand(s)
	}
	return out
}

// newCorpusEnv starts the HTTP server and makes the outside directory.
func newCorpusEnv(t *testing.T) corpusEnv {
	srv := corpusServer(t)
	sum := sha256.Sum256([]byte(remoteTxt))
	return corpusEnv{
		url: srv.URL, sum: "sha256:" + hex.EncodeToString(sum[:]), ext: t.TempDir(),
		runID: strconv.FormatInt(time.Now().UnixNano(), 36),
	}
}

func writeExt(t *testing.T, ce corpusEnv, files map[string]string) {
	t.Helper()
	for n, data := range files {
		if err := os.WriteFile(filepath.Join(ce.ext, n), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// TestBuilderCorpus builds every corpus case and checks the image's
// configuration and filesystem, and for some that engine run runs it.
func TestBuilderCorpus(t *testing.T) {
	cases := corpusCases(t)
	if len(cases) < 40 {
		t.Fatalf("the corpus has %d cases, want at least 40", len(cases))
	}
	e := wbuilderStore(t)
	ce := newCorpusEnv(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			writeExt(t, ce, c.ext)
			dir := writeContext(t, c, ce)
			for _, s := range c.setup {
				f := filepath.Join(t.TempDir(), "Containerfile.setup")
				if err := os.WriteFile(f, []byte(s.containerfile), 0o644); err != nil {
					t.Fatal(err)
				}
				if res := e.corpusBuild(t, dir, s.tag, []string{"-f", f}, nil); res.Code != 0 {
					t.Fatalf("setup build %s: exit %d\n%s", s.tag, res.Code, res.Combined())
				}
			}
			tag := "corpus-" + c.name
			res := e.corpusBuild(t, dir, tag, expandAll(ce, c.flags), c.env)
			if res.Code != 0 {
				t.Fatalf("build: exit %d\n%s", res.Code, res.Combined())
			}
			inspect := e.wbuilderMust(t, "inspect", "--type", "image", tag).Stdout
			if d := cfgDiff(c.cfg, parseImageCfg(t, inspect)); d != "" {
				t.Errorf("%s", d)
			}
			checkLayerHistory(t, inspect)
			if d := sameListing(c.want, e.imageListing(t, tag, c.dirs)); len(d) > 0 {
				t.Errorf("filesystem listing of %v differs (- want, + got):\n%s", c.dirs, strings.Join(d, "\n"))
			}
			if c.run != nil || c.runOut != "" {
				out := e.must(t, append([]string{"run", "--rm", tag}, c.run...)...).Stdout
				if out != c.runOut {
					t.Errorf("engine run %s %v printed %q, want %q", tag, c.run, out, c.runOut)
				}
			}
		})
	}
}

// corpusCases is the corpus. Expectations follow Docker's BuildKit
// builder; the comments say why where it is not obvious.
func corpusCases(t *testing.T) []corpusCase {
	root := "0:0"
	arch := runtime.GOARCH
	appUser := `RUN echo "app:x:1000:2000::/home/app:/bin/sh" >> /etc/passwd && echo "appgrp:x:2000:" >> /etc/group`
	return []corpusCase{
		{
			name: "entrypoint-cmd-exec",
			containerfile: `FROM localhost/bb
ENTRYPOINT ["/bin/echo", "hello"]
CMD ["world"]
`,
			cfg: bbCfg(func(c *imageCfg) {
				c.Entrypoint, c.Cmd = []string{"/bin/echo", "hello"}, []string{"world"}
			}),
			runOut: "hello world\n",
		},
		{
			// An ENTRYPOINT resets a CMD inherited from the base, and the
			// shell form runs with /bin/sh -c.
			name: "entrypoint-resets-inherited-cmd",
			containerfile: `FROM localhost/bb AS base
CMD ["echo", "base"]
FROM base
ENTRYPOINT echo entry
`,
			cfg: bbCfg(func(c *imageCfg) {
				c.Entrypoint, c.Cmd = []string{"/bin/sh", "-c", "echo entry"}, nil
			}),
			runOut: "entry\n",
		},
		{
			// A CMD set earlier in the same stage survives ENTRYPOINT.
			name: "cmd-kept-before-entrypoint",
			containerfile: `FROM localhost/bb
CMD ["kept"]
ENTRYPOINT ["/bin/echo"]
`,
			cfg: bbCfg(func(c *imageCfg) {
				c.Entrypoint, c.Cmd = []string{"/bin/echo"}, []string{"kept"}
			}),
			runOut: "kept\n",
		},
		{
			// In one ENV, $A is the value from before the instruction;
			// the legacy form takes the rest of the line.
			name:           "env-forms",
			buildahDiffers: "buildah moves a replaced variable to the end of Env; Docker keeps its place",
			containerfile: `FROM localhost/bb
ENV A=1 B="two words"
ENV C 3 4
ENV A=changed D=$A
ENV PATH=/opt/bin:$PATH
RUN mkdir /out && echo "$A|$B|$C|$D" > /out/env
`,
			cfg: bbCfg(func(c *imageCfg) {
				c.Env = []string{"PATH=/opt/bin:" + strings.TrimPrefix(bbPath, "PATH="), "A=changed", "B=two words", "C=3 4", "D=1"}
			}),
			dirs: []string{"/out"},
			want: []string{D("/out", 0o755, root), F("/out/env", 0o644, root, "changed|two words|3 4|1\n")},
		},
		{
			// A global ARG needs redeclaring in the stage; a --build-arg
			// beats the default; ENV sees ARGs; ARGs stay out of the
			// image's environment but RUN sees them.
			name: "arg-scoping",
			containerfile: `ARG GLOBAL=g
FROM localhost/bb
ARG GLOBAL
ARG LOCAL=l1
ARG FROMCLI=default
ENV FROMENV=${LOCAL}-env
RUN mkdir /out && echo "$GLOBAL $LOCAL $FROMCLI $FROMENV [$UNDECLARED]" > /out/args && env | grep -c '^LOCAL=' > /out/count
`,
			flags: []string{"--build-arg", "FROMCLI=cli", "--build-arg", "UNDECLARED=x"},
			cfg:   bbCfg(func(c *imageCfg) { c.Env = append(c.Env, "FROMENV=l1-env") }),
			dirs:  []string{"/out"},
			want: []string{D("/out", 0o755, root), F("/out/args", 0o644, root, "g l1 cli l1-env []\n"),
				F("/out/count", 0o644, root, "1\n")},
		},
		{
			// ARGs end with their stage; global ones are not seen unless
			// declared.
			name: "arg-stage-boundaries",
			containerfile: `ARG G=global
FROM localhost/bb AS one
ARG S=stage1
RUN mkdir /out && echo "[$G][$S]" > /out/one
FROM one
RUN echo "[$G][$S]" > /out/two
`,
			cfg:  bbCfg(nil),
			dirs: []string{"/out"},
			want: []string{D("/out", 0o755, root), F("/out/one", 0o644, root, "[][stage1]\n"), F("/out/two", 0o644, root, "[][]\n")},
		},
		{
			// ENV always wins over an ARG of the same name, whatever
			// --build-arg says.
			name: "arg-env-precedence",
			containerfile: `FROM localhost/bb
ARG X=argdefault
ENV X=fromenv
ARG X=second
RUN mkdir /out && echo "$X" > /out/x
`,
			flags: []string{"--build-arg", "X=cli"},
			cfg:   bbCfg(func(c *imageCfg) { c.Env = append(c.Env, "X=fromenv") }),
			dirs:  []string{"/out"},
			want:  []string{D("/out", 0o755, root), F("/out/x", 0o644, root, "fromenv\n")},
		},
		{
			name: "arg-before-from",
			containerfile: `ARG BASE=localhost/bb
ARG TAG=latest
FROM ${BASE}:${TAG} AS b
ARG TAG
RUN mkdir /out && echo "$TAG" > /out/tag
`,
			cfg:  bbCfg(nil),
			dirs: []string{"/out"},
			want: []string{D("/out", 0o755, root), F("/out/tag", 0o644, root, "latest\n")},
		},
		{
			// The platform args exist without a --build-arg (declared to
			// be seen in a stage); --platform may name the native one.
			name: "predefined-platform-args",
			containerfile: `FROM --platform=$BUILDPLATFORM localhost/bb AS one
FROM --platform=linux/{{ARCH}} one
ARG TARGETARCH
ARG TARGETOS
ARG TARGETPLATFORM
ARG BUILDARCH
RUN mkdir /out && echo "$TARGETOS/$TARGETARCH $TARGETPLATFORM $BUILDARCH [$BUILDOS]" > /out/p
`,
			cfg:  bbCfg(nil),
			dirs: []string{"/out"},
			want: []string{D("/out", 0o755, root), F("/out/p", 0o644, root, fmt.Sprintf("linux/%s linux/%s %s []\n", arch, arch, arch))},
		},
		{
			name:           "label-expose-volume-stopsignal-maintainer",
			buildahDiffers: "buildah keeps a port range as one key; Docker exposes each port",
			containerfile: `FROM localhost/bb
ARG PORT=8080
LABEL a=b "key with space"="value with space"
LABEL multi.one=1 \
      multi.two=2
EXPOSE 80 53/udp $PORT 9000-9001/tcp
VOLUME ["/v2", "/v3"]
VOLUME /data /v4
STOPSIGNAL SIGUSR1
MAINTAINER Jane Doe <jane@example.com>
`,
			cfg: bbCfg(func(c *imageCfg) {
				c.Labels = map[string]string{"a": "b", "key with space": "value with space", "multi.one": "1", "multi.two": "2"}
				c.ExposedPorts = keySet("80/tcp", "53/udp", "8080/tcp", "9000/tcp", "9001/tcp")
				c.Volumes = keySet("/v2", "/v3", "/data", "/v4")
				c.StopSignal = "SIGUSR1"
				c.Author = "Jane Doe <jane@example.com>"
			}),
			// VOLUME changes only the configuration.
			dirs: []string{"/data", "/v2"},
		},
		{
			name: "healthcheck",
			containerfile: `FROM localhost/bb
HEALTHCHECK --interval=5s --timeout=2s --start-period=1s --retries=3 CMD test -f /ok
`,
			cfg: bbCfg(func(c *imageCfg) {
				c.Healthcheck = &healthConfig{Test: []string{"CMD-SHELL", "test -f /ok"}, Interval: 5 * time.Second,
					Timeout: 2 * time.Second, StartPeriod: time.Second, Retries: 3}
			}),
		},
		{
			name: "healthcheck-none-and-exec",
			containerfile: `FROM localhost/bb AS base
HEALTHCHECK CMD ["true"]
FROM base AS none
HEALTHCHECK NONE
FROM none
RUN true
`,
			cfg: bbCfg(func(c *imageCfg) { c.Healthcheck = &healthConfig{Test: []string{"NONE"}} }),
		},
		{
			// SHELL is used by RUN and by the shell forms of CMD and
			// ENTRYPOINT.
			name:           "shell",
			buildahDiffers: "buildah 1.28 runs a shell-form CMD with /bin/sh -c; Docker with the SHELL",
			containerfile: `FROM localhost/bb
SHELL ["/usr/bin/env", "FROM_SHELL=yes", "/bin/sh", "-c"]
RUN mkdir /out && echo "$FROM_SHELL" > /out/shell
CMD echo "cmd $FROM_SHELL"
`,
			cfg: bbCfg(func(c *imageCfg) {
				c.Shell = []string{"/usr/bin/env", "FROM_SHELL=yes", "/bin/sh", "-c"}
				c.Cmd = []string{"/usr/bin/env", "FROM_SHELL=yes", "/bin/sh", "-c", `echo "cmd $FROM_SHELL"`}
			}),
			dirs:   []string{"/out"},
			want:   []string{D("/out", 0o755, root), F("/out/shell", 0o644, root, "yes\n")},
			runOut: "cmd yes\n",
		},
		{
			// The parent's triggers run in the child build, with the
			// child's context, before its own instructions; the result
			// has none left.
			name: "onbuild",
			setup: []setupBuild{{tag: "localhost/corpus-onbuild-parent", containerfile: `FROM localhost/bb
RUN mkdir /out
ONBUILD COPY trigger.txt /out/
ONBUILD RUN echo "ran in child" > /out/ran
`}},
			containerfile: `FROM localhost/corpus-onbuild-parent
RUN echo after > /out/after && ls /out > /out/seen
`,
			ctx:  map[string]cfile{"trigger.txt": txt("trigger\n")},
			cfg:  bbCfg(nil),
			dirs: []string{"/out"},
			want: []string{D("/out", 0o755, root), F("/out/trigger.txt", 0o644, root, "trigger\n"),
				F("/out/ran", 0o644, root, "ran in child\n"), F("/out/after", 0o644, root, "after\n"),
				F("/out/seen", 0o644, root, "after\nran\nseen\ntrigger.txt\n")},
		},
		{
			name:    "onbuild-recorded",
			buildah: "buildah from runs the image's ONBUILD triggers, so the image cannot be listed",
			containerfile: `FROM localhost/bb
ONBUILD RUN echo never here
ONBUILD COPY . /x
`,
			cfg: bbCfg(func(c *imageCfg) { c.OnBuild = []string{"RUN echo never here", "COPY . /x"} }),
			// The triggers do not run in the image that declares them.
			dirs: []string{"/x"},
		},
		{
			// WORKDIR creates missing directories owned by the USER
			// (BuildKit), RUN runs there as that user, COPY without
			// --chown makes root's files.
			name:           "user-workdir",
			buildahDiffers: "buildah does not create a WORKDIR no later step uses; BuildKit does",
			containerfile: `FROM localhost/bb
` + appUser + `
USER app
WORKDIR /home/app/work
RUN id -u > uid && id -g > gid && touch made-by-run && echo "$HOME" > home
COPY f.txt .
USER root
WORKDIR /root-owned
`,
			ctx:  map[string]cfile{"f.txt": owned(txt("f\n"), 1234, 1234)},
			cfg:  bbCfg(func(c *imageCfg) { c.User, c.WorkingDir = "root", "/root-owned" }),
			dirs: []string{"/home", "/root-owned"},
			want: []string{
				D("/home", 0o755, "1000:2000"), D("/home/app", 0o755, "1000:2000"), D("/home/app/work", 0o755, "1000:2000"),
				F("/home/app/work/uid", 0o644, "1000:2000", "1000\n"), F("/home/app/work/gid", 0o644, "1000:2000", "2000\n"),
				F("/home/app/work/made-by-run", 0o644, "1000:2000", ""), F("/home/app/work/home", 0o644, "1000:2000", "/home/app\n"),
				F("/home/app/work/f.txt", 0o644, root, "f\n"),
				D("/root-owned", 0o755, root),
			},
		},
		{
			// A numeric USER not in /etc/passwd: HOME is /.
			name: "user-numeric",
			containerfile: `FROM localhost/bb
RUN mkdir -m 777 /out
USER 1234:5678
RUN id -u > /out/uid && id -g > /out/gid && touch /out/made && echo "$HOME" > /out/home
`,
			cfg:  bbCfg(func(c *imageCfg) { c.User = "1234:5678" }),
			dirs: []string{"/out"},
			want: []string{D("/out", 0o777, root), F("/out/uid", 0o644, "1234:5678", "1234\n"), F("/out/gid", 0o644, "1234:5678", "5678\n"),
				F("/out/made", 0o644, "1234:5678", ""), F("/out/home", 0o644, "1234:5678", "/\n")},
		},
		{
			name: "workdir-relative-env",
			containerfile: `FROM localhost/bb
ENV SUB=c
WORKDIR /a
WORKDIR b
WORKDIR $SUB
RUN pwd > /pwd.txt
`,
			cfg:  bbCfg(func(c *imageCfg) { c.Env, c.WorkingDir = append(c.Env, "SUB=c"), "/a/b/c" }),
			dirs: []string{"/a", "/pwd.txt"},
			want: []string{D("/a", 0o755, root), D("/a/b", 0o755, root), D("/a/b/c", 0o755, root), F("/pwd.txt", 0o644, root, "/a/b/c\n")},
		},
		{
			// Variables in every instruction that takes them.
			name: "env-in-instructions",
			containerfile: `FROM localhost/bb
ENV DIR=/srv SIG=SIGQUIT ME=nobody PORT=7000 VAL=v FILE=a.txt
WORKDIR ${DIR}/app
COPY $FILE ${DIR}/copied/
LABEL lab=${VAL:-default} other=${UNSET:-fallback} plus=${VAL:+set}
EXPOSE ${PORT}
VOLUME ${DIR}/vol
STOPSIGNAL $SIG
USER $ME
`,
			ctx: map[string]cfile{"a.txt": txt("a\n")},
			cfg: bbCfg(func(c *imageCfg) {
				c.Env = append(c.Env, "DIR=/srv", "SIG=SIGQUIT", "ME=nobody", "PORT=7000", "VAL=v", "FILE=a.txt")
				c.WorkingDir, c.User, c.StopSignal = "/srv/app", "nobody", "SIGQUIT"
				c.Labels = map[string]string{"lab": "v", "other": "fallback", "plus": "set"}
				c.ExposedPorts, c.Volumes = keySet("7000/tcp"), keySet("/srv/vol")
			}),
			dirs: []string{"/srv"},
			want: []string{D("/srv", 0o755, root), D("/srv/app", 0o755, root), D("/srv/copied", 0o755, root), F("/srv/copied/a.txt", 0o644, root, "a\n")},
		},
		{
			// A source directory's contents are copied, not the directory;
			// modes (setuid, executable) are kept, owners become root.
			name:           "copy-dir-contents",
			buildahDiffers: "buildah 1.28 drops setuid from copied files; Docker keeps the mode",
			containerfile: `FROM localhost/bb
COPY src /dest
COPY src/ /dest2/
COPY src/sub /dest/sub2
`,
			ctx: map[string]cfile{
				"src/a.txt":    owned(txt("a\n"), 1234, 5678),
				"src/exec.sh":  txtMode("#!/bin/sh\n", 0o755),
				"src/suid":     txtMode("s\n", 0o755|os.ModeSetuid),
				"src/sub/b.md": txt("b\n"),
				"src/sticky":   dirMode(0o777 | os.ModeSticky),
				"src/link":     symlink("a.txt"),
			},
			cfg:  bbCfg(nil),
			dirs: []string{"/dest", "/dest2"},
			want: []string{
				D("/dest", 0o755, root), F("/dest/a.txt", 0o644, root, "a\n"), F("/dest/exec.sh", 0o755, root, "#!/bin/sh\n"),
				F("/dest/suid", 0o4755, root, "s\n"), D("/dest/sub", 0o755, root), F("/dest/sub/b.md", 0o644, root, "b\n"),
				D("/dest/sticky", 0o1777, root), L("/dest/link", root, "a.txt"),
				D("/dest/sub2", 0o755, root), F("/dest/sub2/b.md", 0o644, root, "b\n"),
				D("/dest2", 0o755, root), F("/dest2/a.txt", 0o644, root, "a\n"), F("/dest2/exec.sh", 0o755, root, "#!/bin/sh\n"),
				F("/dest2/suid", 0o4755, root, "s\n"), D("/dest2/sub", 0o755, root), F("/dest2/sub/b.md", 0o644, root, "b\n"),
				D("/dest2/sticky", 0o1777, root), L("/dest2/link", root, "a.txt"),
			},
		},
		{
			// A destination directory COPY creates takes the source
			// directory's mode; existing directories in the copied tree
			// take the source's mode and owner too (BuildKit), the top
			// destination keeps its own.
			name:           "copy-dir-modes",
			buildahDiffers: "buildah makes a created destination directory 0755; BuildKit gives it the source directory's mode",
			containerfile: `FROM localhost/bb
RUN mkdir -m 700 /existing
COPY priv /priv
COPY priv /existing
COPY tree/ /
`,
			ctx: map[string]cfile{
				"priv":          dirMode(0o750),
				"priv/p.txt":    txt("p\n"),
				"tree/tmp":      dirMode(0o755),
				"tree/tmp/t":    txt("t\n"),
				"tree/etc/conf": txt("c\n"),
			},
			cfg:  bbCfg(nil),
			dirs: []string{"/priv", "/existing", "/tmp", "/etc"},
			want: []string{
				D("/priv", 0o750, root), F("/priv/p.txt", 0o644, root, "p\n"),
				D("/existing", 0o700, root), F("/existing/p.txt", 0o644, root, "p\n"),
				D("/tmp", 0o755, root), F("/tmp/t", 0o644, root, "t\n"),
				D("/etc", 0o755, root), F("/etc/conf", 0o644, root, "c\n"),
				Fany("/etc/group", 0o644, root), Fany("/etc/passwd", 0o644, root),
			},
		},
		{
			name: "copy-file-destinations",
			containerfile: `FROM localhost/bb
RUN mkdir /real && ln -s /real /linkdir
COPY a.txt /f1
COPY a.txt /d1/
COPY a.txt /tmp
COPY a.txt /linkdir/
WORKDIR /w
COPY a.txt rel/
COPY a.txt .
COPY a.txt rel2
`,
			ctx:  map[string]cfile{"a.txt": txt("a\n")},
			cfg:  bbCfg(func(c *imageCfg) { c.WorkingDir = "/w" }),
			dirs: []string{"/f1", "/d1", "/tmp", "/w", "/real", "/linkdir"},
			want: []string{
				F("/f1", 0o644, root, "a\n"), D("/d1", 0o755, root), F("/d1/a.txt", 0o644, root, "a\n"),
				D("/tmp", 0o1777, root), F("/tmp/a.txt", 0o644, root, "a\n"),
				D("/real", 0o755, root), F("/real/a.txt", 0o644, root, "a\n"), L("/linkdir", root, "/real"),
				D("/w", 0o755, root), D("/w/rel", 0o755, root), F("/w/rel/a.txt", 0o644, root, "a\n"),
				F("/w/a.txt", 0o644, root, "a\n"), F("/w/rel2", 0o644, root, "a\n"),
			},
		},
		{
			// Globs: in lexical order (a later match overwrites), a
			// matched directory's contents are copied.
			name: "copy-globs-and-sources",
			containerfile: `FROM localhost/bb
COPY *.txt /g1/
COPY dir*/x.txt /g2/
COPY dir? /g3/
COPY ?.md /g4/
COPY a.txt b.txt /m/
COPY dir1 dir2 /m2/
COPY [ab].txt /g5/
`,
			ctx: map[string]cfile{
				"a.txt": txt("a\n"), "b.txt": txt("b\n"), "c.md": txt("c\n"),
				"dir1/x.txt": txt("one\n"), "dir2/x.txt": txt("two\n"), "dir2/y.log": txt("y\n"),
			},
			cfg:  bbCfg(nil),
			dirs: []string{"/g1", "/g2", "/g3", "/g4", "/g5", "/m", "/m2"},
			want: []string{
				D("/g1", 0o755, root), F("/g1/a.txt", 0o644, root, "a\n"), F("/g1/b.txt", 0o644, root, "b\n"),
				D("/g2", 0o755, root), F("/g2/x.txt", 0o644, root, "two\n"),
				D("/g3", 0o755, root), F("/g3/x.txt", 0o644, root, "two\n"), F("/g3/y.log", 0o644, root, "y\n"),
				D("/g4", 0o755, root), F("/g4/c.md", 0o644, root, "c\n"),
				D("/g5", 0o755, root), F("/g5/a.txt", 0o644, root, "a\n"), F("/g5/b.txt", 0o644, root, "b\n"),
				D("/m", 0o755, root), F("/m/a.txt", 0o644, root, "a\n"), F("/m/b.txt", 0o644, root, "b\n"),
				D("/m2", 0o755, root), F("/m2/x.txt", 0o644, root, "two\n"), F("/m2/y.log", 0o644, root, "y\n"),
			},
		},
		{
			// --chown: a name takes the user's primary group, a number
			// the same number as group; directories COPY creates get the
			// owner too. --chmod applies to files and directories.
			name: "copy-chown-chmod",
			containerfile: `FROM localhost/bb
` + appUser + `
COPY --chown=app a.txt /o/name/
COPY --chown=app:appgrp a.txt /o/names/
COPY --chown=1234 a.txt /o/uid/
COPY --chown=1234:5678 a.txt /o/uidgid/
COPY --chown=nobody:0 a.txt /o/mixed/
COPY --chmod=0640 a.txt /o/mode.txt
COPY --chmod=755 --chown=1000:2000 dir /o/dir
ARG OWNER=4321
COPY --chown=$OWNER a.txt /o/arg.txt
`,
			ctx:  map[string]cfile{"a.txt": txt("a\n"), "dir/f": txt("f\n"), "dir/sub/g": txt("g\n")},
			cfg:  bbCfg(nil),
			dirs: []string{"/o"},
			want: []string{
				D("/o", 0o755, "1000:2000"),
				D("/o/name", 0o755, "1000:2000"), F("/o/name/a.txt", 0o644, "1000:2000", "a\n"),
				D("/o/names", 0o755, "1000:2000"), F("/o/names/a.txt", 0o644, "1000:2000", "a\n"),
				D("/o/uid", 0o755, "1234:1234"), F("/o/uid/a.txt", 0o644, "1234:1234", "a\n"),
				D("/o/uidgid", 0o755, "1234:5678"), F("/o/uidgid/a.txt", 0o644, "1234:5678", "a\n"),
				D("/o/mixed", 0o755, "65534:0"), F("/o/mixed/a.txt", 0o644, "65534:0", "a\n"),
				F("/o/mode.txt", 0o640, root, "a\n"),
				D("/o/dir", 0o755, "1000:2000"), F("/o/dir/f", 0o755, "1000:2000", "f\n"),
				D("/o/dir/sub", 0o755, "1000:2000"), F("/o/dir/sub/g", 0o755, "1000:2000", "g\n"),
				F("/o/arg.txt", 0o644, "4321:4321", "a\n"),
			},
		},
		{
			// A source named as a link is followed; links inside copied
			// directories are copied as links.
			name: "copy-symlinks",
			containerfile: `FROM localhost/bb
COPY link.txt /s1/
COPY d /s2/
COPY dlink /s3/
`,
			ctx: map[string]cfile{
				"real.txt": txt("real\n"), "link.txt": symlink("real.txt"),
				"d/inner": symlink("../real.txt"), "d/abs": symlink("/etc/passwd"), "dlink": symlink("d"),
			},
			cfg:  bbCfg(nil),
			dirs: []string{"/s1", "/s2", "/s3"},
			want: []string{
				D("/s1", 0o755, root), F("/s1/link.txt", 0o644, root, "real\n"),
				D("/s2", 0o755, root), L("/s2/inner", root, "../real.txt"), L("/s2/abs", root, "/etc/passwd"),
				D("/s3", 0o755, root), L("/s3/inner", root, "../real.txt"), L("/s3/abs", root, "/etc/passwd"),
			},
		},
		{
			// COPY --from keeps the owners of the stage's files; a stage
			// by name or by index.
			name: "copy-from-stage",
			containerfile: `FROM localhost/bb AS build
RUN mkdir -p /out/sub && echo bin > /out/app && chmod 750 /out/app && chown 1234:5678 /out/app && echo s > /out/sub/s && ln -s app /out/applink
FROM localhost/bb
COPY --from=build /out /opt/
COPY --from=build /out/app /bin/app
COPY --from=0 /out/sub/s /s-by-index
`,
			cfg:  bbCfg(nil),
			dirs: []string{"/opt", "/bin/app", "/s-by-index"},
			want: []string{
				D("/opt", 0o755, root), F("/opt/app", 0o750, "1234:5678", "bin\n"), L("/opt/applink", root, "app"),
				D("/opt/sub", 0o755, root), F("/opt/sub/s", 0o644, root, "s\n"),
				F("/bin/app", 0o750, "1234:5678", "bin\n"), F("/s-by-index", 0o644, root, "s\n"),
			},
		},
		{
			// From an image onto scratch; a stage nothing needs is not
			// built (it would fail).
			name: "copy-from-image-onto-scratch",
			containerfile: `FROM localhost/bb AS unused
RUN exit 1
FROM scratch
COPY --from=localhost/bb /bin/busybox /bin/busybox
COPY --from=localhost/bb /etc/passwd /etc/
`,
			cfg:  imageCfg{Env: []string{bbPath}},
			dirs: []string{"/"},
			want: []string{
				D("/bin", 0o755, root), Fany("/bin/busybox", 0o755, root), D("/etc", 0o755, root),
				F("/etc/passwd", 0o644, root, "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"),
			},
			run:    []string{"/bin/busybox", "echo", "from scratch"},
			runOut: "from scratch\n",
		},
		{
			// Stage names are not case-sensitive.
			name:    "stage-name-case",
			buildah: "buildah 1.28 matches stage names case-sensitively",
			containerfile: `FROM localhost/bb AS Base
RUN mkdir /out && echo base > /out/base
FROM BASE AS Second
COPY --from=base /out/base /out/copied
FROM second
`,
			cfg:  bbCfg(nil),
			dirs: []string{"/out"},
			want: []string{D("/out", 0o755, root), F("/out/base", 0o644, root, "base\n"), F("/out/copied", 0o644, root, "base\n")},
		},
		{
			// Stages build on stages by name; labels are inherited and
			// overridden.
			name: "multistage-chain",
			containerfile: `FROM localhost/bb AS a
LABEL from=a keep=yes
RUN mkdir /out && echo a > /out/a
FROM a AS b
RUN echo b > /out/b
FROM b
LABEL from=c
RUN echo c > /out/c
`,
			cfg:  bbCfg(func(c *imageCfg) { c.Labels = map[string]string{"from": "c", "keep": "yes"} }),
			dirs: []string{"/out"},
			want: []string{D("/out", 0o755, root), F("/out/a", 0o644, root, "a\n"), F("/out/b", 0o644, root, "b\n"), F("/out/c", 0o644, root, "c\n")},
		},
		{
			// The exec form is not expanded by the builder; a shell it
			// starts does expand.
			name: "run-exec-form",
			containerfile: `FROM localhost/bb
ENV WHO=env
RUN ["mkdir", "/out"]
RUN ["/bin/sh", "-c", "echo $WHO > /out/shell"]
RUN ["/bin/sh", "-c", "echo \"$0\" > /out/literal", "$WHO"]
`,
			cfg:  bbCfg(func(c *imageCfg) { c.Env = append(c.Env, "WHO=env") }),
			dirs: []string{"/out"},
			want: []string{D("/out", 0o755, root), F("/out/shell", 0o644, root, "env\n"), F("/out/literal", 0o644, root, "$WHO\n")},
		},
		{
			// Comment lines inside a continued line are dropped.
			name: "run-continuation-comments",
			containerfile: `FROM localhost/bb
RUN mkdir /out && \
# a comment in the middle
    echo one \
      two > /out/joined
`,
			cfg:  bbCfg(nil),
			dirs: []string{"/out"},
			want: []string{D("/out", 0o755, root), F("/out/joined", 0o644, root, "one two\n")},
		},
		{
			name: "heredoc-run",
			containerfile: `# syntax=docker/dockerfile:1
FROM localhost/bb
RUN <<EOF
mkdir /out
echo one > /out/one
echo two > /out/two
EOF
RUN <<-EOT sh -c 'cat > /out/stdin'
	tabbed
	EOT
RUN <<EOF
#!/bin/sh
echo "shebang" > /out/shebang
EOF
RUN cat <<A > /out/a && cat <<B > /out/b
from a
A
from b
B
`,
			cfg:  bbCfg(nil),
			dirs: []string{"/out"},
			want: []string{D("/out", 0o755, root), F("/out/one", 0o644, root, "one\n"), F("/out/two", 0o644, root, "two\n"),
				F("/out/stdin", 0o644, root, "tabbed\n"), F("/out/shebang", 0o644, root, "shebang\n"),
				F("/out/a", 0o644, root, "from a\n"), F("/out/b", 0o644, root, "from b\n")},
			buildah: "buildah 1.28 has no here-documents",
		},
		{
			// COPY here-documents expand variables unless the word is
			// quoted.
			name: "heredoc-copy",
			containerfile: `# syntax=docker/dockerfile:1
FROM localhost/bb
COPY <<EOF /out/single
hello [$NOEXPAND]
EOF
ARG NAME=world
COPY <<greet.txt <<bye.txt /out/multi/
hello ${NAME}
greet.txt
bye
bye.txt
COPY <<"EOF" /out/quoted
$NAME stays
EOF
`,
			cfg:  bbCfg(nil),
			dirs: []string{"/out"},
			want: []string{D("/out", 0o755, root), F("/out/single", 0o644, root, "hello []\n"),
				D("/out/multi", 0o755, root), F("/out/multi/greet.txt", 0o644, root, "hello world\n"), F("/out/multi/bye.txt", 0o644, root, "bye\n"),
				F("/out/quoted", 0o644, root, "$NAME stays\n")},
			buildah: "buildah 1.28 has no here-documents",
		},
		{
			// Bind mounts of the context and of a stage: read-only by
			// default, rw writes thrown away, nothing left in the image.
			name:    "mount-bind",
			buildah: "buildah 1.28 writes rw bind mounts through to the context",
			containerfile: `FROM localhost/bb AS other
RUN mkdir /data && echo from-stage > /data/s
FROM localhost/bb
RUN --mount=type=bind,source=data,target=/mnt mkdir /out && cat /mnt/x > /out/from-context && ls /mnt > /out/ls && (touch /mnt/new 2>/dev/null && echo writable || echo read-only) > /out/ro
RUN --mount=type=bind,from=other,source=/data,target=/m2 cat /m2/s > /out/from-stage
RUN --mount=type=bind,target=/ctx,rw echo scratch > /ctx/data/new && cat /ctx/data/x > /out/rw
RUN --mount=type=bind,source=data,target=/mnt test ! -e /mnt/new && echo ok > /out/clean
`,
			ctx:  map[string]cfile{"data/x": txt("x\n"), "data/y": txt("y\n")},
			cfg:  bbCfg(nil),
			dirs: []string{"/out", "/mnt", "/m2", "/ctx"},
			want: []string{D("/out", 0o755, root), F("/out/from-context", 0o644, root, "x\n"), F("/out/ls", 0o644, root, "x\ny\n"),
				F("/out/ro", 0o644, root, "read-only\n"), F("/out/from-stage", 0o644, root, "from-stage\n"),
				F("/out/rw", 0o644, root, "x\n"), F("/out/clean", 0o644, root, "ok\n")},
		},
		{
			// A cache mount persists between steps (and builds) but is
			// not in the image; uid, gid and mode set it up.
			name:           "mount-cache",
			buildahDiffers: "buildah leaves the parent directories of mount points it made (/var/cache); BuildKit removes them",
			containerfile: `FROM localhost/bb
RUN --mount=type=cache,target=/cache,id=corpus-{{RUNID}} echo first >> /cache/log
RUN --mount=type=cache,target=/cache,id=corpus-{{RUNID}} mkdir /out && cat /cache/log > /out/log
RUN --mount=type=cache,target=/var/cache/x,id=corpus-owned-{{RUNID}},uid=1234,gid=5678,mode=0700 mkdir /out/c && stat -c '%u:%g %a' /var/cache/x > /out/c/stat
`,
			cfg:  bbCfg(nil),
			dirs: []string{"/out", "/cache", "/var"},
			want: []string{D("/out", 0o755, root), F("/out/log", 0o644, root, "first\n"),
				D("/out/c", 0o755, root), F("/out/c/stat", 0o644, root, "1234:5678 700\n"), D("/var", 0o755, root)},
		},
		{
			name: "mount-tmpfs",
			containerfile: `FROM localhost/bb
RUN --mount=type=tmpfs,target=/scratch mkdir /out && echo data > /scratch/f && grep ' /scratch ' /proc/mounts | cut -d' ' -f3 > /out/fstype
`,
			cfg:  bbCfg(nil),
			dirs: []string{"/out", "/scratch"},
			want: []string{D("/out", 0o755, root), F("/out/fstype", 0o644, root, "tmpfs\n")},
		},
		{
			// Secrets from a file and from a variable; a missing secret
			// that is not required is skipped; none stays in the image.
			name: "mount-secret",
			containerfile: `FROM localhost/bb
RUN --mount=type=secret,id=tok mkdir /out && cat /run/secrets/tok > /out/tok && stat -c '%a %u:%g' /run/secrets/tok > /out/tokstat
RUN --mount=type=secret,id=tok,target=/etc/mysecret,mode=0440,uid=1234 cat /etc/mysecret > /out/target && stat -c '%a %u' /etc/mysecret > /out/targetstat
RUN --mount=type=secret,id=envtok,env=TOKEN echo "$TOKEN" > /out/env
RUN --mount=type=secret,id=missing echo "not required" > /out/optional
`,
			ext:   map[string]string{"token.txt": "s3cret"},
			flags: []string{"--secret", "id=tok,src={{EXT}}/token.txt", "--secret", "id=envtok,env=CORPUS_SECRET"},
			env:   []string{"CORPUS_SECRET=from-env"},
			cfg:   bbCfg(nil),
			dirs:  []string{"/out", "/run", "/etc/mysecret"},
			want: []string{D("/out", 0o755, root), F("/out/tok", 0o644, root, "s3cret"), F("/out/tokstat", 0o644, root, "400 0:0\n"),
				F("/out/target", 0o644, root, "s3cret"), F("/out/targetstat", 0o644, root, "440 1234\n"),
				F("/out/env", 0o644, root, "from-env\n"), F("/out/optional", 0o644, root, "not required\n")},
			buildah: "buildah 1.28 has no secret env=",
		},
		{
			name: "run-network-none",
			containerfile: `FROM localhost/bb
RUN --network=none mkdir /out && tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' > /out/ifaces
`,
			cfg:     bbCfg(nil),
			dirs:    []string{"/out"},
			want:    []string{D("/out", 0o755, root), F("/out/ifaces", 0o644, root, "lo\n")},
			buildah: "buildah 1.28 has no RUN --network",
		},
		{
			name:           "escape-directive",
			buildahDiffers: "buildah 1.28 drops backslashes from ENV values under escape=`",
			containerfile:  "# escape=`\nFROM localhost/bb\nENV WINPATH=C:\\dir\\file LIT=`$HOME\nRUN mkdir /out && `\n    echo joined > /out/joined\n",
			cfg:            bbCfg(func(c *imageCfg) { c.Env = append(c.Env, `WINPATH=C:\dir\file`, "LIT=$HOME") }),
			dirs:           []string{"/out"},
			want:           []string{D("/out", 0o755, root), F("/out/joined", 0o644, root, "joined\n")},
		},
		{
			// .dockerignore: patterns, ! exceptions, **, a directory
			// ignored but one file in it brought back.
			name: "dockerignore",
			containerfile: `FROM localhost/bb
COPY . /app
`,
			ctx: map[string]cfile{
				".dockerignore":  txt("# comment\n*.log\n!keep.log\nsecret/\n**/*.tmp\ndocs\n!docs/README.md\n"),
				"a.txt":          txt("a\n"),
				"b.log":          txt("b\n"),
				"keep.log":       txt("keep\n"),
				"secret/k":       txt("k\n"),
				"sub/c.tmp":      txt("c\n"),
				"sub/deep/e.tmp": txt("e\n"),
				"sub/d.txt":      txt("d\n"),
				"docs/README.md": txt("readme\n"),
				"docs/other.md":  txt("other\n"),
			},
			cfg:  bbCfg(nil),
			dirs: []string{"/app"},
			want: []string{
				D("/app", 0o755, root), Fany("/app/Containerfile", 0o644, root),
				F("/app/.dockerignore", 0o644, root, "# comment\n*.log\n!keep.log\nsecret/\n**/*.tmp\ndocs\n!docs/README.md\n"),
				F("/app/a.txt", 0o644, root, "a\n"), F("/app/keep.log", 0o644, root, "keep\n"),
				D("/app/sub", 0o755, root), D("/app/sub/deep", 0o755, root), F("/app/sub/d.txt", 0o644, root, "d\n"),
				D("/app/docs", 0o755, root), F("/app/docs/README.md", 0o644, root, "readme\n"),
			},
		},
		{
			// .containerignore wins over .dockerignore.
			name: "containerignore-precedence",
			containerfile: `FROM localhost/bb
COPY . /app
`,
			ctx: map[string]cfile{
				".containerignore": txt("*.txt\n.*ignore\nContainerfile\n"),
				".dockerignore":    txt("*.md\n"),
				"a.txt":            txt("a\n"),
				"c.md":             txt("c\n"),
			},
			cfg:  bbCfg(nil),
			dirs: []string{"/app"},
			want: []string{D("/app", 0o755, root), F("/app/c.md", 0o644, root, "c\n")},
		},
		{
			// ADD extracts local archives (compressed or not) into a
			// directory, keeping the archive's owners and modes unless
			// --chown; COPY does not extract.
			name:           "add-local-tar",
			buildahDiffers: "buildah 1.28 ignores ADD --chown for extracted archives",
			containerfile: `FROM localhost/bb
ADD files.tar.gz /x/
ADD plain.tar /y
ADD data.txt /z/
ADD --chown=1:1 plain.tar /w/
COPY files.tar.gz /c/
`,
			ctx: map[string]cfile{
				"files.tar.gz": txt(tarball(t, true, []string{"top/", "top/f", "top/link"}, map[string]cfile{
					"top/": owned(dirMode(0o750), 1234, 5678), "top/f": owned(txtMode("f\n", 0o640), 1234, 5678),
					"top/link": owned(symlink("f"), 1234, 5678),
				})),
				"plain.tar": txt(tarball(t, false, []string{"p"}, map[string]cfile{"p": txtMode("p\n", 0o600)})),
				"data.txt":  txt("data\n"),
			},
			cfg:  bbCfg(nil),
			dirs: []string{"/x", "/y", "/z", "/w", "/c"},
			want: []string{
				D("/x", 0o755, root), D("/x/top", 0o750, "1234:5678"), F("/x/top/f", 0o640, "1234:5678", "f\n"), L("/x/top/link", "1234:5678", "f"),
				D("/y", 0o755, root), F("/y/p", 0o600, root, "p\n"),
				D("/z", 0o755, root), F("/z/data.txt", 0o644, root, "data\n"),
				D("/w", 0o755, "1:1"), F("/w/p", 0o600, "1:1", "p\n"),
				D("/c", 0o755, root), Fany("/c/files.tar.gz", 0o644, root),
			},
		},
		{
			// A URL's file is 0600 unless --chmod, named after the URL
			// in a directory destination.
			name: "add-url",
			containerfile: `FROM localhost/bb
ADD {{URL}}/files/remote.txt /dl/
ADD {{URL}}/files/remote.txt /dl/renamed.txt
ADD --chmod=644 --chown=1234:1234 {{URL}}/files/r2.txt /dl2/
`,
			cfg:  bbCfg(nil),
			dirs: []string{"/dl", "/dl2"},
			want: []string{
				D("/dl", 0o755, root), F("/dl/remote.txt", 0o600, root, remoteTxt), F("/dl/renamed.txt", 0o600, root, remoteTxt),
				D("/dl2", 0o755, "1234:1234"), F("/dl2/r2.txt", 0o644, "1234:1234", "second\n"),
			},
		},
		{
			name: "add-url-checksum",
			containerfile: `FROM localhost/bb
ADD --checksum={{SUM}} {{URL}}/files/remote.txt /checked.txt
`,
			cfg:     bbCfg(nil),
			dirs:    []string{"/checked.txt"},
			want:    []string{F("/checked.txt", 0o600, root, remoteTxt)},
			buildah: "buildah 1.28 has no ADD --checksum",
		},
		{
			// --parents keeps the source paths (after a /./ pivot).
			name: "copy-parents",
			containerfile: `FROM localhost/bb
COPY --parents a/b/c.txt x/y.txt /p1/
COPY --parents ./src/./pkg/*.go /p2/
COPY --parents a/ /p3/
`,
			ctx: map[string]cfile{
				"a/b/c.txt": txt("c\n"), "a/d.txt": txt("d\n"), "x/y.txt": txt("y\n"),
				"src/pkg/one.go": txt("1\n"), "src/pkg/two.go": txt("2\n"), "src/pkg/sub/three.go": txt("3\n"),
			},
			cfg:  bbCfg(nil),
			dirs: []string{"/p1", "/p2", "/p3"},
			want: []string{
				D("/p1", 0o755, root), D("/p1/a", 0o755, root), D("/p1/a/b", 0o755, root), F("/p1/a/b/c.txt", 0o644, root, "c\n"),
				D("/p1/x", 0o755, root), F("/p1/x/y.txt", 0o644, root, "y\n"),
				D("/p2", 0o755, root), D("/p2/pkg", 0o755, root), F("/p2/pkg/one.go", 0o644, root, "1\n"), F("/p2/pkg/two.go", 0o644, root, "2\n"),
				D("/p3", 0o755, root), D("/p3/a", 0o755, root), D("/p3/a/b", 0o755, root), F("/p3/a/b/c.txt", 0o644, root, "c\n"), F("/p3/a/d.txt", 0o644, root, "d\n"),
			},
			buildah: "buildah 1.28 has no COPY --parents",
		},
		{
			// --exclude patterns are relative to the copied directory.
			name: "copy-exclude",
			containerfile: `FROM localhost/bb
COPY --exclude=*.md --exclude=**/*_test.go app /e1/
COPY --exclude=vendor app/ /e2/
`,
			ctx: map[string]cfile{
				"app/main.go": txt("main\n"), "app/main_test.go": txt("test\n"), "app/README.md": txt("r\n"),
				"app/docs/x.md": txt("x\n"), "app/vendor/v.go": txt("v\n"),
			},
			cfg:  bbCfg(nil),
			dirs: []string{"/e1", "/e2"},
			want: []string{
				D("/e1", 0o755, root), D("/e1/docs", 0o755, root), F("/e1/docs/x.md", 0o644, root, "x\n"), F("/e1/main.go", 0o644, root, "main\n"),
				D("/e1/vendor", 0o755, root), F("/e1/vendor/v.go", 0o644, root, "v\n"),
				D("/e2", 0o755, root), F("/e2/README.md", 0o644, root, "r\n"), D("/e2/docs", 0o755, root), F("/e2/docs/x.md", 0o644, root, "x\n"),
				F("/e2/main.go", 0o644, root, "main\n"), F("/e2/main_test.go", 0o644, root, "test\n"),
			},
			buildah: "buildah 1.28 has no COPY --exclude",
		},
		{
			// A RUN after a COPY sees the copied files; RUN removes
			// files of the base (whiteouts in the layer) and replaces a
			// directory (an opaque one).
			name: "run-sees-copy-and-deletes",
			containerfile: `FROM localhost/bb
COPY script.sh /usr/local/bin/
RUN script.sh && rm /etc/group && rm -r /var && rm -r /usr/sbin && mkdir -m 700 /usr/sbin && echo only > /usr/sbin/only
`,
			ctx:  map[string]cfile{"script.sh": txtMode("#!/bin/sh\nmkdir /out && echo script ran > /out/ran\n", 0o755)},
			cfg:  bbCfg(nil),
			dirs: []string{"/out", "/etc", "/var", "/usr/local", "/usr/sbin"},
			want: []string{D("/out", 0o755, root), F("/out/ran", 0o644, root, "script ran\n"),
				D("/etc", 0o755, root), Fany("/etc/passwd", 0o644, root),
				D("/usr/local", 0o755, root), D("/usr/local/bin", 0o755, root),
				D("/usr/sbin", 0o700, root), F("/usr/sbin/only", 0o644, root, "only\n"),
				F("/usr/local/bin/script.sh", 0o755, root, "#!/bin/sh\nmkdir /out && echo script ran > /out/ran\n")},
		},
		{
			// A later stage copies from two earlier ones; the one stage
			// in between nobody needs is skipped.
			name: "multistage-copy-two",
			containerfile: `FROM localhost/bb AS left
RUN mkdir /out && echo left > /out/l
FROM localhost/bb AS skipped
RUN exit 3
FROM localhost/bb AS right
RUN mkdir /out && echo right > /out/r
FROM localhost/bb
COPY --from=left /out/ /both/
COPY --from=right /out/ /both/
`,
			cfg:  bbCfg(nil),
			dirs: []string{"/both"},
			want: []string{D("/both", 0o755, root), F("/both/l", 0o644, root, "left\n"), F("/both/r", 0o644, root, "right\n")},
		},
		{
			// A bind mount of the context leaves out what the ignore
			// file does.
			name:           "mount-bind-ignored",
			buildahDiffers: "buildah 1.28 shows ignored files in a bind mount of the context; BuildKit does not",
			containerfile: `FROM localhost/bb
RUN --mount=type=bind,target=/ctx mkdir /out && ls -A /ctx > /out/ls && ls -A /ctx/sub > /out/sub
RUN --mount=type=bind,source=sub,target=/sub,rw echo new > /sub/new && ls -A /sub > /out/sub-rw
`,
			ctx: map[string]cfile{
				".dockerignore": txt("secret.txt\nsub/*.log\n"),
				"secret.txt":    txt("s\n"), "keep.txt": txt("k\n"), "sub/a.log": txt("l\n"), "sub/b.txt": txt("b\n"),
			},
			cfg:  bbCfg(nil),
			dirs: []string{"/out", "/ctx", "/sub"},
			want: []string{D("/out", 0o755, root), F("/out/ls", 0o644, root, ".dockerignore\nContainerfile\nkeep.txt\nsub\n"),
				F("/out/sub", 0o644, root, "b.txt\n"), F("/out/sub-rw", 0o644, root, "b.txt\nnew\n")},
		},
		{
			// RUN --mount=type=bind from an image.
			name: "mount-bind-from-image",
			containerfile: `FROM localhost/bb
RUN --mount=type=bind,from=localhost/bb,source=/etc,target=/img-etc mkdir /out && cp /img-etc/passwd /out/
`,
			cfg:  bbCfg(nil),
			dirs: []string{"/out", "/img-etc"},
			want: []string{D("/out", 0o755, root),
				F("/out/passwd", 0o644, root, "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")},
		},
		{
			// A USER and WORKDIR from the base carry over to the child.
			name: "inherited-user-workdir",
			containerfile: `FROM localhost/bb AS base
RUN mkdir -m 777 /work
USER nobody
WORKDIR /work
FROM base
RUN id -un > who && pwd > where
`,
			cfg:  bbCfg(func(c *imageCfg) { c.User, c.WorkingDir = "nobody", "/work" }),
			dirs: []string{"/work"},
			want: []string{D("/work", 0o777, root), F("/work/who", 0o644, "65534:65534", "nobody\n"), F("/work/where", 0o644, "65534:65534", "/work\n")},
		},
	}
}

// buildahStore is a buildah with its own overlay store in a temp dir.
type buildahStore struct {
	root, runroot string
	env           []string
}

func (b *buildahStore) run(t *testing.T, env []string, args ...string) bin.Result {
	t.Helper()
	full := append([]string{"--root", b.root, "--runroot", b.runroot, "--storage-driver", "overlay"}, args...)
	cmd := exec.Command("buildah", full...)
	cmd.Env = append(append(os.Environ(), b.env...), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := bin.Result{Stdout: stdout.String(), Stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		res.Code = ee.ExitCode()
	default:
		t.Fatalf("running buildah: %v", err)
	}
	t.Logf("$ buildah %s  # exit %d", strings.Join(args, " "), res.Code)
	return res
}

func (b *buildahStore) must(t *testing.T, args ...string) string {
	t.Helper()
	res := b.run(t, nil, args...)
	if res.Code != 0 {
		t.Fatalf("buildah %s: exit %d\n%s", strings.Join(args, " "), res.Code, res.Combined())
	}
	return strings.TrimSpace(res.Stdout)
}

func (b *buildahStore) listing(t *testing.T, image string, paths []string) []string {
	t.Helper()
	ctr := b.must(t, "from", "--pull=false", image)
	defer b.run(t, nil, "rm", ctr)
	return listing(t, b.must(t, "mount", ctr), paths)
}

// checkLayerHistory checks that the history entries with a layer are as
// many as the layers, and that no instruction has two entries in a row.
func checkLayerHistory(t *testing.T, out string) {
	t.Helper()
	var in struct {
		Docker struct {
			RootFS struct {
				DiffIDs []string `json:"diff_ids"`
			} `json:"rootfs"`
			History []struct {
				CreatedBy  string `json:"created_by"`
				EmptyLayer bool   `json:"empty_layer"`
			} `json:"history"`
		}
	}
	if err := json.Unmarshal([]byte(out), &in); err != nil {
		t.Fatalf("inspect output: %v", err)
	}
	hist := in.Docker.History
	layers := 0
	for i, h := range hist {
		if !h.EmptyLayer {
			layers++
		}
		if i > 0 && h.CreatedBy == hist[i-1].CreatedBy {
			t.Errorf("history has %q twice in a row", h.CreatedBy)
		}
	}
	if layers != len(in.Docker.RootFS.DiffIDs) {
		t.Errorf("%d history entries with a layer, %d layers:\n%s", layers, len(in.Docker.RootFS.DiffIDs), strings.Join(historyOf(t, out), "\n"))
	}
}

var digestRE = regexp.MustCompile(`(file|dir|multi):[0-9a-f]+`)

// historyOf is the created_by of each history entry of an inspect output,
// with a mark for entries with a layer and COPY digests left out.
func historyOf(t *testing.T, out string) []string {
	t.Helper()
	var in struct {
		Docker struct {
			History []struct {
				CreatedBy  string `json:"created_by"`
				EmptyLayer bool   `json:"empty_layer"`
			} `json:"history"`
		}
	}
	if err := json.Unmarshal([]byte(out), &in); err != nil {
		t.Fatalf("inspect output: %v", err)
	}
	var h []string
	for i, e := range in.Docker.History {
		layer := ""
		if !e.EmptyLayer {
			layer = " (layer)"
		}
		h = append(h, fmt.Sprintf("%02d %s%s", i, digestRE.ReplaceAllString(e.CreatedBy, "$1:…"), layer))
	}
	return h
}

// buildahLeftovers are the empty files buildah leaves where RUN had its
// bind mounts; BuildKit leaves nothing.
var buildahLeftovers = []string{"/etc/hostname ", "/etc/hosts ", "/etc/resolv.conf ", "/run ", "/run/"}

// TestBuilderCorpusVsBuildah builds each corpus case with builder and with
// buildah (both --format docker, so that buildah keeps HEALTHCHECK, SHELL
// and ONBUILD) and reports where configuration or filesystem differ. It
// runs only with OCISUITE_COMPARE_BUILDAH=1 (make corpus-compare) and
// buildah installed. Known differences are normalised: buildah's
// io.buildah.version label and the empty mount-point files its RUN leaves.
func TestBuilderCorpusVsBuildah(t *testing.T) {
	if os.Getenv("OCISUITE_COMPARE_BUILDAH") != "1" {
		t.Skip("set OCISUITE_COMPARE_BUILDAH=1 (make corpus-compare) to compare with buildah")
	}
	if _, err := exec.LookPath("buildah"); err != nil {
		t.Skip("buildah is not installed")
	}
	e := wbuilderStore(t)
	dir := t.TempDir()
	ba := &buildahStore{root: filepath.Join(dir, "root"), runroot: filepath.Join(dir, "runroot"), env: e.env}
	t.Cleanup(func() {
		ba.run(t, nil, "rm", "--all")
		_ = exec.Command("sh", "-c", "grep -o ' "+ba.root+"[^ ]*' /proc/self/mounts | xargs -r -n1 umount -l").Run()
	})
	bb := fixture.Busybox(t)
	id := ba.must(t, "pull", "-q", bb.Ref())
	ba.must(t, "tag", id, "localhost/bb:latest")
	ce := newCorpusEnv(t)
	version := strings.Fields(ba.must(t, "--version"))
	t.Logf("comparing with %s", strings.Join(version, " "))
	compared := 0
	for _, c := range corpusCases(t) {
		t.Run(c.name, func(t *testing.T) {
			if c.buildah != "" {
				t.Skip(c.buildah)
			}
			writeExt(t, ce, c.ext)
			dir := writeContext(t, c, ce)
			for _, s := range c.setup {
				f := filepath.Join(t.TempDir(), "Containerfile.setup")
				if err := os.WriteFile(f, []byte(s.containerfile), 0o644); err != nil {
					t.Fatal(err)
				}
				if res := e.corpusBuild(t, dir, s.tag, []string{"--format", "docker", "-f", f}, nil); res.Code != 0 {
					t.Fatalf("setup build %s: exit %d\n%s", s.tag, res.Code, res.Combined())
				}
				ba.must(t, "build", "--format", "docker", "--layers", "-f", f, "-t", s.tag, dir)
			}
			tag := "corpus-cmp-" + c.name
			flags := append([]string{"--format", "docker"}, expandAll(ce, c.flags)...)
			if res := e.corpusBuild(t, dir, tag, flags, c.env); res.Code != 0 {
				t.Fatalf("builder build: exit %d\n%s", res.Code, res.Combined())
			}
			bargs := append(append([]string{"build", "--layers", "-t", tag}, flags...), dir)
			if res := ba.run(t, c.env, bargs...); res.Code != 0 {
				t.Fatalf("buildah build: exit %d\n%s", res.Code, res.Combined())
			}
			oursOut := e.wbuilderMust(t, "inspect", "--type", "image", tag).Stdout
			theirsOut := ba.must(t, "inspect", "--type", "image", tag)
			ours, theirs := parseImageCfg(t, oursOut), parseImageCfg(t, theirsOut)
			// History: buildah 1.28 writes most instructions as written
			// (ENV unexpanded, CMD in shell form), so it is reported, not
			// checked.
			if d := sameListing(historyOf(t, theirsOut), historyOf(t, oursOut)); len(d) > 0 {
				t.Logf("history differs (- buildah, + builder):\n%s", strings.Join(d, "\n"))
			}
			delete(theirs.Labels, "io.buildah.version")
			report := t.Errorf
			if c.buildahDiffers != "" {
				report = t.Logf
			}
			differs := false
			if d := cfgDiff(theirs, ours); d != "" {
				report("builder and buildah differ: %s (want: buildah, got: builder)", d)
				differs = true
			}
			var theirList []string
			for _, l := range ba.listing(t, tag, c.dirs) {
				if !slices.ContainsFunc(buildahLeftovers, func(p string) bool { return strings.HasPrefix(l, p) }) {
					theirList = append(theirList, l)
				}
			}
			if d := sameListing(theirList, e.imageListing(t, tag, c.dirs)); len(d) > 0 {
				report("filesystem of %v differs (- buildah, + builder):\n%s", c.dirs, strings.Join(d, "\n"))
				differs = true
			}
			switch {
			case differs && c.buildahDiffers != "":
				t.Logf("known difference: %s", c.buildahDiffers)
			case !differs && c.buildahDiffers != "":
				t.Logf("no difference any more (the case says: %s)", c.buildahDiffers)
			}
			compared++
		})
	}
	t.Logf("%d cases compared with buildah", compared)
}
