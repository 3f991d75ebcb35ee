package booker

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ticketvelo/ticketvelo/internal/testenv"
)

// TestRedisUnreachableRefusesHoldsFast: with Redis gone the booker cannot
// tell a live admission from an ended one, so holds get 503 with
// Retry-After, at once rather than after a wait, and no seat changes hands;
// confirms and the seat map, which need Postgres alone, keep working; and
// holds work again when Redis is back.
func TestRedisUnreachableRefusesHoldsFast(t *testing.T) {
	t.Parallel()
	client, proxy := testenv.ProxyRedis(t)
	h := newHarness(t, harnessOptions{redis: client, poolConns: 12})
	h.serve()
	fans := h.users(201)
	before := h.holdSeats(fans[200], "before", 0)
	if before.status != 201 {
		t.Fatalf("hold with Redis: got %d %s", before.status, before.body)
	}
	for _, f := range fans[:200] {
		h.admission(f) // admitted while Redis was there
	}
	proxy.Cut()

	var wg sync.WaitGroup
	replies := make([]reply, 200)
	took := make([]time.Duration, 200)
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			replies[i] = h.holdSeats(fans[i], fmt.Sprint("k", i), 1+i%20, 1+(i+1)%20)
			took[i] = time.Since(start)
		}()
	}
	wg.Wait()
	for i, r := range replies {
		if r.status != 503 || r.code() != "unavailable" || r.header.Get("Retry-After") == "" {
			t.Fatalf("hold without Redis: got %d %s (Retry-After %q), want 503 unavailable with Retry-After",
				r.status, r.body, r.header.Get("Retry-After"))
		}
		if bound := 2 * time.Second; took[i] > bound {
			t.Errorf("hold without Redis took %s, want under %s", took[i], bound)
		}
	}
	if h.svc.Stats().RedisFallbacks == 0 {
		t.Errorf("no refusal for Redis counted")
	}
	if got := seatStatus(t, h.pool, h.eventID); got["held"] != 1 {
		t.Errorf("seats after the refused holds: got %v, want only the one held before", got)
	}
	var held struct{ Hold holdJSON }
	before.decode(t, &held)
	if r := h.call("POST", "/api/v1/holds/"+held.Hold.ID+"/confirm", h.access(fans[200]), "pay", `{"payment_token":"tok_visa"}`); r.status != 201 {
		t.Errorf("confirm without Redis: got %d %s, want 201", r.status, r.body)
	}
	// The map is at most a second stale, Redis or not.
	testenv.Eventually(t, time.Second, func() error {
		r := h.call("GET", fmt.Sprintf("/api/v1/events/%d/seats", h.eventID), "", "", "")
		if r.status != 200 || !strings.Contains(string(r.body), `"sold"`) {
			return fmt.Errorf("seat map without Redis: got %d %.200s, want 200 showing the sold seat", r.status, r.body)
		}
		return nil
	})

	if err := proxy.Restore(); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 5*time.Second, func() error {
		if r := h.holdSeats(fans[0], "after", 30); r.status != 201 {
			return fmt.Errorf("hold once Redis is back: got %d %s, want 201", r.status, r.body)
		}
		return nil
	})
	checkInvariants(t, h.pool, h.eventID)
}
