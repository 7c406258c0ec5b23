package network

import (
	"crypto/sha256"
	"encoding/hex"
	"net"
	"strings"
	"testing"
)

func TestChooseSubnets(t *testing.T) {
	if err := IPv6Available(); err != nil {
		if _, err := chooseSubnets(CreateOptions{IPv6: true}, nil); err == nil {
			t.Fatal("an IPv6 subnet was chosen on a host without IPv6")
		}
		return
	}
	existing := []*Network{{Name: "a", Subnets: []Subnet{{Subnet: "10.89.0.0/24"}, {Subnet: "fd00:1::/64"}}}}
	for _, tc := range []struct {
		o    CreateOptions
		want []string // subnet prefixes, in order
	}{
		{CreateOptions{}, []string{"10.89.1.0/24"}},
		{CreateOptions{IPv6: true}, []string{"10.89.1.0/24", "fd"}},
		{CreateOptions{Subnets: []string{"fd00:2::/64"}}, []string{"fd00:2::/64"}},
		{CreateOptions{Subnets: []string{"fd00:2::/64"}, IPv6: true}, []string{"10.89.1.0/24", "fd00:2::/64"}},
		{CreateOptions{Subnets: []string{"fd00:2::/64", "10.90.0.0/16"}}, []string{"10.90.0.0/16", "fd00:2::/64"}},
	} {
		got, err := chooseSubnets(tc.o, existing)
		if err != nil {
			t.Errorf("%+v: %v", tc.o, err)
			continue
		}
		if len(got) != len(tc.want) {
			t.Errorf("%+v: %+v", tc.o, got)
			continue
		}
		for i, sn := range got {
			_, ipn, _ := net.ParseCIDR(sn.Subnet)
			if !strings.HasPrefix(sn.Subnet, tc.want[i]) || !ipn.Contains(net.ParseIP(sn.Gateway)) || ipn.IP.Equal(net.ParseIP(sn.Gateway)) {
				t.Errorf("%+v: subnet %d is %+v, want %s… with a gateway inside", tc.o, i, sn, tc.want[i])
			}
		}
	}
	for _, bad := range [][]string{{"fd00:1:0:0:1::/80"}, {"fd00:2::/64", "fd00:3::/64"}, {"fd00:2::/126"}, {"::ffff:10.1.0.0/112"}} {
		if got, err := chooseSubnets(CreateOptions{Subnets: bad}, existing); err == nil {
			t.Errorf("%v: chose %+v", bad, got)
		}
	}
}

// lease6 hands out addresses in turn, never the subnet's own address or
// the gateway, reports a full subnet and reuses a released address.
func TestLease6(t *testing.T) {
	s := Store{Dir: t.TempDir(), RunDir: t.TempDir()}
	n := &Network{Name: "v6", NetworkInterface: "podman9", IPv6Enabled: true,
		Subnets: []Subnet{{Subnet: "fd00:9::/124", Gateway: "fd00:9::1"}}}
	seen := map[string]bool{}
	for i := 0; i < 14; i++ {
		ip, err := s.lease6(n, n.Subnets[0], string(rune('a'+i)), "")
		if err != nil {
			t.Fatalf("lease %d: %v", i, err)
		}
		if ip == "fd00:9::" || ip == "fd00:9::1" || seen[ip] || !strings.HasPrefix(ip, "fd00:9::") {
			t.Fatalf("lease %d: %s (had %v)", i, ip, seen)
		}
		seen[ip] = true
	}
	if ip, err := s.lease6(n, n.Subnets[0], "full", ""); err == nil {
		t.Fatalf("a full /124 leased %s", ip)
	}
	s.releaseAll("c", []string{"podman9"})
	if ip, err := s.lease6(n, n.Subnets[0], "again", ""); err != nil || ip != "fd00:9::4" {
		t.Fatalf("after releasing fd00:9::4: %s, %v", ip, err)
	}
	if ip, err := s.lease6(n, n.Subnets[0], "again", ""); err != nil || ip != "fd00:9::4" {
		t.Fatalf("a container's second lease: %s, %v", ip, err)
	}
	if _, err := s.lease6(n, n.Subnets[0], "x", "fd00:9::1"); err == nil {
		t.Fatal("the gateway was leased as a static address")
	}
}

// The default network carries podman's ID for it, the SHA-256 of "podman".
func TestDefaultNetworkID(t *testing.T) {
	s := Store{Dir: t.TempDir(), RunDir: t.TempDir(), DefaultName: "podman", DefaultSubnet: "10.88.0.0/16"}
	n, err := s.Get("podman")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte("podman"))
	if n.ID != hex.EncodeToString(sum[:]) || n.Subnets[0].Gateway != "10.88.0.1" {
		t.Fatalf("default network: %+v", n)
	}
}
