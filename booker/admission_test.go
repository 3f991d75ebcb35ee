package booker

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"
)

// TestHoldsNeedALiveAdmission: an admission token buys only while the
// admission it was signed for lives in the waiting room. After the fan
// leaves, orders (done), or their window passes, or once a newer admission
// replaced it, the next hold is 410 admission_expired naming why; a hold
// made while the admission lived can still be confirmed; and a retry of a
// request answered before still gets its first answer.
func TestHoldsNeedALiveAdmission(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	h.serve()
	fans := h.users(4)
	leaver, buyer, late, again := fans[0], fans[1], fans[2], fans[3]
	ctx := context.Background()

	// Left: the seats held before stay the fan's to pay for.
	tok := h.admission(leaver)
	first := h.holdSeats(leaver, "l1", 1)
	if first.status != 201 {
		t.Fatalf("hold while admitted: got %d %s", first.status, first.body)
	}
	if err := h.adm.end(ctx, h.eventID, leaver, ""); err != nil {
		t.Fatal(err)
	}
	wantExpired(t, h.call("POST", h.holdPath(), tok, "l2", `{"seat_ids":[2]}`), "left")
	if r := h.call("POST", h.holdPath(), tok, "l1", `{"seat_ids":[1]}`); r.status != 201 || r.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("retry of the hold made while admitted: got %d %s, want its 201 replayed", r.status, r.body)
	}
	var held struct{ Hold holdJSON }
	first.decode(t, &held)
	if r := h.call("POST", "/api/v1/holds/"+held.Hold.ID+"/confirm", h.access(leaver), "pay", `{"payment_token":"tok_visa"}`); r.status != 201 {
		t.Errorf("confirm after leaving: got %d %s, want 201", r.status, r.body)
	}

	// Done: the order ends the admission.
	tok = h.admission(buyer)
	h.holdSeats(buyer, "b1", 3).decode(t, &held)
	if r := h.call("POST", "/api/v1/holds/"+held.Hold.ID+"/confirm", h.access(buyer), "pay", `{"payment_token":"tok_visa"}`); r.status != 201 {
		t.Fatalf("confirm: got %d %s", r.status, r.body)
	}
	wantExpired(t, h.call("POST", h.holdPath(), tok, "b2", `{"seat_ids":[4]}`), "done")

	// Timeout: the window passed, though no step has swept the admission.
	tok = h.admission(late)
	h.clock.Advance(10 * time.Minute)
	wantExpired(t, h.call("POST", h.holdPath(), tok, "t1", `{"seat_ids":[5]}`), "timeout")

	// Replaced: a newer admission of the same fan makes the old token void.
	old := h.admission(again)
	h.clock.Advance(2 * time.Second)
	if err := h.adm.end(ctx, h.eventID, again, ""); err != nil {
		t.Fatal(err)
	}
	h.adm.mu.Lock()
	delete(h.adm.tokens, again)
	h.adm.mu.Unlock()
	fresh := h.admission(again)
	wantExpired(t, h.call("POST", h.holdPath(), old, "r1", `{"seat_ids":[6]}`), "replaced")
	if r := h.call("POST", h.holdPath(), fresh, "r2", `{"seat_ids":[6]}`); r.status != 201 {
		t.Errorf("hold with the newer admission: got %d %s, want 201", r.status, r.body)
	}
	if got := seatStatus(t, h.pool, h.eventID); got["held"] != 1 || got["sold"] != 2 {
		t.Errorf("seats: got %v, want 2 sold and the 1 held by the live admission", got)
	}
	checkInvariants(t, h.pool, h.eventID)
}

func wantExpired(t *testing.T, r reply, why string) {
	t.Helper()
	var e struct {
		Error struct {
			Code    string
			Details struct{ Reason string }
		}
	}
	r.decode(t, &e)
	if r.status != 410 || e.Error.Code != "admission_expired" || e.Error.Details.Reason != why {
		t.Errorf("hold: got %d %s, want 410 admission_expired for reason %s", r.status, r.body, why)
	}
}

// TestHoldAttemptsAreBoundedPerFan: a fan's hold attempts with fresh keys
// are capped per minute (429 with Retry-After); retries of a key answered
// before are free; refusals are kept in Redis only while the admission
// could retry them, so one admission cannot grow Redis without bound.
func TestHoldAttemptsAreBoundedPerFan(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{cfg: func(c *Config) { c.HoldAttempts = 5 }})
	h.serve()
	fans := h.users(2)
	if r := h.holdSeats(fans[0], "owner", 7); r.status != 201 {
		t.Fatalf("hold: got %d %s", r.status, r.body)
	}
	bot := fans[1]
	for i := range 5 {
		if r := h.holdSeats(bot, fmt.Sprint("k", i), 7); r.status != 409 {
			t.Fatalf("attempt %d: got %d %s, want 409", i, r.status, r.body)
		}
	}
	r := h.holdSeats(bot, "k5", 7)
	retry, _ := strconv.Atoi(r.header.Get("Retry-After"))
	if r.status != 429 || r.code() != "too_many_attempts" || retry < 1 || retry > 60 {
		t.Fatalf("attempt over the limit: got %d %s (Retry-After %q), want 429 too_many_attempts within a minute", r.status, r.body, r.header.Get("Retry-After"))
	}
	if r := h.holdSeats(bot, "k0", 7); r.status != 409 || r.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("retry of an answered key: got %d %s, want its 409 replayed", r.status, r.body)
	}
	// A refusal is kept for the admission's window and a minute, not a day.
	ttl, err := h.redis.Do(context.Background(), h.redis.B().Pttl().Key(h.svc.redis.IdemKey(h.eventID, bot, "k0")).Build()).AsInt64()
	if err != nil || ttl <= 0 || time.Duration(ttl)*time.Millisecond > 11*time.Minute {
		t.Errorf("TTL of a refusal's record: got %d ms (%v), want at most 11 minutes", ttl, err)
	}
	keys, err := h.redis.Do(context.Background(), h.redis.B().Keys().Pattern(h.prefix+"bk:*idem:"+strconv.FormatInt(bot, 10)+":*").Build()).AsStrSlice()
	if err != nil || len(keys) != 5 {
		t.Errorf("records of the bot's attempts: got %d (%v), want the 5 answered", len(keys), err)
	}
}

// TestAnOldHoldEndsOnlyItsOwnAdmission: a fan holds seats, leaves, comes
// back and is admitted again; when the old hold expires, whether the
// sweeper finds it or a confirm of it does, what ends is the admission it
// was made under, not the newer one, which still buys.
func TestAnOldHoldEndsOnlyItsOwnAdmission(t *testing.T) {
	t.Parallel()
	for _, found := range []string{"by the sweeper", "by a confirm"} {
		t.Run(found, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, harnessOptions{cfg: func(c *Config) { c.HoldTTL = time.Minute }})
			h.serve()
			fan := h.users(1)[0]
			ctx := context.Background()
			old := h.holdSeats(fan, "old", 1)
			if old.status != 201 {
				t.Fatalf("hold: got %d %s", old.status, old.body)
			}
			if err := h.adm.end(ctx, h.eventID, fan, ""); err != nil { // left
				t.Fatal(err)
			}
			h.adm.mu.Lock()
			delete(h.adm.tokens, fan)
			h.adm.mu.Unlock()
			h.clock.Advance(30 * time.Second)
			fresh := h.admission(fan) // back, admitted again
			h.clock.Advance(31 * time.Second)
			if found == "by the sweeper" {
				if n, err := h.svc.SweepOnce(ctx); err != nil || n != 1 {
					t.Fatalf("sweep: %d expired (%v), want the old hold", n, err)
				}
			} else {
				var held struct{ Hold holdJSON }
				old.decode(t, &held)
				if r := h.call("POST", "/api/v1/holds/"+held.Hold.ID+"/confirm", h.access(fan), "pay", `{"payment_token":"tok_visa"}`); r.status != 410 {
					t.Fatalf("confirm of the expired hold: got %d %s, want 410", r.status, r.body)
				}
			}
			if r := h.call("POST", h.holdPath(), fresh, "new", `{"seat_ids":[2]}`); r.status != 201 {
				t.Errorf("hold with the newer admission after the old hold expired: got %d %s, want 201", r.status, r.body)
			}
		})
	}
}

// TestARetryReplaysAfterTheAdmissionWindow: a client that lost the answer
// to its hold and retries once its admission token has expired gets that
// answer again (there is no other way to learn the hold's id); the token
// does nothing else: a new request is 410, and the key cannot be reused
// for other seats.
func TestARetryReplaysAfterTheAdmissionWindow(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	h.serve()
	fan := h.users(1)[0]
	tok := h.admission(fan)
	first := h.call("POST", h.holdPath(), tok, "k1", `{"seat_ids":[7]}`)
	if first.status != 201 {
		t.Fatalf("hold while admitted: got %d %s", first.status, first.body)
	}
	h.clock.Advance(10*time.Minute + time.Second)
	if r := h.call("POST", h.holdPath(), tok, "k1", `{"seat_ids":[7]}`); r.status != 201 || r.header.Get("Idempotent-Replayed") != "true" || string(r.body) != string(first.body) {
		t.Errorf("retry after the window: got %d %s, want the first 201 replayed", r.status, r.body)
	}
	wantExpired(t, h.call("POST", h.holdPath(), tok, "k2", `{"seat_ids":[8]}`), "timeout")
	if r := h.call("POST", h.holdPath(), tok, "k1", `{"seat_ids":[9]}`); r.status != 422 || r.code() != "idempotency_key_reused" {
		t.Errorf("the key with other seats after the window: got %d %s, want 422 idempotency_key_reused", r.status, r.body)
	}
	if got := seatStatus(t, h.pool, h.eventID); got["held"] > 1 {
		t.Errorf("seats: got %v, want at most the one hold made while admitted", got)
	}
	checkInvariants(t, h.pool, h.eventID)
}
