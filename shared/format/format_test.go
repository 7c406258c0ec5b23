package format

import (
	"bytes"
	"testing"
)

func TestTemplate(t *testing.T) {
	v := struct {
		Name   string
		Labels map[string]string
		Tags   []string
	}{"app", map[string]string{"a": "b"}, []string{"1", "2"}}
	for tmpl, want := range map[string]string{
		"{{.Name}}":                           "app\n",
		"{{json .Labels}}":                    `{"a":"b"}` + "\n",
		`{{join .Tags ","}}\t{{upper .Name}}`: "1,2\tAPP\n",
	} {
		p, err := Parse(tmpl)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := p.Execute(&buf, v); err != nil {
			t.Fatal(err)
		}
		if buf.String() != want {
			t.Errorf("%s: got %q, want %q", tmpl, buf.String(), want)
		}
	}
	if _, err := Parse("{{.Name"); err == nil {
		t.Fatal("bad template parsed")
	}
	p, _ := Parse("{{.Nope}}")
	if err := p.Execute(&bytes.Buffer{}, v); err == nil {
		t.Fatal("unknown field executed")
	}
}

func TestJSON(t *testing.T) {
	var buf bytes.Buffer
	if err := JSON(&buf, map[string]int{"a": 1}); err != nil {
		t.Fatal(err)
	}
	if buf.String() != "{\n    \"a\": 1\n}\n" {
		t.Fatalf("got %q", buf.String())
	}
}
