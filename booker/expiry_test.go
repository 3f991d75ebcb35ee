package booker

import (
	"context"
	"testing"
	"time"
)

// TestExpiryReleasesSeats: a hold past its expiry is released by the
// sweeper (in Postgres and in the bitmap), its seats can be held again, and
// confirming it afterwards fails cleanly with 410.
func TestExpiryReleasesSeats(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	h.serve()
	fans := h.users(2)
	r := h.holdSeats(fans[0], "a", 7, 8, 9)
	if r.status != 201 {
		t.Fatalf("hold: got %d %s", r.status, r.body)
	}
	var held struct{ Hold holdJSON }
	r.decode(t, &held)
	if got := held.Hold.ExpiresAt.Sub(h.clock.Now()); got < 9*time.Minute || got > 10*time.Minute {
		t.Errorf("expires in %s, want the default 10 min", got)
	}
	if r := h.holdSeats(fans[1], "b", 8); r.status != 409 {
		t.Fatalf("hold of a held seat: got %d %s, want 409", r.status, r.body)
	}

	// Not yet: the sweeper leaves a live hold alone.
	h.clock.Advance(9 * time.Minute)
	if n, err := h.svc.SweepOnce(context.Background()); err != nil || n != 0 {
		t.Fatalf("early sweep: released %d (%v), want 0", n, err)
	}
	h.clock.Advance(2 * time.Minute)
	if n, err := h.svc.SweepOnce(context.Background()); err != nil || n != 1 {
		t.Fatalf("sweep: released %d (%v), want 1", n, err)
	}
	if got := seatStatus(t, h.pool, h.eventID); got["held"] != 0 {
		t.Errorf("seats after expiry: got %v, want none held", got)
	}
	if h.adm.doneCount(h.eventID, fans[0]) != 1 {
		t.Errorf("the expired buyer's admission slot was not freed")
	}
	taken, cold, err := h.svc.redis.TakenBits(context.Background(), h.eventID, h.seats, []int{7, 8, 9})
	if err != nil || cold || len(taken) != 0 {
		t.Errorf("bitmap after expiry: taken %v cold %v err %v, want all clear", taken, cold, err)
	}

	// Someone else holds the seats now, straight past the bitmap.
	if r := h.holdSeats(fans[1], "b2", 8); r.status != 201 {
		t.Fatalf("hold after expiry: got %d %s, want 201", r.status, r.body)
	}
	path := "/api/v1/holds/" + held.Hold.ID
	if r := h.call("POST", path+"/confirm", h.access(fans[0]), "c", `{"payment_token":"tok_visa"}`); r.status != 410 || r.code() != "hold_expired" {
		t.Fatalf("confirm after expiry: got %d %s, want 410 hold_expired", r.status, r.body)
	}
	var got struct{ Hold holdJSON }
	h.call("GET", path, h.access(fans[0]), "", "").decode(t, &got)
	if got.Hold.Status != "expired" {
		t.Errorf("expired hold's status: got %q", got.Hold.Status)
	}
	// Releasing an expired hold is a no-op success.
	if r := h.call("DELETE", path, h.access(fans[0]), "", ""); r.status != 204 {
		t.Errorf("release of an expired hold: got %d %s, want 204", r.status, r.body)
	}
	checkInvariants(t, h.pool, h.eventID)
}

// TestConfirmAfterExpiryBeforeSweep: the clock passed expires_at but no
// sweep ran: confirm still says 410 and frees the seats itself.
func TestConfirmAfterExpiryBeforeSweep(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	h.serve()
	fan := h.users(1)[0]
	r := h.holdSeats(fan, "a", 3)
	var held struct{ Hold holdJSON }
	r.decode(t, &held)
	h.clock.Advance(10*time.Minute + time.Second)
	if r := h.call("POST", "/api/v1/holds/"+held.Hold.ID+"/confirm", h.access(fan), "c", `{"payment_token":"tok_visa"}`); r.status != 410 {
		t.Fatalf("confirm: got %d %s, want 410", r.status, r.body)
	}
	if got := seatStatus(t, h.pool, h.eventID); got["held"] != 0 || got["sold"] != 0 {
		t.Errorf("seats: got %v, want all available", got)
	}
	// The same key replays the 410.
	if r := h.call("POST", "/api/v1/holds/"+held.Hold.ID+"/confirm", h.access(fan), "c", `{"payment_token":"tok_visa"}`); r.status != 410 || r.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("replay: got %d %s, want the 410 replayed", r.status, r.body)
	}
	checkInvariants(t, h.pool, h.eventID)
}

// TestSweepersInParallel: four sweepers on 400 expired holds release each
// exactly once.
func TestSweepersInParallel(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{seats: 1000, cfg: nil})
	h.svc.sweeper.batch = 25
	fans := h.users(100)
	ctx := context.Background()
	for i := range 400 {
		req := &holdRequest{ev: mustEvent(t, h), userID: fans[i%100], seats: []int{2 * i, 2*i + 1}, key: "k" + itoa(i), hash: "h"}
		if out, err := h.svc.holds.holdTx(ctx, req, req.seats, h.svc.now().Add(h.svc.holds.cfg.HoldTTL)); err != nil || out.created == nil {
			t.Fatalf("hold %d: %+v %v", i, out, err)
		}
	}
	h.clock.Advance(11 * time.Minute)
	counts := make(chan int, 4)
	for range 4 {
		go func() {
			n, err := h.svc.SweepOnce(ctx)
			if err != nil {
				t.Error(err)
			}
			counts <- n
		}()
	}
	total := 0
	for range 4 {
		total += <-counts
	}
	if total != 400 || h.svc.Stats().HoldsExpired != 400 {
		t.Fatalf("released %d holds (stats %d), want 400 exactly once each", total, h.svc.Stats().HoldsExpired)
	}
	checkInvariants(t, h.pool, h.eventID)
	if got := seatStatus(t, h.pool, h.eventID); got["available"] != 1000 {
		t.Errorf("seats: got %v, want all 1000 available", got)
	}
}
