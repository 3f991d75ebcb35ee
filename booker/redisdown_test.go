package booker

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ticketvelo/ticketvelo/internal/redisconn"
	"github.com/ticketvelo/ticketvelo/internal/testenv"
)

// TestRedisUnreachableFallsBackToPostgres: with Redis gone, holds, orders
// and the seat map keep working on Postgres alone, overlapping holds still
// never share a seat, and the fallbacks are counted.
func TestRedisUnreachableFallsBackToPostgres(t *testing.T) {
	t.Parallel()
	target := strings.TrimSuffix(strings.TrimPrefix(testenv.RedisURL(), "redis://"), "/0")
	proxy := testenv.StartProxy(t, target)
	client, err := redisconn.Open("redis://" + proxy.Addr() + "/0")
	if err != nil {
		t.Skipf("Redis through the proxy: %v", err)
	}
	t.Cleanup(client.Close)
	h := newHarness(t, harnessOptions{redis: client, poolConns: 12})
	h.serve()
	fans := h.users(201)
	if r := h.holdSeats(fans[200], "before", 0); r.status != 201 {
		t.Fatalf("hold with Redis: got %d %s", r.status, r.body)
	}
	proxy.Cut()

	var wg sync.WaitGroup
	replies := make([]reply, 200)
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			replies[i] = h.holdSeats(fans[i], fmt.Sprint("k", i), 1+i%20, 1+(i+1)%20)
		}()
	}
	wg.Wait()
	counts := map[int]int{}
	for _, r := range replies {
		counts[r.status]++
		if r.status != 201 && r.status != 409 {
			t.Fatalf("hold without Redis: got %d %s, want 201 or 409", r.status, r.body)
		}
	}
	if counts[201] == 0 || counts[201] > 10 {
		t.Errorf("holds without Redis: got %v, want 1 to 10 successes on 20 seats in pairs", counts)
	}
	if h.svc.Stats().RedisFallbacks == 0 {
		t.Errorf("no fallback counted")
	}
	var held struct{ Hold holdJSON }
	for _, r := range replies {
		if r.status == 201 {
			r.decode(t, &held)
			break
		}
	}
	owner := fans[0]
	for i, r := range replies {
		if r.status == 201 && strings.Contains(string(r.body), held.Hold.ID) {
			owner = fans[i]
		}
	}
	if r := h.call("POST", "/api/v1/holds/"+held.Hold.ID+"/confirm", h.access(owner), "pay", `{"payment_token":"tok_visa"}`); r.status != 201 {
		t.Errorf("confirm without Redis: got %d %s, want 201", r.status, r.body)
	}
	// The map is at most a second stale, Redis or not.
	testenv.Eventually(t, time.Second, func() error {
		r := h.call("GET", fmt.Sprintf("/api/v1/events/%d/seats", h.eventID), "", "", "")
		if r.status != 200 || !strings.Contains(string(r.body), `"sold"`) {
			return fmt.Errorf("seat map without Redis: got %d %.200s, want 200 showing the sold seats", r.status, r.body)
		}
		return nil
	})
	checkInvariants(t, h.pool, h.eventID)
}
