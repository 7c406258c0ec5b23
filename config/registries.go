//go:build !thin

package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/containers/image/v5/pkg/sysregistriesv2"
	"github.com/containers/image/v5/types"
)

// registriesFile is every key a registries.conf may hold, in the v2 format
// and the old v1 tables, so that anything else can be reported. The types
// match sysregistriesv2's, so a file that decodes here decodes there.
type registriesFile struct {
	UnqualifiedSearchRegistries    []string          `toml:"unqualified-search-registries"`
	ShortNameMode                  string            `toml:"short-name-mode"`
	CredentialHelpers              []string          `toml:"credential-helpers"`
	AdditionalLayerStoreAuthHelper string            `toml:"additional-layer-store-auth-helper"`
	Aliases                        map[string]string `toml:"aliases"`
	Registry                       []registryEntry   `toml:"registry"`
	Registries                     *v1Tables         `toml:"registries"`
}

type registryEntry struct {
	Prefix             string        `toml:"prefix"`
	Location           string        `toml:"location"`
	Insecure           bool          `toml:"insecure"`
	Blocked            bool          `toml:"blocked"`
	MirrorByDigestOnly bool          `toml:"mirror-by-digest-only"`
	PullFromMirror     string        `toml:"pull-from-mirror"`
	Mirror             []mirrorEntry `toml:"mirror"`
}

type mirrorEntry struct {
	Location       string `toml:"location"`
	Insecure       bool   `toml:"insecure"`
	PullFromMirror string `toml:"pull-from-mirror"`
}

type v1Tables struct {
	Search   v1List `toml:"search"`
	Insecure v1List `toml:"insecure"`
	Block    v1List `toml:"block"`
}

type v1List struct {
	Registries []string `toml:"registries"`
}

func (f *registriesFile) isV1() bool {
	r := f.Registries
	return r != nil && len(r.Search.Registries)+len(r.Insecure.Registries)+len(r.Block.Registries) > 0
}

// registryHints explain the classic mistakes, by dotted key.
var registryHints = map[string]string{
	"mirror":                            "did you mean [[registry.mirror]] inside a [[registry]]?",
	"mirrors":                           "did you mean [[registry.mirror]] inside a [[registry]]?",
	"registry.mirrors":                  "did you mean [[registry.mirror]] tables with a location each?",
	"location":                          "location belongs inside a [[registry]] or [[registry.mirror]] table",
	"prefix":                            "prefix belongs inside a [[registry]] table",
	"insecure":                          "insecure belongs inside a [[registry]] or [[registry.mirror]] table",
	"blocked":                           "blocked belongs inside a [[registry]] table",
	"mirror-by-digest-only":             "mirror-by-digest-only belongs inside a [[registry]] table",
	"pull-from-mirror":                  "pull-from-mirror belongs inside a [[registry]] or [[registry.mirror]] table",
	"search-registries":                 "did you mean unqualified-search-registries?",
	"unqualified-search-registry":       "did you mean unqualified-search-registries?",
	"short-name-aliases":                "aliases go in an [aliases] table",
	"alias":                             "did you mean an [aliases] table?",
	"registry.url":                      "did you mean location (host[:port][/namespace], no scheme)?",
	"registry.mirror.url":               "did you mean location (host[:port][/namespace], no scheme)?",
	"registry.pull-from-mirrors":        "did you mean pull-from-mirror?",
	"registry.mirror.pull-from-mirrors": "did you mean pull-from-mirror?",
	"registry.mirror.blocked":           "blocked applies to a whole [[registry]], not a mirror",
	"registry.mirror.prefix":            "prefix belongs to the [[registry]], not a mirror",
	"registry.mirror.mirror":            "mirrors cannot be nested; add more [[registry.mirror]] tables",
	"registries.mirror":                 "the v1 format has no mirrors; use the v2 [[registry]] and [[registry.mirror]] tables",
}

// CheckRegistries reads every registries.conf file that containers/image
// reads for sys (and the CONTAINERS_REGISTRIES_CONF environment variable, as
// the CLIs apply it) and returns a warning for each unknown or misplaced
// key, naming file and key. A file that does not parse, or that
// containers/image rejects, is an error naming the file (and the line, where
// the parser knows it); errors.As finds a *FileError in it.
func CheckRegistries(sys *types.SystemContext) ([]Warning, error) {
	_, _, warnings, err := readRegistries(sys, CurrentEnv())
	return warnings, err
}

// registriesConfFile is one decoded registries.conf file.
type registriesConfFile struct {
	path string
	conf registriesFile
}

// readRegistries decodes and checks each file containers/image reads for
// sys, in the order it applies them, then has containers/image load the
// whole configuration. It returns sys with the environment applied.
func readRegistries(sys *types.SystemContext, env Env) (*types.SystemContext, []registriesConfFile, []Warning, error) {
	sys = withRegistriesEnv(sys, env)
	src := registriesSources(sys, env)

	var (
		files    []registriesConfFile
		warnings []Warning
	)
	check := func(path string, dropIn bool) error {
		data, ok, err := readFile(path)
		if err != nil {
			return err
		}
		if !ok {
			if path == src.main && src.mainExplicit {
				return &FileError{File: path, Err: fs.ErrNotExist}
			}
			return nil
		}
		f := registriesConfFile{path: path}
		w, err := checkRegistriesFile(path, data, dropIn, &f.conf)
		warnings = append(warnings, w...)
		if err != nil {
			return err
		}
		files = append(files, f)
		return nil
	}
	if err := check(src.main, false); err != nil {
		return sys, nil, warnings, err
	}
	dropIns, err := registriesDropIns(src.dirs)
	if err != nil {
		return sys, nil, warnings, err
	}
	for _, f := range dropIns {
		if err := check(f, true); err != nil {
			return sys, nil, warnings, err
		}
	}
	// Have containers/image load what it will actually use (refreshing its
	// cache with the files as they are now). Only when that fails, find
	// the file to blame by loading each on its own: loading every file
	// twice on each run would cost several milliseconds.
	if _, err := sysregistriesv2.TryUpdatingCache(sys); err != nil {
		for _, f := range files {
			if ferr := validateRegistriesFile(f.path); ferr != nil {
				return sys, nil, warnings, ferr
			}
		}
		return sys, nil, warnings, fmt.Errorf("registries configuration (%s): %w", sysregistriesv2.ConfigurationSourceDescription(sys), err)
	}
	return sys, files, warnings, nil
}

// withRegistriesEnv returns sys with CONTAINERS_REGISTRIES_CONF (or the older
// REGISTRIES_CONFIG_PATH) applied, as containers/image's CLI helper does.
func withRegistriesEnv(sys *types.SystemContext, env Env) *types.SystemContext {
	var c types.SystemContext
	if sys != nil {
		c = *sys
	}
	if c.SystemRegistriesConfPath == "" {
		for _, k := range []string{"CONTAINERS_REGISTRIES_CONF", "REGISTRIES_CONFIG_PATH"} {
			if v := env.getenv(k); v != "" {
				c.SystemRegistriesConfPath = v
				break
			}
		}
	}
	return &c
}

type registriesSourceSet struct {
	main         string
	mainExplicit bool     // chosen by the caller: a missing file is an error
	dirs         []string // drop-in directories, in the order they apply
}

// registriesSources mirrors sysregistriesv2's choice of files for sys.
func registriesSources(sys *types.SystemContext, env Env) registriesSourceSet {
	userFile := filepath.Join(env.Home, ".config", "containers", "registries.conf")
	userDir := filepath.Join(env.Home, ".config", "containers", "registries.conf.d")
	root := sys.RootForImplicitAbsolutePaths
	var s registriesSourceSet
	switch {
	case sys.SystemRegistriesConfPath != "":
		s.main, s.mainExplicit = sys.SystemRegistriesConfPath, true
	case exists(userFile):
		s.main = userFile
		if sys.SystemRegistriesConfDirPath != "" {
			s.dirs = []string{sys.SystemRegistriesConfDirPath}
		} else {
			s.dirs = []string{userDir}
		}
		return s
	default:
		s.main = filepath.Join(root, SystemRegistriesConf)
	}
	if sys.SystemRegistriesConfDirPath != "" {
		s.dirs = []string{sys.SystemRegistriesConfDirPath}
	} else {
		s.dirs = []string{filepath.Join(root, SystemRegistriesConfDir), userDir}
	}
	return s
}

// registriesDropIns lists the *.conf files of dirs, directory by directory,
// each in name order, walking them exactly as sysregistriesv2 does.
func registriesDropIns(dirs []string) ([]string, error) {
	var files []string
	for _, dir := range dirs {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			switch {
			case err != nil:
				return err
			case d.IsDir():
				if path != dir {
					return filepath.SkipDir
				}
				return nil
			case strings.HasSuffix(path, ".conf"):
				files = append(files, path)
			}
			return nil
		})
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, &FileError{File: dir, Err: err}
		}
	}
	return files, nil
}

// checkRegistriesFile decodes one file for warnings and checks what
// sysregistriesv2 would not (readRegistries has it validate the files).
func checkRegistriesFile(path, data string, dropIn bool, f *registriesFile) ([]Warning, error) {
	w, err := decodeRegistries(path, data, f)
	if err != nil {
		return nil, err
	}
	if dropIn && f.isV1() {
		return w, &FileError{File: path, Err: errors.New("drop-in files must use the v2 format ([[registry]] tables), not [registries.search|insecure|block]")}
	}
	return w, nil
}

// validateRegistriesFile has sysregistriesv2 load the file at path on its
// own; errors are a *FileError.
func validateRegistriesFile(path string) error {
	// The drop-in directory is a path that is no directory and no *.conf
	// file, so sysregistriesv2 adds nothing to the file.
	alone := &types.SystemContext{SystemRegistriesConfPath: path, SystemRegistriesConfDirPath: os.DevNull}
	if _, err := sysregistriesv2.TryUpdatingCache(alone); err != nil {
		// sysregistriesv2 wraps the reason in "loading registries
		// configuration PATH"; FileError names the file already.
		if inner := errors.Unwrap(err); inner != nil {
			err = inner
		}
		return &FileError{File: path, Err: err}
	}
	return nil
}

// decodeRegistries decodes data into f and reports the keys it does not know.
func decodeRegistries(path, data string, f *registriesFile) ([]Warning, error) {
	meta, err := decodeTOML(path, data, f)
	if err != nil {
		return nil, err
	}
	return undecodedWarnings(path, meta, func(k toml.Key) (string, bool) {
		return registryHints[k.String()], true
	}), nil
}
