package container

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// LogOptions are logs' options.
type LogOptions struct {
	Follow       bool
	Timestamps   bool
	Since, Until time.Time
	Tail         int // lines from the end; < 0 means all
}

// LogLine is one line of a k8s-file log.
type LogLine struct {
	Time    time.Time
	Stream  string // stdout, stderr
	Partial bool
	Text    string
}

// parseLogLine reads "TIME STREAM F|P TEXT".
func parseLogLine(s string) (LogLine, bool) {
	parts := strings.SplitN(s, " ", 4)
	if len(parts) < 3 {
		return LogLine{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, parts[0])
	if err != nil {
		return LogLine{}, false
	}
	l := LogLine{Time: t, Stream: parts[1], Partial: parts[2] == "P"}
	if len(parts) == 4 {
		l.Text = parts[3]
	}
	return l, true
}

// Logs writes the container's log to stdout and stderr.
func (e *Engine) Logs(ctx context.Context, id string, o LogOptions, stdout, stderr io.Writer) error {
	c, err := e.Lookup(id)
	if err != nil {
		return err
	}
	if c.LogDriver != "k8s-file" {
		return fmt.Errorf("container %s uses the %s log driver: no logs to read", c.Name, c.LogDriver)
	}
	f, err := os.Open(c.LogPath)
	if errors.Is(err, os.ErrNotExist) {
		if !o.Follow {
			return nil
		}
	} else if err != nil {
		return fmt.Errorf("reading log of %s: %w", c.Name, err)
	}
	var lines []LogLine
	var r *bufio.Reader
	if f != nil {
		defer f.Close()
		r = bufio.NewReader(f)
		for {
			s, err := r.ReadString('\n')
			if err != nil {
				break // a partial last line is read again when following
			}
			if l, ok := parseLogLine(strings.TrimSuffix(s, "\n")); ok {
				lines = append(lines, l)
			}
		}
	}
	if o.Tail >= 0 && o.Tail < len(lines) {
		lines = lines[len(lines)-o.Tail:]
	}
	emit := func(l LogLine) {
		if !o.Since.IsZero() && l.Time.Before(o.Since) || !o.Until.IsZero() && l.Time.After(o.Until) {
			return
		}
		w := stdout
		if l.Stream == "stderr" {
			w = stderr
		}
		text := l.Text
		if !l.Partial {
			text += "\n"
		}
		if o.Timestamps {
			text = l.Time.Format(time.RFC3339Nano) + " " + text
		}
		io.WriteString(w, text)
	}
	for _, l := range lines {
		emit(l)
	}
	if !o.Follow {
		return nil
	}
	// Follow until the container has exited and the log is drained.
	var pending string
	for {
		if f == nil {
			if f, err = os.Open(c.LogPath); err == nil {
				defer f.Close()
				r = bufio.NewReader(f)
			}
		}
		progressed := false
		for r != nil {
			s, err := r.ReadString('\n')
			if err != nil {
				pending += s
				break
			}
			progressed = true
			if l, ok := parseLogLine(strings.TrimSuffix(pending+s, "\n")); ok {
				emit(l)
			}
			pending = ""
		}
		if !progressed {
			cur, err := e.Lookup(c.ID)
			if err != nil || !cur.Running() && cur.State.Status != StatusCreated && cur.State.Status != StatusConfigured {
				return nil
			}
			if !o.Until.IsZero() && time.Now().After(o.Until) {
				return nil
			}
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
}
