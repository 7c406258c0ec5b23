package e2e

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

// TestEngineCheckpointSockets: a server listening on a published port,
// with and without --tcp-established and an open client connection from
// the host. Where CRIU can dump inet sockets the server answers after the
// restore; where it cannot (CRIU 4.1.1 on the test machine's kernel), the
// checkpoint fails in one line naming the socket and CRIU's message, and
// the container goes on serving, the open connection included.
func TestEngineCheckpointSockets(t *testing.T) {
	e := containerStore(t)
	defer e.settle(t)
	port := freeLoopbackPort(t)
	e.must(t, "run", "-d", "--name", "web", "-p", fmt.Sprintf("127.0.0.1:%d:80", port), "bb",
		"sh", "-c", "mkdir -p /www && echo served > /www/index.html && exec httpd -f -p 80 -h /www")
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	if got := fetch(t, url); got != "served\n" {
		t.Fatalf("GET %s: %q", url, got)
	}

	// An open client connection from the host.
	conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	for _, args := range [][]string{{"--leave-running"}, {"--tcp-established"}} {
		res := e.run(t, append(append([]string{"container", "checkpoint"}, args...), "web")...)
		if res.Code == 0 {
			// CRIU can dump the sockets here: the server must answer after
			// a restore.
			if args[0] == "--tcp-established" {
				e.must(t, "container", "restore", "--tcp-established", "web")
			}
			if got := fetch(t, url); got != "served\n" {
				t.Fatalf("after checkpoint %v the server answers %q", args, got)
			}
			continue
		}
		if res.Code != 125 {
			t.Fatalf("checkpoint %v: exit %d", args, res.Code)
		}
		assertOneLine(t, res.Stderr, "CRIU cannot dump its inet sockets", "tcp", ":80 (listening) of httpd", "CRIU says", "still running")
		if st := e.inspect(t, "web").State.Status; st != "running" {
			t.Fatalf("after the refused checkpoint %v the container is %s", args, st)
		}
		if got := fetch(t, url); got != "served\n" {
			t.Fatalf("after the refused checkpoint %v the server answers %q", args, got)
		}
	}
	// The client connection opened before is still served.
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := fmt.Fprintf(conn, "GET / HTTP/1.0\r\n\r\n"); err != nil {
		t.Fatalf("writing on the open connection: %v", err)
	}
	buf := make([]byte, 4096)
	n, _ := conn.Read(buf)
	if !strings.Contains(string(buf[:n]), "200 OK") {
		t.Fatalf("the open connection got %q", buf[:n])
	}
}
