package booker

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/rs/zerolog"
	"github.com/valyala/fasthttp"

	"github.com/ticketvelo/ticketvelo/booker/pgstore"
	"github.com/ticketvelo/ticketvelo/booker/redisstore"
	"github.com/ticketvelo/ticketvelo/internal/apperr"
)

// Answers of the hold path.
var (
	errSeatTaken      = apperr.New(apperr.Conflict, "seat_taken", "the seats are taken")
	errNotEnoughSeats = apperr.New(apperr.Conflict, "not_enough_seats", "not enough free seats in the section")
	errTicketLimit    = apperr.New(apperr.RateLimited, "ticket_limit", "this would take you over the event's ticket limit")
	errSaleNotOpen    = apperr.New(apperr.Invalid, "sale_not_open", "the sale has not opened yet")
	errBusy           = &apperr.Error{Kind: apperr.Unavailable, Code: "unavailable", Message: "the booker is too busy; retry shortly", RetryAfter: 1}
	// errAdmissionUnchecked: without Redis the booker cannot tell a live
	// admission from one that ended, and letting every token through would
	// lift the waiting room's cap.
	errAdmissionUnchecked = &apperr.Error{Kind: apperr.Unavailable, Code: "unavailable", Message: "your admission cannot be checked right now; retry shortly", RetryAfter: 1}
	errAdmissionExpired   = apperr.New(apperr.Gone, "admission_expired", "your admission has ended")
	errHoldAttempts       = apperr.New(apperr.RateLimited, "too_many_attempts", "too many hold attempts")
)

// Why an admission token no longer buys, as the claim script finds it.
var admissionEnded = map[string]string{
	"left":      "you left the waiting room; join it again to buy",
	"done":      "your admission ended with your order; join the waiting room again to buy more",
	"timeout":   "your admission window has passed; join the waiting room again to buy",
	"abandoned": "your place in the waiting room lapsed; join it again to buy",
	"replaced":  "this admission token was replaced by a newer admission; use the token of your latest admission",
}

// admissionExpired is the 410 for an admission that ended for reason why.
func admissionExpired(why string) error {
	msg, ok := admissionEnded[why]
	if !ok {
		msg = "your admission has ended; join the waiting room again to buy"
	}
	return errAdmissionExpired.Withf("%s", msg).With(map[string]any{"reason": why})
}

// holdAttemptsExceeded is the 429 of a fan over their hold attempts.
func holdAttemptsExceeded(limit int, wait time.Duration) error {
	e := errHoldAttempts.Withf("at most %d hold attempts a minute; retry in %d s", limit, apperr.RetryAfterSeconds(wait))
	e.RetryAfter = apperr.RetryAfterSeconds(wait)
	return e
}

// holdRequest is a validated request for a hold.
type holdRequest struct {
	ev        *eventInfo
	userID    int64
	seats     []int // explicit seats, sorted, no duplicates
	best      bool  // best available in section instead of seats
	section   int
	quantity  int
	together  bool
	key       string // Idempotency-Key
	hash      string
	requestID string
	// admissionExp is the expiry of the admission the token was signed
	// for: the hold is taken only while that admission lives.
	admissionExp time.Time
}

// want is how many seats the request takes.
func (r *holdRequest) want() int {
	if r.best {
		return r.quantity
	}
	return len(r.seats)
}

// holdOutcome is what one attempt at a hold decided.
type holdOutcome struct {
	created *holdJSON
	body    []byte // the 201 answer of created
	taken   []int  // the seats that were taken, on a conflict
	noSeats bool   // best available found no seats
	limit   bool   // over the per-fan ticket limit
	replay  *answer
	// record is the Redis record of a replay: the first request's own, so
	// a key reused with another body does not overwrite it.
	record    redisstore.Record
	decidedBy layer
}

// holdRules decide holds: the claim of the request's key in Redis (which
// also rejects most conflicts at once), the seat locks, the one Postgres
// transaction, and the settling of the outcome in Redis. They hold the two
// stores and the settings they use, and nothing else.
type holdRules struct {
	pg        holdPostgres
	redis     holdRedis
	snapshots bitmapWarmer
	cfg       Config
	// storeTimeout bounds a request's store work (see pendingTTL).
	storeTimeout time.Duration
	now          func() time.Time
	log          zerolog.Logger
	stats        *counters
	hooks        *testHooks
	// slots bounds the holds in progress (cfg.HoldConcurrency).
	slots chan struct{}
}

// holdPostgres is what the hold rules need of Postgres.
type holdPostgres interface {
	Hold(ctx context.Context, d pgstore.HoldDraft) (pgstore.HoldResult, error)
	StoredAnswer(ctx context.Context, k pgstore.Key) (_ pgstore.Recorded, found bool, _ error)
	TakenSeats(ctx context.Context, eventID int64, first, last int) (map[int32]bool, error)
}

// holdRedis is what the hold rules need of Redis.
type holdRedis interface {
	IdemKey(eventID, userID int64, key string) string
	Claim(ctx context.Context, a redisstore.ClaimArgs) (redisstore.ClaimResult, error)
	Get(ctx context.Context, key string) (redisstore.Record, error)
	Forget(ctx context.Context, key string) error
	SetRecord(ctx context.Context, key string, value redisstore.Record, ttl time.Duration) error
	SwapRecord(ctx context.Context, key string, old, value redisstore.Record, ttl time.Duration) error
	TryLock(ctx context.Context, eventID int64, seats []int, ttl time.Duration, owner string, sentinel int) (locks *redisstore.Locks, busy, taken []int, err error)
	TakenBits(ctx context.Context, eventID int64, sentinel int, seats []int) (taken []int, cold bool, err error)
	BitmapRange(ctx context.Context, eventID int64, sentinel, from, to int) (bits []byte, cold bool, err error)
	Settle(ctx context.Context, eventID int64, seats []int, w redisstore.Write, locks *redisstore.Locks) error
}

// bitmapWarmer rebuilds an event's taken-seat bitmap that Redis lost.
type bitmapWarmer interface {
	warm(ctx context.Context, ev *eventInfo)
}

var (
	_ holdPostgres = (*pgstore.Store)(nil)
	_ holdRedis    = (*redisstore.Store)(nil)
	_ bitmapWarmer = (*snapshots)(nil)
)

// pendingTTL bounds how long a hold's idempotency claim says "in flight"
// when the request that took it could not give it back (its booker died,
// or Redis failed too): a second past the request's store timeout, when
// the request has surely ended, so a retry finds the key free within
// seconds, never while the first request still runs.
func (h *holdRules) pendingTTL() time.Duration { return h.storeTimeout + time.Second }

// takeSlot waits for one of the HoldConcurrency slots, at most
// HoldQueueWait: a booker that has them all busy for that long is
// overloaded, and a 503 now serves the fan better than a place in a queue
// that ends in a timeout.
func (h *holdRules) takeSlot(ctx context.Context) (release func(), err error) {
	release = func() { <-h.slots }
	select {
	case h.slots <- struct{}{}:
		return release, nil
	default:
	}
	wait := time.NewTimer(h.cfg.HoldQueueWait)
	defer wait.Stop()
	select {
	case h.slots <- struct{}{}:
		return release, nil
	case <-wait.C:
	case <-ctx.Done():
	}
	h.stats.holdShed()
	return nil, errBusy
}

// createHold runs the hold path and returns the answer to send; the error
// is for failures that are not an answer (the claim is given up, so a retry
// runs afresh).
func (h *holdRules) createHold(ctx context.Context, req *holdRequest) (answer, error) {
	start := time.Now()
	defer holdSeconds.UpdateDuration(start)
	release, err := h.takeSlot(ctx)
	if err != nil {
		return answer{}, err
	}
	defer release()
	var seats []int
	if !req.best {
		seats = req.seats
	}
	cl, err := h.claimHold(ctx, req, seats)
	if a, decided, err := h.answerClaim(ctx, req, cl, err); decided {
		return a, err
	}
	return h.decide(ctx, req, seats)
}

// answerClaim answers the requests the claim decided: a replay, an
// admission that ended, a fan over their attempts, seats the bitmap shows
// taken. decided is false when the request goes on to the locks and
// Postgres.
func (h *holdRules) answerClaim(ctx context.Context, req *holdRequest, cl redisstore.ClaimResult, err error) (a answer, decided bool, _ error) {
	var pgFault *unknownOutcomeError
	switch {
	case errors.As(err, &pgFault):
		return answer{}, true, pgFault.err
	case err != nil:
		h.stats.redisFallback()
		return answer{}, true, errAdmissionUnchecked
	case cl.HasPrev:
		a, err := h.replay(cl.Existing, req)
		return a, true, err
	case cl.Ended != "":
		return answer{}, true, admissionExpired(cl.Ended)
	case cl.Wait > 0:
		return answer{}, true, holdAttemptsExceeded(h.cfg.HoldAttempts, cl.Wait)
	case cl.Cold:
		// Redis lost the bitmap, and perhaps this key's answer with it:
		// rebuilding puts both back, so look at the key again.
		h.snapshots.warm(ctx, req.ev)
		rec, err := h.redis.Get(ctx, h.redis.IdemKey(req.ev.ID, req.userID, req.key))
		if err == nil && rec.Kind() == redisstore.KindDone {
			a, err := h.replay(rec, req)
			return a, true, err
		}
	case len(cl.Taken) > 0:
		// The script stored this answer already.
		return h.holdAnswer(req, holdOutcome{taken: cl.Taken, decidedBy: layerBitmap}), true, nil
	}
	return answer{}, false, nil
}

// decide takes the seats' locks and runs the Postgres transaction; best
// available picks the seats first, and picks others when its pick was
// taken meanwhile.
func (h *holdRules) decide(ctx context.Context, req *holdRequest, seats []int) (answer, error) {
	idemKey := h.redis.IdemKey(req.ev.ID, req.userID, req.key)
	var exclude []int
	for try := 0; ; try++ {
		if req.best {
			var found bool
			var err error
			if seats, found, err = h.chooseSeats(ctx, req, exclude); err != nil {
				_ = h.redis.Forget(ctx, idemKey)
				return answer{}, err
			}
			if !found {
				return h.settle(ctx, req, nil, holdOutcome{noSeats: true, decidedBy: layerBitmap}, idemKey)
			}
		}
		out, locks, err := h.lockAndHold(ctx, req, seats)
		if err != nil {
			locks.Release(ctx)
			h.giveBackKey(ctx, req, idemKey, err)
			return answer{}, err
		}
		if req.best && len(out.taken) > 0 && try < 2 {
			locks.Release(ctx)
			exclude = append(exclude, out.taken...)
			continue
		}
		return h.settle(ctx, req, locks, out, idemKey)
	}
}

// shortRecordTTL is how long a refused hold's answer is kept: while its
// admission lives, when a retry could still come, and a minute after.
func (h *holdRules) shortRecordTTL(req *holdRequest) time.Duration {
	return min(h.cfg.IdempotencyTTL, max(time.Minute, req.admissionExp.Sub(h.now())+time.Minute))
}

// replayOnly answers a request that may only replay: its key's stored
// answer, or refused when there is none. Without Redis it cannot tell, and
// says so with a 503: the answer may be there.
func (h *holdRules) replayOnly(ctx context.Context, req *holdRequest, refused error) (answer, error) {
	rec, err := h.redis.Get(ctx, h.redis.IdemKey(req.ev.ID, req.userID, req.key))
	switch {
	case err != nil:
		h.stats.redisFallback()
		return answer{}, errAdmissionUnchecked
	case rec == "":
		return answer{}, refused
	}
	return h.replay(rec, req)
}

func (h *holdRules) replay(rec redisstore.Record, req *holdRequest) (answer, error) {
	a, err := replayRecord(rec, req.hash)
	if err == nil {
		h.stats.decide(outcomeReplayed, layerIdempotency)
	}
	return a, err
}

// settle turns an outcome into the answer, and then, in this order, marks
// the seats taken in the bitmap and stores the answer (one round trip), and
// releases the locks.
func (h *holdRules) settle(ctx context.Context, req *holdRequest, locks *redisstore.Locks, out holdOutcome, idemKey string) (answer, error) {
	a := h.holdAnswer(req, out)
	// A created hold's answer is kept as long as any; a refusal only as
	// long as the admission that could retry it, so a fan's failed
	// attempts cannot pile up in Redis.
	ttl := h.cfg.IdempotencyTTL
	if out.created == nil {
		ttl = h.shortRecordTTL(req)
	}
	w := redisstore.Write{Key: idemKey, Value: doneRecord(req.hash, a), TTL: ttl}
	if out.record != "" {
		w.Value = out.record
	}
	var seats []int
	if out.created != nil {
		for _, l := range out.created.Seats {
			seats = append(seats, l.ID)
		}
	}
	if err := h.redis.Settle(ctx, req.ev.ID, seats, w, locks); err != nil {
		// The answer stands: Postgres has it. The bitmap catches up at the
		// next snapshot; a replay of a created hold finds it in Postgres.
		h.log.Debug().Err(err).Msg("recording a hold in Redis")
	}
	return a, nil
}

// holdAnswer is the HTTP answer of an outcome, counted by outcome and layer.
func (h *holdRules) holdAnswer(req *holdRequest, out holdOutcome) answer {
	switch {
	case out.replay != nil:
		h.stats.decide(outcomeReplayed, layerIdempotency)
		return *out.replay
	case out.created != nil:
		h.stats.decide(outcomeCreated, layerPostgres)
		return answer{status: fasthttp.StatusCreated, body: out.body}
	case out.limit:
		h.stats.decide(outcomeLimit, out.decidedBy)
		e := errTicketLimit.Withf("at most %d tickets per fan for this event, counting your holds and orders", req.ev.MaxPerFan)
		e.RetryAfter = int(h.cfg.HoldTTL.Seconds())
		return errorAnswer(e, req.requestID)
	case out.noSeats:
		h.stats.decide(outcomeConflict, out.decidedBy)
		sec := req.ev.sections[req.section].Name
		e := errNotEnoughSeats.Withf("no %d free seats left in section %s", req.quantity, sec).
			With(map[string]any{"section": sec, "quantity": req.quantity})
		return errorAnswer(e, req.requestID)
	default:
		h.stats.decide(outcomeConflict, out.decidedBy)
		return seatTakenAnswer(out.taken, req.requestID)
	}
}

// seatTakenAnswer is the 409 naming the taken seats; a replay rebuilds it
// from the seats and the first request's id, byte for byte.
func seatTakenAnswer(seats []int, requestID string) answer {
	taken := slices.Clone(seats)
	slices.Sort(taken)
	e := errSeatTaken.Withf("seats %s are taken", seatList(taken))
	if len(taken) == 1 {
		e = errSeatTaken.Withf("seat %d is taken", taken[0])
	}
	e = e.With(map[string]any{"seat_ids": taken})
	return errorAnswer(e, requestID)
}

// lockAndHold takes the seats' locks (waiting a little for locks held by
// others), checks the bitmap again under them, and runs the Postgres
// transaction. It returns the locks still held; the caller releases them
// after recording the outcome. When Redis fails on the way it goes on
// without locks: Postgres decides alone.
func (h *holdRules) lockAndHold(ctx context.Context, req *holdRequest, seats []int) (holdOutcome, *redisstore.Locks, error) {
	l := h.lockSeats(ctx, req.ev, seats)
	switch {
	case l.kind == seatsRefused:
		return holdOutcome{taken: l.taken, decidedBy: layerLock}, nil, nil
	case len(l.taken) > 0:
		// Under the locks the bitmap is exact for these seats, unless it is
		// missing (cold), when Postgres decides.
		return holdOutcome{taken: l.taken, decidedBy: layerLock}, l.locks, nil
	}
	if hook := h.hooks.beforeHoldTx; hook != nil {
		hook(seats)
	}
	out, err := h.holdTx(ctx, req, seats, h.now().Add(h.cfg.HoldTTL))
	return out, l.locks, err
}

// lockKind is what taking a hold's seat locks came to.
type lockKind int

const (
	// seatsLocked: the locks are held; taken lists the seats the bitmap
	// shows taken under them.
	seatsLocked lockKind = iota
	// seatsRefused: no locks; taken lists the seats still locked by others
	// or found taken while waiting.
	seatsRefused
	// lockless: Redis failed, so no locks and nothing known: Postgres
	// decides alone.
	lockless
)

// seatLocks is the result of lockSeats.
type seatLocks struct {
	kind  lockKind
	locks *redisstore.Locks // of seatsLocked
	taken []int
}

// lockSeats takes the seats' locks, waiting up to SeatLockWait for locks
// others hold.
func (h *holdRules) lockSeats(ctx context.Context, ev *eventInfo, seats []int) seatLocks {
	owner := redisstore.NewOwner()
	deadline := time.Now().Add(h.cfg.SeatLockWait)
	for {
		ls, busy, taken, err := h.redis.TryLock(ctx, ev.ID, seats, h.cfg.SeatLockTTL, owner, ev.capacity())
		switch {
		case err != nil:
			h.stats.redisFallback()
			return seatLocks{kind: lockless}
		case ls != nil:
			return seatLocks{kind: seatsLocked, locks: ls, taken: taken}
		}
		h.stats.lockWait()
		if time.Now().After(deadline) {
			return seatLocks{kind: seatsRefused, taken: busy}
		}
		// The holder is most likely in its transaction: by the time it lets
		// go, the bitmap says whether it took the seats.
		time.Sleep(time.Millisecond + rand.N(2*time.Millisecond))
		if taken, _, err := h.redis.TakenBits(ctx, ev.ID, ev.capacity(), seats); err == nil && len(taken) > 0 {
			return seatLocks{kind: seatsRefused, taken: taken}
		}
	}
}
