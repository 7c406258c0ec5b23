package main

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/ocisuite/suite/engine/container"
	"github.com/ocisuite/suite/engine/network"
)

// networkOptions turns --network and --publish into the record: "" lets
// the engine choose (bridge rootful, none rootless); bridge, none and host
// are modes; anything else names networks (NAME[,NAME]).
func (f *createFlags) networkOptions(c *container.Config) error {
	switch f.network {
	case "", "bridge", "none", "host":
		c.Network = f.network
	case "private", "slirp4netns", "pasta":
		return fmt.Errorf("--network %s is not supported", f.network)
	default:
		if strings.HasPrefix(f.network, "container:") || strings.HasPrefix(f.network, "ns:") {
			return fmt.Errorf("--network %s is not supported yet", f.network)
		}
		c.Network = "bridge"
		for _, n := range strings.Split(f.network, ",") {
			if n == "" || strings.Contains(n, ":") {
				return fmt.Errorf("--network %s: network options (NAME:ip=…) are not supported yet", f.network)
			}
			c.Networks = append(c.Networks, n)
		}
	}
	for _, p := range f.publish {
		ms, err := parsePublish(p)
		if err != nil {
			return err
		}
		c.Ports = append(c.Ports, ms...)
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
	hStart, hLen := cStart, cLen
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
