package booker

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

func TestHoldIdempotency(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	h.serve()
	fans := h.users(2)
	ana, bob := fans[0], fans[1]

	first := h.holdSeats(ana, "same", 4, 5)
	if first.status != 201 {
		t.Fatalf("hold: got %d %s", first.status, first.body)
	}
	// The same request again, seats in another order and repeated: the
	// first answer, byte for byte.
	again := h.holdSeats(ana, "same", 5, 4, 4)
	if again.status != 201 || string(again.body) != string(first.body) || again.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay: got %d %s, want the first answer replayed", again.status, again.body)
	}
	if r := h.holdSeats(ana, "same", 4, 6); r.status != 422 || r.code() != "idempotency_key_reused" {
		t.Fatalf("same key, other seats: got %d %s, want 422 idempotency_key_reused", r.status, r.body)
	}
	// A conflict is an answer too: replayed even once the seat is free.
	conflict := h.holdSeats(bob, "b", 5)
	if conflict.status != 409 {
		t.Fatalf("bob: got %d %s, want 409", conflict.status, conflict.body)
	}
	var held struct{ Hold holdJSON }
	first.decode(t, &held)
	if r := h.call("DELETE", "/api/v1/holds/"+held.Hold.ID, h.access(ana), "", ""); r.status != 204 {
		t.Fatalf("release: got %d %s", r.status, r.body)
	}
	if r := h.holdSeats(bob, "b", 5); r.status != 409 || string(r.body) != string(conflict.body) {
		t.Errorf("bob's replay: got %d %s, want the first 409", r.status, r.body)
	}
	if r := h.holdSeats(bob, "b-new", 5); r.status != 201 {
		t.Errorf("bob with a new key: got %d %s, want 201", r.status, r.body)
	}

	// Redis loses everything: the created hold's answer survives in
	// Postgres and is replayed, not turned into a 409 by the rebuilt bitmap.
	if err := flushPrefix(h); err != nil {
		t.Fatal(err)
	}
	bobHold := h.holdSeats(bob, "b-new", 5)
	if bobHold.status != 201 || bobHold.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay after Redis loss: got %d %s, want the 201 replayed", bobHold.status, bobHold.body)
	}
	// Redis loses only the key's record: the key reused with other seats
	// reaches Postgres, which still knows the first request; the 422 must
	// not overwrite the record of the first, whose replay still works.
	if err := h.redis.Do(context.Background(), h.redis.B().Del().Key(h.svc.redis.IdemKey(h.eventID, bob, "b-new")).Build()).Error(); err != nil {
		t.Fatal(err)
	}
	if r := h.holdSeats(bob, "b-new", 6); r.status != 422 || r.code() != "idempotency_key_reused" {
		t.Fatalf("key reused after its record was lost: got %d %s, want 422", r.status, r.body)
	}
	if r := h.holdSeats(bob, "b-new", 5); r.status != 201 || string(r.body) != string(bobHold.body) {
		t.Fatalf("first request again: got %d %s, want its 201 replayed", r.status, r.body)
	}

	var n int
	if err := h.pool.QueryRow(context.Background(), `SELECT count(*) FROM holds WHERE user_id = $1`, bob).Scan(&n); err != nil || n != 1 {
		t.Errorf("bob's holds: got %d (%v), want 1", n, err)
	}
	checkInvariants(t, h.pool, h.eventID)
}

// TestHoldDuplicatesInFlight: fifty copies of one request at once make one
// hold; the others replay it or are told it is still running.
func TestHoldDuplicatesInFlight(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	h.serve()
	fan := h.users(1)[0]
	entered := make(chan struct{}, 1)
	h.svc.hooks.beforeHoldTx = func([]int) {
		select {
		case entered <- struct{}{}:
			time.Sleep(300 * time.Millisecond)
		default:
		}
	}
	var wg sync.WaitGroup
	replies := make([]reply, 50)
	for i := range replies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			replies[i] = h.holdSeats(fan, "dup", 10, 11)
		}()
	}
	wg.Wait()
	counts := map[string]int{}
	for _, r := range replies {
		counts[fmt.Sprintf("%d %s", r.status, r.code())]++
	}
	if counts["201 "] < 1 || counts["201 "]+counts["409 request_in_flight"] != 50 {
		t.Fatalf("answers: got %v, want 201s and 409 request_in_flight only", counts)
	}
	var n int
	if err := h.pool.QueryRow(context.Background(), `SELECT count(*) FROM holds`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("holds: got %d (%v), want exactly 1", n, err)
	}
	checkInvariants(t, h.pool, h.eventID)
}

func TestConfirmIdempotency(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{cfg: func(c *Config) { c.PaymentTimeout = 200 * time.Millisecond }})
	h.serve()
	fan := h.users(1)[0]
	acc := h.access(fan)
	var a, b struct{ Hold holdJSON }
	h.holdSeats(fan, "h1", 1).decode(t, &a)
	h.holdSeats(fan, "h2", 2).decode(t, &b)
	confirmA := "/api/v1/holds/" + a.Hold.ID + "/confirm"

	start := time.Now()
	r := h.call("POST", confirmA, acc, "pay", `{"payment_token":"tok_timeout"}`)
	if r.status != 503 || r.code() != "payment_timeout" || r.header.Get("Retry-After") == "" || time.Since(start) < 200*time.Millisecond {
		t.Fatalf("timeout: got %d %s after %s, want 503 payment_timeout with Retry-After after the payment timeout", r.status, r.body, time.Since(start))
	}
	// A timeout is not kept: the same key may try again, with another card
	// it is another request.
	if r := h.call("POST", confirmA, acc, "pay", `{"payment_token":"tok_timeout"}`); r.status != 503 || r.header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("retry after timeout: got %d %s, want a fresh 503", r.status, r.body)
	}
	first := h.call("POST", confirmA, acc, "pay2", `{"payment_token":"tok_visa"}`)
	if first.status != 201 {
		t.Fatalf("confirm: got %d %s", first.status, first.body)
	}
	again := h.call("POST", confirmA, acc, "pay2", `{"payment_token":"tok_visa"}`)
	if again.status != 201 || string(again.body) != string(first.body) {
		t.Fatalf("replayed confirm: got %d %s, want the first answer", again.status, again.body)
	}
	if r := h.call("POST", "/api/v1/holds/"+b.Hold.ID+"/confirm", acc, "pay2", `{"payment_token":"tok_visa"}`); r.status != 422 || r.code() != "idempotency_key_reused" {
		t.Fatalf("key reused on another hold: got %d %s, want 422", r.status, r.body)
	}
	// A payment that times out while another request pays for the hold
	// does not say the hold is still there to pay for.
	confirmB := "/api/v1/holds/" + b.Hold.ID + "/confirm"
	slow := make(chan reply)
	go func() { slow <- h.call("POST", confirmB, acc, "slow", `{"payment_token":"tok_timeout"}`) }()
	time.Sleep(50 * time.Millisecond)
	if r := h.call("POST", confirmB, acc, "fast", `{"payment_token":"tok_visa"}`); r.status != 201 {
		t.Fatalf("confirm beside a slow payment: got %d %s", r.status, r.body)
	}
	if r := <-slow; r.status != 409 || r.code() != "hold_not_active" {
		t.Errorf("the slow payment, once the hold was paid for: got %d %s, want 409 hold_not_active", r.status, r.body)
	}
	var orders, outbox int
	ctx := context.Background()
	if err := h.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM orders), (SELECT count(*) FROM outbox)`).Scan(&orders, &outbox); err != nil || orders != 2 || outbox != 2 {
		t.Fatalf("orders %d outbox %d (%v), want 2 and 2", orders, outbox, err)
	}
	checkInvariants(t, h.pool, h.eventID)
}

// TestPerFanLimitUnderConcurrency: a fan with a limit of 4 sends 40 holds
// for different seats at once; Postgres lets exactly 4 seats through.
func TestPerFanLimitUnderConcurrency(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{maxPerFan: 4, poolConns: 12})
	h.serve()
	fan := h.users(1)[0]
	var wg sync.WaitGroup
	replies := make([]reply, 40)
	for i := range replies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			replies[i] = h.holdSeats(fan, fmt.Sprint("k", i), 20+i)
		}()
	}
	wg.Wait()
	counts := map[string]int{}
	for _, r := range replies {
		counts[fmt.Sprintf("%d %s", r.status, r.code())]++
		if r.status == 429 && r.header.Get("Retry-After") == "" {
			t.Errorf("429 without Retry-After")
		}
	}
	if counts["201 "] != 4 || counts["429 ticket_limit"] != 36 {
		t.Fatalf("answers: got %v, want 4 holds and 36 ticket_limit", counts)
	}
	// One request over the limit can never pass: 422, not a 429 to wait out.
	if r := h.holdSeats(h.users(1)[0], "big", 90, 91, 92, 93, 94); r.status != 422 || r.code() != "ticket_limit" {
		t.Errorf("one request over the limit: got %d %s, want 422 ticket_limit", r.status, r.body)
	}
	checkInvariants(t, h.pool, h.eventID)
}
