package booker

import (
	"context"
	"testing"

	"github.com/ticketvelo/ticketvelo/internal/salekeys"
)

// TestOpsStatsCountHoldsConflictsAndOrders makes a hold, loses a race for
// its seat, replays the hold and confirms it, all over HTTP on the real
// stores: the sample the booker writes to Redis counts one hold made, one
// refused (the replay counts for neither) and one order, and the bookers'
// sample counts the requests with none failed.
func TestOpsStatsCountHoldsConflictsAndOrders(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{seats: 20})
	h.serve()
	u := h.users(2)
	ana, bob := u[0], u[1]
	var held struct{ Hold holdJSON }
	r := h.holdSeats(ana, "a1", 3)
	if r.status != 201 {
		t.Fatalf("hold: got %d %s, want 201", r.status, r.body)
	}
	r.decode(t, &held)
	if r := h.holdSeats(bob, "b1", 3); r.status != 409 {
		t.Fatalf("rival hold: got %d %s, want 409", r.status, r.body)
	}
	if r := h.holdSeats(ana, "a1", 3); r.status != 201 || r.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay: got %d %v, want a 201 replay", r.status, r.header)
	}
	if r := h.call("POST", "/api/v1/holds/"+held.Hold.ID+"/confirm", h.access(ana), "c1", `{"payment_token":"tok_visa"}`); r.status != 201 {
		t.Fatalf("confirm: got %d %s, want 201", r.status, r.body)
	}

	start := h.svc.ops.start
	if err := h.svc.ops.flush(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	got, err := h.redis.Do(context.Background(), h.redis.B().Hgetall().Key(salekeys.OpsSample(h.prefix, h.eventID, start)).Build()).AsStrMap()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{salekeys.OpsHoldsCreated: "1", salekeys.OpsHoldsConflict: "1", salekeys.OpsOrders: "1"}
	for f, v := range want {
		if got[f] != v {
			t.Errorf("event sample %s: got %q, want %q (all: %v)", f, got[f], v, got)
		}
	}
	bk, err := h.redis.Do(context.Background(), h.redis.B().Hgetall().Key(salekeys.OpsBookers(h.prefix, start)).Build()).AsStrMap()
	if err != nil {
		t.Fatal(err)
	}
	if bk[salekeys.OpsRequests] != "4" || bk[salekeys.OpsErrors] != "0" || bk[salekeys.OpsP99Prefix+h.svc.ops.instance] == "" {
		t.Errorf("bookers' sample: got %v, want 4 requests, 0 errors and this booker's p99", bk)
	}
	ttl, err := h.redis.Do(context.Background(), h.redis.B().Ttl().Key(salekeys.OpsSample(h.prefix, h.eventID, start)).Build()).AsInt64()
	if err != nil || ttl <= 0 || ttl > salekeys.OpsKeep {
		t.Errorf("event sample TTL: got %d s (%v), want within %d s", ttl, err, salekeys.OpsKeep)
	}
}

// TestOrderEventID reads the event of a confirm's answer.
func TestOrderEventID(t *testing.T) {
	for body, want := range map[string]int64{
		`{"order":{"id":"x","event_id":42,"status":"confirmed"}}`: 42,
		`{"order":{"event_id": 7}}`:                               7,
		`{"error":{}}`:                                            0,
	} {
		if got := orderEventID([]byte(body)); got != want {
			t.Errorf("orderEventID(%s): got %d, want %d", body, got, want)
		}
	}
}
