// Package retry holds the suite's one rule for retrying registry operations:
// transient network errors (EOF, connection reset or refused, broken pipe,
// timeouts) and HTTP 408, 429 and 5xx are retried with jittered exponential
// backoff; anything else (authentication, not found, invalid input, policy
// rejection, cancellation) is returned at once.
package retry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"reflect"
	"strings"
	"syscall"
	"time"

	"github.com/containers/image/v5/docker"
	"github.com/docker/distribution/registry/api/errcode"
	"github.com/sirupsen/logrus"
)

const (
	// maxBackoff caps the exponential backoff.
	maxBackoff = 30 * time.Second
	// maxRetryAfter caps a server's Retry-After, as containers/image does.
	maxRetryAfter = 60 * time.Second
)

// Options bound the retries.
type Options struct {
	// Times is how many times to retry after the first attempt.
	Times int
	// Delay, when set, is a fixed delay between attempts instead of the
	// jittered exponential backoff (1s, 2s, 4s … ±50%, capped at 30s).
	Delay time.Duration
	// What names the operation in log messages.
	What string
}

// RetryAfterError is implemented by errors that carry a server's
// Retry-After delay (HTTP 429 or 503). Do waits that long before the next
// attempt. (containers/image's docker client already waits for Retry-After
// itself before it gives up with docker.ErrTooManyRequests, so its errors
// do not carry it.)
type RetryAfterError interface {
	error
	RetryAfter() time.Duration
}

// Do runs fn, and again up to o.Times more times while it fails with a
// transient error. It stops early when ctx is done.
func Do(ctx context.Context, o Options, fn func() error) error {
	var err error
	for attempt := 0; ; attempt++ {
		if err = fn(); err == nil {
			return nil
		}
		if attempt >= o.Times || !IsTransient(err) || ctx.Err() != nil {
			if attempt > 0 {
				return fmt.Errorf("%w (after %d attempts)", err, attempt+1)
			}
			return err
		}
		d := delay(o, attempt, err)
		what := o.What
		if what == "" {
			what = "operation"
		}
		logrus.Infof("%s failed (attempt %d of %d), retrying in %s: %v", what, attempt+1, o.Times+1, d.Round(time.Millisecond), err)
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (after %d attempts)", err, attempt+1)
		case <-t.C:
		}
	}
}

// delay is the wait before the attempt after attempt: the server's
// Retry-After when err carries one, else o.Delay, else Backoff.
func delay(o Options, attempt int, err error) time.Duration {
	var ra RetryAfterError
	if errors.As(err, &ra) && ra.RetryAfter() > 0 {
		return min(ra.RetryAfter(), maxRetryAfter)
	}
	if o.Delay > 0 {
		return o.Delay
	}
	return Backoff(attempt)
}

// Backoff is the jittered exponential delay before retry number attempt+1:
// 1s, 2s, 4s, … capped at 30s, each ±50%.
func Backoff(attempt int) time.Duration {
	base := min(time.Second<<min(attempt, 5), maxBackoff)
	return base/2 + rand.N(base)
}

// IsTransient reports whether err is worth retrying: EOF, connection reset,
// refused or aborted, broken pipe, timeouts, HTTP 408, 429 (or any error
// carrying Retry-After) and 5xx. Cancellation, authentication, not found,
// invalid input and policy rejections are not.
func IsTransient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNABORTED) ||
		errors.Is(err, syscall.ETIMEDOUT) {
		return true
	}
	// net/http's answer to a request it sent on a kept-alive connection
	// the server closed meanwhile (a registry that went away); it retries
	// such requests itself only when they are idempotent, not a POST.
	if strings.Contains(err.Error(), "http: server closed idle connection") {
		return true
	}
	// Timeouts, including dial and read deadlines (which also match
	// context.DeadlineExceeded). Do never retries once its own context is
	// done, so the caller's --command-timeout is not mistaken for one.
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	if errors.Is(err, docker.ErrTooManyRequests) {
		return true
	}
	var ra RetryAfterError
	if errors.As(err, &ra) && ra.RetryAfter() > 0 {
		return true
	}
	if code, ok := statusCode(err); ok {
		return code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500
	}
	// containers/image builds errcode errors only from 4xx responses
	// (a 5xx becomes docker.UnexpectedHTTPStatusError), so of those only
	// "too many requests" and "unavailable" are worth another attempt.
	var ec errcode.Error
	if errors.As(err, &ec) {
		return ec.Code == errcode.ErrorCodeTooManyRequests || ec.Code == errcode.ErrorCodeUnavailable
	}
	var ecs errcode.Errors
	if errors.As(err, &ecs) && len(ecs) > 0 {
		return IsTransient(ecs[0])
	}
	return false
}

// statusCode finds the HTTP status of the first error in err's chain that
// records one: docker.UnexpectedHTTPStatusError, or any error struct with
// an int StatusCode field (containers/image's unexported
// unexpectedHTTPResponseError, which a 4xx with a non-JSON body becomes).
func statusCode(err error) (int, bool) {
	var us docker.UnexpectedHTTPStatusError
	if errors.As(err, &us) {
		return us.StatusCode, true
	}
	for _, e := range chain(err) {
		v := reflect.ValueOf(e)
		for v.Kind() == reflect.Pointer && !v.IsNil() {
			v = v.Elem()
		}
		if v.Kind() != reflect.Struct {
			continue
		}
		if f := v.FieldByName("StatusCode"); f.IsValid() && f.Kind() == reflect.Int {
			return int(f.Int()), true
		}
	}
	return 0, false
}

// chain lists err and everything it wraps, depth first.
func chain(err error) []error {
	var out []error
	var walk func(error)
	walk = func(e error) {
		if e == nil || len(out) > 100 {
			return
		}
		out = append(out, e)
		switch u := e.(type) {
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		case interface{ Unwrap() []error }:
			for _, x := range u.Unwrap() {
				walk(x)
			}
		}
	}
	walk(err)
	return out
}
