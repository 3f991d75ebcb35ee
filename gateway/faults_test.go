package gateway_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ticketvelo/ticketvelo/internal/testenv"
)

// TestPostgresOutageAtTheGateway: the gateway's Postgres goes away (cut:
// connections drop, new ones are refused; stall: nothing answers, as after
// a black-holed failover) while fans register, sign in and read events.
// Every answer is 2xx, 4xx or 503 unavailable with Retry-After, within the
// store timeout (the hash wait on top for sign-ins), never 500; event
// pages a gateway has seen keep being served; once Postgres is back,
// registration and sign-in work again without restarting anything.
func TestPostgresOutageAtTheGateway(t *testing.T) {
	t.Parallel()
	outages := []struct {
		name       string
		start, end func(*testing.T, *testenv.Proxy)
	}{
		{"cut", func(_ *testing.T, p *testenv.Proxy) { p.Cut() }, func(t *testing.T, p *testenv.Proxy) {
			if err := p.Restore(); err != nil {
				t.Fatal(err)
			}
		}},
		{"stall", func(_ *testing.T, p *testenv.Proxy) { p.Stall() }, func(_ *testing.T, p *testenv.Proxy) { p.Resume() }},
	}
	for _, o := range outages {
		t.Run(o.name, func(t *testing.T) {
			t.Parallel()
			e := newEdge(t, edgeOptions{pgProxy: true, cfg: noLimits})
			fan, _ := e.register(t, "before@example.com")
			ops := e.opsToken(t)
			ev := e.event(t, 50, time.Now().Add(time.Hour))
			eventPath := fmt.Sprintf("/api/v1/events/%d", ev)
			for _, p := range []string{"/api/v1/events", eventPath} {
				if r := e.call(t, "GET", p, "", nil); r.status != 200 {
					t.Fatalf("GET %s: %d %s", p, r.status, r.raw)
				}
			}

			o.start(t, e.pgProxy)
			type req struct {
				name, method, path, token, body string
				mustFail                        bool // needs Postgres: 503 is the only honest answer
			}
			reqs := []req{
				{"register", "POST", "/api/v1/auth/register", "", `{"email":"during@example.com","password":"a long passphrase","name":"Fan"}`, true},
				{"login", "POST", "/api/v1/auth/login", "", `{"email":"before@example.com","password":"a long passphrase"}`, true},
				{"me", "GET", "/api/v1/me", fan, "", true},
				{"unseen event", "GET", fmt.Sprintf("/api/v1/events/%d", ev+1000), "", "", true},
				{"ops venues", "GET", "/api/v1/admin/venues", ops, "", true},
				{"seen event", "GET", eventPath, "", "", false},
				{"event list", "GET", "/api/v1/events", "", "", false},
			}
			bound := 2500 * time.Millisecond
			for round := range 2 {
				for _, q := range reqs {
					start := time.Now()
					r := e.do(t, q.method, q.path, q.token, q.body)
					took := time.Since(start)
					switch {
					case r.status == 503 && (r.code() != "unavailable" || r.header.Get("Retry-After") == ""):
						t.Errorf("%s (round %d): 503 %q, Retry-After %q; want unavailable with Retry-After", q.name, round, r.code(), r.header.Get("Retry-After"))
					case r.status >= 500 && r.status != 503:
						t.Errorf("%s (round %d): got %d %s, want 2xx, 4xx or 503", q.name, round, r.status, r.raw)
					case q.mustFail && r.status != 503:
						t.Errorf("%s (round %d): got %d %s without Postgres, want 503", q.name, round, r.status, r.raw)
					case !q.mustFail && r.status != 200:
						t.Errorf("%s (round %d): got %d %s, want the page the gateway has", q.name, round, r.status, r.raw)
					}
					limit := bound
					if q.name == "register" || q.name == "login" {
						limit += e.cfg.Hashing.Wait
					}
					if took > limit {
						t.Errorf("%s (round %d) answered %d after %s, want within %s", q.name, round, r.status, took.Round(time.Millisecond), limit)
					}
				}
			}

			o.end(t, e.pgProxy)
			testenv.Eventually(t, 10*time.Second, func() error {
				r := e.do(t, "POST", "/api/v1/auth/login", "", `{"email":"before@example.com","password":"a long passphrase"}`)
				if r.status != 200 {
					return fmt.Errorf("login once Postgres is back: %d %s", r.status, r.raw)
				}
				return nil
			})
			if r := e.do(t, "POST", "/api/v1/auth/register", "", `{"email":"after@example.com","password":"a long passphrase","name":"Fan"}`); r.status != 201 {
				t.Errorf("register once Postgres is back: %d %s", r.status, r.raw)
			}
		})
	}
}

// do sends a JSON body (or none) with the token and returns the answer,
// whatever its status.
func (e *edge) do(t *testing.T, method, path, token, body string) reply {
	t.Helper()
	req, err := http.NewRequest(method, e.base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	r, err := e.send(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return r
}
