package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/containers/image/v5/pkg/sysregistriesv2"
	"github.com/containers/image/v5/types"
)

// Warning is a problem in a config file that does not stop the tools.
type Warning struct {
	File    string
	Key     string
	Message string
}

func (w Warning) String() string { return w.File + ": " + w.Key + ": " + w.Message }

// registriesFile is every key a registries.conf may hold, in the v2 format
// and the old v1 tables, so that anything else can be reported.
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

// hints explain the classic mistakes.
var hints = map[string]string{
	"mirror":                      `a mirror belongs in a [[registry.mirror]] table under its [[registry]]`,
	"mirrors":                     `a mirror belongs in a [[registry.mirror]] table under its [[registry]]`,
	"registry.mirrors":            `did you mean [[registry.mirror]] tables with a location each?`,
	"location":                    `location belongs in a [[registry]] or [[registry.mirror]] table`,
	"prefix":                      `prefix belongs in a [[registry]] table`,
	"insecure":                    `insecure belongs in a [[registry]] or [[registry.mirror]] table`,
	"blocked":                     `blocked belongs in a [[registry]] table`,
	"search-registries":           `did you mean unqualified-search-registries?`,
	"unqualified-search-registry": `did you mean unqualified-search-registries?`,
	"registry.pull-from-mirrors":  `did you mean pull-from-mirror?`,
}

// RegistriesFiles lists the registries.conf files containers/image reads for
// sys, main file first, then the drop-ins in the order they apply.
func RegistriesFiles(sys *types.SystemContext, home string) []string {
	var main string
	var dirs []string
	userFile := filepath.Join(home, ".config/containers/registries.conf")
	userDir := filepath.Join(home, ".config/containers/registries.conf.d")
	switch {
	case sys != nil && sys.SystemRegistriesConfPath != "":
		main = sys.SystemRegistriesConfPath
	case exists(userFile):
		main = userFile
		if sys != nil && sys.SystemRegistriesConfDirPath != "" {
			dirs = []string{sys.SystemRegistriesConfDirPath}
		} else {
			dirs = []string{userDir}
		}
	default:
		main = "/etc/containers/registries.conf"
		if sys != nil && sys.RootForImplicitAbsolutePaths != "" {
			main = filepath.Join(sys.RootForImplicitAbsolutePaths, main)
		}
	}
	if dirs == nil {
		if sys != nil && sys.SystemRegistriesConfDirPath != "" {
			dirs = []string{sys.SystemRegistriesConfDirPath}
		} else {
			sysDir := "/etc/containers/registries.conf.d"
			if sys != nil && sys.RootForImplicitAbsolutePaths != "" {
				sysDir = filepath.Join(sys.RootForImplicitAbsolutePaths, sysDir)
			}
			dirs = []string{sysDir, userDir}
		}
	}
	files := []string{main}
	// Drop-ins apply in file-name order across the directories, later
	// directories overriding earlier ones for equal names.
	byName := map[string]string{}
	for _, d := range dirs {
		entries, err := os.ReadDir(d)
		if err != nil {
			continue
		}
		for _, e := range entries {
			if e.Type().IsRegular() && strings.HasSuffix(e.Name(), ".conf") {
				byName[e.Name()] = filepath.Join(d, e.Name())
			}
		}
	}
	var names []string
	for n := range byName {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		files = append(files, byName[n])
	}
	return files
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// CheckRegistries reads every registries.conf file that sys selects and
// returns a warning for each unknown or misplaced key, naming file and key.
// A file that does not parse, or a configuration containers/image rejects,
// is an error naming the file (and the line, where the parser knows it).
func CheckRegistries(sys *types.SystemContext) ([]Warning, error) {
	home, _ := os.UserHomeDir()
	var warnings []Warning
	for _, f := range RegistriesFiles(sys, home) {
		w, err := checkRegistriesFile(f)
		if err != nil {
			return warnings, err
		}
		warnings = append(warnings, w...)
	}
	if _, err := sysregistriesv2.GetRegistries(sys); err != nil {
		return warnings, fmt.Errorf("invalid registries configuration (%s): %w", sysregistriesv2.ConfigurationSourceDescription(sys), err)
	}
	return warnings, nil
}

// checkRegistriesFile decodes one file; a missing file is not an error.
func checkRegistriesFile(path string) ([]Warning, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return decodeRegistries(path, string(data))
}

func decodeRegistries(path, data string) ([]Warning, error) {
	var f registriesFile
	meta, err := toml.Decode(data, &f)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("%s: line %d: %s", path, pe.Position.Line, pe.Message)
		}
		return nil, fmt.Errorf("%s: %s", path, strings.ReplaceAll(err.Error(), "\n", " "))
	}
	var out []Warning
	seen := map[string]bool{}
	for _, k := range meta.Undecoded() {
		key := k.String()
		// Report a table once, not each of its keys.
		if len(k) > 1 && seen[k[:len(k)-1].String()] {
			continue
		}
		seen[key] = true
		msg := "unknown key, ignored"
		generic := genericKey(k)
		if h, ok := hints[generic]; ok {
			msg += "; " + h
		} else if h, ok := hints[k[len(k)-1]]; ok && len(k) == 1 {
			msg += "; " + h
		}
		out = append(out, Warning{File: path, Key: key, Message: msg})
	}
	return out, nil
}

// genericKey is the dotted key, e.g. registry.mirrors for any registry.
func genericKey(k toml.Key) string { return strings.Join(k, ".") }
