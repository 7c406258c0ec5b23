// Package progress turns containers/image's copy reports into what the
// user asked for: bars on a terminal, or one log line per step.
package progress

import (
	"bytes"
	"io"
	"strings"
	"sync"
)

// Lines returns a writer that calls emit once for each complete, non-empty
// line written to it (without the line ending). containers/image writes one
// line per step ("Copying blob sha256:…", "Writing manifest to image
// destination") to a report writer that is not a terminal, so Lines lets
// those steps go to a logger instead of stdout.
func Lines(emit func(line string)) io.Writer {
	return &lineWriter{emit: emit}
}

type lineWriter struct {
	mu   sync.Mutex
	emit func(string)
	buf  []byte
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		line := strings.TrimRight(string(w.buf[:i]), "\r")
		w.buf = w.buf[i+1:]
		if strings.TrimSpace(line) != "" {
			w.emit(line)
		}
	}
	return len(p), nil
}
