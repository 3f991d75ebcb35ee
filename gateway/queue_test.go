package gateway_test

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/ticketvelo/ticketvelo/admission"
	"github.com/ticketvelo/ticketvelo/internal/testenv"
	"github.com/ticketvelo/ticketvelo/internal/tokens"
)

// TestWaitingRoomJourneyOverHTTP: fans join before the opening, are drawn
// at it in the order the published seed gives, ahead of a fan who came
// later; they poll their way to admission and get an admission token for
// this event only; a fan who leaves is gone.
func TestWaitingRoomJourneyOverHTTP(t *testing.T) {
	t.Parallel()
	e := newEdge(t, edgeOptions{cfg: noLimits})
	ops := e.opsToken(t)
	opens := time.Now().Add(2 * time.Second)
	id := e.event(t, 100, opens)
	queue := fmt.Sprintf("/api/v1/events/%d/queue", id)
	if r := e.call(t, "PUT", fmt.Sprintf("/api/v1/admin/events/%d/admission", id), ops,
		map[string]any{"rate_per_second": 2, "max_active": 100, "paused": false, "auto": false}); r.status != 200 {
		t.Fatalf("settings: %d %s", r.status, r.raw)
	}

	early := []int64{11, 12, 13, 14, 15}
	tokenOf := map[int64]string{}
	for _, u := range early {
		tokenOf[u] = e.fanToken(t, u)
		r := e.call(t, "POST", queue, tokenOf[u], nil)
		if r.status != 201 || r.str("state") != "prequeue" || r.get("position") != nil || r.num("poll_after_ms") < 500 {
			t.Fatalf("early join of %d: %d %s", u, r.status, r.raw)
		}
	}
	if r := e.call(t, "POST", queue, tokenOf[11], nil); r.status != 200 || r.str("state") != "prequeue" {
		t.Fatalf("joining again: %d %s, want 200 and the same place", r.status, r.raw)
	}
	if r := e.call(t, "GET", queue, tokenOf[12], nil); r.status != 200 || r.str("state") != "prequeue" || r.str("sale_opens_at") != opens.UTC().Format(time.RFC3339) {
		t.Fatalf("poll before the opening: %d %s", r.status, r.raw)
	}

	e.controller(t)
	time.Sleep(time.Until(opens) + 100*time.Millisecond)
	late := e.fanToken(t, 99)
	if r := e.call(t, "POST", queue, late, nil); r.status != 201 || r.str("state") != "waiting" || r.num("position") != 6 || r.num("ahead") != 5 {
		t.Fatalf("join after the opening: %d %s, want waiting behind the 5 early fans", r.status, r.raw)
	}

	// The draw publishes its seed; the order follows from it.
	var seed string
	testenv.Eventually(t, 5*time.Second, func() error {
		r := e.call(t, "GET", fmt.Sprintf("/api/v1/events/%d", id), "", nil)
		if seed = r.str("event", "waiting_room", "draw_seed"); seed == "" || r.str("event", "waiting_room", "state") != "open" {
			return errors.New("not drawn yet: " + r.raw)
		}
		return nil
	})
	stats := e.call(t, "GET", fmt.Sprintf("/api/v1/admin/events/%d/stats", id), ops, nil)
	if stats.str("draw_seed") != seed {
		t.Fatalf("stats seed %q, event page seed %q", stats.str("draw_seed"), seed)
	}
	raw, _ := hex.DecodeString(seed)
	order := admission.DrawOrder(raw, early)

	// Each early fan's place, admitted or waiting, follows the draw: a fan
	// is admitted only when everyone drawn before them is.
	var admittedAt = map[int64]time.Time{}
	testenv.Eventually(t, 10*time.Second, func() error {
		for _, u := range order {
			if _, ok := admittedAt[u]; ok {
				continue
			}
			r := e.call(t, "GET", queue, tokenOf[u], nil)
			if r.status != 200 {
				return fmt.Errorf("poll of %d: %d %s", u, r.status, r.raw)
			}
			if r.str("state") == "admitted" {
				admittedAt[u] = time.Now()
				continue
			}
			if r.str("state") != "waiting" || r.num("eta_seconds") < 0 || r.get("eta_seconds") == nil {
				return fmt.Errorf("poll of %d: %s", u, r.raw)
			}
		}
		if len(admittedAt) < len(order) {
			return fmt.Errorf("%d of %d admitted", len(admittedAt), len(order))
		}
		return nil
	})
	for i := 1; i < len(order); i++ {
		if admittedAt[order[i]].Before(admittedAt[order[i-1]]) {
			t.Fatalf("user %d (drawn %d) was admitted before user %d (drawn %d)", order[i], i, order[i-1], i-1)
		}
	}

	r := e.call(t, "GET", queue, tokenOf[order[0]], nil)
	claims, err := e.ring.VerifyAdmission(r.str("admission_token"), id, time.Now())
	if err != nil || claims.UserID != order[0] || claims.EventID != id {
		t.Fatalf("admission token: %+v, %v", claims, err)
	}
	if _, err := e.ring.VerifyAdmission(r.str("admission_token"), id+1, time.Now()); !errors.Is(err, tokens.ErrWrongEvent) {
		t.Fatalf("admission token for another event: %v, want token_event", err)
	}
	if exp, err := time.Parse(time.RFC3339, r.str("admission_expires_at")); err != nil || !exp.Equal(claims.ExpiresAt) {
		t.Fatalf("admission_expires_at %q, token exp %v", r.str("admission_expires_at"), claims.ExpiresAt)
	}

	// Leaving frees the place; the fan is then not in the queue.
	if r := e.call(t, "DELETE", queue, late, nil); r.status != 204 {
		t.Fatalf("leave: %d %s", r.status, r.raw)
	}
	if r := e.call(t, "GET", queue, late, nil); r.status != 404 || r.code() != "not_in_queue" {
		t.Fatalf("poll after leaving: %d %s", r.status, r.raw)
	}
	if r := e.call(t, "GET", fmt.Sprintf("/api/v1/events/%d/queue", id+1000), late, nil); r.status != 404 || r.code() != "event_not_found" {
		t.Fatalf("queue of a missing event: %d %s", r.status, r.raw)
	}
	if r := e.call(t, "POST", queue, "", nil); r.status != 401 || r.code() != "token_missing" {
		t.Fatalf("join without a token: %d %s", r.status, r.raw)
	}
}

// TestOnePlaceUnderAThousandConcurrentHTTPJoins sends 1,000 joins of one
// account at once: exactly one makes the place (201), all report it.
func TestOnePlaceUnderAThousandConcurrentHTTPJoins(t *testing.T) {
	t.Parallel()
	e := newEdge(t, edgeOptions{cfg: noLimits})
	id := e.event(t, 10, time.Now().Add(-time.Minute))
	queue := fmt.Sprintf("/api/v1/events/%d/queue", id)
	for u := int64(1); u <= 5; u++ {
		e.call(t, "POST", queue, e.fanToken(t, u), nil)
	}
	token := e.fanToken(t, 777)
	var (
		mu        sync.Mutex
		statuses  = map[int]int{}
		positions = map[float64]int{}
		wg        sync.WaitGroup
		start     = make(chan struct{})
	)
	for range 1000 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			r := e.call(t, "POST", queue, token, nil)
			mu.Lock()
			statuses[r.status]++
			positions[r.num("position")]++
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	if statuses[http.StatusCreated] != 1 || statuses[http.StatusOK] != 999 {
		t.Fatalf("statuses %v, want one 201 and 999 200", statuses)
	}
	if len(positions) != 1 || positions[6] != 1000 {
		t.Fatalf("positions %v, want all at 6", positions)
	}
	o, err := e.room.Overview(t.Context(), id, time.Now())
	if err != nil || o.QueueLength+o.PrequeueLength+o.Active != 6 {
		t.Fatalf("waiting room holds %+v (%v), want 6 places", o, err)
	}
}
