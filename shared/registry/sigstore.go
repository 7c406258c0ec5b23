package registry

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/containers/image/v5/types"
	"gopkg.in/yaml.v3"
)

// SigstoreAttachments reports whether any registries.d configuration read
// with sys enables sigstore attachments (use-sigstore-attachments), for
// any registry.
func SigstoreAttachments(sys *types.SystemContext) (bool, error) {
	return sigstoreAttachments(registriesDir(sys))
}

// registriesDir is the registries.d directory containers/image reads.
func registriesDir(sys *types.SystemContext) string {
	if sys != nil && sys.RegistriesDirPath != "" {
		return sys.RegistriesDirPath
	}
	if home, err := os.UserHomeDir(); err == nil {
		if p := filepath.Join(home, ".config/containers/registries.d"); exists(p) {
			return p
		}
	}
	if sys != nil && sys.RootForImplicitAbsolutePaths != "" {
		return filepath.Join(sys.RootForImplicitAbsolutePaths, "/etc/containers/registries.d")
	}
	return "/etc/containers/registries.d"
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// sigstoreAttachments reports whether a YAML file in dir sets
// use-sigstore-attachments to true anywhere.
func sigstoreAttachments(dir string) (bool, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	type ns struct {
		UseSigstoreAttachments *bool `yaml:"use-sigstore-attachments"`
	}
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".yaml") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return false, err
		}
		var cfg struct {
			DefaultDocker *ns           `yaml:"default-docker"`
			Docker        map[string]ns `yaml:"docker"`
		}
		if err := yaml.Unmarshal(b, &cfg); err != nil {
			return false, fmt.Errorf("parsing %s: %w", e.Name(), err)
		}
		if cfg.DefaultDocker != nil && cfg.DefaultDocker.UseSigstoreAttachments != nil && *cfg.DefaultDocker.UseSigstoreAttachments {
			return true, nil
		}
		for _, n := range cfg.Docker {
			if n.UseSigstoreAttachments != nil && *n.UseSigstoreAttachments {
				return true, nil
			}
		}
	}
	return false, nil
}
