// Package retry holds the suite's one rule for retrying registry operations:
// transient network errors (EOF, connection reset or refused, timeouts) and
// HTTP 408, 429 and 5xx are retried with jittered exponential backoff;
// anything else (authentication, not found, invalid input, policy
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
	"syscall"
	"time"

	"github.com/containers/image/v5/docker"
	"github.com/docker/distribution/registry/api/errcode"
	"github.com/sirupsen/logrus"
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

// Do runs fn, and again up to o.Times more times while it fails with a
// transient error.
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
		d := o.Delay
		if d == 0 {
			d = Backoff(attempt)
		}
		what := o.What
		if what == "" {
			what = "operation"
		}
		logrus.Infof("%s failed (attempt %d of %d), retrying in %s: %v", what, attempt+1, o.Times+1, d.Round(time.Millisecond), err)
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

// Backoff is the jittered exponential delay before retry number attempt+1.
func Backoff(attempt int) time.Duration {
	base := time.Second << min(attempt, 5)
	if base > 30*time.Second {
		base = 30 * time.Second
	}
	// ±50% jitter.
	return base/2 + rand.N(base)
}

// IsTransient reports whether err is worth retrying.
func IsTransient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNABORTED) ||
		errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH) {
		return true
	}
	if errors.Is(err, docker.ErrTooManyRequests) {
		return true
	}
	var status docker.UnexpectedHTTPStatusError
	if errors.As(err, &status) {
		return transientStatus(status.StatusCode)
	}
	var ec errcode.Error
	if errors.As(err, &ec) {
		return transientStatus(ec.Code.Descriptor().HTTPStatusCode) || ec.Code == errcode.ErrorCodeTooManyRequests
	}
	var ecs errcode.Errors
	if errors.As(err, &ecs) {
		for _, e := range ecs {
			if IsTransient(e) {
				return true
			}
		}
		return false
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	return false
}

func transientStatus(code int) bool {
	return code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500
}
