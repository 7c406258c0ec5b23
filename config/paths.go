package config

import (
	"os"
	"path/filepath"
	"strconv"

	"github.com/containers/storage/pkg/homedir"
)

// Env is what the default paths depend on: the user and the environment.
// Tests build one; commands use CurrentEnv.
type Env struct {
	UID  int
	Home string
	// Getenv reads an environment variable; nil reads none.
	Getenv func(string) string
}

// CurrentEnv is the calling process's user and environment. UID is
// $_CONTAINERS_ROOTLESS_UID when set (the user a process in a rootless user
// namespace acts for, as containers/image and containers/storage read it),
// else the effective user ID. The home directory is the one
// containers/image and containers/storage use: $HOME (else the user
// database) as first read by the process.
func CurrentEnv() Env {
	uid := os.Geteuid()
	if v := os.Getenv("_CONTAINERS_ROOTLESS_UID"); v != "" {
		if n, err := strconv.Atoi(v); err == nil {
			uid = n
		}
	}
	return Env{UID: uid, Home: homedir.Get(), Getenv: os.Getenv}
}

// Rootless reports whether env is a non-root user, who gets per-user paths.
func (e Env) Rootless() bool { return e.UID != 0 }

func (e Env) getenv(k string) string {
	if e.Getenv == nil {
		return ""
	}
	return e.Getenv(k)
}

// Paths are the configuration and storage locations for one user.
// Search lists are in lookup order.
type Paths struct {
	// RegistriesConf is the main registries.conf: CONTAINERS_REGISTRIES_CONF
	// (or the older REGISTRIES_CONFIG_PATH), else
	// ~/.config/containers/registries.conf if it exists, else
	// /etc/containers/registries.conf.
	RegistriesConf string
	// RegistriesConfDirs hold the drop-ins applied after it, directory by
	// directory: only the user's when the user's registries.conf is used,
	// else /etc/containers/registries.conf.d then the user's.
	RegistriesConfDirs []string
	// ShortNameAliasesConf is where containers/image records the short-name
	// aliases chosen at a prompt; they override registries.conf's:
	// /var/cache/containers/short-name-aliases.conf for root, else
	// $XDG_CACHE_HOME/containers/short-name-aliases.conf or
	// ~/.cache/containers/short-name-aliases.conf.
	ShortNameAliasesConf string
	// PolicyJSON is ~/.config/containers/policy.json if it exists, else
	// /etc/containers/policy.json.
	PolicyJSON string
	// StorageConf is the storage.conf to read: CONTAINERS_STORAGE_CONF, else
	// (rootless) $XDG_CONFIG_HOME/containers/storage.conf or
	// ~/.config/containers/storage.conf if it exists, or (root)
	// $XDG_CONFIG_HOME/containers/storage.conf if XDG_CONFIG_HOME is set and
	// the file exists, else /etc/containers/storage.conf if it exists, else
	// /usr/share/containers/storage.conf (as containers/storage chooses).
	StorageConf string
	// AuthFile is REGISTRY_AUTH_FILE, else $XDG_RUNTIME_DIR/containers/auth.json
	// when XDG_RUNTIME_DIR is set, else /run/containers/UID/auth.json (as
	// containers/image computes it, for root as for other users). Logins
	// write it.
	AuthFile string
	// AuthReadFiles are the credential files read, in order, the first
	// holding credentials for a registry winning: AuthFile alone when
	// REGISTRY_AUTH_FILE is set, else AuthFile,
	// $XDG_CONFIG_HOME/containers/auth.json (or ~/.config/…),
	// $DOCKER_CONFIG/config.json (or ~/.docker/config.json) and the legacy
	// ~/.dockercfg, as containers/image reads them.
	AuthReadFiles []string
	// CertsDirs are the per-registry certificate directories; the first one
	// holding a host:port subdirectory is used.
	CertsDirs []string
	// RegistriesD are the signature lookaside configuration directories;
	// containers/image uses the first that exists.
	RegistriesD []string
	// EngineConfs are the containers.conf files, later ones overriding:
	// CONTAINERS_CONF alone when set, else /usr/share/containers/containers.conf,
	// /etc/containers/containers.conf and (rootless)
	// $XDG_CONFIG_HOME/containers/containers.conf or
	// ~/.config/containers/containers.conf; then CONTAINERS_CONF_OVERRIDE.
	EngineConfs []string
	// GraphRoot and RunRoot are the storage roots used when storage.conf
	// does not set them: /var/lib/containers/storage and
	// /run/containers/storage for root; ~/.local/share/containers/storage
	// (or $XDG_DATA_HOME/containers/storage) and $XDG_RUNTIME_DIR/containers
	// (or /tmp/containers-user-UID/containers) for other users.
	GraphRoot string
	RunRoot   string
}

// System-wide locations.
const (
	SystemRegistriesConf    = "/etc/containers/registries.conf"
	SystemRegistriesConfDir = "/etc/containers/registries.conf.d"
	SystemPolicyJSON        = "/etc/containers/policy.json"
	SystemStorageConf       = "/etc/containers/storage.conf"
	VendorStorageConf       = "/usr/share/containers/storage.conf"
	SystemRegistriesD       = "/etc/containers/registries.d"
	VendorEngineConf        = "/usr/share/containers/containers.conf"
	SystemEngineConf        = "/etc/containers/containers.conf"
	RootfulGraphRoot        = "/var/lib/containers/storage"
	RootfulRunRoot          = "/run/containers/storage"
)

// DefaultPaths computes the paths the containers tools use for env,
// following containers/image and containers/storage where they compute the
// same path. It only looks at the file system to see which files exist.
func DefaultPaths(env Env) Paths {
	home := env.Home
	userContainers := filepath.Join(home, ".config", "containers")
	xdgContainers := userContainers
	if d := env.getenv("XDG_CONFIG_HOME"); d != "" {
		xdgContainers = filepath.Join(d, "containers")
	}
	var p Paths

	userRegistries := filepath.Join(userContainers, "registries.conf")
	userRegistriesDir := filepath.Join(userContainers, "registries.conf.d")
	switch {
	case env.getenv("CONTAINERS_REGISTRIES_CONF") != "":
		p.RegistriesConf = env.getenv("CONTAINERS_REGISTRIES_CONF")
		p.RegistriesConfDirs = []string{SystemRegistriesConfDir, userRegistriesDir}
	case env.getenv("REGISTRIES_CONFIG_PATH") != "":
		p.RegistriesConf = env.getenv("REGISTRIES_CONFIG_PATH")
		p.RegistriesConfDirs = []string{SystemRegistriesConfDir, userRegistriesDir}
	case exists(userRegistries):
		p.RegistriesConf = userRegistries
		p.RegistriesConfDirs = []string{userRegistriesDir}
	default:
		p.RegistriesConf = SystemRegistriesConf
		p.RegistriesConfDirs = []string{SystemRegistriesConfDir, userRegistriesDir}
	}

	p.ShortNameAliasesConf = shortNameAliasesConf(env)

	p.PolicyJSON = SystemPolicyJSON
	if f := filepath.Join(userContainers, "policy.json"); exists(f) {
		p.PolicyJSON = f
	}

	p.StorageConf = VendorStorageConf
	if exists(SystemStorageConf) {
		p.StorageConf = SystemStorageConf
	}
	if f := filepath.Join(xdgContainers, "storage.conf"); (env.Rootless() || env.getenv("XDG_CONFIG_HOME") != "") && exists(f) {
		p.StorageConf = f
	}
	if f := env.getenv("CONTAINERS_STORAGE_CONF"); f != "" {
		p.StorageConf = f
	}

	runtimeDir := env.getenv("XDG_RUNTIME_DIR")
	switch {
	case env.getenv("REGISTRY_AUTH_FILE") != "":
		p.AuthFile = env.getenv("REGISTRY_AUTH_FILE")
	case runtimeDir != "":
		p.AuthFile = filepath.Join(runtimeDir, "containers", "auth.json")
	default:
		p.AuthFile = filepath.Join("/run/containers", strconv.Itoa(env.UID), "auth.json")
	}
	p.AuthReadFiles = []string{p.AuthFile}
	if env.getenv("REGISTRY_AUTH_FILE") == "" {
		dockerConfig := filepath.Join(home, ".docker", "config.json")
		if d := env.getenv("DOCKER_CONFIG"); d != "" {
			dockerConfig = filepath.Join(d, "config.json")
		}
		p.AuthReadFiles = append(p.AuthReadFiles, filepath.Join(xdgContainers, "auth.json"), dockerConfig, filepath.Join(home, ".dockercfg"))
	}

	p.CertsDirs = []string{filepath.Join(userContainers, "certs.d"), "/etc/containers/certs.d", "/etc/docker/certs.d"}
	p.RegistriesD = []string{filepath.Join(userContainers, "registries.d"), SystemRegistriesD}

	if f := env.getenv("CONTAINERS_CONF"); f != "" {
		p.EngineConfs = []string{f}
	} else {
		p.EngineConfs = []string{VendorEngineConf, SystemEngineConf}
		if env.Rootless() {
			p.EngineConfs = append(p.EngineConfs, filepath.Join(xdgContainers, "containers.conf"))
		}
	}
	if f := env.getenv("CONTAINERS_CONF_OVERRIDE"); f != "" {
		p.EngineConfs = append(p.EngineConfs, f)
	}

	p.GraphRoot, p.RunRoot = storageRoots(env, env.Rootless())
	return p
}

// storageRoots are the default graph and run roots.
func storageRoots(env Env, rootless bool) (graphRoot, runRoot string) {
	if !rootless {
		return RootfulGraphRoot, RootfulRunRoot
	}
	data := filepath.Join(env.Home, ".local", "share")
	if d := env.getenv("XDG_DATA_HOME"); d != "" {
		data = d
	}
	graphRoot = filepath.Join(data, "containers", "storage")
	if d := env.getenv("XDG_RUNTIME_DIR"); d != "" {
		runRoot = filepath.Join(d, "containers")
	} else {
		tmp := env.getenv("TMPDIR")
		if tmp == "" {
			tmp = "/tmp"
		}
		runRoot = filepath.Join(tmp, "containers-user-"+strconv.Itoa(env.UID), "containers")
	}
	return graphRoot, runRoot
}

// shortNameAliasesConf is where containers/image keeps the aliases it
// records (after a short name was chosen at a prompt) for env's user.
func shortNameAliasesConf(env Env) string {
	if !env.Rootless() {
		return "/var/cache/containers/short-name-aliases.conf"
	}
	cache := env.getenv("XDG_CACHE_HOME")
	if cache == "" {
		cache = filepath.Join(env.Home, ".cache")
	}
	return filepath.Join(cache, "containers", "short-name-aliases.conf")
}
