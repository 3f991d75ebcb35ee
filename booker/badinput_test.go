package booker

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/ticketvelo/ticketvelo/internal/tokens"
)

// TestBadInput: every malformed or unauthorised request gets its 4xx JSON
// error, never a 5xx, and changes nothing.
func TestBadInput(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{maxPerFan: 4})
	h.serve()
	fans := h.users(2)
	fan := fans[0]
	adm, acc := h.admission(fan), h.access(fan)
	otherEvent, _, _ := h.ring.IssueAdmission(fan, h.eventID+1, time.Minute, h.svc.now())
	expired, _, _ := h.ring.IssueAdmission(fan, h.eventID, time.Minute, h.svc.now().Add(-time.Hour))
	otherKey, _ := tokens.GenerateKey()
	otherRing, _ := tokens.NewRing(otherKey)
	forged, _, _ := otherRing.IssueAdmission(fan, h.eventID, time.Minute, h.svc.now())
	// Genuine, but signed for an admission the waiting room never made.
	otherLive, _, _ := h.ring.IssueAdmission(fan, h.eventID, time.Hour, h.svc.now())
	none := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{"sub": fmt.Sprint(fan), "aud": "booker", "evt": h.eventID, "exp": time.Now().Add(time.Hour).Unix()})
	algNone, _ := none.SignedString(jwt.UnsafeAllowNoneSignatureType)
	hold := h.holdPath()
	var held struct{ Hold holdJSON }
	h.holdSeats(fans[1], "theirs", 50).decode(t, &held)

	cases := []struct {
		name, method, path, token, key, body string
		status                               int
		code                                 string
	}{
		{"no token", "POST", hold, "", "k", `{"seat_ids":[1]}`, 401, "token_missing"},
		{"garbage token", "POST", hold, "abc", "k", `{"seat_ids":[1]}`, 401, "token_malformed"},
		{"alg none", "POST", hold, algNone, "k", `{"seat_ids":[1]}`, 401, "token_alg"},
		{"forged", "POST", hold, forged, "k", `{"seat_ids":[1]}`, 401, "token_kid"},
		{"expired admission", "POST", hold, expired, "k", `{"seat_ids":[1]}`, 410, "admission_expired"},
		{"admission that is not live", "POST", hold, otherLive, "k", `{"seat_ids":[1]}`, 410, "admission_expired"},
		{"access token instead of admission", "POST", hold, acc, "k", `{"seat_ids":[1]}`, 401, "token_audience"},
		{"admission of another event", "POST", hold, otherEvent, "k", `{"seat_ids":[1]}`, 403, "token_event"},
		{"event id not a number", "POST", "/api/v1/events/abc/holds", adm, "k", `{"seat_ids":[1]}`, 404, "not_found"},
		{"no idempotency key", "POST", hold, adm, "", `{"seat_ids":[1]}`, 422, "invalid_field"},
		{"idempotency key too long", "POST", hold, adm, strings.Repeat("k", 201), `{"seat_ids":[1]}`, 422, "invalid_field"},
		{"malformed JSON", "POST", hold, adm, "k", `{"seat_ids":[1`, 400, "malformed_json"},
		{"trailing data", "POST", hold, adm, "k", `{"seat_ids":[1]} {}`, 400, "malformed_json"},
		{"unknown field", "POST", hold, adm, "k", `{"seat_ids":[1],"price":0}`, 422, "unknown_field"},
		{"seat ids of the wrong type", "POST", hold, adm, "k", `{"seat_ids":"1"}`, 422, "invalid_field"},
		{"no seats", "POST", hold, adm, "k", `{"seat_ids":[]}`, 422, "invalid_field"},
		{"empty object", "POST", hold, adm, "k", `{}`, 422, "invalid_field"},
		{"seat out of range", "POST", hold, adm, "k", fmt.Sprintf(`{"seat_ids":[1,%d]}`, h.seats), 422, "invalid_field"},
		{"negative seat", "POST", hold, adm, "k", `{"seat_ids":[-1]}`, 422, "invalid_field"},
		{"huge seat id", "POST", hold, adm, "k", `{"seat_ids":[1e300]}`, 422, "invalid_field"},
		{"too many seat ids", "POST", hold, adm, "k", `{"seat_ids":[` + strings.Repeat("1,", 200) + `1]}`, 422, "invalid_field"},
		{"over the per-fan limit", "POST", hold, adm, "k", `{"seat_ids":[1,2,3,4,5]}`, 422, "ticket_limit"},
		{"over the per-fan limit, best available", "POST", hold, adm, "k", `{"section":"S1","quantity":5}`, 422, "ticket_limit"},
		{"a null seat id", "POST", hold, adm, "k", `{"seat_ids":[null]}`, 422, "invalid_field"},
		{"both forms", "POST", hold, adm, "k", `{"seat_ids":[1],"section":"S1","quantity":1}`, 422, "invalid_field"},
		{"unknown section", "POST", hold, adm, "k", `{"section":"Nope","quantity":1}`, 422, "invalid_field"},
		{"zero quantity", "POST", hold, adm, "k", `{"section":"S1","quantity":0}`, 422, "invalid_field"},
		{"no quantity", "POST", hold, adm, "k", `{"section":"S1"}`, 422, "invalid_field"},
		{"confirm with a bad hold id", "POST", "/api/v1/holds/nope/confirm", acc, "k", `{"payment_token":"tok_visa"}`, 404, "hold_not_found"},
		{"confirm of an unknown hold", "POST", "/api/v1/holds/00000000-0000-4000-8000-000000000000/confirm", acc, "k", `{"payment_token":"tok_visa"}`, 404, "hold_not_found"},
		{"confirm with an unknown card", "POST", "/api/v1/holds/" + held.Hold.ID + "/confirm", acc, "k", `{"payment_token":"tok_amex"}`, 422, "invalid_field"},
		{"confirm with an admission token", "POST", "/api/v1/holds/" + held.Hold.ID + "/confirm", adm, "k", `{"payment_token":"tok_visa"}`, 401, "token_audience"},
		{"confirm of another fan's hold", "POST", "/api/v1/holds/" + held.Hold.ID + "/confirm", acc, "k2", `{"payment_token":"tok_visa"}`, 403, "not_your_hold"},
		{"release of another fan's hold", "DELETE", "/api/v1/holds/" + held.Hold.ID, acc, "", "", 403, "not_your_hold"},
		{"cancel of an unknown order", "POST", "/api/v1/orders/00000000-0000-4000-8000-000000000000/cancel", acc, "k3", "", 404, "order_not_found"},
		{"cancel with a body", "POST", "/api/v1/orders/00000000-0000-4000-8000-000000000000/cancel", acc, "k4", `{"why":1}`, 422, "unknown_field"},
		{"orders without a token", "GET", "/api/v1/orders", "", "", "", 401, "token_missing"},
		{"seat map of an unknown event", "GET", "/api/v1/events/999999/seats", "", "", "", 404, "event_not_found"},
	}
	for _, c := range cases {
		r := h.call(c.method, c.path, c.token, c.key, c.body)
		if r.status != c.status || r.code() != c.code {
			t.Errorf("%s: got %d %s, want %d %s", c.name, r.status, r.body, c.status, c.code)
		}
	}
	// Not JSON at all.
	r, err := h.rawPost(hold, adm, "k", "text/plain", `{"seat_ids":[1]}`)
	if err != nil || r.status != 415 {
		t.Errorf("text/plain body: got %d %s %v, want 415", r.status, r.body, err)
	}
	var holds int
	if err := h.pool.QueryRow(context.Background(), `SELECT count(*) FROM holds WHERE user_id = $1`, fan).Scan(&holds); err != nil || holds != 0 {
		t.Errorf("bad requests made %d holds (%v), want none", holds, err)
	}
	if got := seatStatus(t, h.pool, h.eventID); got["held"] != 1 {
		t.Errorf("seats: got %v, want only the other fan's hold", got)
	}
	checkInvariants(t, h.pool, h.eventID)
}
