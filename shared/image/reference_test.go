package image

import (
	"strings"
	"testing"
)

func TestParseReferenceTransports(t *testing.T) {
	for _, c := range []struct {
		in    string
		want  string   // transport name, "" for an error
		wants []string // what the error must mention
	}{
		{in: "docker://busybox:latest", want: "docker"},
		{in: "docker://127.0.0.1:5000/app@sha256:" + strings.Repeat("a", 64), want: "docker"},
		{in: "oci:/tmp/layout:tag", want: "oci"},
		{in: "dir:/tmp/d", want: "dir"},
		{in: "docker-archive:/tmp/a.tar:app:1", want: "docker-archive"},
		{in: "containers-storage:[vfs@/tmp/r+/tmp/s]busybox:latest", want: "containers-storage"},
		{in: "busybox", wants: []string{`"busybox"`, "no transport", "docker://", "oci:", "containers-storage:"}},
		{in: "nosuch:thing", wants: []string{`"nosuch:thing"`, `unknown transport "nosuch"`, "docker://"}},
		{in: "docker://UPPER/Case", wants: []string{`"docker://UPPER/Case"`}},
		{in: "", wants: []string{`""`, "no transport"}},
	} {
		ref, err := ParseReference(c.in)
		if c.want != "" {
			if err != nil || ref.Transport().Name() != c.want {
				t.Errorf("ParseReference(%q) = %v, %v; want a %s reference", c.in, ref, err, c.want)
			}
			continue
		}
		if err == nil {
			t.Errorf("ParseReference(%q) succeeded", c.in)
			continue
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("ParseReference(%q): error is not one line: %q", c.in, err)
		}
		for _, w := range c.wants {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("ParseReference(%q): error %q does not mention %s", c.in, err, w)
			}
		}
	}
}
