package container

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/sirupsen/logrus"

	"github.com/ocisuite/suite/engine/network"
)

// Networks is the engine's network store: definitions in
// GRAPHROOT/networks; leases and netavark's files in /run/ocisuite/networks
// (rootful) or RUNROOT/engine/networks (rootless, whose bridges are in the
// rootless network namespace, kept at RUNROOT/engine/netns/rootless-netns).
func (e *Engine) Networks() network.Store {
	name, subnet := e.Settings.DefaultNetwork, e.Settings.DefaultSubnet
	if name == "" {
		name = "podman"
	}
	if subnet == "" {
		subnet = "10.88.0.0/16"
	}
	s := network.Store{
		Dir:           filepath.Join(e.Store.GraphRoot(), "networks"),
		RunDir:        network.HostRunDir,
		DefaultName:   name,
		DefaultSubnet: subnet,
	}
	if e.Rootless {
		s.RunDir = filepath.Join(e.Dir, "networks")
		s.Rootless = &network.Rootless{
			NetNS: filepath.Join(e.Dir, "netns", "rootless-netns"),
			Dir:   filepath.Join(s.RunDir, "rootless-netns"),
		}
	}
	return s
}

// resolveNetworks checks the record's network mode at creation: "bridge"
// joins Networks (the default network when none is named; a rootless
// user's are in the rootless network namespace); "slirp4netns[:OPTIONS]"
// (the rootless default) has a user-mode stack.
func (e *Engine) resolveNetworks(cfg *Config, img *v1.Image) error {
	if cfg.Network == "" {
		cfg.Network = "bridge"
		if e.Rootless {
			cfg.Network = "slirp4netns"
		}
	}
	_, slirp, err := network.ParseSlirpMode(cfg.Network)
	if err != nil {
		return err
	}
	if target, ok := strings.CutPrefix(cfg.Network, "container:"); ok {
		other, err := e.Lookup(target)
		if err != nil {
			return fmt.Errorf("--network container:%s: %w", target, err)
		}
		if other.ID == cfg.ID {
			return errors.New("a container cannot join its own network namespace")
		}
		cfg.Network = "container:" + other.ID
		if len(cfg.Networks) > 0 || len(cfg.Ports) > 0 || cfg.PublishAll {
			return fmt.Errorf("--network container:%s cannot be combined with networks or published ports", target)
		}
		return nil
	}
	if cfg.PublishAll && img != nil {
		for p := range img.Config.ExposedPorts {
			num, proto, _ := strings.Cut(p, "/")
			if proto == "" {
				proto = "tcp"
			}
			n, err := strconv.ParseUint(num, 10, 16)
			if err != nil || n == 0 || (proto != "tcp" && proto != "udp") {
				continue
			}
			if !slices.ContainsFunc(cfg.Ports, func(m network.PortMapping) bool {
				return m.Protocol == proto && uint64(m.ContainerPort) <= n && n < uint64(m.ContainerPort)+uint64(max(m.Range, 1))
			}) {
				cfg.Ports = append(cfg.Ports, network.PortMapping{ContainerPort: uint16(n), Protocol: proto, Range: 1})
			}
		}
		slices.SortFunc(cfg.Ports, func(a, b network.PortMapping) int { return int(a.ContainerPort) - int(b.ContainerPort) })
	}
	if slirp {
		if len(cfg.Networks) > 0 {
			return fmt.Errorf("--network %s cannot be combined with named networks", cfg.Network)
		}
		return freeHostPorts(cfg)
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
	if len(cfg.Networks) == 0 {
		cfg.Networks = []string{e.Networks().DefaultName}
	}
	for i, name := range cfg.Networks {
		n, err := e.Networks().Get(name)
		if err != nil {
			return err
		}
		cfg.Networks[i] = n.Name
		if o, ok := cfg.NetworkOptions[name]; ok && name != n.Name {
			delete(cfg.NetworkOptions, name)
			cfg.NetworkOptions[n.Name] = o
		}
		o := cfg.NetworkOptions[n.Name]
		if len(o.Aliases) > 0 && !n.DNSEnabled {
			return fmt.Errorf("network %s has DNS disabled: aliases need DNS", n.Name)
		}
		if o.IP6 != "" && !n.IPv6Enabled {
			return fmt.Errorf("--network %s:ip6=%s: network %s has no IPv6 subnet", name, o.IP6, n.Name)
		}
	}
	return freeHostPorts(cfg)
}

// freeHostPorts gives each port without a host port a free one now, as
// podman does, so that it stays the same across restarts.
func freeHostPorts(cfg *Config) error {
	for i := range cfg.Ports {
		if cfg.Ports[i].HostPort == 0 {
			p, err := network.FreeHostPorts(cfg.Ports[i])
			if err != nil {
				return err
			}
			cfg.Ports[i].HostPort = p
		}
	}
	return nil
}

// setupNetwork gives a bridge container its namespace, addresses, ports
// and firewall rules for this run (operation marker held); the result is kept in
// State.Net until finish tears it down.
func (e *Engine) setupNetwork(ctx context.Context, c *Container) error {
	if c.State.Net != nil {
		e.teardownNetwork(ctx, c)
	}
	if o, ok, err := network.ParseSlirpMode(c.Network); ok {
		if err != nil {
			return err
		}
		bundle, err := e.bundle(c.ID)
		if err != nil {
			return err
		}
		st, err := network.SetupSlirp(ctx, network.SlirpRequest{
			NetNS: filepath.Join(e.Dir, "netns", c.ID),
			// A socket path is at most 107 bytes: the short ID keeps it so.
			APISocket: filepath.Join(e.Dir, "slirp", c.ID[:12]+".sock"),
			LogPath:   filepath.Join(bundle, "slirp4netns.log"),
			Ports:     c.Ports,
			Options:   o,
		})
		if err != nil {
			return fmt.Errorf("setting up the network of %s: %w", c.Name, err)
		}
		c.State.Net = st
		return nil
	}
	if c.Network != "bridge" {
		return nil
	}
	st, err := e.Networks().Setup(ctx, e.networkRequest(c))
	if err != nil {
		return fmt.Errorf("setting up the network of %s: %w", c.Name, err)
	}
	c.State.Net = st
	return nil
}

// networkRequest is what netavark's setup needs about c.
func (e *Engine) networkRequest(c *Container) network.Request {
	return network.Request{
		ContainerID:   c.ID,
		ContainerName: c.Name,
		Networks:      c.Networks,
		Options:       c.NetworkOptions,
		Ports:         c.Ports,
		NetNS:         filepath.Join(e.Dir, "netns", c.ID),
	}
}

// prepareNetwork starts a rootful bridge container's network setup: the
// namespace and leases, leaving netavark's run to the returned Pending's
// Apply. Other containers get nil (setupNetwork does all their work).
func (e *Engine) prepareNetwork(ctx context.Context, c *Container) (*network.Pending, error) {
	if c.Network != "bridge" || e.Rootless {
		return nil, nil
	}
	if c.State.Net != nil {
		e.teardownNetwork(ctx, c)
	}
	p, err := e.Networks().Prepare(ctx, e.networkRequest(c))
	if err != nil {
		return nil, fmt.Errorf("setting up the network of %s: %w", c.Name, err)
	}
	c.State.Net = p.Namespace()
	return p, nil
}

// holdPorts binds a bridge container's published host ports for its
// conmon to keep (network.HoldPorts). A rootless container's are bound by
// the rootless network namespace's slirp4netns, which forwards them.
func holdPorts(c *Container) ([]*os.File, error) {
	if c.Network != "bridge" || c.State.Net == nil || c.State.Net.Rootless != nil || len(c.Ports) == 0 {
		return nil, nil
	}
	files, err := network.HoldPorts(c.Ports)
	if err != nil {
		return nil, fmt.Errorf("holding the published ports of %s: %w", c.Name, err)
	}
	return files, nil
}

// teardownNetwork removes what setupNetwork made (operation marker held).
func (e *Engine) teardownNetwork(ctx context.Context, c *Container) {
	if isSlirp(c.Network) {
		// Without a state (a command killed during setup) the namespace
		// path finds what was left.
		st := c.State.Net
		if st == nil {
			st = &network.Status{NetNS: filepath.Join(e.Dir, "netns", c.ID)}
		}
		if err := network.TeardownSlirp(st); err != nil {
			logrus.Warnf("tearing down the network of %s: %v", c.Name, err)
		}
		c.State.Net = nil
		return
	}
	if c.State.Net == nil && c.Network == "bridge" {
		// A command killed during setup leaves a namespace, leases and
		// rules that no state records.
		c.State.Net = e.Networks().Leftover(c.ID, c.Networks, c.Ports, filepath.Join(e.Dir, "netns", c.ID))
	}
	if c.State.Net == nil {
		return
	}
	if err := e.Networks().Teardown(context.WithoutCancel(ctx), c.ID, c.Name, c.State.Net); err != nil {
		logrus.Warnf("tearing down the network of %s: %v", c.Name, err)
	}
	// The ports are free once conmon has let go of them (holdPorts), a
	// moment after the container ended: wait, so that they can be
	// published again when this returns.
	if len(c.State.Net.Ports) > 0 && !network.WaitPortsFree(c.State.Net.Ports, 3*time.Second) {
		logrus.Debugf("the published ports of %s are still taken", c.Name)
	}
	c.State.Net = nil
}

// isSlirp reports whether a network mode is slirp4netns's.
func isSlirp(mode string) bool {
	return mode == "slirp4netns" || strings.HasPrefix(mode, "slirp4netns:")
}

// joinedNetNS is the network namespace of the running container that a
// --network container:ID container joins, and that container.
func (e *Engine) joinedNetNS(c *Container) (string, *Container, error) {
	id := strings.TrimPrefix(c.Network, "container:")
	other, err := e.Lookup(id)
	if err != nil {
		return "", nil, fmt.Errorf("the network namespace of container %s: %w", c.Name, err)
	}
	switch {
	case other.State.Net != nil:
		return other.State.Net.NetNS, other, nil
	case other.Running() && other.State.Pid != 0:
		return fmt.Sprintf("/proc/%d/ns/net", other.State.Pid), other, nil
	}
	return "", nil, fmt.Errorf("container %s joins the network namespace of %s, which is not running: %w", c.Name, other.Name, ErrInvalidState)
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

// etcHostsEntries are the container's own /etc/hosts lines: --add-host's,
// its addresses with its names (127.0.1.1 without a bridge network), and
// host.containers.internal at the bridge's gateway.
func etcHostsEntries(c *Container, hostname string) string {
	var b strings.Builder
	gw := ""
	if c.State.Net != nil && len(c.State.Net.Attachments) > 0 {
		if gw = c.State.Net.Attachments[0].Gateway; gw == "" {
			gw = c.State.Net.Attachments[0].IPv6Gateway
		}
	}
	if c.State.Net != nil && c.State.Net.Slirp != nil {
		gw = c.State.Net.Slirp.HostAddress
	}
	if c.State.Net != nil && c.State.Net.Rootless != nil {
		// The bridge's gateway is the rootless network namespace, not
		// the host.
		gw = c.State.Net.Rootless.HostAddress
	}
	for _, h := range c.ExtraHosts {
		name, ip, _ := strings.Cut(h, ":")
		if ip == "host-gateway" {
			if ip = gw; ip == "" {
				continue
			}
		}
		fmt.Fprintf(&b, "%s\t%s\n", ip, name)
	}
	own := false
	if c.State.Net != nil && c.State.Net.Slirp != nil {
		fmt.Fprintf(&b, "%s\t%s %s\n", network.SlirpIP, hostname, c.Name)
		own = true
	}
	if c.State.Net != nil {
		for _, a := range c.State.Net.Attachments {
			b.WriteString(attachmentHosts(a, hostname, c.Name))
			own = own || len(a.IPs()) > 0
		}
	}
	if !own {
		fmt.Fprintf(&b, "127.0.1.1\t%s %s\n", hostname, c.Name)
	}
	if gw != "" {
		fmt.Fprintf(&b, "%s\thost.containers.internal host.docker.internal\n", gw)
	}
	return b.String()
}

// attachmentHosts are the /etc/hosts lines of one attachment: each of its
// addresses with the container's names.
func attachmentHosts(a network.Attachment, hostname, name string) string {
	var b strings.Builder
	for _, ip := range a.IPs() {
		fmt.Fprintf(&b, "%s\t%s %s\n", ip, hostname, name)
	}
	return b.String()
}

// resolvConf is the container's resolv.conf from the host's: aardvark-dns's
// servers and search domain first, --dns servers instead of the host's
// (--dns none: no server), --dns-search domains instead of the host's
// ("." clears them), --dns-option options added.
func resolvConf(c *Container, host string) string {
	var servers, search, options []string
	for _, l := range strings.Split(host, "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "nameserver":
			servers = append(servers, f[1])
		case "search", "domain":
			search = f[1:]
		case "options":
			options = append(options, f[1:]...)
		}
	}
	if len(c.DNSServers) > 0 {
		servers = nil
		for _, d := range c.DNSServers {
			if d != "none" {
				servers = append(servers, d)
			}
		}
	}
	if len(c.DNSSearch) > 0 {
		search = nil
		for _, d := range c.DNSSearch {
			if d != "." {
				search = append(search, d)
			}
		}
	}
	options = append(options, c.DNSOptions...)
	if c.State.Net != nil && c.Network == "bridge" {
		servers = append(slices.Clone(c.State.Net.DNSServers), servers...)
		search = append(slices.Clone(c.State.Net.DNSSearch), search...)
		// The host's loopback resolvers are not reachable from the
		// container's namespace.
		servers = slices.DeleteFunc(servers, func(s string) bool {
			ip := net.ParseIP(s)
			return ip != nil && ip.IsLoopback()
		})
	}
	if c.State.Net != nil && c.State.Net.Slirp != nil {
		// slirp4netns forwards to the host's resolvers, loopback ones
		// included; --dns servers replace it.
		if len(c.DNSServers) == 0 {
			servers = append([]string{network.SlirpDNS}, servers...)
		}
		servers = slices.DeleteFunc(servers, func(s string) bool {
			ip := net.ParseIP(s)
			return ip != nil && ip.IsLoopback()
		})
	}
	var b strings.Builder
	if len(search) > 0 {
		fmt.Fprintf(&b, "search %s\n", strings.Join(search, " "))
	}
	for _, s := range servers {
		fmt.Fprintf(&b, "nameserver %s\n", s)
	}
	if len(options) > 0 {
		fmt.Fprintf(&b, "options %s\n", strings.Join(options, " "))
	}
	return b.String()
}

// InspectNetworkSettings is inspect's NetworkSettings, podman's shape.
type InspectNetworkSettings struct {
	SandboxKey          string                              `json:"SandboxKey"`
	Gateway             string                              `json:"Gateway"`
	IPAddress           string                              `json:"IPAddress"`
	IPPrefixLen         int                                 `json:"IPPrefixLen"`
	IPv6Gateway         string                              `json:"IPv6Gateway"`
	GlobalIPv6Address   string                              `json:"GlobalIPv6Address"`
	GlobalIPv6PrefixLen int                                 `json:"GlobalIPv6PrefixLen"`
	MacAddress          string                              `json:"MacAddress"`
	Ports               map[string][]InspectHostPort        `json:"Ports"`
	Networks            map[string]InspectNetworkAttachment `json:"Networks,omitempty"`
}

// InspectHostPort is one host end of a published port.
type InspectHostPort struct {
	HostIP   string `json:"HostIp"`
	HostPort string `json:"HostPort"`
}

// InspectNetworkAttachment is one network of NetworkSettings.Networks.
type InspectNetworkAttachment struct {
	NetworkID           string   `json:"NetworkID"`
	Gateway             string   `json:"Gateway"`
	IPAddress           string   `json:"IPAddress"`
	IPPrefixLen         int      `json:"IPPrefixLen"`
	IPv6Gateway         string   `json:"IPv6Gateway"`
	GlobalIPv6Address   string   `json:"GlobalIPv6Address"`
	GlobalIPv6PrefixLen int      `json:"GlobalIPv6PrefixLen"`
	MacAddress          string   `json:"MacAddress"`
	Aliases             []string `json:"Aliases,omitempty"`
}

// portBindings is the container's published ports by "PORT/PROTO", a port
// of a range each, in podman's shape.
func portBindings(c *Container) map[string][]InspectHostPort {
	out := map[string][]InspectHostPort{}
	for _, p := range c.Ports {
		for i := uint16(0); i < max(p.Range, 1); i++ {
			k := fmt.Sprintf("%d/%s", p.ContainerPort+i, p.Protocol)
			out[k] = append(out[k], InspectHostPort{HostIP: p.HostIP, HostPort: fmt.Sprint(p.HostPort + i)})
		}
	}
	return out
}

func inspectNetwork(c *Container) InspectNetworkSettings {
	out := InspectNetworkSettings{Ports: portBindings(c)}
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
			IPv6Gateway: a.IPv6Gateway, GlobalIPv6Address: a.IPv6, GlobalIPv6PrefixLen: a.IPv6PrefixLen,
			MacAddress: a.MacAddress, Aliases: append([]string{c.ID[:12]}, a.Aliases...),
		}
		if i == 0 {
			out.Gateway, out.IPAddress, out.IPPrefixLen, out.MacAddress = a.Gateway, a.IP, a.PrefixLen, a.MacAddress
			out.IPv6Gateway, out.GlobalIPv6Address, out.GlobalIPv6PrefixLen = a.IPv6Gateway, a.IPv6, a.IPv6PrefixLen
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

// PruneNetworks removes every network but the default that no container
// joins, and gives their names.
func (e *Engine) PruneNetworks(ctx context.Context) ([]string, error) {
	nets, err := e.Networks().List()
	if err != nil {
		return nil, err
	}
	users, err := e.NetworkUsers()
	if err != nil {
		return nil, err
	}
	var removed []string
	var errs []error
	for _, n := range nets {
		if n.Name == e.Networks().DefaultName || len(users[n.Name]) > 0 {
			continue
		}
		if _, err := e.Networks().Remove(n.Name); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, n.Name)
	}
	return removed, errors.Join(errs...)
}

// ConnectNetwork joins a container to one more network: in its record, and
// at once when it runs.
func (e *Engine) ConnectNetwork(ctx context.Context, id, name string, o network.Options) error {
	c, unlock, err := e.acquireOp(ctx, id, "network connect")
	if err != nil {
		return err
	}
	defer unlock()
	if c.Network != "bridge" {
		return fmt.Errorf("container %s has network mode %s: only bridge containers join networks", c.Name, c.Network)
	}
	n, err := e.Networks().Get(name)
	if err != nil {
		return err
	}
	if slices.Contains(c.Networks, n.Name) {
		return fmt.Errorf("container %s is already connected to network %s", c.Name, n.Name)
	}
	if len(o.Aliases) > 0 && !n.DNSEnabled {
		return fmt.Errorf("network %s has DNS disabled: aliases need DNS", n.Name)
	}
	if c.State.Net != nil {
		a, err := e.Networks().Connect(ctx, c.ID, c.Name, c.State.Net, n.Name, o)
		if err != nil {
			return fmt.Errorf("connecting %s to %s: %w", c.Name, n.Name, err)
		}
		c.State.Net.Attachments = append(c.State.Net.Attachments, *a)
		if err := e.writeState(c.ID, c.State); err != nil {
			return err
		}
		if err := e.updateEtcFiles(c, *a, false); err != nil {
			return fmt.Errorf("connecting %s to %s: %w", c.Name, n.Name, err)
		}
	}
	c.Networks = append(c.Networks, n.Name)
	if o.IP != "" || o.MAC != "" || len(o.Aliases) > 0 {
		if c.NetworkOptions == nil {
			c.NetworkOptions = map[string]network.Options{}
		}
		c.NetworkOptions[n.Name] = o
	}
	return e.saveConfig(c.Config)
}

// DisconnectNetwork takes a container off a network: at once when it runs,
// and from its record.
func (e *Engine) DisconnectNetwork(ctx context.Context, id, name string) error {
	c, unlock, err := e.acquireOp(ctx, id, "network disconnect")
	if err != nil {
		return err
	}
	defer unlock()
	n, err := e.Networks().Get(name)
	if err != nil {
		return err
	}
	if !slices.Contains(c.Networks, n.Name) {
		return fmt.Errorf("container %s is not connected to network %s", c.Name, n.Name)
	}
	if c.State.Net != nil && slices.ContainsFunc(c.State.Net.Attachments, func(a network.Attachment) bool { return a.Network == n.Name }) {
		if err := e.Networks().Disconnect(ctx, c.ID, c.Name, c.State.Net, n.Name); err != nil {
			return fmt.Errorf("disconnecting %s from %s: %w", c.Name, n.Name, err)
		}
		gone := c.State.Net.Attachments[slices.IndexFunc(c.State.Net.Attachments, func(a network.Attachment) bool { return a.Network == n.Name })]
		c.State.Net.Attachments = slices.DeleteFunc(c.State.Net.Attachments, func(a network.Attachment) bool { return a.Network == n.Name })
		if err := e.writeState(c.ID, c.State); err != nil {
			return err
		}
		if err := e.updateEtcFiles(c, gone, true); err != nil {
			return fmt.Errorf("disconnecting %s from %s: %w", c.Name, n.Name, err)
		}
	}
	c.Networks = slices.DeleteFunc(c.Networks, func(s string) bool { return s == n.Name })
	delete(c.NetworkOptions, n.Name)
	return e.saveConfig(c.Config)
}

// shareEtcFiles points a --network container:ID container's /etc/hosts and
// /etc/resolv.conf at the other container's files, bind-mounting the same
// files as podman does: both see the same names and servers, and network
// connect's changes to them. --no-hosts keeps the image's /etc/hosts.
func (e *Engine) shareEtcFiles(c *Container, files map[string]string) error {
	id := strings.TrimPrefix(c.Network, "container:")
	other, err := e.Lookup(id)
	if err != nil {
		return fmt.Errorf("the network namespace of container %s: %w", c.Name, err)
	}
	bundle, err := e.bundle(other.ID)
	if err != nil {
		return err
	}
	for _, dest := range []string{"/etc/hosts", "/etc/resolv.conf"} {
		if _, ok := files[dest]; !ok {
			continue
		}
		if dest == "/etc/hosts" && other.NoHosts {
			continue // the other has the image's: this one has its own
		}
		p := filepath.Join(bundle, filepath.Base(dest))
		if _, err := os.Stat(p); err == nil {
			files[dest] = p
		}
	}
	return nil
}

// updateEtcFiles adds a new attachment's lines to a running container's
// /etc/hosts (its addresses with the container's names) and
// /etc/resolv.conf (the network's aardvark-dns servers, first), or with
// remove takes them out again, as podman's network connect and disconnect
// do. The rest of the files, changes made in the container included, is
// kept; the files are rewritten in place, so the container's bind mounts
// (and those of containers sharing them) see the change.
func (e *Engine) updateEtcFiles(c *Container, a network.Attachment, remove bool) error {
	bundle, err := e.bundle(c.ID)
	if err != nil {
		return err
	}
	hostname := c.Hostname
	if hostname == "" {
		hostname = c.ID[:12]
	}
	edit := func(name string, f func(lines []string) []string) error {
		p := filepath.Join(bundle, name)
		b, err := os.ReadFile(p)
		if os.IsNotExist(err) {
			return nil // not written by the engine (no network files)
		}
		if err != nil {
			return err
		}
		lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
		if len(b) == 0 {
			lines = nil
		}
		out := strings.Join(f(lines), "\n")
		if out != "" {
			out += "\n"
		}
		return os.WriteFile(p, []byte(out), 0o644)
	}
	if !c.NoHosts {
		err := edit("hosts", func(lines []string) []string {
			if !remove {
				return append(lines, strings.Split(strings.TrimSuffix(attachmentHosts(a, hostname, c.Name), "\n"), "\n")...)
			}
			return slices.DeleteFunc(lines, func(l string) bool {
				f := strings.Fields(l)
				return len(f) > 1 && slices.Contains(a.IPs(), f[0])
			})
		})
		if err != nil {
			return fmt.Errorf("updating /etc/hosts: %w", err)
		}
	}
	// A server another attachment still has stays.
	var servers []string
	for _, d := range a.DNSServers {
		if !slices.ContainsFunc(c.State.Net.Attachments, func(o network.Attachment) bool {
			return o.Network != a.Network && slices.Contains(o.DNSServers, d)
		}) {
			servers = append(servers, d)
		}
	}
	if len(servers) == 0 {
		return nil
	}
	err = edit("resolv.conf", func(lines []string) []string {
		isServer := func(l string) bool {
			f := strings.Fields(l)
			return len(f) == 2 && f[0] == "nameserver" && slices.Contains(servers, f[1])
		}
		lines = slices.DeleteFunc(lines, isServer)
		if remove {
			return lines
		}
		var add []string
		for _, d := range servers {
			add = append(add, "nameserver "+d)
		}
		i := slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(strings.TrimSpace(l), "nameserver") })
		if i < 0 {
			i = len(lines)
		}
		return slices.Insert(lines, i, add...)
	})
	if err != nil {
		return fmt.Errorf("updating /etc/resolv.conf: %w", err)
	}
	return nil
}

// ReloadNetwork restores a running bridge container's interfaces and
// firewall rules (network reload); other containers are left alone and
// report false.
func (e *Engine) ReloadNetwork(ctx context.Context, id string) (bool, error) {
	c, unlock, err := e.acquireOp(ctx, id, "network reload")
	if err != nil {
		return false, err
	}
	defer unlock()
	if c.State.Net == nil || !c.Running() {
		return false, nil
	}
	if err := e.Networks().Reload(ctx, c.ID, c.Name, c.State.Net, c.NetworkOptions); err != nil {
		return false, fmt.Errorf("reloading the network of %s: %w", c.Name, err)
	}
	return true, nil
}
