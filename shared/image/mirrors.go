package image

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/BurntSushi/toml"
	"github.com/containers/image/v5/docker"
	"github.com/containers/image/v5/docker/reference"
	"github.com/containers/image/v5/pkg/sysregistriesv2"
	"github.com/containers/image/v5/transports"
	"github.com/containers/image/v5/types"
	"github.com/sirupsen/logrus"
)

// fallbacks are the endpoints of a docker:// source, in registries.conf
// order.
type fallbacks struct {
	endpoints []endpoint
	// probeSys reads a registries.conf in which the source's registry has
	// no mirrors and each mirror location is a registry of its own, so that
	// every endpoint's probe reference reaches exactly that endpoint.
	probeSys *types.SystemContext
	cleanup  func()
}

type endpoint struct {
	desc string // "mirror HOST[/PATH]" or "registry HOST[/PATH]"
	// probe addresses the endpoint itself (under probeSys).
	probe types.ImageReference
	// sys makes the original reference read from this endpoint: its
	// registries.conf gives the registry this one mirror (the docker
	// transport then still names the image by the original reference, for
	// the trust policy and signatures), or none for the registry itself.
	sys *types.SystemContext
}

// mirrorFallbacks lists the endpoints of src when it is a docker://
// reference whose registry has mirrors that apply to it; nil otherwise.
//
// The docker transport itself only tries the endpoints in order for the
// manifest, then reads every blob from the endpoint that served it. To make
// it read from one endpoint, each endpoint gets a registries.conf of its own
// (temporary files, the only way to hand containers/image a
// configuration), listing the registry with that mirror only, or with no
// mirror. They keep the top-level credential-helpers.
func mirrorFallbacks(src types.ImageReference, sys *types.SystemContext) (*fallbacks, error) {
	if src.Transport().Name() != "docker" || src.DockerReference() == nil {
		return nil, nil
	}
	named := src.DockerReference()
	reg, err := sysregistriesv2.FindRegistry(sys, named.String())
	if err != nil || reg == nil || len(reg.Mirrors) == 0 {
		return nil, err
	}
	sources, err := reg.PullSourcesFromReference(named)
	if err != nil || len(sources) < 2 {
		return nil, err
	}
	helpers, err := sysregistriesv2.CredentialHelpers(sys)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "ocisuite-registries-")
	if err != nil {
		return nil, fmt.Errorf("writing registries.conf files for the mirror fallback: %w", err)
	}
	fb := &fallbacks{cleanup: func() { _ = os.RemoveAll(dir) }}
	withConf := func(name string, regs []sysregistriesv2.Registry) (*types.SystemContext, error) {
		var buf bytes.Buffer
		if err := toml.NewEncoder(&buf).Encode(registriesConf{CredentialHelpers: helpers, Registries: regs}); err != nil {
			return nil, err
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
			return nil, fmt.Errorf("writing a registries.conf for the mirror fallback: %w", err)
		}
		s := types.SystemContext{}
		if sys != nil {
			s = *sys
		}
		s.SystemRegistriesConfPath = path
		s.SystemRegistriesConfDirPath = filepath.Join(dir, "none.d")
		return &s, nil
	}
	bare := sysregistriesv2.Registry{
		Prefix:   reg.Prefix,
		Endpoint: sysregistriesv2.Endpoint{Location: reg.Location, Insecure: reg.Insecure},
	}

	probeRegs := []sysregistriesv2.Registry{bare}
	seen := map[string]bool{reg.Prefix: true, reg.Location: true}
	for i, ps := range sources {
		var e endpoint
		if i == len(sources)-1 { // PullSourcesFromReference puts the registry last
			e.desc, e.probe = "registry "+endpointName(ps), src
			e.sys, err = withConf("registry.conf", []sysregistriesv2.Registry{bare})
		} else {
			e.desc = "mirror " + endpointName(ps)
			e.probe, err = docker.NewReference(ps.Reference)
			if err == nil {
				one := bare
				one.Mirrors = []sysregistriesv2.Endpoint{{Location: ps.Endpoint.Location, Insecure: ps.Endpoint.Insecure}}
				e.sys, err = withConf(fmt.Sprintf("mirror-%d.conf", i), []sysregistriesv2.Registry{one})
			}
			if loc := ps.Endpoint.Location; !seen[loc] {
				seen[loc] = true
				probeRegs = append(probeRegs, sysregistriesv2.Registry{Prefix: loc, Endpoint: sysregistriesv2.Endpoint{Location: loc, Insecure: ps.Endpoint.Insecure}})
			}
		}
		if err != nil {
			fb.cleanup()
			return nil, err
		}
		fb.endpoints = append(fb.endpoints, e)
	}
	if fb.probeSys, err = withConf("probe.conf", probeRegs); err != nil {
		fb.cleanup()
		return nil, err
	}
	return fb, nil
}

// served returns the index of the first endpoint that serves the image's
// manifest, the one the docker transport reads from; -1 if none does.
func (fb *fallbacks) served(ctx context.Context) int {
	for i, e := range fb.endpoints {
		src, err := e.probe.NewImageSource(ctx, fb.probeSys)
		if err != nil {
			logrus.Debugf("%s does not serve %s: %v", e.desc, transports.ImageName(e.probe), err)
			continue
		}
		_ = src.Close()
		return i
	}
	return -1
}

// registriesConf is the subset of registries.conf the fallback writes.
type registriesConf struct {
	CredentialHelpers []string                   `toml:"credential-helpers,omitempty"`
	Registries        []sysregistriesv2.Registry `toml:"registry"`
}

// endpointName is the location of ps, or its host for a wildcard prefix.
func endpointName(ps sysregistriesv2.PullSource) string {
	if ps.Endpoint.Location != "" {
		return ps.Endpoint.Location
	}
	return reference.Domain(ps.Reference)
}
