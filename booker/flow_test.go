package booker

import (
	"fmt"
	"testing"
)

// TestHoldConfirmCancel walks one fan through the whole flow over HTTP.
func TestHoldConfirmCancel(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	h.serve()
	fan := h.users(2)
	ana, bob := fan[0], fan[1]

	r := h.holdSeats(ana, "k1", 13, 12, 12)
	if r.status != 201 {
		t.Fatalf("hold: got %d %s, want 201", r.status, r.body)
	}
	var held struct{ Hold holdJSON }
	r.decode(t, &held)
	if len(held.Hold.Seats) != 2 || held.Hold.Seats[0].ID != 12 || held.Hold.Seats[1].ID != 13 || held.Hold.Status != "active" {
		t.Fatalf("hold: got %+v, want seats 12 and 13, active", held.Hold)
	}
	if held.Hold.TotalCents != 10000 || held.Hold.Currency != "GBP" {
		t.Errorf("hold total: got %d %s, want 10000 GBP", held.Hold.TotalCents, held.Hold.Currency)
	}

	// Bob asks for one of Ana's seats: 409 naming it.
	r = h.holdSeats(bob, "b1", 13, 14)
	if r.status != 409 || r.code() != "seat_taken" {
		t.Fatalf("overlapping hold: got %d %s, want 409 seat_taken", r.status, r.body)
	}
	var taken struct {
		Error struct {
			Details struct {
				SeatIDs []int `json:"seat_ids"`
			} `json:"details"`
		} `json:"error"`
	}
	r.decode(t, &taken)
	if fmt.Sprint(taken.Error.Details.SeatIDs) != "[13]" {
		t.Errorf("taken seats: got %v, want [13]", taken.Error.Details.SeatIDs)
	}

	// Bob may not see, confirm or release Ana's hold.
	path := "/api/v1/holds/" + held.Hold.ID
	if r := h.call("GET", path, h.access(bob), "", ""); r.status != 403 || r.code() != "not_your_hold" {
		t.Errorf("other fan's GET: got %d %s, want 403 not_your_hold", r.status, r.body)
	}
	if r := h.call("POST", path+"/confirm", h.access(bob), "c0", `{"payment_token":"tok_visa"}`); r.status != 403 {
		t.Errorf("other fan's confirm: got %d %s, want 403", r.status, r.body)
	}
	if r := h.call("GET", path, h.access(ana), "", ""); r.status != 200 {
		t.Errorf("GET hold: got %d %s, want 200", r.status, r.body)
	}

	// A declined payment keeps the hold; then a good one makes the order.
	r = h.call("POST", path+"/confirm", h.access(ana), "c1", `{"payment_token":"tok_declined"}`)
	if r.status != 402 || r.code() != "payment_declined" {
		t.Fatalf("declined: got %d %s, want 402 payment_declined", r.status, r.body)
	}
	r = h.call("POST", path+"/confirm", h.access(ana), "c2", `{"payment_token":"tok_visa"}`)
	if r.status != 201 {
		t.Fatalf("confirm: got %d %s, want 201", r.status, r.body)
	}
	var ordered struct{ Order orderJSON }
	r.decode(t, &ordered)
	if ordered.Order.Status != "confirmed" || len(ordered.Order.Tickets) != 2 || ordered.Order.TotalCents != 10000 {
		t.Fatalf("order: got %+v", ordered.Order)
	}
	if h.adm.doneCount(h.eventID, ana) != 1 {
		t.Errorf("admission slot: got %d Done calls, want 1", h.adm.doneCount(h.eventID, ana))
	}
	// Confirming again with another key: the hold is no longer active.
	if r := h.call("POST", path+"/confirm", h.access(ana), "c3", `{"payment_token":"tok_visa"}`); r.status != 409 || r.code() != "hold_not_active" {
		t.Errorf("second confirm: got %d %s, want 409 hold_not_active", r.status, r.body)
	}
	if r := h.call("DELETE", path, h.access(ana), "", ""); r.status != 409 {
		t.Errorf("release of a confirmed hold: got %d %s, want 409", r.status, r.body)
	}

	var outbox int
	if err := h.pool.QueryRow(t.Context(), `SELECT count(*) FROM outbox WHERE key = $1 AND type = 'booking.confirmed'
		AND payload->'buyer'->>'email' LIKE 'fan%' AND jsonb_array_length(payload->'tickets') = 2`, ordered.Order.ID).Scan(&outbox); err != nil || outbox != 1 {
		t.Errorf("outbox rows for the order: got %d (%v), want 1", outbox, err)
	}

	r = h.call("GET", "/api/v1/orders", h.access(ana), "", "")
	var list struct{ Orders []orderJSON }
	r.decode(t, &list)
	if r.status != 200 || len(list.Orders) != 1 || list.Orders[0].ID != ordered.Order.ID || len(list.Orders[0].Tickets) != 2 {
		t.Fatalf("orders: got %d %s", r.status, r.body)
	}
	if r := h.call("GET", "/api/v1/orders", h.access(bob), "", ""); r.status != 200 || string(r.body) != "{\"orders\":[]}\n" {
		t.Errorf("bob's orders: got %d %s, want none", r.status, r.body)
	}

	// Bob cannot cancel Ana's order; Ana can, twice with one key.
	cancel := "/api/v1/orders/" + ordered.Order.ID + "/cancel"
	if r := h.call("POST", cancel, h.access(bob), "x1", ""); r.status != 404 {
		t.Errorf("other fan's cancel: got %d %s, want 404", r.status, r.body)
	}
	r = h.call("POST", cancel, h.access(ana), "x1", "")
	if r.status != 200 {
		t.Fatalf("cancel: got %d %s, want 200", r.status, r.body)
	}
	again := h.call("POST", cancel, h.access(ana), "x1", "")
	if again.status != 200 || string(again.body) != string(r.body) || again.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("replayed cancel: got %d %s, want the first answer replayed", again.status, again.body)
	}
	var canceled int
	if err := h.pool.QueryRow(t.Context(), `SELECT count(*) FROM outbox WHERE key = $1 AND type = 'booking.canceled'`, ordered.Order.ID).Scan(&canceled); err != nil || canceled != 1 {
		t.Errorf("canceled outbox rows: got %d (%v), want 1", canceled, err)
	}
	// The seats are free again: Bob gets them.
	if r := h.holdSeats(bob, "b2", 13, 14); r.status != 201 {
		t.Fatalf("hold after cancel: got %d %s, want 201", r.status, r.body)
	}
	checkInvariants(t, h.pool, h.eventID)
}
