package preflight

import (
	"io"
	"os"

	"github.com/sirupsen/logrus"

	"github.com/ocisuite/suite/config"
	"github.com/ocisuite/suite/shared/store"
)

// PrepareStore is what a command does before store.Open: it resolves o's
// storage options, refuses a configured driver the store holds no layers
// of (CheckStoreDriver), chooses the driver (ChooseDriver) and, when
// probing made the choice and the store is new, prints the one line
// naming it and why to w (later uses log it at debug level). The options
// returned name the driver and its options.
func PrepareStore(o store.Options, w io.Writer) (store.Options, Choice, error) {
	opts, err := o.StoreOptions()
	if err != nil {
		return o, Choice{}, err
	}
	if opts.GraphDriverName != "" {
		if err := CheckStoreDriver(opts.GraphRoot, opts.RunRoot, opts.GraphDriverName); err != nil {
			return o, Choice{}, err
		}
	}
	fresh := NewStore(opts.GraphRoot)
	c, err := ChooseDriver(opts, DriverSource(o))
	if err != nil {
		return o, c, err
	}
	if c.Probed && fresh {
		Announce(w, c.Driver, c.Reason)
	} else {
		logrus.Debugf("storage driver %s (%s)", c.Driver, c.Reason)
	}
	o.Driver = c.Driver
	o.DriverOptions = c.Options
	if o.DriverOptions == nil {
		o.DriverOptions = []string{}
	}
	return o, c, nil
}

// DriverSource says where o's storage driver is configured: the
// --storage-driver flag, $STORAGE_DRIVER or the storage.conf read.
func DriverSource(o store.Options) string {
	switch {
	case o.Driver != "":
		return "--storage-driver"
	case os.Getenv("STORAGE_DRIVER") != "":
		return "$STORAGE_DRIVER"
	case o.StorageConf != "":
		return o.StorageConf
	}
	return config.DefaultPaths(config.CurrentEnv()).StorageConf
}
