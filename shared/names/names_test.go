package names

import "testing"

func TestValid(t *testing.T) {
	for s, want := range map[string]bool{
		"a": true, "web-1": true, "my_net.2": true, "0abc": true, "A.b_c-d": true,
		"": false, "-a": false, "_a": false, ".a": false, "a b": false, "a/b": false, "é": false, "a:b": false,
	} {
		if got := Valid(s); got != want {
			t.Errorf("Valid(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestHex(t *testing.T) {
	for s, want := range map[string]bool{
		"0": true, "abc123": true, "deadbeef": true,
		"": false, "ABC": false, "g1": false, "12 3": false, "-1": false,
	} {
		if got := Hex(s); got != want {
			t.Errorf("Hex(%q) = %v, want %v", s, got, want)
		}
	}
}
