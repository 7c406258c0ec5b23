//go:build !thin

package container

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ocisuite/suite/shared/oci"
)

// Lazy pages (post-copy): the source's dump leaves the memory out of the
// images and serves it from CRIU's page server; the target restores at
// once under a "criu lazy-pages" daemon, which gets the faulted pages
// first and then the rest, through userfaultfd, while the copy runs.

// lazyPipeSize is the pipe CRIU's lazy page server sizes for reading its
// page pipes (PIPE_MAX_SIZE pages, which the kernel rounds up to 4 MiB).
// Above fs.pipe-max-size that needs CAP_SYS_RESOURCE; without it CRIU
// 4.1.1 goes on with no sink and fails the first fault it serves
// ("page-pipe: splice: -1: Bad file descriptor").
const lazyPipeSize = 4 << 20

// capSysResource is CAP_SYS_RESOURCE's bit.
const capSysResource = 24

// lazyPagesSupport says why a lazy-pages dump would fail here, or nil.
func lazyPagesSupport(ctx context.Context, criuPath string) error {
	out, err := exec.CommandContext(ctx, criuPath, "check", "--feature", "uffd-noncoop").CombinedOutput()
	if err != nil {
		msg := strings.TrimSpace(string(out))
		if i := strings.LastIndex(msg, "): "); i >= 0 {
			msg = msg[i+3:]
		}
		return fmt.Errorf("--lazy-pages needs userfaultfd, which CRIU cannot use here (criu check --feature uffd-noncoop: %s)", msg)
	}
	if hasCapability(capSysResource) {
		return nil
	}
	b, err := os.ReadFile("/proc/sys/fs/pipe-max-size")
	if err != nil {
		return err
	}
	max, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return fmt.Errorf("reading fs.pipe-max-size: %w", err)
	}
	if max < lazyPipeSize {
		return fmt.Errorf("--lazy-pages needs fs.pipe-max-size of at least %d here, not %d: CRIU's page server needs a 4 MiB pipe, which root cannot exceed the limit for without CAP_SYS_RESOURCE (sysctl -w fs.pipe-max-size=%d)", lazyPipeSize, max, lazyPipeSize)
	}
	return nil
}

// hasCapability reports whether this process has capability bit in its
// effective set.
func hasCapability(bit uint) bool {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return false
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "CapEff:"); ok {
			caps, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return err == nil && caps&(1<<bit) != 0
		}
	}
	return false
}

// pageServerAddress completes ADDRESS[:PORT] (port 0 or none: a free
// one now) into ADDRESS:PORT.
func pageServerAddress(addr string) (string, error) {
	host, port := addr, ""
	if h, p, err := net.SplitHostPort(addr); err == nil {
		host, port = h, p
	}
	if net.ParseIP(host) == nil {
		return "", fmt.Errorf("--page-server %q: the address must be an IP address (CRIU resolves no names)", addr)
	}
	if port == "" || port == "0" {
		l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			return "", fmt.Errorf("finding a port for the page server on %s: %w", host, err)
		}
		port = strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
		l.Close()
	} else if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("--page-server %q: bad port", addr)
	}
	return net.JoinHostPort(host, port), nil
}

// abortPageServer makes a lazy-pages dump that waits for its target fail,
// which leaves the container running: CRIU's page server takes a short
// request as a failed transfer. (A connection closed without a word
// would count as a finished transfer and the container would be killed.)
func abortPageServer(addr string) bool {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return false
	}
	defer conn.Close()
	_, err = conn.Write([]byte{0})
	return err == nil
}

// startLazyPages starts the "criu lazy-pages" daemon a lazy restore needs:
// it reads the pagemaps in imgDir, listens on lazy-pages.socket in
// workDir (runc restore's work path, where CRIU looks for it) and fetches
// the pages from the page server at from. It outlives the restore and
// exits once it has every page; stop ends it when the restore fails.
func startLazyPages(ctx context.Context, criuPath, imgDir, workDir, from string) (stop func(), err error) {
	host, port, err := net.SplitHostPort(from)
	if err != nil {
		return nil, fmt.Errorf("--lazy-pages-from %q: %w", from, err)
	}
	if _, err := strconv.Atoi(port); err != nil || net.ParseIP(host) == nil {
		return nil, fmt.Errorf("--lazy-pages-from %q: not IP:PORT", from)
	}
	sock := filepath.Join(workDir, "lazy-pages.socket")
	os.Remove(sock)
	log := filepath.Join(workDir, "lazy-pages.log")
	os.Remove(log)
	cmd := exec.Command(criuPath, "lazy-pages", "--page-server", "--address", host, "--port", port,
		"--images-dir", imgDir, "--work-dir", workDir, "--log-file", "lazy-pages.log", "-v2")
	// Its own session: it goes on after this process exits.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting criu lazy-pages: %w", err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	stop = func() {
		_ = cmd.Process.Kill()
		<-exited
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(sock); err == nil {
			logrus.Debugf("criu lazy-pages (pid %d) fetches the memory from %s", cmd.Process.Pid, from)
			return stop, nil
		}
		select {
		case <-exited:
			why := "it exited"
			if lines := oci.CRIULogErrors(log, 2); len(lines) > 0 {
				why = strings.Join(lines, " | ")
			}
			return nil, fmt.Errorf("criu lazy-pages failed: %s (log: %s)", why, log)
		case <-ctx.Done():
			stop()
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			stop()
			return nil, errors.New("criu lazy-pages did not get ready in 10s")
		}
	}
}
