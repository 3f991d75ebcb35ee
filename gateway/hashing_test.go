package gateway_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/ticketvelo/ticketvelo/gateway"
	"github.com/ticketvelo/ticketvelo/identity"
)

// TestBusyHashingAnswers503: with one password hash at a time and a tiny
// wait for it, a burst of logins gets 503 unavailable with Retry-After for
// those that found no slot in time; the others get their true answer, 200
// or 401, and never a 500. Once the burst is over logins work again.
func TestBusyHashingAnswers503(t *testing.T) {
	t.Parallel()
	// Costs of a few milliseconds a hash, so the burst contends.
	slow := identity.Params{MemoryKiB: 8 * 1024, Time: 2, Threads: 1}
	e := newEdge(t, edgeOptions{hash: &slow, cfg: func(c *gateway.Config) {
		noLimits(c)
		c.Hashing.Concurrency = 1
		c.Hashing.Wait = time.Millisecond
	}})
	const fans = 4
	for i := range fans {
		e.register(t, fmt.Sprintf("burst%d@example.com", i))
	}

	const burst = 24
	type answer struct {
		right bool
		r     reply
	}
	answers := make([]answer, burst)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range burst {
		right := i%2 == 0
		password := "a long passphrase"
		if !right {
			password = "a wrong passphrase"
		}
		body, _ := json.Marshal(map[string]string{"email": fmt.Sprintf("burst%d@example.com", i%fans), "password": password})
		wg.Go(func() {
			req, _ := http.NewRequest("POST", e.base+"/api/v1/auth/login", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			<-start
			r, err := e.send(req)
			if err != nil {
				t.Errorf("login %d: %v", i, err)
			}
			answers[i] = answer{right, r}
		})
	}
	close(start)
	wg.Wait()

	var busy, served int
	for i, a := range answers {
		switch r := a.r; {
		case r.status == 503:
			busy++
			if r.code() != "unavailable" || r.header.Get("Retry-After") == "" || r.str("error", "request_id") == "" {
				t.Errorf("login %d: 503 %s with Retry-After %q, want the JSON error unavailable and a Retry-After", i, r.raw, r.header.Get("Retry-After"))
			}
		case a.right && r.status == 200 && r.str("access_token") != "", !a.right && r.status == 401 && r.code() == "bad_credentials":
			served++
		default:
			t.Errorf("login %d (right password %v): %d %s, want 503, or 200 / 401 as the password deserves", i, a.right, r.status, r.raw)
		}
	}
	t.Logf("%d logins served, %d answered 503", served, busy)
	if busy == 0 || served == 0 {
		t.Fatalf("%d logins served and %d busy: want some of each", served, busy)
	}
	for i := range fans {
		r := e.call(t, "POST", "/api/v1/auth/login", "", map[string]string{"email": fmt.Sprintf("burst%d@example.com", i), "password": "a long passphrase"})
		if r.status != 200 {
			t.Fatalf("login %d after the burst: %d %s, want 200 (a slot leaked?)", i, r.status, r.raw)
		}
	}
}
