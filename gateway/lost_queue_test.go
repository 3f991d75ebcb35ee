package gateway_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/ticketvelo/ticketvelo/gateway"
	"github.com/ticketvelo/ticketvelo/internal/salekeys"
	"github.com/ticketvelo/ticketvelo/internal/testenv"
)

// TestPlacesComeBackAfterTheQueueIsLost: an open queue of 40 fans loses
// every key in Redis (a node gone with its replica, a restart without
// persistence). The controller notices and holds admission; the fans poll
// back in reverse order, each with the place receipt their join gave them,
// and get their own place: the queue ends in its old order, a fan who
// joined after the loss stands behind all of them, nobody is admitted
// before the recovery window ends, and then the old front goes first. A
// poll without a receipt, or with another fan's, is told plainly the fan
// is not in the queue.
func TestPlacesComeBackAfterTheQueueIsLost(t *testing.T) {
	t.Parallel()
	const window = 3 * time.Second
	e := newEdge(t, edgeOptions{cfg: func(c *gateway.Config) {
		noLimits(c)
		c.Admission.RecoveryWindow = window
	}})
	q := e.pausedQueue(t, 40)
	receipts := q.receipts
	for _, tok := range q.tokens {
		// The join answers 201 with the receipt once; it is the client's to keep.
		r := e.do(t, "POST", q.path, tok, "")
		if r.status != 200 || r.str("place_receipt") != "" {
			t.Fatalf("a repeated join: %d %s, want 200 and no new receipt", r.status, r.raw)
		}
	}
	before := q.pollAll(t, e)

	ctx := context.Background()
	if err := testenv.DeletePrefix(ctx, e.redis, e.prefix); err != nil {
		t.Fatal(err)
	}
	lostAt := time.Now()
	testenv.Eventually(t, 5*time.Second, func() error {
		r := e.do(t, "GET", fmt.Sprintf("/api/v1/events/%d", q.event), "", "")
		if r.str("event", "waiting_room", "state") == "" {
			return fmt.Errorf("no waiting room yet: %s", r.raw)
		}
		n, err := e.redis.Do(ctx, e.redis.B().Hexists().Key(salekeys.Room(e.prefix, q.event)+"meta").Field("recover_until").Build()).AsBool()
		if err != nil || !n {
			return fmt.Errorf("the loss is not noticed yet (%v)", err)
		}
		return nil
	})
	late := e.do(t, "POST", q.path, e.fanToken(t, 1000), "")
	if late.status != 201 {
		t.Fatalf("a join after the loss: %d %s", late.status, late.raw)
	}
	if r := e.do(t, "GET", q.path, q.tokens[3], ""); r.status != 404 || r.code() != "not_in_queue" {
		t.Errorf("a lost fan without a receipt: %d %s, want 404 not_in_queue", r.status, r.raw)
	}
	if r := e.call(t, "GET", q.path, q.tokens[3], nil, "X-Place-Receipt", receipts[4]); r.status != 404 {
		t.Errorf("a lost fan with another fan's receipt: %d %s, want 404", r.status, r.raw)
	}
	for i := len(q.tokens) - 1; i >= 0; i-- {
		r := e.call(t, "GET", q.path, q.tokens[i], nil, "X-Place-Receipt", receipts[i])
		if r.status != 200 || r.str("state") != "waiting" {
			t.Fatalf("fan %d back with their receipt: %d %s, want waiting", i, r.status, r.raw)
		}
	}
	after := q.pollAll(t, e)
	for i := range after {
		if after[i].status != 200 || after[i].ahead != before[i].ahead {
			t.Errorf("fan %d after the restore: %d, %d ahead; had %d ahead", i, after[i].status, after[i].ahead, before[i].ahead)
		}
	}
	if r := e.do(t, "GET", q.path, e.fanToken(t, 1000), ""); r.num("ahead") != float64(len(q.tokens)) {
		t.Errorf("the fan who joined after the loss has %v ahead, want all %d restored fans", r.get("ahead"), len(q.tokens))
	}

	// The loss took ops' settings too: admission runs at the defaults once
	// the window is over, from the old front.
	var first []int
	testenv.Eventually(t, 15*time.Second, func() error {
		for i, r := range q.pollAll(t, e) {
			if r.state == "admitted" && !slices.Contains(first, i) {
				first = append(first, i)
			}
		}
		if len(first) == 0 {
			return fmt.Errorf("nobody admitted yet")
		}
		return nil
	})
	if since := time.Since(lostAt); since < window {
		t.Errorf("a fan was admitted %s after the loss, inside the %s recovery window", since.Round(time.Millisecond), window)
	}
	if !slices.Contains(first, 0) {
		t.Errorf("the first admitted were fans %v, not the old front (fan 0)", first)
	}
}

// TestALeaveIsNotUndoneByAReceipt: a fan who left (say on their laptop)
// while their phone still holds the receipt of the join stays out: the
// phone's next poll is told the fan is not in the queue, and nobody else's
// place moves.
func TestALeaveIsNotUndoneByAReceipt(t *testing.T) {
	t.Parallel()
	e := newEdge(t, edgeOptions{cfg: noLimits})
	q := e.pausedQueue(t, 3)
	if r := e.do(t, "DELETE", q.path, q.tokens[1], ""); r.status != 204 {
		t.Fatalf("leave: %d %s", r.status, r.raw)
	}
	if r := e.call(t, "GET", q.path, q.tokens[1], nil, "X-Place-Receipt", q.receipts[1]); r.status != 404 || r.code() != "not_in_queue" {
		t.Errorf("a poll with the receipt after leaving: %d %s, want 404 not_in_queue", r.status, r.raw)
	}
	if r := e.do(t, "GET", q.path, q.tokens[2], ""); r.num("ahead") != 1 {
		t.Errorf("the fan behind has %v ahead after the leave, want 1", r.get("ahead"))
	}
	if r := e.do(t, "POST", q.path, q.tokens[1], ""); r.status != 201 || r.num("ahead") != 2 {
		t.Errorf("joining again after leaving: %d %s, want 201 at the back", r.status, r.raw)
	}
}
