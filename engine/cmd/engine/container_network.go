package main

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"github.com/ocisuite/suite/engine/container"
	"github.com/ocisuite/suite/engine/network"
)

// netFlags are create's and run's network flags (besides --network).
type netFlags struct {
	publish, addHost, dns, dnsSearch, dnsOption []string
	publishAll, noHosts                         bool
}

func (n *netFlags) add(fs *pflag.FlagSet) {
	fs.StringArrayVarP(&n.publish, "publish", "p", nil, "publish a container `port` on the host: [IP:][HOSTPORT:]CONTAINERPORT[/tcp|udp] (ranges: 8080-8081:80-81; no host port: a free one)")
	fs.BoolVarP(&n.publishAll, "publish-all", "P", false, "publish the image's exposed ports on free host ports")
	fs.StringArrayVar(&n.addHost, "add-host", nil, "add a `host:ip` line to /etc/hosts")
	fs.BoolVar(&n.noHosts, "no-hosts", false, "do not write /etc/hosts: keep the image's")
	fs.StringArrayVar(&n.dns, "dns", nil, "DNS `server` for /etc/resolv.conf (none: no resolv.conf entries)")
	fs.StringArrayVar(&n.dnsSearch, "dns-search", nil, "DNS search `domain` for /etc/resolv.conf")
	fs.StringArrayVar(&n.dnsOption, "dns-option", nil, "DNS `option` for /etc/resolv.conf")
}

// networkOptions turns --network and --publish into the record: "" lets
// the engine choose (bridge rootful, slirp4netns rootless); bridge, none,
// host and slirp4netns[:OPTIONS] are modes; anything else names networks
// (NAME[,NAME]).
func (f *createFlags) networkOptions(c *container.Config) error {
	switch f.network {
	case "", "bridge", "none", "host":
		c.Network = f.network
	case "private", "pasta":
		return fmt.Errorf("--network %s is not supported", f.network)
	default:
		if f.network == "slirp4netns" || strings.HasPrefix(f.network, "slirp4netns:") {
			c.Network = f.network // options checked by the engine
			break
		}
		if strings.HasPrefix(f.network, "container:") {
			c.Network = f.network
			break
		}
		if strings.HasPrefix(f.network, "ns:") {
			return fmt.Errorf("--network %s is not supported yet", f.network)
		}
		c.Network = "bridge"
		if err := parseNetworks(f.network, c); err != nil {
			return err
		}
	}
	for _, p := range f.net.publish {
		ms, err := parsePublish(p)
		if err != nil {
			return err
		}
		c.Ports = append(c.Ports, ms...)
	}
	c.PublishAll = f.net.publishAll
	for _, h := range f.net.addHost {
		name, ip, ok := strings.Cut(h, ":")
		if !ok || name == "" || (ip != "host-gateway" && net.ParseIP(ip) == nil) {
			return fmt.Errorf("--add-host %s: want HOST:IP (or HOST:host-gateway)", h)
		}
	}
	c.ExtraHosts, c.NoHosts = f.net.addHost, f.net.noHosts
	if c.NoHosts && len(c.ExtraHosts) > 0 {
		return fmt.Errorf("--no-hosts and --add-host cannot be used together")
	}
	for _, d := range f.net.dns {
		if d != "none" && net.ParseIP(d) == nil {
			return fmt.Errorf("--dns %s: not an IP address", d)
		}
	}
	c.DNSServers, c.DNSSearch, c.DNSOptions = f.net.dns, f.net.dnsSearch, f.net.dnsOption
	return nil
}

// parseNetworks reads NAME[:OPT=V[,OPT=V]…][,NAME…] (podman's form: the
// options of one network follow its name, ip=, ip6=, mac= and alias=).
func parseNetworks(s string, c *container.Config) error {
	var cur string
	for _, part := range strings.Split(s, ",") {
		name, opt, hasOpt := strings.Cut(part, ":")
		if !strings.Contains(name, "=") {
			if name == "" {
				return fmt.Errorf("--network %s: empty network name", s)
			}
			if slices.Contains(c.Networks, name) {
				return fmt.Errorf("--network %s: network %s given twice", s, name)
			}
			cur = name
			c.Networks = append(c.Networks, cur)
			if !hasOpt {
				continue
			}
		} else {
			opt = part
		}
		if cur == "" {
			return fmt.Errorf("--network %s: an option before any network name", s)
		}
		k, v, _ := strings.Cut(opt, "=")
		if c.NetworkOptions == nil {
			c.NetworkOptions = map[string]network.Options{}
		}
		o := c.NetworkOptions[cur]
		switch k {
		case "ip":
			if ip := net.ParseIP(v); ip == nil || ip.To4() == nil {
				return fmt.Errorf("--network %s: ip=%s is not an IPv4 address", s, v)
			}
			o.IP = v
		case "ip6":
			if ip := net.ParseIP(v); ip == nil || ip.To4() != nil {
				return fmt.Errorf("--network %s: ip6=%s is not an IPv6 address", s, v)
			}
			o.IP6 = v
		case "mac":
			if _, err := net.ParseMAC(v); err != nil {
				return fmt.Errorf("--network %s: mac=%s: %w", s, v, err)
			}
			o.MAC = v
		case "alias":
			if v == "" {
				return fmt.Errorf("--network %s: empty alias", s)
			}
			o.Aliases = append(o.Aliases, v)
		default:
			return fmt.Errorf("--network %s: unknown option %q (want ip=, ip6=, mac= or alias=)", s, k)
		}
		c.NetworkOptions[cur] = o
	}
	return nil
}

// parsePublish reads [IP:][HOSTPORT:]CONTAINERPORT[/PROTO]; ports may be
// ranges of the same length (a missing host port is the container port).
func parsePublish(s string) ([]network.PortMapping, error) {
	bad := func(why string) error { return fmt.Errorf("--publish %s: %s", s, why) }
	spec, proto := s, "tcp"
	if i := strings.LastIndex(s, "/"); i >= 0 {
		spec, proto = s[:i], s[i+1:]
	}
	var protos []string
	for _, p := range strings.Split(proto, ",") {
		if p != "tcp" && p != "udp" {
			return nil, bad("protocol must be tcp or udp")
		}
		protos = append(protos, p)
	}
	var ip, host, ctr string
	if strings.HasPrefix(spec, "[") { // [IPv6]:HOST:CTR
		end := strings.Index(spec, "]")
		if end < 0 {
			return nil, bad("unclosed [")
		}
		ip, spec = spec[1:end], strings.TrimPrefix(spec[end+1:], ":")
	}
	parts := strings.Split(spec, ":")
	switch {
	case len(parts) == 1:
		ctr = parts[0]
	case len(parts) == 2:
		host, ctr = parts[0], parts[1]
	case len(parts) == 3 && ip == "":
		ip, host, ctr = parts[0], parts[1], parts[2]
	default:
		return nil, bad("want [IP:][HOSTPORT:]CONTAINERPORT[/PROTOCOL]")
	}
	cStart, cLen, err := portRange(ctr)
	if err != nil {
		return nil, bad(err.Error())
	}
	hStart, hLen := uint16(0), cLen // no host port: the engine picks one
	if host != "" {
		if hStart, hLen, err = portRange(host); err != nil {
			return nil, bad(err.Error())
		}
	}
	if hLen != cLen {
		return nil, bad("host and container port ranges differ in length")
	}
	if ip != "" && net.ParseIP(ip) == nil {
		return nil, bad(fmt.Sprintf("%q is not an IP address", ip))
	}
	var out []network.PortMapping
	for _, p := range protos {
		out = append(out, network.PortMapping{HostIP: ip, ContainerPort: cStart, HostPort: hStart, Range: cLen, Protocol: p})
	}
	return out, nil
}

func portRange(s string) (start, n uint16, err error) {
	lo, hi, isRange := strings.Cut(s, "-")
	a, err := strconv.ParseUint(lo, 10, 16)
	if err != nil || a == 0 {
		return 0, 0, fmt.Errorf("invalid port %q", lo)
	}
	b := a
	if isRange {
		if b, err = strconv.ParseUint(hi, 10, 16); err != nil || b < a {
			return 0, 0, fmt.Errorf("invalid port range %q", s)
		}
	}
	return uint16(a), uint16(b - a + 1), nil
}

// psPorts is ps's PORTS column, podman's form:
// "127.0.0.1:8080->80/tcp, 0.0.0.0:9000-9001->9000-9001/udp".
func psPorts(c *container.Container) string {
	var out []string
	for _, p := range c.Ports {
		ip := p.HostIP
		if ip == "" {
			ip = "0.0.0.0"
		}
		host, ctr := strconv.Itoa(int(p.HostPort)), strconv.Itoa(int(p.ContainerPort))
		if p.Range > 1 {
			host += "-" + strconv.Itoa(int(p.HostPort+p.Range-1))
			ctr += "-" + strconv.Itoa(int(p.ContainerPort+p.Range-1))
		}
		out = append(out, fmt.Sprintf("%s->%s/%s", net.JoinHostPort(ip, host), ctr, p.Protocol))
	}
	return strings.Join(out, ", ")
}
