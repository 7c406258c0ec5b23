package network

import "testing"

func TestParseSlirpMode(t *testing.T) {
	for _, tc := range []struct {
		mode    string
		ok, bad bool
		want    SlirpOptions
	}{
		{mode: "none"},
		{mode: "bridge"},
		{mode: "slirp4netns", ok: true, want: SlirpOptions{MTU: 65520}},
		{mode: "slirp4netns:allow_host_loopback=true,port_handler=slirp4netns", ok: true, want: SlirpOptions{AllowHostLoopback: true, MTU: 65520}},
		{mode: "slirp4netns:mtu=1500", ok: true, want: SlirpOptions{MTU: 1500}},
		{mode: "slirp4netns:port_handler=rootlesskit", ok: true, bad: true},
		{mode: "slirp4netns:allow_host_loopback=maybe", ok: true, bad: true},
		{mode: "slirp4netns:enable_ipv6=true", ok: true, bad: true},
	} {
		got, ok, err := ParseSlirpMode(tc.mode)
		if ok != tc.ok || (err != nil) != tc.bad || (!tc.bad && got != tc.want) {
			t.Errorf("ParseSlirpMode(%q) = %+v, %v, %v", tc.mode, got, ok, err)
		}
	}
}
