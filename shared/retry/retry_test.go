package retry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/containers/image/v5/docker"
	"github.com/containers/image/v5/signature"
	"github.com/docker/distribution/registry/api/errcode"
	v2 "github.com/docker/distribution/registry/api/v2"
)

// timeoutError is a net.Error that timed out, like a dial or read deadline.
type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

// bodyError mimics containers/image's unexported unexpectedHTTPResponseError.
type bodyError struct {
	StatusCode int
	Response   []byte
}

func (e *bodyError) Error() string { return fmt.Sprintf("HTTP %d: %q", e.StatusCode, e.Response) }

// retryAfterError is a 429 that says when to come back.
type retryAfterError struct{ after time.Duration }

func (e retryAfterError) Error() string             { return "too many requests" }
func (e retryAfterError) RetryAfter() time.Duration { return e.after }

func TestIsTransient(t *testing.T) {
	reset := &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}
	for _, c := range []struct {
		name string
		err  error
		want bool
	}{
		{"EOF", io.EOF, true},
		{"unexpected EOF wrapped", fmt.Errorf("reading blob: %w", io.ErrUnexpectedEOF), true},
		{"EOF in url.Error", &url.Error{Op: "Get", URL: "https://r/v2/", Err: io.EOF}, true},
		{"connection refused", fmt.Errorf("dial: %w", syscall.ECONNREFUSED), true},
		{"connection reset in OpError", fmt.Errorf("copying: %w", reset), true},
		{"broken pipe", fmt.Errorf("write: %w", syscall.EPIPE), true},
		{"server closed idle connection", &url.Error{Op: "Post", URL: "http://r/v2/a/blobs/uploads/", Err: errors.New("http: server closed idle connection")}, true},
		{"net timeout", &url.Error{Op: "Get", URL: "https://r/v2/", Err: timeoutError{}}, true},
		{"429 sentinel", fmt.Errorf("x: %w", docker.ErrTooManyRequests), true},
		{"429 errcode", errcode.ErrorCodeTooManyRequests.WithMessage("slow down"), true},
		{"503", fmt.Errorf("x: %w", docker.UnexpectedHTTPStatusError{StatusCode: http.StatusServiceUnavailable}), true},
		{"500", docker.UnexpectedHTTPStatusError{StatusCode: http.StatusInternalServerError}, true},
		{"408", docker.UnexpectedHTTPStatusError{StatusCode: http.StatusRequestTimeout}, true},
		{"408 with a non-JSON body", fmt.Errorf("x: %w", &bodyError{StatusCode: 408, Response: []byte("<html>")}), true},
		{"502 in a join", errors.Join(errors.New("a"), docker.UnexpectedHTTPStatusError{StatusCode: 502}), true},
		{"404", docker.UnexpectedHTTPStatusError{StatusCode: http.StatusNotFound}, false},
		{"400 with a non-JSON body", &bodyError{StatusCode: 400, Response: []byte("bad")}, false},
		{"manifest unknown", errcode.Errors{v2.ErrorCodeManifestUnknown.WithMessage("manifest unknown")}, false},
		{"blob unknown", fmt.Errorf("reading blob: %w", v2.ErrorCodeBlobUnknown.WithArgs("sha256:0")), false},
		{"unknown errcode from a 4xx", errcode.ErrorCodeUnknown.WithMessage("details"), false},
		{"403 denied", errcode.ErrorCodeDenied.WithMessage("no"), false},
		{"401 errcode", errcode.Errors{errcode.ErrorCodeUnauthorized.WithMessage("auth")}, false},
		{"401 credentials", docker.ErrUnauthorizedForCredentials{Err: errors.New("x")}, false},
		{"policy rejection", fmt.Errorf("x: %w", signature.PolicyRequirementError("rejected")), false},
		{"cancelled", fmt.Errorf("x: %w", context.Canceled), false},
		{"cancelled EOF", errors.Join(context.Canceled, io.EOF), false},
		{"deadline (a timeout; Do checks its own context)", context.DeadlineExceeded, true},
		{"invalid input", errors.New("invalid reference format"), false},
		{"nil", nil, false},
	} {
		if got := IsTransient(c.err); got != c.want {
			t.Errorf("%s: IsTransient(%v) = %v, want %v", c.name, c.err, got, c.want)
		}
	}
}

func TestDo(t *testing.T) {
	ctx := context.Background()
	n := 0
	err := Do(ctx, Options{Times: 3, Delay: time.Millisecond}, func() error {
		n++
		if n < 3 {
			return io.EOF
		}
		return nil
	})
	if err != nil || n != 3 {
		t.Fatalf("transient: err %v after %d calls, want nil after 3", err, n)
	}
	n = 0
	perm := errors.New("permanent")
	err = Do(ctx, Options{Times: 3, Delay: time.Millisecond}, func() error { n++; return perm })
	if err != perm || n != 1 {
		t.Fatalf("permanent: err %v after %d calls, want it unchanged after 1", err, n)
	}
	n = 0
	err = Do(ctx, Options{Times: 2, Delay: time.Millisecond}, func() error { n++; return io.EOF })
	if !errors.Is(err, io.EOF) || n != 3 {
		t.Fatalf("exhausted: err %v after %d calls, want EOF after 3", err, n)
	}
	n = 0
	err = Do(ctx, Options{Delay: time.Millisecond}, func() error { n++; return io.EOF })
	if err != io.EOF || n != 1 {
		t.Fatalf("Times 0: err %v after %d calls, want EOF after 1", err, n)
	}
}

// TestDoCancelled: a cancelled context ends the wait between attempts.
func TestDoCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	go func() {
		time.Sleep(20 * time.Millisecond)
		cancel()
	}()
	err := Do(ctx, Options{Times: 5, Delay: time.Hour}, func() error { n++; return io.EOF })
	if !errors.Is(err, io.EOF) || n != 1 {
		t.Fatalf("err %v after %d calls, want EOF after 1", err, n)
	}
	n = 0
	err = Do(ctx, Options{Times: 5, Delay: time.Millisecond}, func() error { n++; return io.EOF })
	if n != 1 || err == nil {
		t.Fatalf("already cancelled: err %v after %d calls, want an error after 1", err, n)
	}
}

func TestDelay(t *testing.T) {
	o := Options{Delay: time.Millisecond}
	if d := delay(o, 0, io.EOF); d != time.Millisecond {
		t.Errorf("fixed delay: %s", d)
	}
	if d := delay(o, 0, fmt.Errorf("x: %w", retryAfterError{5 * time.Second})); d != 5*time.Second {
		t.Errorf("Retry-After 5s: waited %s", d)
	}
	if d := delay(o, 0, retryAfterError{time.Hour}); d != maxRetryAfter {
		t.Errorf("Retry-After 1h: waited %s, want the cap %s", d, maxRetryAfter)
	}
	if d := delay(Options{}, 2, io.EOF); d < 2*time.Second || d >= 6*time.Second {
		t.Errorf("backoff for attempt 2: %s, want 4s ±50%%", d)
	}
	if !IsTransient(fmt.Errorf("x: %w", retryAfterError{time.Second})) {
		t.Error("an error carrying Retry-After is not transient")
	}
}

func TestBackoff(t *testing.T) {
	for _, c := range []struct {
		attempt  int
		min, max time.Duration
	}{
		{0, 500 * time.Millisecond, 1500 * time.Millisecond},
		{1, time.Second, 3 * time.Second},
		{2, 2 * time.Second, 6 * time.Second},
		{10, 15 * time.Second, 45 * time.Second},
	} {
		for i := 0; i < 50; i++ {
			if d := Backoff(c.attempt); d < c.min || d >= c.max {
				t.Fatalf("Backoff(%d) = %s, want [%s, %s)", c.attempt, d, c.min, c.max)
			}
		}
	}
}
