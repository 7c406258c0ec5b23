// Package config reads the standard containers configuration files
// (registries.conf and registries.conf.d, storage.conf, policy.json, auth.json
// and certs.d locations) and the suite's own engine settings. It has no side
// effects: every function takes the paths or SystemContext it reads.
package config
