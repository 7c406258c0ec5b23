package format

import (
	"io"
	"regexp"
	"strings"
	"text/tabwriter"
	"unicode"
)

// Writer writes rows through a --format template. A template starting
// with "table" is written as aligned columns under a header line, as
// podman does; other templates print one line per row as given.
type Writer struct {
	out    io.Writer
	tw     *tabwriter.Writer
	t      *Template
	header map[string]string
	table  bool
	rows   int
	noHead bool
}

var fieldRef = regexp.MustCompile(`\.([A-Za-z_][A-Za-z0-9_]*)`)

// NewWriter parses text ("table {{.A}}\t{{.B}}" or "{{.A}}") for rows.
// headers maps field names to column titles; a field without one gets its
// name in upper case, words split ("CreatedAt" → "CREATED AT").
// noHeading drops the header line of a table.
func NewWriter(w io.Writer, text string, headers map[string]string, noHeading bool) (*Writer, error) {
	table := false
	if t, ok := strings.CutPrefix(text, "table"); ok {
		table, text = true, strings.TrimLeft(t, " ")
	}
	tmpl, err := Parse(text)
	if err != nil {
		return nil, err
	}
	h := map[string]string{}
	for _, m := range fieldRef.FindAllStringSubmatch(text, -1) {
		if title, ok := headers[m[1]]; ok {
			h[m[1]] = title
		} else {
			h[m[1]] = headerOf(m[1])
		}
	}
	wr := &Writer{out: w, t: tmpl, header: h, table: table, noHead: noHeading}
	if table {
		wr.tw = tabwriter.NewWriter(w, 12, 2, 2, ' ', 0)
	}
	return wr, nil
}

func headerOf(field string) string {
	var b strings.Builder
	for i, r := range field {
		if i > 0 && unicode.IsUpper(r) && !unicode.IsUpper(rune(field[i-1])) {
			b.WriteByte(' ')
		}
		b.WriteRune(unicode.ToUpper(r))
	}
	return b.String()
}

// Write writes one row.
func (w *Writer) Write(v any) error {
	if w.table {
		if w.rows == 0 && !w.noHead {
			// The header is the template run over the column titles.
			if err := w.t.Execute(w.tw, w.header); err != nil {
				return err
			}
		}
		w.rows++
		return w.t.Execute(w.tw, v)
	}
	w.rows++
	return w.t.Execute(w.out, v)
}

// Flush writes the aligned table; a table with no rows still gets its
// header.
func (w *Writer) Flush() error {
	if !w.table {
		return nil
	}
	if w.rows == 0 && !w.noHead {
		if err := w.t.Execute(w.tw, w.header); err != nil {
			return err
		}
	}
	return w.tw.Flush()
}
