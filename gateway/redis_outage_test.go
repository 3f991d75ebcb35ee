package gateway_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ticketvelo/ticketvelo/internal/config"
	"github.com/ticketvelo/ticketvelo/internal/testenv"
)

// TestQueueThroughARedisOutage: the node that holds an event's queue goes
// away (cut: connections drop and new ones are refused, as when a master
// dies; stall: nothing answers, as in a black-holed failover) while 24
// fans poll a queue of 300. Fans far from the front keep getting their
// place from the gateway's memory; fans near it, and joins, get 503 with
// Retry-After, nearly all at once: one call at a time waits to find out
// whether Redis is back, the rest are not held. Nothing waits past the
// store timeout. Once Redis is back every fan has the place they had.
func TestQueueThroughARedisOutage(t *testing.T) {
	t.Parallel()
	outages := []struct {
		name       string
		start, end func(*testenv.Proxy)
	}{
		{"cut", (*testenv.Proxy).Cut, func(p *testenv.Proxy) {
			if err := p.Restore(); err != nil {
				panic(err)
			}
		}},
		{"stall", (*testenv.Proxy).Stall, (*testenv.Proxy).Resume},
	}
	for _, o := range outages {
		t.Run(o.name, func(t *testing.T) {
			t.Parallel()
			e := newEdge(t, edgeOptions{redisProxy: true, cfg: noLimits})
			q := e.pausedQueue(t, 300)
			before := q.pollAll(t, e)

			o.start(e.redisProxy)
			outage := q.pollAll(t, e)
			join := e.do(t, "POST", q.path, e.fanToken(t, 100_000), "")
			o.end(e.redisProxy)

			far, fast := 0, 0
			for i, r := range outage {
				switch {
				case r.status == 200 && r.ahead != before[i].ahead:
					t.Errorf("fan %d during the outage: %d ahead, had %d", i, r.ahead, before[i].ahead)
				case r.status == 200:
					far++
				case r.status != 503 || r.retryAfter == "":
					t.Errorf("fan %d during the outage: %d (Retry-After %q), want 200 from memory or 503 with Retry-After", i, r.status, r.retryAfter)
				}
				if r.took > config.Default().StoreTimeout+500*time.Millisecond {
					t.Errorf("fan %d waited %s during the outage, past the store timeout", i, r.took.Round(time.Millisecond))
				}
				if r.took < 200*time.Millisecond {
					fast++
				}
			}
			t.Logf("during the outage: %d of %d answered from memory, %d within 200 ms", far, len(outage), fast)
			if far < 150 {
				t.Errorf("%d of 300 fans answered from memory during the outage, want the ~180 far from the front", far)
			}
			if fast < len(outage)*9/10 {
				t.Errorf("%d of %d polls answered within 200 ms during the outage: requests queued on the dead node", fast, len(outage))
			}
			if join.status != 503 || join.header.Get("Retry-After") == "" {
				t.Errorf("a join during the outage: %d %s, want 503 with Retry-After", join.status, join.raw)
			}
			testenv.Eventually(t, 10*time.Second, func() error {
				for i, r := range q.pollAll(t, e) {
					if r.status != 200 || r.ahead != before[i].ahead {
						return fmt.Errorf("fan %d after the outage: %d, %d ahead; had %d", i, r.status, r.ahead, before[i].ahead)
					}
				}
				return nil
			})
		})
	}
}

// pausedQueue is an open queue of n fans that does not move: admission is
// paused.
type pausedQueue struct {
	event            int64
	path             string
	tokens, receipts []string
}

func (e *edge) pausedQueue(t *testing.T, n int) pausedQueue {
	t.Helper()
	ev := e.event(t, 50, time.Now().Add(-time.Minute))
	admin := fmt.Sprintf("/api/v1/admin/events/%d/admission", ev)
	if r := e.call(t, "PUT", admin, e.opsToken(t), map[string]any{"rate_per_second": 50, "max_active": 100, "paused": true, "auto": false}); r.status != 200 {
		t.Fatalf("pausing admission: %d %s", r.status, r.raw)
	}
	e.controller(t) // runs the (empty) draw that opens the queue
	q := pausedQueue{event: ev, path: fmt.Sprintf("/api/v1/events/%d/queue", ev)}
	for i := range n {
		q.tokens = append(q.tokens, e.fanToken(t, int64(i+1)))
		r := e.do(t, "POST", q.path, q.tokens[i], "")
		if r.status != 201 {
			t.Fatalf("join %d: %d %s", i, r.status, r.raw)
		}
		q.receipts = append(q.receipts, r.str("place_receipt"))
	}
	testenv.Eventually(t, 5*time.Second, func() error {
		if r := e.do(t, "GET", fmt.Sprintf("/api/v1/events/%d", ev), "", ""); r.str("event", "waiting_room", "state") != "paused" {
			return fmt.Errorf("waiting room %v, want paused", r.get("event", "waiting_room"))
		}
		return nil
	})
	return q
}

type pollResult struct {
	status     int
	state      string
	ahead      int64
	retryAfter string
	took       time.Duration
}

// pollAll polls every fan once, 24 at a time.
func (q pausedQueue) pollAll(t *testing.T, e *edge) []pollResult {
	t.Helper()
	out := make([]pollResult, len(q.tokens))
	var wg sync.WaitGroup
	next := make(chan int)
	for range 24 {
		wg.Go(func() {
			for i := range next {
				start := time.Now()
				r := e.do(t, "GET", q.path, q.tokens[i], "")
				out[i] = pollResult{r.status, r.str("state"), int64(r.num("ahead")), r.header.Get("Retry-After"), time.Since(start)}
			}
		})
	}
	for i := range q.tokens {
		next <- i
	}
	close(next)
	wg.Wait()
	return out
}
