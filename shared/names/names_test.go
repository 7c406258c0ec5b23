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
