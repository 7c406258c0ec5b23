package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
	storagetypes "github.com/containers/storage/types"
)

// rootlessDrivers are the storage drivers a rootless user may take over from
// the system storage.conf (as containers/storage does).
var rootlessDrivers = map[string]bool{"overlay": true, "btrfs": true, "vfs": true}

// storageOptionKeys belong in [storage.options], a common misplacement.
var storageOptionKeys = map[string]bool{
	"additionalimagestores": true, "mount_program": true, "mountopt": true, "size": true,
	"ignore_chown_errors": true, "skip_mount_home": true, "force_mask": true, "pull_options": true,
}

// StoreOptions reads the storage.conf at path (normally
// DefaultPaths(env).StorageConf) through containers/storage's own loader and
// fills in what it leaves empty, for root or for the rootless user uid.
//
// Rules, as containers/storage applies them: a missing file gives the
// defaults (driver chosen by containers/storage at open time), except that
// a missing $CONTAINERS_STORAGE_CONF is an error; unset roots get
// DefaultPaths' roots. For a rootless user the system files
// (/etc/containers/storage.conf, /usr/share/containers/storage.conf) only
// give the driver (if a rootless one: overlay, btrfs, vfs), the driver
// priority, the pull options and overlay's ignore_chown_errors; the roots are
// the user's own (rootless_storage_path if set). A rootless user's own file
// (or $CONTAINERS_STORAGE_CONF) is used whole. $UID and environment
// variables in roots are expanded. The STORAGE_DRIVER and STORAGE_OPTS
// environment variables override the file. Unknown keys are warnings; a
// file that does not parse is a *FileError naming the file and line.
func StoreOptions(path string, rootless bool, uid int) (storagetypes.StoreOptions, []Warning, error) {
	env := CurrentEnv()
	env.UID = uid
	return storeOptions(path, rootless, env, []string{SystemStorageConf, VendorStorageConf})
}

// storeOptions implements StoreOptions; systemFiles are the storage.conf
// files a rootless user takes only a few settings from.
func storeOptions(path string, rootless bool, env Env, systemFiles []string) (storagetypes.StoreOptions, []Warning, error) {
	var opts storagetypes.StoreOptions
	graphRoot, runRoot := storageRoots(env, rootless)

	data, ok, err := readFile(path)
	if err != nil {
		return opts, nil, err
	}
	if !ok && path == env.getenv("CONTAINERS_STORAGE_CONF") {
		return opts, nil, &FileError{File: path, Err: fs.ErrNotExist}
	}
	var warnings []Warning
	if ok {
		var conf storagetypes.TomlConfig
		meta, err := decodeTOML(path, data, &conf)
		if err != nil {
			return opts, nil, err
		}
		warnings = undecodedWarnings(path, meta, func(k toml.Key) (string, bool) {
			if len(k) == 1 {
				return "storage settings belong in the [storage] table", true
			}
			if len(k) == 2 && k[0] == "storage" && storageOptionKeys[k[1]] {
				return "driver options belong in the [storage.options] table", true
			}
			return "", true
		})
		if err := storagetypes.ReloadConfigurationFile(path, &opts); err != nil {
			return opts, warnings, &FileError{File: path, Err: err}
		}
	} else {
		// No file: what containers/storage's loader gives for an empty one.
		opts.GraphDriverName = env.getenv("STORAGE_DRIVER")
		if v := env.getenv("STORAGE_OPTS"); v != "" {
			opts.GraphDriverOptions = strings.Split(v, ",")
		}
	}

	if rootless && (!ok || slices.Contains(systemFiles, path)) {
		opts = rootlessFromSystem(opts, env, graphRoot, runRoot)
	}
	if opts.RunRoot == "" {
		opts.RunRoot = runRoot
	}
	if opts.GraphRoot == "" {
		if rootless && opts.RootlessStoragePath != "" {
			opts.GraphRoot = opts.RootlessStoragePath
		} else {
			opts.GraphRoot = graphRoot
		}
	}
	opts.RunRoot = expandStoragePath(opts.RunRoot, env)
	opts.GraphRoot = expandStoragePath(opts.GraphRoot, env)
	opts.RootlessStoragePath = expandStoragePath(opts.RootlessStoragePath, env)
	if opts.ImageStore != "" && opts.ImageStore == opts.GraphRoot {
		return opts, warnings, &FileError{File: path, Err: errors.New("imagestore must differ from graphroot")}
	}
	return opts, warnings, nil
}

// rootlessFromSystem is what a rootless user takes from the system
// storage options.
func rootlessFromSystem(system storagetypes.StoreOptions, env Env, graphRoot, runRoot string) storagetypes.StoreOptions {
	opts := storagetypes.StoreOptions{
		RunRoot:     runRoot,
		GraphRoot:   graphRoot,
		PullOptions: system.PullOptions,
	}
	if system.RootlessStoragePath != "" {
		opts.GraphRoot = system.RootlessStoragePath
	}
	if rootlessDrivers[system.GraphDriverName] {
		opts.GraphDriverName = system.GraphDriverName
	}
	if d := env.getenv("STORAGE_DRIVER"); d != "" {
		opts.GraphDriverName = d
	}
	if opts.GraphDriverName == "overlay2" {
		opts.GraphDriverName = "overlay"
	}
	if opts.GraphDriverName == "overlay" {
		for _, o := range system.GraphDriverOptions {
			if strings.Contains(o, "ignore_chown_errors") {
				opts.GraphDriverOptions = append(opts.GraphDriverOptions, o)
				break
			}
		}
	}
	if opts.GraphDriverName == "" {
		opts.GraphDriverPriority = system.GraphDriverPriority
	}
	if v := env.getenv("STORAGE_OPTS"); v != "" {
		opts.GraphDriverOptions = append(opts.GraphDriverOptions, strings.Split(v, ",")...)
	}
	return opts
}

// expandStoragePath expands $UID and environment variables as
// containers/storage does.
func expandStoragePath(p string, env Env) string {
	if p == "" {
		return p
	}
	p = strings.ReplaceAll(p, "$UID", strconv.Itoa(env.UID))
	p = os.Expand(p, func(k string) string {
		if k == "HOME" && env.Home != "" {
			return env.Home
		}
		return env.getenv(k)
	})
	return filepath.Clean(p)
}
