package config

import (
	"embed"
	"io/fs"
)

//go:embed defaults/registries.conf defaults/policy.json defaults/storage.conf
var defaultFiles embed.FS

// Defaults holds the configuration files the suite ships, named as they are
// installed under /etc/containers: registries.conf (short-name-mode
// "enforcing", commented examples of search registries and mirrors),
// policy.json (accept anything, also from docker-daemon) and storage.conf
// (overlay driver, the standard rootful roots).
func Defaults() fs.FS {
	sub, err := fs.Sub(defaultFiles, "defaults")
	if err != nil {
		panic(err) // the directory is embedded above
	}
	return sub
}
