package testenv

import (
	"net"
	neturl "net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/ticketvelo/ticketvelo/internal/redisconn"
)

// Proxy forwards TCP to a target until it is cut, so a test can take a
// shared service (Redis, say) away from one program while it keeps running
// for everyone else, and give it back. It can also stall: connections stay
// open and new ones are accepted, but no byte passes, as when a server
// vanishes without closing anything (a black-holed failover).
type Proxy struct {
	target string
	addr   string
	mu     sync.Mutex
	ln     net.Listener
	conns  []net.Conn
	// Each direction's gate is closed while bytes flow that way; a stall
	// replaces it with an open channel that Resume closes.
	requests, replies chan struct{}
	delay             time.Duration // added to every chunk forwarded: a slow server
}

// StartProxy listens on a loopback port and forwards each connection to
// target; it is cut when the test ends.
func StartProxy(tb testing.TB, target string) *Proxy {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	p := &Proxy{target: target, addr: ln.Addr().String(), ln: ln, requests: flowing(), replies: flowing()}
	go p.serve(ln)
	tb.Cleanup(p.Cut)
	return p
}

func (p *Proxy) serve(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, up)
		p.mu.Unlock()
		go func() { p.copy(up, c, &p.requests); up.Close() }()
		go func() { p.copy(c, up, &p.replies); c.Close() }()
	}
}

// copy forwards src to dst, holding each read back while its direction's
// gate is stalled.
func (p *Proxy) copy(dst, src net.Conn, gate *chan struct{}) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			resumed, delay := *gate, p.delay
			p.mu.Unlock()
			<-resumed
			if delay > 0 {
				time.Sleep(delay)
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// SetDelay holds every chunk back d before forwarding it, both ways: each
// round trip through the proxy takes 2d longer, as with a server slowed
// by a busy machine. 0 ends it.
func (p *Proxy) SetDelay(d time.Duration) {
	p.mu.Lock()
	p.delay = d
	p.mu.Unlock()
}

// Stall stops every byte in both directions without closing anything: the
// target seems to hang. Resume lets the bytes go again.
func (p *Proxy) Stall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	stall(&p.requests)
	stall(&p.replies)
}

// StallReplies stops the target's answers only: what the program sends
// still arrives and takes effect, but it never hears so, as when a
// connection breaks after the server acted.
func (p *Proxy) StallReplies() {
	p.mu.Lock()
	defer p.mu.Unlock()
	stall(&p.replies)
}

// Resume ends a stall: what was held back goes on, as after a network
// partition heals.
func (p *Proxy) Resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	resume(p.requests)
	resume(p.replies)
}

func flowing() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}

func stall(gate *chan struct{}) {
	select {
	case <-*gate:
		*gate = make(chan struct{})
	default: // already stalled
	}
}

func resume(gate chan struct{}) {
	select {
	case <-gate:
	default:
		close(gate)
	}
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.addr }

// Cut stops listening and drops every connection: the target is unreachable.
func (p *Proxy) Cut() {
	p.Resume() // the held-back copies end on the closed connections
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ln.Close()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// Restore listens again on the same address after a Cut: the target is
// back, as after a restart.
func (p *Proxy) Restore() error {
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go p.serve(ln)
	return nil
}

// ProxyPostgres puts a Proxy between a program and the Postgres server of
// url (a postgres:// URL naming host:port) and returns the URL to give the
// program instead, so a test can cut its database away from it alone.
func ProxyPostgres(tb testing.TB, url string) (string, *Proxy) {
	tb.Helper()
	u, err := neturl.Parse(url)
	if err != nil || u.Host == "" {
		tb.Fatalf("ProxyPostgres: %q is not a postgres://host:port URL: %v", url, err)
	}
	target := u.Host
	if u.Port() == "" {
		target = net.JoinHostPort(u.Hostname(), "5432")
	}
	p := StartProxy(tb, target)
	u.Host = p.Addr()
	return u.String(), p
}

// ProxyRedis opens a Redis client that reaches the test Redis through a
// Proxy, so a test can cut or stall Redis for one program alone.
func ProxyRedis(tb testing.TB) (rueidis.Client, *Proxy) {
	tb.Helper()
	target := strings.TrimSuffix(strings.TrimPrefix(redisURL, "redis://"), "/0")
	p := StartProxy(tb, target)
	client, err := redisconn.Open("redis://" + p.Addr() + "/0")
	if err != nil {
		tb.Fatalf("Redis through a proxy: %v", err)
	}
	tb.Cleanup(client.Close)
	return client, p
}
