package dropsim

import (
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// flakyBooker answers each hold and confirm first with 503 (a store
// away), then with 409 request_in_flight (the first attempt still holds
// the key), then for real, and remembers the Idempotency-Keys it saw.
type flakyBooker struct {
	mu    sync.Mutex
	tries map[string]int      // by method and path
	keys  map[string][]string // by method and path
}

func (b *flakyBooker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	b.mu.Lock()
	what := r.Method + " " + r.URL.Path
	b.tries[what]++
	n := b.tries[what]
	b.keys[what] = append(b.keys[what], r.Header.Get("Idempotency-Key"))
	b.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.Method == "GET" && strings.HasPrefix(r.URL.Path, "/api/v1/events/") && n == 1:
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(503)
		_, _ = io.WriteString(w, `{"error":{"code":"unavailable","message":"x"}}`)
	case r.Method == "GET":
		_, _ = io.WriteString(w, `{"event":{"sections":[{"name":"Floor","seats_left":10}]}}`)
	case n == 1:
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(503)
		_, _ = io.WriteString(w, `{"error":{"code":"unavailable","message":"x"}}`)
	case n == 2:
		w.WriteHeader(409)
		_, _ = io.WriteString(w, `{"error":{"code":"request_in_flight","message":"x"}}`)
	case strings.HasSuffix(r.URL.Path, "/holds"):
		w.WriteHeader(201)
		_, _ = io.WriteString(w, `{"hold":{"id":"h1","seats":[{"id":1}]}}`)
	default:
		w.WriteHeader(201)
		_, _ = io.WriteString(w, `{"order":{"id":"o1"}}`)
	}
}

// A fan whose event page, hold and payment each meet a 503 and then a
// request still in flight sends each again after Retry-After with the same
// Idempotency-Key, and buys: a fault costs a fan a second, not their seats.
// The report counts the 503s apart from the server errors that break a run.
func TestFansRetryUnavailableWithTheSameKey(t *testing.T) {
	t.Parallel()
	b := &flakyBooker{tries: map[string]int{}, keys: map[string][]string{}}
	srv := httptest.NewServer(b)
	defer srv.Close()
	rec := newRecorder()
	sim := &Simulation{api: newClient(srv.URL, 1), eventID: 7}
	j := &journey{sim: sim, fan: &fan{token: "t", ip: "10.0.0.1"}, rec: rec, want: 1, rng: rand.New(rand.NewPCG(1, 1))}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	if got := j.buy(ctx, "admission"); got != "bought" {
		t.Fatalf("outcome %q, want bought", got)
	}
	if d := time.Since(start); d < 2*time.Second {
		t.Errorf("bought after %s: the fan did not wait for Retry-After", d)
	}
	for what, keys := range b.keys {
		if strings.HasPrefix(what, "GET") {
			continue
		}
		if len(keys) != 3 || keys[0] == "" || keys[1] != keys[0] || keys[2] != keys[0] {
			t.Errorf("%s sent with keys %q, want three tries with one key", what, keys)
		}
	}
	rep := rec.report(time.Second, time.Now())
	if rep.Status503 != 2 || rep.Status5xx != 0 {
		t.Errorf("report: %d 503s and %d other 5xx, want the hold's and the payment's 503 and no server error", rep.Status503, rep.Status5xx)
	}
}
