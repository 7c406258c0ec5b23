package registry

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// Proxy is a TCP proxy on 127.0.0.1 in front of a registry that limits the
// rate of each direction, so that fault tests can act while a transfer is
// under way.
type Proxy struct {
	Addr string
	l    net.Listener
	mu   sync.Mutex
	open map[net.Conn]bool
	// Bytes counts bytes sent from the client to the registry.
	bytes int64
}

// StartProxy starts a proxy to target ("127.0.0.1:PORT") passing at most
// rate bytes per second per connection and direction; it stops at the end
// of the test.
func StartProxy(t testing.TB, target string, rate int) *Proxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{Addr: l.Addr().String(), l: l, open: map[net.Conn]bool{}}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go p.serve(c, target, rate)
		}
	}()
	t.Cleanup(p.Close)
	return p
}

// Uploaded returns how many bytes clients have sent through the proxy.
func (p *Proxy) Uploaded() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.bytes
}

func (p *Proxy) track(c net.Conn, on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if on {
		p.open[c] = true
	} else {
		delete(p.open, c)
	}
}

func (p *Proxy) serve(c net.Conn, target string, rate int) {
	defer c.Close()
	b, err := net.Dial("tcp", target)
	if err != nil {
		return
	}
	defer b.Close()
	p.track(c, true)
	p.track(b, true)
	defer p.track(c, false)
	defer p.track(b, false)
	done := make(chan struct{}, 2)
	go func() { p.pipe(b, c, rate, true); done <- struct{}{} }()
	go func() { p.pipe(c, b, rate, false); done <- struct{}{} }()
	<-done
}

func (p *Proxy) pipe(dst, src net.Conn, rate int, upload bool) {
	buf := make([]byte, 16<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if upload {
				p.mu.Lock()
				p.bytes += int64(n)
				p.mu.Unlock()
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
			if rate > 0 {
				time.Sleep(time.Duration(float64(n) / float64(rate) * float64(time.Second)))
			}
		}
		if err != nil {
			if err != io.EOF {
				return
			}
			if tc, ok := dst.(*net.TCPConn); ok {
				_ = tc.CloseWrite()
			}
			return
		}
	}
}

// Close stops the proxy and cuts every connection.
func (p *Proxy) Close() {
	p.l.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.open {
		c.Close()
	}
}
