package container

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/sirupsen/logrus"

	"github.com/ocisuite/suite/engine/network"
)

// Networks is the engine's network store: definitions in
// GRAPHROOT/networks, leases and netavark's files in RUNROOT/engine/networks.
func (e *Engine) Networks() network.Store {
	name, subnet := e.Settings.DefaultNetwork, e.Settings.DefaultSubnet
	if name == "" {
		name = "podman"
	}
	if subnet == "" {
		subnet = "10.88.0.0/16"
	}
	return network.Store{
		Dir:           filepath.Join(e.Store.GraphRoot(), "networks"),
		RunDir:        network.HostRunDir,
		DefaultName:   name,
		DefaultSubnet: subnet,
	}
}

// resolveNetworks checks the record's network mode at creation: "bridge"
// joins Networks (the default network when none is named), rootful only.
func (e *Engine) resolveNetworks(cfg *Config) error {
	if cfg.Network == "" {
		cfg.Network = "none"
		if !e.Rootless {
			cfg.Network = "bridge"
		}
	}
	if cfg.Network != "bridge" {
		if len(cfg.Networks) > 0 {
			return fmt.Errorf("--network %s cannot be combined with named networks", cfg.Network)
		}
		if len(cfg.Ports) > 0 {
			return fmt.Errorf("cannot publish ports with --network %s", cfg.Network)
		}
		return nil
	}
	if e.Rootless {
		return errors.New("bridge networks are not available to rootless containers yet: use --network none or host")
	}
	if len(cfg.Networks) == 0 {
		cfg.Networks = []string{e.Networks().DefaultName}
	}
	for i, name := range cfg.Networks {
		n, err := e.Networks().Get(name)
		if err != nil {
			return err
		}
		cfg.Networks[i] = n.Name
	}
	return nil
}

// setupNetwork gives a bridge container its namespace, addresses, ports
// and firewall rules for this run (lock held); the result is kept in
// State.Net until finish tears it down.
func (e *Engine) setupNetwork(ctx context.Context, c *Container) error {
	if c.State.Net != nil {
		e.teardownNetwork(ctx, c)
	}
	if c.Network != "bridge" {
		return nil
	}
	st, err := e.Networks().Setup(ctx, network.Request{
		ContainerID:   c.ID,
		ContainerName: c.Name,
		Networks:      c.Networks,
		Ports:         c.Ports,
		NetNS:         filepath.Join(e.Dir, "netns", c.ID),
	})
	if err != nil {
		return fmt.Errorf("setting up the network of %s: %w", c.Name, err)
	}
	c.State.Net = st
	return nil
}

// teardownNetwork removes what setupNetwork made (lock held).
func (e *Engine) teardownNetwork(ctx context.Context, c *Container) {
	if c.State.Net == nil {
		return
	}
	if err := e.Networks().Teardown(context.WithoutCancel(ctx), c.ID, c.Name, c.State.Net); err != nil {
		logrus.Warnf("tearing down the network of %s: %v", c.Name, err)
	}
	c.State.Net = nil
}

// NetworkUsers maps each network name to the containers whose record
// joins it.
func (e *Engine) NetworkUsers() (map[string][]*Container, error) {
	all, err := e.List()
	if err != nil {
		return nil, err
	}
	out := map[string][]*Container{}
	for _, c := range all {
		for _, n := range c.Networks {
			out[n] = append(out[n], c)
		}
	}
	return out, nil
}

// etcHostsEntries are the /etc/hosts lines of a bridge container: its
// addresses with its names, and host.containers.internal at the gateway.
func etcHostsEntries(c *Container, hostname string) string {
	if c.State.Net == nil || len(c.State.Net.Attachments) == 0 {
		return ""
	}
	var b strings.Builder
	for _, a := range c.State.Net.Attachments {
		if a.IP != "" {
			fmt.Fprintf(&b, "%s\t%s %s\n", a.IP, hostname, c.Name)
		}
	}
	if gw := c.State.Net.Attachments[0].Gateway; gw != "" {
		fmt.Fprintf(&b, "%s\thost.containers.internal host.docker.internal\n", gw)
	}
	return b.String()
}

// resolvConf puts aardvark-dns's servers and search domain before the
// host's entries.
func resolvConf(c *Container, host string) string {
	if c.State.Net == nil || len(c.State.Net.DNSServers) == 0 {
		return host
	}
	var b strings.Builder
	if len(c.State.Net.DNSSearch) > 0 {
		fmt.Fprintf(&b, "search %s\n", strings.Join(c.State.Net.DNSSearch, " "))
	}
	for _, d := range c.State.Net.DNSServers {
		fmt.Fprintf(&b, "nameserver %s\n", d)
	}
	for _, l := range strings.Split(host, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "search") {
			continue
		}
		if l != "" {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

// InspectNetworkSettings is inspect's NetworkSettings, podman's shape.
type InspectNetworkSettings struct {
	SandboxKey  string                              `json:"SandboxKey"`
	Gateway     string                              `json:"Gateway"`
	IPAddress   string                              `json:"IPAddress"`
	IPPrefixLen int                                 `json:"IPPrefixLen"`
	MacAddress  string                              `json:"MacAddress"`
	Ports       map[string][]InspectHostPort        `json:"Ports"`
	Networks    map[string]InspectNetworkAttachment `json:"Networks,omitempty"`
}

// InspectHostPort is one host end of a published port.
type InspectHostPort struct {
	HostIP   string `json:"HostIp"`
	HostPort string `json:"HostPort"`
}

// InspectNetworkAttachment is one network of NetworkSettings.Networks.
type InspectNetworkAttachment struct {
	NetworkID   string   `json:"NetworkID"`
	Gateway     string   `json:"Gateway"`
	IPAddress   string   `json:"IPAddress"`
	IPPrefixLen int      `json:"IPPrefixLen"`
	MacAddress  string   `json:"MacAddress"`
	Aliases     []string `json:"Aliases,omitempty"`
}

func inspectNetwork(c *Container) InspectNetworkSettings {
	out := InspectNetworkSettings{Ports: map[string][]InspectHostPort{}}
	for _, p := range c.Ports {
		for i := uint16(0); i < max(p.Range, 1); i++ {
			k := fmt.Sprintf("%d/%s", p.ContainerPort+i, p.Protocol)
			out.Ports[k] = append(out.Ports[k], InspectHostPort{HostIP: p.HostIP, HostPort: fmt.Sprint(p.HostPort + i)})
		}
	}
	if c.Network == "bridge" {
		out.Networks = map[string]InspectNetworkAttachment{}
		for _, n := range c.Networks {
			out.Networks[n] = InspectNetworkAttachment{}
		}
	}
	if c.State.Net == nil {
		return out
	}
	out.SandboxKey = c.State.Net.NetNS
	for i, a := range c.State.Net.Attachments {
		out.Networks[a.Network] = InspectNetworkAttachment{
			NetworkID: a.ID, Gateway: a.Gateway, IPAddress: a.IP, IPPrefixLen: a.PrefixLen,
			MacAddress: a.MacAddress, Aliases: []string{c.ID[:12]},
		}
		if i == 0 {
			out.Gateway, out.IPAddress, out.IPPrefixLen, out.MacAddress = a.Gateway, a.IP, a.PrefixLen, a.MacAddress
		}
	}
	return out
}

// RemoveNetwork deletes a network definition; with force its containers
// are removed first (podman's rm -f), without it a used network is
// network.ErrInUse.
func (e *Engine) RemoveNetwork(ctx context.Context, name string, force bool) error {
	n, err := e.Networks().Get(name)
	if err != nil {
		return err
	}
	users, err := e.NetworkUsers()
	if err != nil {
		return err
	}
	if cs := users[n.Name]; len(cs) > 0 {
		if !force {
			return fmt.Errorf("network %s is used by container %s: %w", n.Name, cs[0].Name, network.ErrInUse)
		}
		for _, c := range cs {
			if err := e.Remove(ctx, c.ID, RemoveOptions{Force: true, Volumes: true}); err != nil && !errors.Is(err, ErrNoSuchContainer) {
				return err
			}
		}
	}
	_, err = e.Networks().Remove(n.Name)
	return err
}
