//go:build !thin

package config

import (
	"fmt"

	"github.com/containers/image/v5/docker/reference"
	"github.com/containers/image/v5/pkg/sysregistriesv2"
	"github.com/containers/image/v5/types"
)

// Registries is the registries configuration containers/image uses for a
// SystemContext: every file merged, as the tools see it.
type Registries struct {
	// Sources names the files and drop-in directories read, as
	// containers/image describes them.
	Sources string
	// Search are the registries tried, in order, for short names; SearchOrigin
	// is the file that set them.
	Search       []string
	SearchOrigin string
	// ShortNameMode is SystemContext.ShortNameMode if set, else the
	// configured mode (permissive when no file sets one).
	ShortNameMode types.ShortNameMode
	// CredentialHelpers are tried in order; "containers-auth.json" is the
	// auth.json files.
	CredentialHelpers []string
	// Aliases maps short names to the fully qualified (normalized)
	// repository they resolve to. The machine-generated
	// short-name-aliases.conf overrides registries.conf and its drop-ins; an
	// alias set to "" in a later file is removed.
	Aliases map[string]Alias
	// Registry holds the [[registry]] entries ordered by prefix.
	Registry []Registry
}

// Alias is one short-name alias and the file that set it.
type Alias struct {
	Value  string
	Origin string
}

// Registry is one [[registry]] entry after containers/image's processing:
// Prefix is Location when the file sets none.
type Registry struct {
	Prefix   string
	Location string // "" for a "*.example.com" prefix without a location
	Insecure bool   // plain HTTP or unverified TLS allowed
	Blocked  bool   // pulls are refused
	// MirrorByDigestOnly restricts every mirror to pulls by digest.
	MirrorByDigestOnly bool
	Mirrors            []Mirror // tried in order, before Location
}

// Mirror is one [[registry.mirror]] of a Registry.
type Mirror struct {
	Location string
	Insecure bool
	// PullFromMirror is when the mirror is used: "all", "digest-only" or
	// "tag-only", with the registry's mirror-by-digest-only applied.
	PullFromMirror string
}

// LoadRegistries checks the configuration as CheckRegistries does (without
// the warnings) and returns what containers/image will use for sys. It reads
// the short-name-aliases.conf that containers/image maintains
// (sys.UserShortNameAliasConfPath, else DefaultPaths' ShortNameAliasesConf)
// without creating it or its lock.
func LoadRegistries(sys *types.SystemContext) (*Registries, error) {
	return loadRegistries(sys, CurrentEnv())
}

func loadRegistries(sys *types.SystemContext, env Env) (*Registries, error) {
	sys, files, _, err := readRegistries(sys, env)
	if err != nil {
		return nil, err
	}
	desc := sysregistriesv2.ConfigurationSourceDescription(sys)
	wrap := func(err error) error { return fmt.Errorf("registries configuration (%s): %w", desc, err) }

	r := &Registries{Sources: desc}
	if r.Search, r.SearchOrigin, err = sysregistriesv2.UnqualifiedSearchRegistriesWithOrigin(sys); err != nil {
		return nil, wrap(err)
	}
	if r.ShortNameMode, err = sysregistriesv2.GetShortNameMode(sys); err != nil {
		return nil, wrap(err)
	}
	if sys.ShortNameMode != nil {
		r.ShortNameMode = *sys.ShortNameMode
	}
	if r.CredentialHelpers, err = sysregistriesv2.CredentialHelpers(sys); err != nil {
		return nil, wrap(err)
	}
	regs, err := sysregistriesv2.GetRegistries(sys) //nolint:staticcheck // the only API listing every entry
	if err != nil {
		return nil, wrap(err)
	}
	for _, reg := range regs {
		r.Registry = append(r.Registry, registryOf(reg))
	}

	aliases := map[string]Alias{}
	for _, f := range files {
		mergeAliases(aliases, f.conf.Aliases, f.path)
	}
	cachePath := sys.UserShortNameAliasConfPath
	if cachePath == "" {
		cachePath = shortNameAliasesConf(env)
	}
	cached, err := readShortNameAliases(cachePath)
	if err != nil {
		return nil, err
	}
	mergeAliases(aliases, cached, cachePath)
	r.Aliases = map[string]Alias{}
	for name, a := range aliases {
		if a.Value == "" {
			continue
		}
		named, err := reference.ParseNormalizedNamed(a.Value)
		if err != nil { // containers/image validated the value already
			return nil, &FileError{File: a.Origin, Err: fmt.Errorf("alias %q: %w", name, err)}
		}
		r.Aliases[name] = Alias{Value: named.String(), Origin: a.Origin}
	}
	return r, nil
}

func registryOf(reg sysregistriesv2.Registry) Registry {
	out := Registry{
		Prefix:             reg.Prefix,
		Location:           reg.Location,
		Insecure:           reg.Insecure,
		Blocked:            reg.Blocked,
		MirrorByDigestOnly: reg.MirrorByDigestOnly,
	}
	for _, m := range reg.Mirrors {
		pull := m.PullFromMirror
		switch {
		case reg.MirrorByDigestOnly:
			pull = sysregistriesv2.MirrorByDigestOnly
		case pull == "":
			pull = sysregistriesv2.MirrorAll
		}
		out.Mirrors = append(out.Mirrors, Mirror{Location: m.Location, Insecure: m.Insecure, PullFromMirror: pull})
	}
	return out
}

// mergeAliases applies one file's aliases over aliases; "" values are kept
// so that they hide earlier ones.
func mergeAliases(aliases map[string]Alias, from map[string]string, origin string) {
	for name, value := range from {
		aliases[name] = Alias{Value: value, Origin: origin}
	}
}

// readShortNameAliases reads the [aliases] table of a short-name-aliases.conf;
// a missing file has none. Values are validated as containers/image does.
func readShortNameAliases(path string) (map[string]string, error) {
	data, ok, err := readFile(path)
	if err != nil || !ok {
		return nil, err
	}
	var conf struct {
		Aliases map[string]string `toml:"aliases"`
	}
	if _, err := decodeTOML(path, data, &conf); err != nil {
		return nil, err
	}
	// The file is in the registries.conf format: containers/image
	// validates the entries as it does for registries.conf.
	if err := validateRegistriesFile(path); err != nil {
		return nil, err
	}
	return conf.Aliases, nil
}
