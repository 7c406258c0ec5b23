package retry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/containers/image/v5/docker"
	"github.com/docker/distribution/registry/api/errcode"
)

func TestIsTransient(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{io.EOF, true},
		{fmt.Errorf("reading blob: %w", io.ErrUnexpectedEOF), true},
		{fmt.Errorf("dial: %w", syscall.ECONNREFUSED), true},
		{fmt.Errorf("read: %w", syscall.ECONNRESET), true},
		{docker.ErrTooManyRequests, true},
		{fmt.Errorf("x: %w", docker.UnexpectedHTTPStatusError{StatusCode: http.StatusServiceUnavailable}), true},
		{docker.UnexpectedHTTPStatusError{StatusCode: http.StatusRequestTimeout}, true},
		{docker.UnexpectedHTTPStatusError{StatusCode: http.StatusNotFound}, false},
		{errcode.ErrorCodeUnknown.WithMessage("boom"), true}, // 500
		{errcode.ErrorCodeDenied.WithMessage("no"), false},
		{errcode.Errors{errcode.ErrorCodeUnauthorized.WithMessage("auth")}, false},
		{docker.ErrUnauthorizedForCredentials{Err: errors.New("x")}, false},
		{context.Canceled, false},
		{errors.New("invalid reference"), false},
	} {
		if got := IsTransient(c.err); got != c.want {
			t.Errorf("IsTransient(%v) = %v, want %v", c.err, got, c.want)
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
	err = Do(ctx, Options{Times: 3, Delay: time.Millisecond}, func() error { n++; return errors.New("permanent") })
	if err == nil || n != 1 {
		t.Fatalf("permanent: err %v after %d calls, want error after 1", err, n)
	}
	n = 0
	err = Do(ctx, Options{Times: 2, Delay: time.Millisecond}, func() error { n++; return io.EOF })
	if !errors.Is(err, io.EOF) || n != 3 {
		t.Fatalf("exhausted: err %v after %d calls, want EOF after 3", err, n)
	}
}

func TestBackoff(t *testing.T) {
	for a := 0; a < 10; a++ {
		d := Backoff(a)
		if d <= 0 || d > 45*time.Second {
			t.Fatalf("Backoff(%d) = %s", a, d)
		}
	}
}
