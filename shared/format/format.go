// Package format writes command output: indented JSON and user --format Go
// templates (with the json, upper, lower, join and truncate helpers podman
// and skopeo users know).
package format

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/template"
)

// JSON writes v as JSON indented by four spaces, like skopeo and podman.
func JSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "    ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

var funcs = template.FuncMap{
	"json": func(v any) (string, error) {
		b, err := json.Marshal(v)
		return string(b), err
	},
	"upper": strings.ToUpper,
	"lower": strings.ToLower,
	"join":  strings.Join,
	"truncate": func(s string, n int) string {
		if len(s) > n {
			return s[:n]
		}
		return s
	},
}

// Template is a parsed --format template.
type Template struct{ t *template.Template }

// Parse parses a --format value; "json" is not a template (callers check
// for it first). Escapes like \t and \n are honoured as in podman.
func Parse(text string) (*Template, error) {
	text = strings.NewReplacer(`\t`, "\t", `\n`, "\n").Replace(text)
	t, err := template.New("format").Funcs(funcs).Option("missingkey=error").Parse(text)
	if err != nil {
		return nil, fmt.Errorf("invalid --format template: %w", err)
	}
	return &Template{t: t}, nil
}

// Execute writes v through the template, ending with a newline.
func (t *Template) Execute(w io.Writer, v any) error {
	var buf bytes.Buffer
	if err := t.t.Execute(&buf, v); err != nil {
		return fmt.Errorf("executing --format template: %w", err)
	}
	if !bytes.HasSuffix(buf.Bytes(), []byte("\n")) {
		buf.WriteByte('\n')
	}
	_, err := w.Write(buf.Bytes())
	return err
}
