package booker

import (
	"context"
	"errors"
	"testing"

	"github.com/ticketvelo/ticketvelo/booker/redisstore"
	"github.com/valyala/fasthttp"
)

// The seat rules without HTTP: holdRules over the two real stores, called
// as the handler calls them, counting what each decision cost Postgres.

// holdRequest is a validated request for seats by user with key, under
// the fan's live admission.
func (h *harness) holdRequest(user int64, key string, body holdBody) *holdRequest {
	h.t.Helper()
	h.admission(user)
	h.adm.mu.Lock()
	exp := h.adm.tokens[user].exp
	h.adm.mu.Unlock()
	req, err := parseHold(mustEvent(h.t, h), body)
	if err != nil {
		h.t.Fatal(err)
	}
	req.userID, req.key, req.requestID, req.admissionExp = user, key, "req-"+key, exp
	return req
}

// ruleStep is one call of the hold rules and what it must cost.
type ruleStep struct {
	name    string
	user    int // index into the test's fans
	key     string
	body    holdBody
	status  int    // of the answer
	err     error  // instead of an answer
	decided string // the outcome/layer counted, "" for none
	holdTx  int64  // hold transactions it may run
}

func TestHoldRules(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{maxPerFan: 4})
	fans := h.users(3)
	steps := []ruleStep{
		{name: "free seats are held in one transaction", user: 0, key: "a", body: holdBody{SeatIDs: []int{5, 6}},
			status: fasthttp.StatusCreated, decided: "created/postgres", holdTx: 1},
		{name: "a taken seat is refused by the bitmap, before Postgres", user: 1, key: "b", body: holdBody{SeatIDs: []int{6, 7}},
			status: fasthttp.StatusConflict, decided: "conflict/bitmap"},
		{name: "a retry with the key replays without Postgres", user: 0, key: "a", body: holdBody{SeatIDs: []int{5, 6}},
			status: fasthttp.StatusCreated, decided: "replayed/idempotency"},
		{name: "the key with another request is refused", user: 0, key: "a", body: holdBody{SeatIDs: []int{9}},
			err: errKeyReused},
		{name: "a refusal replays too", user: 1, key: "b", body: holdBody{SeatIDs: []int{6, 7}},
			status: fasthttp.StatusConflict, decided: "replayed/idempotency"},
		{name: "over the fan's limit Postgres refuses", user: 0, key: "c", body: holdBody{SeatIDs: []int{20, 21, 22}},
			status: fasthttp.StatusTooManyRequests, decided: "limit/postgres", holdTx: 1},
		{name: "best available holds seats together", user: 2, key: "d", body: holdBody{Section: ptr(mustEvent(t, h).sections[0].Name), Quantity: ptr(2)},
			status: fasthttp.StatusCreated, decided: "created/postgres", holdTx: 1},
	}
	for _, s := range steps {
		before := h.svc.Stats()
		a, err := h.svc.holds.createHold(context.Background(), h.holdRequest(fans[s.user], s.key, s.body))
		after := h.svc.Stats()
		switch {
		case s.err != nil && !errors.Is(err, s.err):
			t.Errorf("%s: got error %v, want %v", s.name, err, s.err)
		case s.err == nil && err != nil:
			t.Errorf("%s: got error %v, want %d", s.name, err, s.status)
		case s.err == nil && a.status != s.status:
			t.Errorf("%s: got %d %s, want %d", s.name, a.status, a.body, s.status)
		}
		if n := after.HoldTransactions - before.HoldTransactions; n != s.holdTx {
			t.Errorf("%s: ran %d hold transactions, want %d", s.name, n, s.holdTx)
		}
		if s.decided != "" && after.Decided[s.decided] != before.Decided[s.decided]+1 {
			t.Errorf("%s: decided %v, want one more %s than %v", s.name, after.Decided, s.decided, before.Decided)
		}
	}
	checkInvariants(t, h.pool, h.eventID)
}

// TestHoldRulesColdBitmap: with the bitmap gone (Redis lost it) and its
// rebuild leased to another round, Postgres decides alone, in the hold's
// one transaction, and the seat is still not sold twice.
func TestHoldRulesColdBitmap(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	fans := h.users(2)
	ctx := context.Background()
	if a, err := h.svc.holds.createHold(ctx, h.holdRequest(fans[0], "a", holdBody{SeatIDs: []int{3}})); err != nil || a.status != fasthttp.StatusCreated {
		t.Fatalf("first hold: got %d %s %v, want 201", a.status, a.body, err)
	}
	if err := h.redis.Do(ctx, h.redis.B().Del().Key(h.svc.redis.TakenKey(h.eventID)).Build()).Error(); err != nil {
		t.Fatal(err)
	}
	before := h.svc.Stats()
	a, err := h.svc.holds.createHold(ctx, h.holdRequest(fans[1], "b", holdBody{SeatIDs: []int{3, 4}}))
	if err != nil || a.status != fasthttp.StatusConflict {
		t.Fatalf("hold of a held seat on a cold bitmap: got %d %s %v, want 409", a.status, a.body, err)
	}
	after := h.svc.Stats()
	if n := after.HoldTransactions - before.HoldTransactions; n != 1 {
		t.Errorf("ran %d hold transactions, want 1", n)
	}
	if after.Decided["conflict/postgres"] != before.Decided["conflict/postgres"]+1 {
		t.Errorf("decided %v, want one more conflict/postgres than %v", after.Decided, before.Decided)
	}
	checkInvariants(t, h.pool, h.eventID)
}

func ptr[T any](v T) *T { return &v }

// TestReplayRecord: each kind of record replays as the answer its request
// got first (or would get: 409 in flight, 422 for another request).
func TestReplayRecord(t *testing.T) {
	const hash = "0123456789abcdef0123456789abcdef"
	done := answer{status: 201, body: []byte(`{"hold":{}}` + "\n")}
	limit := answer{status: 429, body: []byte(`{"error":{}}` + "\n"), retryAfter: 600}
	conflict := seatTakenAnswer([]int{4, 3}, "req-1")
	cases := []struct {
		name string
		rec  redisstore.Record
		want answer
		err  error
	}{
		{"an answer", doneRecord(hash, done), done, nil},
		{"an answer with Retry-After", doneRecord(hash, limit), limit, nil},
		{"a conflict the claim script answered", redisstore.ConflictPrefix(hash, "req-1") + "3,4", conflict, nil},
		{"a request still running", redisstore.PendingRecord(hash), answer{}, errInFlight},
		{"an outcome unknown", redisstore.UnknownRecord(hash), answer{}, errInFlight},
		{"another request's key", doneRecord("ffff"+hash[4:], done), answer{}, errKeyReused},
		{"a corrupt record", redisstore.ConflictPrefix(hash, "req-1") + "3,x", answer{}, redisstore.ErrCorrupt},
	}
	for _, c := range cases {
		got, err := replayRecord(c.rec, hash)
		if !errors.Is(err, c.err) {
			t.Errorf("%s: got error %v, want %v", c.name, err, c.err)
			continue
		}
		if err == nil && (got.status != c.want.status || string(got.body) != string(c.want.body) || got.retryAfter != c.want.retryAfter || !got.replayed) {
			t.Errorf("%s: got %d %q retry %d replayed %v, want %d %q retry %d replayed", c.name,
				got.status, got.body, got.retryAfter, got.replayed, c.want.status, c.want.body, c.want.retryAfter)
		}
	}
}
