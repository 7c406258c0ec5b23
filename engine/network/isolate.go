package network

import (
	"fmt"
	"os/exec"
	"strings"
)

// isolationChain holds the rules that keep the engine's bridges apart:
// traffic from one podman* bridge to another is dropped, traffic within a
// bridge returns. netavark 1.4 forwards between its networks; podman's
// networks are isolated from one another in the same way.
const isolationChain = "OCISUITE-ISOLATION"

// firewall runs iptables (tool) or ip6tables.
type firewall string

func (tool firewall) run(args ...string) (string, error) {
	out, err := exec.Command(string(tool), append([]string{"-w"}, args...)...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %s: %w", tool, strings.Join(args, " "), strings.TrimSpace(string(out)), err)
	}
	return string(out), nil
}

// isolate makes sure bridge is kept apart from the other podman* bridges
// (store lock held): the chain, its final drop, bridge's own return rule,
// and the chain's jump first in FORWARD, before netavark's accepts.
// tool is iptables, or ip6tables for a network's IPv6 traffic.
func isolate(tool firewall, bridge string) error {
	iptables := tool.run
	if _, err := iptables("-t", "filter", "-S", isolationChain); err != nil {
		if _, err := iptables("-t", "filter", "-N", isolationChain); err != nil {
			return err
		}
	}
	drop := []string{isolationChain, "-i", "podman+", "-o", "podman+", "-j", "DROP"}
	if _, err := iptables(append([]string{"-t", "filter", "-C"}, drop...)...); err != nil {
		if _, err := iptables(append([]string{"-t", "filter", "-A"}, drop...)...); err != nil {
			return err
		}
	}
	ret := []string{"-i", bridge, "-o", bridge, "-j", "RETURN"}
	if _, err := iptables(append([]string{"-t", "filter", "-C", isolationChain}, ret...)...); err != nil {
		if _, err := iptables(append([]string{"-t", "filter", "-I", isolationChain, "1"}, ret...)...); err != nil {
			return err
		}
	}
	// The jump must come first in FORWARD: netavark inserts its own
	// accepting chain at the top when it creates it.
	rules, err := forwardRules(tool)
	if err != nil {
		return err
	}
	jump := "-A FORWARD -j " + isolationChain
	if len(rules) > 0 && rules[0] == jump {
		return nil
	}
	if _, err := iptables("-t", "filter", "-I", "FORWARD", "1", "-j", isolationChain); err != nil {
		return err
	}
	if rules, err = forwardRules(tool); err != nil {
		return err
	}
	for i := len(rules) - 1; i > 0; i-- {
		if rules[i] == jump {
			if _, err := iptables("-t", "filter", "-D", "FORWARD", fmt.Sprint(i+1)); err != nil {
				return err
			}
		}
	}
	return nil
}

// forwardRules are FORWARD's rules in order, as iptables -S prints them.
func forwardRules(tool firewall) ([]string, error) {
	out, err := tool.run("-t", "filter", "-S", "FORWARD")
	if err != nil {
		return nil, err
	}
	var rules []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "-A FORWARD") {
			rules = append(rules, strings.TrimSpace(l))
		}
	}
	return rules, nil
}
