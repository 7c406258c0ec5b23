// Package store opens the one containers/storage store the three tools
// share, configured from storage.conf exactly as podman and buildah read it,
// with the global --root, --runroot and --storage-driver overrides.
package store

import (
	"fmt"
	"os"

	"github.com/containers/storage"
	storagetypes "github.com/containers/storage/types"
	"github.com/sirupsen/logrus"

	"github.com/ocisuite/suite/config"
)

// Options override what storage.conf says; the zero value changes nothing.
type Options struct {
	// GraphRoot (--root) holds images, layers and containers.
	GraphRoot string
	// RunRoot (--runroot) holds the store's run-time state (mounts, locks).
	RunRoot string
	// Driver (--storage-driver), e.g. "overlay" or "vfs".
	Driver string
	// DriverOptions (--storage-opt) replace storage.conf's driver options.
	DriverOptions []string
	// StorageConf overrides the storage.conf that is read.
	StorageConf string
}

// StoreOptions resolves the containers/storage options for the calling user:
// storage.conf (config.DefaultPaths), then the overrides in o.
func (o Options) StoreOptions() (storagetypes.StoreOptions, error) {
	env := config.CurrentEnv()
	path := o.StorageConf
	if path == "" {
		path = config.DefaultPaths(env).StorageConf
	}
	opts, warnings, err := config.StoreOptions(path, env.Rootless(), env.UID)
	for _, w := range warnings {
		logrus.Warn(w.String())
	}
	if err != nil {
		return opts, err
	}
	if o.GraphRoot != "" {
		opts.GraphRoot = o.GraphRoot
	}
	if o.RunRoot != "" {
		opts.RunRoot = o.RunRoot
	}
	if o.Driver != "" {
		opts.GraphDriverName = o.Driver
	}
	if o.DriverOptions != nil {
		opts.GraphDriverOptions = o.DriverOptions
	}
	if opts.RunRoot == "" || opts.GraphRoot == "" {
		return opts, fmt.Errorf("storage: graph root %q and run root %q must both be set", opts.GraphRoot, opts.RunRoot)
	}
	return opts, nil
}

// Open opens the store. The caller shuts it down with Shutdown(false) when
// done, which releases layer mounts this process does not hold.
func Open(o Options) (storage.Store, error) {
	opts, err := o.StoreOptions()
	if err != nil {
		return nil, err
	}
	logrus.Debugf("storage: graph root %s, run root %s, driver %q", opts.GraphRoot, opts.RunRoot, opts.GraphDriverName)
	if err := os.MkdirAll(opts.RunRoot, 0o700); err != nil {
		return nil, fmt.Errorf("creating run root: %w", err)
	}
	s, err := storage.GetStore(opts)
	if err != nil {
		return nil, fmt.Errorf("opening storage at %s: %w", opts.GraphRoot, err)
	}
	logrus.Debugf("storage: using driver %s", s.GraphDriverName())
	return s, nil
}
