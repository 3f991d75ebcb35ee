package booker

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ticketvelo/ticketvelo/internal/bookingevent"
	"github.com/ticketvelo/ticketvelo/internal/kafka"
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

	// The outbox row is what the notifier consumes: self-contained and valid.
	var topic, typ string
	var payload []byte
	if err := h.pool.QueryRow(t.Context(), `SELECT topic, type, payload FROM outbox WHERE key = $1`, ordered.Order.ID).Scan(&topic, &typ, &payload); err != nil {
		t.Fatalf("outbox row of the order: %v", err)
	}
	e, err := bookingevent.Decode(payload)
	if err != nil || topic != kafka.BookingEvents || typ != bookingevent.Confirmed || e.Type != typ {
		t.Fatalf("outbox row: topic %s type %s, event %+v, %v", topic, typ, e, err)
	}
	if e.OrderID != ordered.Order.ID || e.Buyer.UserID != ana || !strings.HasPrefix(e.Buyer.Email, "fan") || e.Buyer.Name == "" ||
		e.Show.EventID != h.eventID || e.Show.Name == "" || e.Show.Timezone != "UTC" || e.Show.StartsAt.IsZero() ||
		len(e.Tickets) != 2 || e.Tickets[0].SeatNo != 12 || e.Tickets[0].Section != "S1" || e.Tickets[0].Row != "1" || e.Tickets[0].Number != 13 ||
		e.Tickets[0].ID != ordered.Order.Tickets[0].ID || e.TotalCents != 10000 || e.Currency != "GBP" {
		t.Errorf("booking event: got %+v", e)
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
	var canceledOrder struct{ Order orderJSON }
	h.call("POST", cancel, h.access(ana), "x2", "").decode(t, &canceledOrder)
	if canceledOrder.Order.Status != "canceled" || canceledOrder.Order.CanceledAt == nil || len(canceledOrder.Order.Tickets) != 2 {
		t.Errorf("cancel again with a new key: got %+v, want the canceled order", canceledOrder.Order)
	}
	var canceled int
	if err := h.pool.QueryRow(t.Context(), `SELECT count(*) FROM outbox WHERE key = $1 AND type = 'booking.canceled'`, ordered.Order.ID).Scan(&canceled); err != nil || canceled != 1 {
		t.Errorf("canceled outbox rows: got %d (%v), want 1", canceled, err)
	}
	// The seats are free again: Bob gets them, and lets them go.
	r = h.holdSeats(bob, "b2", 13, 14)
	if r.status != 201 {
		t.Fatalf("hold after cancel: got %d %s, want 201", r.status, r.body)
	}
	var bobs struct{ Hold holdJSON }
	r.decode(t, &bobs)
	if r := h.call("DELETE", "/api/v1/holds/"+bobs.Hold.ID, h.access(bob), "", ""); r.status != 204 {
		t.Fatalf("release: got %d %s, want 204", r.status, r.body)
	}
	// Releasing is part of choosing: Bob keeps his admission.
	if n := h.adm.doneCount(h.eventID, bob); n != 0 {
		t.Errorf("a released hold ended the admission (%d done), want it kept", n)
	}
	if r := h.holdSeats(bob, "b3", 15); r.status != 201 {
		t.Fatalf("hold after a release: got %d %s, want 201", r.status, r.body)
	} else {
		r.decode(t, &bobs)
		h.call("DELETE", "/api/v1/holds/"+bobs.Hold.ID, h.access(bob), "", "")
	}
	if got := seatStatus(t, h.pool, h.eventID); got["held"] != 0 || got["sold"] != 0 {
		t.Errorf("seats at the end: got %v, want all available", got)
	}
	checkInvariants(t, h.pool, h.eventID)
}
