package gateway_test

import (
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/ticketvelo/ticketvelo/gateway"
	"github.com/ticketvelo/ticketvelo/internal/config"
)

func tight(c *gateway.Config) {
	noLimits(c)
	c.RegisterPerIP = config.RateLimit{N: 3, Per: time.Minute}
	c.LoginPerAccountIP = config.RateLimit{N: 2, Per: time.Minute}
	c.JoinPerAccount = config.RateLimit{N: 2, Per: time.Minute}
	c.JoinPerIP = config.RateLimit{N: 5, Per: time.Minute}
}

// frozen stops the gateway's clock half an hour ahead, so the limits'
// windows, aligned on the clock, neither roll over in the middle of a test
// nor expire in Redis, whose clock is the real one.
func frozen() func() time.Time {
	at := time.Now().Add(30 * time.Minute)
	return func() time.Time { return at }
}

func retryAfter(t *testing.T, r reply) int {
	t.Helper()
	n, err := strconv.Atoi(r.header.Get("Retry-After"))
	if err != nil || n < 1 || n > 60 {
		t.Fatalf("Retry-After %q: want 1-60 seconds", r.header.Get("Retry-After"))
	}
	return n
}

func TestAbuseLimitsAnswer429WithRetryAfter(t *testing.T) {
	t.Parallel()
	e := newEdge(t, edgeOptions{cfg: tight, now: frozen()})

	// Registrations per address.
	for i := range 3 {
		if r := e.call(t, "POST", "/api/v1/auth/register", "", map[string]string{"email": fmt.Sprintf("f%d@example.com", i), "password": "a long passphrase", "name": "F"}); r.status != 201 {
			t.Fatalf("registration %d: %d %s", i, r.status, r.raw)
		}
	}
	r := e.call(t, "POST", "/api/v1/auth/register", "", map[string]string{"email": "f9@example.com", "password": "a long passphrase", "name": "F"})
	if r.status != 429 || r.code() != "rate_limited" {
		t.Fatalf("fourth registration: %d %s, want 429", r.status, r.raw)
	}
	retryAfter(t, r)
	if _, err := e.users.Login(t.Context(), "f9@example.com", "a long passphrase"); err == nil {
		t.Fatal("a refused registration created the account")
	}

	// Failed logins per account from one address, whatever the case of
	// the email.
	for _, email := range []string{"f0@example.com", "F0@EXAMPLE.com"} {
		if r := e.call(t, "POST", "/api/v1/auth/login", "", map[string]string{"email": email, "password": "wrong password!"}); r.status != 401 {
			t.Fatalf("login attempt: %d %s", r.status, r.raw)
		}
	}
	r = e.call(t, "POST", "/api/v1/auth/login", "", map[string]string{"email": "f0@example.com", "password": "a long passphrase"})
	if r.status != 429 {
		t.Fatalf("third login attempt on one account from one address: %d %s, want 429 even with the right password", r.status, r.raw)
	}
	retryAfter(t, r)
	if r := e.call(t, "POST", "/api/v1/auth/login", "", map[string]string{"email": "f1@example.com", "password": "a long passphrase"}); r.status != 200 {
		t.Fatalf("another account is not limited: %d %s", r.status, r.raw)
	}

	// Joins of an event per account (the join that makes the place and
	// two repeats), and per address.
	id := e.event(t, 10, time.Now().Add(-time.Minute))
	queue := fmt.Sprintf("/api/v1/events/%d/queue", id)
	one := e.fanToken(t, 1)
	for i := range 3 {
		if r := e.call(t, "POST", queue, one, nil); r.status >= 300 {
			t.Fatalf("join %d: %d %s", i, r.status, r.raw)
		}
	}
	r = e.call(t, "POST", queue, one, nil)
	if r.status != 429 || r.code() != "rate_limited" {
		t.Fatalf("fourth join of one account: %d %s", r.status, r.raw)
	}
	retryAfter(t, r)
	if r := e.call(t, "GET", queue, one, nil); r.status != 200 {
		t.Fatalf("polls are not limited: %d %s", r.status, r.raw)
	}
	// Four joins from this address so far, the refused one included: one
	// more fits in its 5.
	if r := e.call(t, "POST", queue, e.fanToken(t, 2), nil); r.status != 201 {
		t.Fatalf("join of user 2: %d %s", r.status, r.raw)
	}
	if r := e.call(t, "POST", queue, e.fanToken(t, 3), nil); r.status != 429 {
		t.Fatalf("join over the address limit: %d %s", r.status, r.raw)
	}
	o, _ := e.room.Overview(t.Context(), id, time.Now())
	if o.QueueLength != 2 {
		t.Fatalf("queue holds %d, want the 2 fans who got in", o.QueueLength)
	}
}

// TestForwardedForIsBelievedOnlyFromTrustedProxies: behind a trusted proxy
// each client address has its own allowance; from anyone else the header
// is ignored and cannot dodge the limit.
func TestForwardedForIsBelievedOnlyFromTrustedProxies(t *testing.T) {
	t.Parallel()
	_, loopback, _ := net.ParseCIDR("127.0.0.0/8")
	register := func(e *edge, n int, forwarded string) reply {
		return e.call(t, "POST", "/api/v1/auth/register", "", map[string]string{"email": fmt.Sprintf("u%d@example.com", n), "password": "a long passphrase", "name": "U"},
			"X-Forwarded-For", forwarded)
	}

	proxied := newEdge(t, edgeOptions{cfg: tight, trusted: []*net.IPNet{loopback}, now: frozen()})
	for i := range 3 {
		if r := register(proxied, i, "203.0.113.7"); r.status != 201 {
			t.Fatalf("behind the proxy, registration %d: %d %s", i, r.status, r.raw)
		}
	}
	if r := register(proxied, 3, "203.0.113.7"); r.status != 429 {
		t.Fatalf("fourth from one client behind the proxy: %d", r.status)
	}
	if r := register(proxied, 4, "198.51.100.1, 203.0.113.8"); r.status != 201 {
		t.Fatalf("another client behind the proxy: %d %s", r.status, r.raw)
	}

	direct := newEdge(t, edgeOptions{cfg: tight, now: frozen()})
	for i := range 3 {
		if r := register(direct, i, fmt.Sprintf("203.0.113.%d", i)); r.status != 201 {
			t.Fatalf("direct registration %d: %d %s", i, r.status, r.raw)
		}
	}
	if r := register(direct, 3, "203.0.113.99"); r.status != 429 {
		t.Fatalf("an untrusted peer changed its address with X-Forwarded-For: %d", r.status)
	}
}
