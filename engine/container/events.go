package container

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/sirupsen/logrus"
)

// Event is one line of the event log, podman's JSON shape.
type Event struct {
	ID         string            `json:"ID"`
	Image      string            `json:"Image"`
	Name       string            `json:"Name"`
	Status     string            `json:"Status"`
	Time       time.Time         `json:"time"`
	Type       string            `json:"Type"`
	Attributes map[string]string `json:"Attributes,omitempty"`
	ExitCode   *int              `json:"ContainerExitCode,omitempty"`
}

// EventLog is the file every CLI process appends events to.
func (e *Engine) EventLog() string { return filepath.Join(e.Dir, "events.log") }

// event appends one event; a line under PIPE_BUF written with O_APPEND is
// atomic, so parallel processes never interleave.
func (e *Engine) event(c *Container, status string) {
	ev := Event{ID: c.ID, Image: c.eventImage(), Name: c.Name, Status: status, Time: time.Now().UTC(), Type: "container", Attributes: c.Labels}
	if status == "died" {
		code := c.State.ExitCode
		ev.ExitCode = &code
	}
	if err := AppendEvent(e.EventLog(), ev); err != nil {
		logrus.Warnf("writing event: %v", err)
	}
}

// eventImage is the image an event names: as resolved (podman's
// "localhost/bb:latest"), or as given.
func (c *Container) eventImage() string {
	if c.ImageName != "" {
		return c.ImageName
	}
	return c.Image
}

// AppendEvent writes ev as one line of the log at path.
func AppendEvent(path string, ev Event) error {
	b, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	if len(b) > 4000 {
		ev.Attributes = nil
		if b, err = json.Marshal(ev); err != nil {
			return err
		}
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = f.Write(append(b, '\n'))
	return err
}

// EventFilter selects events; zero fields match everything.
type EventFilter struct {
	Since, Until time.Time
	Match        func(Event) bool
}

// ReadEvents calls fn for each event in the log; with follow it waits for
// new events until ctx ends (or Until passes).
func ReadEvents(ctx context.Context, path string, f EventFilter, follow bool, fn func(Event) error) error {
	file, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		if !follow {
			return nil
		}
		if err := os.WriteFile(path, nil, 0o600); err != nil && !errors.Is(err, os.ErrExist) {
			return err
		}
		file, err = os.Open(path)
	}
	if err != nil {
		return fmt.Errorf("reading events: %w", err)
	}
	defer file.Close()
	r := bufio.NewReader(file)
	var partial []byte
	for {
		line, err := r.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			partial = append(partial, line...)
			if !follow || (!f.Until.IsZero() && time.Now().After(f.Until)) {
				return nil
			}
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		if err != nil {
			return err
		}
		line = append(partial, line...)
		partial = nil
		var ev Event
		if json.Unmarshal(line, &ev) != nil {
			continue
		}
		if !f.Since.IsZero() && ev.Time.Before(f.Since) {
			continue
		}
		if !f.Until.IsZero() && ev.Time.After(f.Until) {
			if follow {
				return nil
			}
			continue
		}
		if f.Match != nil && !f.Match(ev) {
			continue
		}
		if err := fn(ev); err != nil {
			return err
		}
	}
}
