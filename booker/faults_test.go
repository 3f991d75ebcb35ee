package booker

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"
)

// answerBound is how long any answer may take while a store is broken: the
// store timeout (2 s) and a little.
const answerBound = 2500 * time.Millisecond

// faultLog keeps every answer fans got while a store failed under them.
type faultLog struct {
	mu      sync.Mutex
	answers []faultAnswer
}

type faultAnswer struct {
	op, key    string
	at         time.Time
	took       time.Duration
	status     int
	code       string
	retryAfter string
	err        error
}

func (l *faultLog) add(op, key string, start time.Time, r reply, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.answers = append(l.answers, faultAnswer{op: op, key: key, at: start, took: time.Since(start),
		status: r.status, code: r.code(), retryAfter: r.header.Get("Retry-After"), err: err})
}

// check fails the test for any answer a store fault may not give: a 5xx
// other than 503 unavailable with Retry-After, or one that took longer than
// answerBound. It returns how many 503s there were.
func (l *faultLog) check(t *testing.T) (unavailable int) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	bad := 0
	for _, a := range l.answers {
		switch {
		case a.err != nil:
			t.Errorf("%s %s: %v", a.op, a.key, a.err)
		case a.status == 503 && (a.code != "unavailable" || a.retryAfter == ""):
			t.Errorf("%s %s: 503 %q with Retry-After %q, want unavailable with Retry-After", a.op, a.key, a.code, a.retryAfter)
		case a.status == 503:
			unavailable++
		case a.status >= 500:
			bad++
			if bad <= 5 {
				t.Errorf("%s %s: got %d %s, want 2xx, 4xx or 503", a.op, a.key, a.status, a.code)
			}
		}
		if a.took > answerBound {
			t.Errorf("%s %s answered %d after %s, want within %s", a.op, a.key, a.status, a.took.Round(time.Millisecond), answerBound)
		}
	}
	if bad > 5 {
		t.Errorf("%d answers were 5xx other than 503", bad)
	}
	return unavailable
}

// inFlightSpans is, per key, how long it answered 409 request_in_flight:
// from its first such answer to its last.
func (l *faultLog) inFlightSpans() map[string]time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	first, spans := map[string]time.Time{}, map[string]time.Duration{}
	for _, a := range l.answers {
		if a.code != "request_in_flight" {
			continue
		}
		if f, ok := first[a.key]; ok {
			spans[a.key] = a.at.Add(a.took).Sub(f)
		} else {
			first[a.key] = a.at
		}
	}
	return spans
}

// checkKeysFreed fails the test for a key that answered 409
// request_in_flight for longer than a few seconds. A failed request gives
// its key back at once; when that fails too, or when its claim reached
// Postgres only after it gave up (a statement held up in a stalled
// network lands when the network heals), the claim is taken over once
// stale: the store timeout and a second after it landed.
func checkKeysFreed(t *testing.T, log *faultLog) {
	t.Helper()
	for key, d := range log.inFlightSpans() {
		if d > 4*time.Second {
			t.Errorf("key %s answered request_in_flight for %s, want a failed request's key free within a few seconds", key, d.Round(time.Millisecond))
		}
	}
}

// retryUntilAnswered sends one request, again with the same key while the
// answer says to retry (503 with Retry-After, 409 request_in_flight), as a
// browser would, a little faster than Retry-After asks to keep the test
// short; it gives up when ctx ends.
func (h *harness) retryUntilAnswered(ctx context.Context, log *faultLog, op, method, path, token, key, body string) reply {
	for {
		start := time.Now()
		r, err := h.do(method, path, token, key, body)
		log.add(op, key, start, r, err)
		if err != nil || ctx.Err() != nil || (r.status != 503 && r.code() != "request_in_flight") {
			return r
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// faultyFan buys over and over while the test breaks Postgres under it:
// hold two seats of its own block, then confirm, release or just look at
// the hold, retrying each step with the same key until it is answered.
func (h *harness) faultyFan(ctx context.Context, log *faultLog, i int, user int64) {
	rng := rand.New(rand.NewPCG(uint64(i), 11))
	acc := h.access(user)
	for n := 0; ctx.Err() == nil; n++ {
		seat := i*10 + rng.IntN(9)
		key := fmt.Sprintf("h%d-%d", i, n)
		r := h.retryUntilAnswered(ctx, log, "hold", "POST", h.holdPath(), h.admission(user), key, jsonBody(map[string]any{"seat_ids": []int{seat, seat + 1}}))
		if r.status != 201 {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		var held struct{ Hold holdJSON }
		if err := jsonUnmarshal(r.body, &held); err != nil {
			log.add("hold", key, time.Now(), reply{}, err)
			return
		}
		path := "/api/v1/holds/" + held.Hold.ID
		switch rng.IntN(3) {
		case 0:
			h.retryUntilAnswered(ctx, log, "confirm", "POST", path+"/confirm", acc, "c"+key, `{"payment_token":"tok_visa"}`)
		case 1:
			h.retryUntilAnswered(ctx, log, "release", "DELETE", path, acc, "", "")
		default:
			h.retryUntilAnswered(ctx, log, "get", "GET", path, acc, "", "")
			h.retryUntilAnswered(ctx, log, "release", "DELETE", path, acc, "", "")
		}
	}
}

// TestPostgresCutMidRunAnswersFast503sAndRecovers: the booker's Postgres
// goes away for three seconds while forty fans hold, confirm and release
// (a restart: connections drop, new ones are refused). Every answer
// meanwhile is 2xx, 4xx or 503 unavailable with Retry-After, within the
// store timeout, never 500; a key whose request failed is free again
// within seconds; once Postgres is back holds and confirms work again
// without restarting anything, and no seat was sold twice.
func TestPostgresCutMidRunAnswersFast503sAndRecovers(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{seats: 400, poolConns: 8, realClock: true, pgProxy: true})
	runThroughOutage(t, h, h.pgProxy.Cut, func() {
		if err := h.pgProxy.Restore(); err != nil {
			t.Fatal(err)
		}
	})
}

// TestPostgresStallAnswersWithinTheStoreTimeout is the same with a
// Postgres that stops answering without closing anything (a failover whose
// old primary vanished): requests in flight and new connections hang, and
// only the store timeout ends them.
func TestPostgresStallAnswersWithinTheStoreTimeout(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{seats: 400, poolConns: 8, realClock: true, pgProxy: true})
	runThroughOutage(t, h, h.pgProxy.Stall, h.pgProxy.Resume)
}

// runThroughOutage runs forty fans for a second, breaks Postgres with
// outage for three, mends it with restore and runs them four more, then
// checks what they got.
func runThroughOutage(t *testing.T, h *harness, outage, restore func()) {
	h.serve()
	users := h.users(40)
	log := &faultLog{}
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i, u := range users {
		wg.Go(func() { h.faultyFan(ctx, log, i, u) })
	}
	time.Sleep(time.Second)
	outage()
	time.Sleep(3 * time.Second)
	restore()
	restored := time.Now()
	time.Sleep(4 * time.Second)
	stop()
	wg.Wait()

	unavailable := log.check(t)
	if unavailable == 0 {
		t.Errorf("no 503 while Postgres was away: the outage was not felt")
	}
	after := map[string]int{}
	for _, a := range log.answers {
		if a.at.After(restored.Add(time.Second)) && a.status < 300 {
			after[a.op]++
		}
	}
	if after["hold"] == 0 || after["confirm"]+after["release"] == 0 {
		t.Errorf("answers once Postgres was back: %v, want holds and confirms or releases to succeed again", after)
	}
	checkKeysFreed(t, log)
	t.Logf("%d answers, %d of them 503; successes once back: %v", len(log.answers), unavailable, after)
	checkInvariants(t, h.direct, h.eventID)
}

// TestTerminatedBackendsMidConfirms: the booker's Postgres connections are
// terminated (SQLSTATE 57P01, as in a restart) again and again while a
// hundred fans confirm their holds. No answer is 500; every confirm either
// succeeds or is answered 503 and then succeeds when retried with the same
// Idempotency-Key; every hold becomes exactly one order, and a replay of
// the key names that order.
func TestTerminatedBackendsMidConfirms(t *testing.T) {
	t.Parallel()
	const fans = 100
	h := newHarness(t, harnessOptions{seats: 400, poolConns: 8, realClock: true})
	h.serve()
	users := h.users(fans)
	holds := make([]string, fans)
	for i, u := range users {
		r := h.holdSeats(u, "h", 2*i, 2*i+1)
		if r.status != 201 {
			t.Fatalf("hold %d: got %d %s", i, r.status, r.body)
		}
		var held struct{ Hold holdJSON }
		r.decode(t, &held)
		holds[i] = held.Hold.ID
	}

	ctx, stop := context.WithTimeout(context.Background(), 30*time.Second)
	defer stop()
	terminated := make(chan int)
	go func() { terminated <- terminateBackends(ctx, h) }()
	log := &faultLog{}
	orders := make([]string, fans)
	var wg sync.WaitGroup
	for i, u := range users {
		wg.Go(func() {
			time.Sleep(time.Duration(i) * 8 * time.Millisecond) // spread over the terminations
			r := h.retryUntilAnswered(ctx, log, "confirm", "POST", "/api/v1/holds/"+holds[i]+"/confirm", h.access(u), "c", `{"payment_token":"tok_visa"}`)
			var o struct{ Order orderJSON }
			if r.status != 201 || jsonUnmarshal(r.body, &o) != nil {
				t.Errorf("confirm %d: got %d %s, want 201 in the end", i, r.status, r.body)
				return
			}
			orders[i] = o.Order.ID
		})
	}
	wg.Wait()
	stop()
	kills := <-terminated
	unavailable := log.check(t)
	t.Logf("%d backends terminated; %d answers, %d of them 503", kills, len(log.answers), unavailable)
	if kills == 0 {
		t.Fatal("no backend was terminated")
	}
	checkKeysFreed(t, log)

	var n, holdsWithOrders int
	if err := h.direct.QueryRow(context.Background(), `SELECT count(*), count(DISTINCT hold_id) FROM orders WHERE event_id = $1`, h.eventID).Scan(&n, &holdsWithOrders); err != nil {
		t.Fatal(err)
	}
	if n != fans || holdsWithOrders != fans {
		t.Errorf("%d orders for %d holds, want one order for each of the %d holds", n, holdsWithOrders, fans)
	}
	for i, u := range users[:10] {
		r := h.call("POST", "/api/v1/holds/"+holds[i]+"/confirm", h.access(u), "c", `{"payment_token":"tok_visa"}`)
		var o struct{ Order orderJSON }
		if r.status != 201 || jsonUnmarshal(r.body, &o) != nil || o.Order.ID != orders[i] {
			t.Errorf("replaying confirm %d: got %d %s, want 201 naming order %s", i, r.status, r.body, orders[i])
		}
	}
	checkInvariants(t, h.direct, h.eventID)
}

// terminateBackends terminates the booker's connections (and every other
// of its database) a few times, 150 ms apart, while the confirms run, as a
// restart or an operator would; it returns how many it terminated.
func terminateBackends(ctx context.Context, h *harness) int {
	total := 0
	for range 6 {
		time.Sleep(150 * time.Millisecond)
		var n int
		err := h.direct.QueryRow(ctx, `SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
			WHERE datname = current_database() AND pid <> pg_backend_pid()) x`).Scan(&n)
		if err == nil {
			total += n
		}
	}
	return total
}

// TestExhaustedPoolAnswersFast503s: with every connection of the booker's
// pool taken for long (a stuck transaction, a pool too small for the
// load), holds, confirms and reads get 503 unavailable with Retry-After
// within the acquire timeout, not after a 15 s queue; they work again as
// soon as the connections come back.
func TestExhaustedPoolAnswersFast503s(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{poolConns: 2})
	h.serve()
	users := h.users(2)
	r := h.holdSeats(users[0], "before", 1)
	if r.status != 201 {
		t.Fatalf("hold: got %d %s", r.status, r.body)
	}
	var held struct{ Hold holdJSON }
	r.decode(t, &held)
	ctx := context.Background()
	c1, err := h.pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := h.pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	log := &faultLog{}
	path := "/api/v1/holds/" + held.Hold.ID
	for i := range 3 {
		start := time.Now()
		r, err := h.do("POST", h.holdPath(), h.admission(users[1]), "k"+strconv.Itoa(i), `{"seat_ids":[5]}`)
		log.add("hold", "k", start, r, err)
		start = time.Now()
		r, err = h.do("POST", path+"/confirm", h.access(users[0]), "c", `{"payment_token":"tok_visa"}`)
		log.add("confirm", "c", start, r, err)
		start = time.Now()
		r, err = h.do("GET", path, h.access(users[0]), "", "")
		log.add("get", "", start, r, err)
	}
	c1.Release()
	c2.Release()
	if got := log.check(t); got != 9 {
		t.Errorf("%d of 9 requests on an exhausted pool got 503, want all", got)
	}
	if r := h.call("POST", path+"/confirm", h.access(users[0]), "c", `{"payment_token":"tok_visa"}`); r.status != 201 {
		t.Errorf("confirm once the pool is free: got %d %s, want 201 (the key was not left in flight)", r.status, r.body)
	}
	if r := h.holdSeats(users[1], "k0", 5); r.status != 201 {
		t.Errorf("hold once the pool is free: got %d %s, want 201", r.status, r.body)
	}
}

// TestBusyBookerShedsHoldsInsteadOfQueueing: with every hold slot taken
// (HoldConcurrency) the next hold waits at most TICKETVELO_HOLD_QUEUE_WAIT
// for one and then gets 503 with Retry-After; it does not queue for the
// whole request.
func TestBusyBookerShedsHoldsInsteadOfQueueing(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{cfg: func(c *Config) {
		c.HoldConcurrency = 1
		c.HoldQueueWait = 200 * time.Millisecond
	}})
	h.serve()
	users := h.users(2)
	stalled, resume := make(chan struct{}), make(chan struct{})
	var once sync.Once
	h.svc.hooks.beforeHoldTx = func([]int) {
		once.Do(func() {
			close(stalled)
			<-resume
		})
	}
	first := make(chan reply)
	go func() { first <- h.holdSeats(users[0], "a", 1) }()
	<-stalled
	start := time.Now()
	r := h.holdSeats(users[1], "b", 2)
	took := time.Since(start)
	close(resume)
	if r.status != 503 || r.code() != "unavailable" || r.header.Get("Retry-After") == "" {
		t.Errorf("hold while the booker is full: got %d %s, want 503 unavailable with Retry-After", r.status, r.body)
	}
	if took > time.Second {
		t.Errorf("the shed hold took %s, want about the 200ms queue wait", took)
	}
	if a := <-first; a.status != 201 {
		t.Errorf("the stalled hold: got %d %s, want 201", a.status, a.body)
	}
	if r := h.holdSeats(users[1], "b", 2); r.status != 201 {
		t.Errorf("the shed hold retried with its key: got %d %s, want 201", r.status, r.body)
	}
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// TestHoldWhoseCommitWasLostIsReplayed: a hold's COMMIT reaches Postgres
// but its answer never comes back (the network stalls at that moment), so
// the fan gets 503 while the hold is made. When the fan retries with the
// same key, after the seat-map refresh has marked the seat taken (by that
// very hold), they get their hold back (201, replayed), not 409 for their
// own seat while a hold in their name keeps it for ten minutes.
func TestHoldWhoseCommitWasLostIsReplayed(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{realClock: true, pgProxy: true})
	h.serve()
	fan := h.users(1)[0]
	var once sync.Once
	h.svc.hooks.AfterSeatUpdate = func([]int) { once.Do(h.pgProxy.StallReplies) } // the COMMIT's answer is held back
	r := h.holdSeats(fan, "k", 7)
	if r.status != 503 {
		t.Fatalf("hold whose COMMIT's answer stalled: got %d %s, want 503", r.status, r.body)
	}
	h.pgProxy.Resume()
	var holdID string
	testenvEventually(t, func() error {
		return h.direct.QueryRow(context.Background(), `SELECT id::text FROM holds WHERE user_id = $1 AND status = 'active'`, fan).Scan(&holdID)
	})
	ctx := context.Background()
	if err := h.svc.redis.SetBits(ctx, h.eventID, []int{7}, true, nil); err != nil { // as the refresher does
		t.Fatal(err)
	}
	r = h.holdSeats(fan, "k", 7)
	var held struct{ Hold holdJSON }
	if r.status != 201 || jsonUnmarshal(r.body, &held) != nil || held.Hold.ID != holdID {
		t.Fatalf("the retry with the same key: got %d %s, want 201 replaying hold %s", r.status, r.body, holdID)
	}
	if r.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("the retry's answer is not marked replayed")
	}
	checkInvariants(t, h.direct, h.eventID)
}
