package config

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/BurntSushi/toml"
)

// Warning is a problem in a config file that does not stop the tools.
type Warning struct {
	File    string
	Key     string
	Message string
}

func (w Warning) String() string { return w.File + ": " + w.Key + ": " + w.Message }

// FileError is a config file that cannot be used. Line is the 1-based line
// of a syntax or type error, 0 when unknown.
type FileError struct {
	File string
	Line int
	Err  error
}

func (e *FileError) Error() string {
	msg := e.Err.Error()
	var pe toml.ParseError
	if errors.As(e.Err, &pe) {
		msg = pe.Message
	}
	msg = strings.ReplaceAll(msg, "\n", " ")
	if e.Line > 0 {
		return fmt.Sprintf("%s: line %d: %s", e.File, e.Line, msg)
	}
	return e.File + ": " + msg
}

func (e *FileError) Unwrap() error { return e.Err }

// decodeTOML decodes data (read from path) into v. Errors are *FileError
// carrying the line where the parser knows it.
func decodeTOML(path, data string, v any) (toml.MetaData, error) {
	data = blankComments(data)
	meta, err := toml.Decode(data, v)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return meta, &FileError{File: path, Line: errorLine(data, pe.Position), Err: pe}
		}
		return meta, &FileError{File: path, Err: err}
	}
	return meta, nil
}

// blankComments empties the lines that hold only a comment, keeping their
// newlines (and so every line number). The files shipped with the
// containers packages are mostly comments, which the TOML parser reads a
// byte at a time. A file with a multi-line string, where a line starting
// with "#" may be text, is left as it is.
func blankComments(data string) string {
	if strings.Contains(data, `"""`) || strings.Contains(data, `'''`) {
		return data
	}
	var b strings.Builder
	b.Grow(len(data) / 4)
	for line := range strings.Lines(data) {
		if strings.HasPrefix(strings.TrimLeft(line, " \t"), "#") {
			if strings.HasSuffix(line, "\n") {
				b.WriteByte('\n')
			}
			continue
		}
		b.WriteString(line)
	}
	return b.String()
}

// errorLine is the line of the byte the parser stopped at. The parser's own
// line number counts a newline it did not expect as part of the next line.
func errorLine(data string, pos toml.Position) int {
	if pos.Start < 0 || pos.Start > len(data) || (pos.Start == 0 && pos.Line > 1) {
		return pos.Line
	}
	return 1 + strings.Count(data[:pos.Start], "\n")
}

// readFile reads path; ok is false when it does not exist.
func readFile(path string) (data string, ok bool, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", false, nil
		}
		return "", false, &FileError{File: path, Err: err}
	}
	return string(b), true, nil
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// undecodedWarnings is one warning per unknown key, a table reported once
// rather than with each of its keys. report decides whether k is worth a
// warning and gives a hint for it.
func undecodedWarnings(path string, meta toml.MetaData, report func(toml.Key) (hint string, warn bool)) []Warning {
	var out []Warning
	reported := map[string]bool{}
	for _, k := range meta.Undecoded() {
		if parentReported(k, reported) {
			continue
		}
		hint, warn := report(k)
		if !warn {
			continue
		}
		reported[k.String()] = true
		msg := "unknown key, ignored"
		if hint != "" {
			msg += "; " + hint
		}
		out = append(out, Warning{File: path, Key: k.String(), Message: msg})
	}
	return out
}

func parentReported(k toml.Key, reported map[string]bool) bool {
	for i := 1; i < len(k); i++ {
		if reported[k[:i].String()] {
			return true
		}
	}
	return false
}
