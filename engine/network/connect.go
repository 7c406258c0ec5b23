package network

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"slices"
)

// Connect attaches a running container's namespace (st) to one more
// network: a lease, then netavark's setup of that network alone on the
// next free ethN. Published ports stay on the networks the container
// started with.
func (s Store) Connect(ctx context.Context, containerID, containerName string, st *Status, name string, o Options) (*Attachment, error) {
	unlock, err := s.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	n, err := s.get(name)
	if err != nil {
		return nil, err
	}
	if s.Rootless != nil {
		if err := s.ensureRootless(ctx); err != nil {
			return nil, err
		}
	}
	iface := ""
	for i := 0; iface == ""; i++ {
		cand := fmt.Sprintf("eth%d", i)
		if !slices.ContainsFunc(st.Attachments, func(a Attachment) bool { return a.Interface == cand }) {
			iface = cand
		}
	}
	ips, err := s.leaseAll(n, containerID, o)
	if err != nil {
		s.releaseAll(containerID, []string{n.NetworkInterface})
		return nil, err
	}
	pn := perNetwork{InterfaceName: iface, StaticIPs: ips, StaticMAC: o.MAC}
	if n.DNSEnabled {
		pn.Aliases = append([]string{containerName, containerID[:12]}, o.Aliases...)
	}
	opts := netavarkOptions{
		ContainerID: containerID, ContainerName: containerName,
		Networks:    map[string]perNetwork{n.Name: pn},
		NetworkInfo: map[string]*Network{n.Name: n},
	}
	out, err := s.netavark(ctx, "setup", st.NetNS, opts)
	var res netavarkResult
	if err == nil {
		if err = json.Unmarshal(out, &res); err != nil {
			err = fmt.Errorf("netavark's answer: %w", err)
		}
	}
	if err == nil {
		err = s.isolateAll(opts, false)
	}
	if err != nil {
		_, _ = s.netavark(context.WithoutCancel(ctx), "teardown", st.NetNS, opts)
		s.releaseAll(containerID, []string{n.NetworkInterface})
		return nil, err
	}
	a := &Attachment{Network: n.Name, ID: n.ID, Bridge: n.NetworkInterface, Interface: iface, Aliases: o.Aliases, DNSServers: res[n.Name].DNSServerIPs}
	if r, ok := res[n.Name].Interfaces[iface]; ok {
		a.setAddresses(r)
	}
	return a, nil
}

// Disconnect undoes Connect (or Setup) for one network of a running
// container: netavark's teardown of that network, then its lease.
func (s Store) Disconnect(ctx context.Context, containerID, containerName string, st *Status, name string) error {
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	i := slices.IndexFunc(st.Attachments, func(a Attachment) bool { return a.Network == name })
	if i < 0 {
		return fmt.Errorf("container %s is not connected to network %s", containerName, name)
	}
	a := st.Attachments[i]
	if n, err := s.get(name); err == nil {
		pn := perNetwork{InterfaceName: a.Interface, StaticIPs: a.IPs()}
		opts := netavarkOptions{
			ContainerID: containerID, ContainerName: containerName,
			Networks:    map[string]perNetwork{n.Name: pn},
			NetworkInfo: map[string]*Network{n.Name: n},
		}
		// The ports were set up with the first network; they go with it.
		if i == 0 {
			opts.PortMappings = s.netavarkPorts(st.Ports)
		}
		if _, err := s.netavark(ctx, "teardown", st.NetNS, opts); err != nil {
			return err
		}
	}
	s.releaseAll(containerID, []string{a.Bridge})
	return nil
}

// Reload sets a running container's networks up again in its namespace,
// with the same addresses, MACs, aliases and ports: netavark's teardown
// (errors ignored, rules may be gone), then its setup. It restores
// firewall rules that were flushed, as podman's network reload does.
func (s Store) Reload(ctx context.Context, containerID, containerName string, st *Status, options map[string]Options) error {
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	opts := netavarkOptions{
		ContainerID: containerID, ContainerName: containerName, PortMappings: s.netavarkPorts(st.Ports),
		Networks: map[string]perNetwork{}, NetworkInfo: map[string]*Network{},
	}
	for _, a := range st.Attachments {
		n, err := s.get(a.Network)
		if err != nil {
			return err
		}
		pn := perNetwork{InterfaceName: a.Interface, StaticMAC: a.MacAddress, StaticIPs: a.IPs()}
		if n.DNSEnabled {
			pn.Aliases = append([]string{containerName, containerID[:12]}, options[n.Name].Aliases...)
		}
		opts.Networks[n.Name] = pn
		opts.NetworkInfo[n.Name] = n
	}
	if len(opts.Networks) == 0 {
		return nil
	}
	_, _ = s.netavark(ctx, "teardown", st.NetNS, opts)
	if _, err = s.netavark(ctx, "setup", st.NetNS, opts); err != nil {
		return err
	}
	return s.isolateAll(opts, true)
}

// Leftover rebuilds the network status of a container whose command was
// killed during setup, before the status was recorded: its namespace at
// netns and the addresses leased to it on networks. Nil when there is
// nothing to tear down.
func (s Store) Leftover(containerID string, networks []string, ports []PortMapping, netns string) *Status {
	unlock, err := s.lock()
	if err != nil {
		return nil
	}
	defer unlock()
	st := &Status{NetNS: netns, Ports: ports}
	for i, name := range networks {
		n, err := s.get(name)
		if err != nil {
			continue
		}
		l, err := s.readLeases(n.NetworkInterface)
		if err != nil {
			continue
		}
		a := Attachment{Network: n.Name, ID: n.ID, Bridge: n.NetworkInterface, Interface: fmt.Sprintf("eth%d", i)}
		for ip, owner := range l {
			switch {
			case owner != containerID || isLastKey(ip):
			case net.ParseIP(ip).To4() != nil:
				a.IP = ip
			default:
				a.IPv6 = ip
			}
		}
		if len(a.IPs()) > 0 {
			st.Attachments = append(st.Attachments, a)
		}
	}
	if _, err := os.Stat(netns); err != nil && len(st.Attachments) == 0 {
		return nil
	}
	return st
}
