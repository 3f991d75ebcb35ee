package booker

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/valyala/fasthttp"

	"github.com/ticketvelo/ticketvelo/internal/apperr"
	"github.com/ticketvelo/ticketvelo/internal/database"
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
	record    string
	decidedBy layer
}

// pendingTTL bounds how long a hold's idempotency claim says "in flight"
// when the request that took it could not give it back (its booker died,
// or Redis failed too): a second past the request's store timeout, when
// the request has surely ended, so a retry finds the key free within
// seconds, never while the first request still runs.
func (s *Service) pendingTTL() time.Duration { return s.storeTimeout + time.Second }

// takeHoldSlot waits for one of the HoldConcurrency slots, at most
// HoldQueueWait: a booker that has them all busy for that long is
// overloaded, and a 503 now serves the fan better than a place in a queue
// that ends in a timeout.
func (s *Service) takeHoldSlot(ctx context.Context) (release func(), err error) {
	release = func() { <-s.holdSlots }
	select {
	case s.holdSlots <- struct{}{}:
		return release, nil
	default:
	}
	wait := time.NewTimer(s.cfg.HoldQueueWait)
	defer wait.Stop()
	select {
	case s.holdSlots <- struct{}{}:
		return release, nil
	case <-wait.C:
	case <-ctx.Done():
	}
	s.stats.holdShed()
	return nil, errBusy
}

// createHold runs the hold path and returns the answer to send; the error
// is for failures that are not an answer (the claim is given up, so a retry
// runs afresh).
func (s *Service) createHold(ctx context.Context, req *holdRequest) (answer, error) {
	start := time.Now()
	defer holdSeconds.UpdateDuration(start)
	release, err := s.takeHoldSlot(ctx)
	if err != nil {
		return answer{}, err
	}
	defer release()
	ev := req.ev
	var seats []int
	if !req.best {
		seats = req.seats
	}
	cl, err := s.claimHold(ctx, req, seats)
	var pgFault *unknownOutcomeError
	switch {
	case errors.As(err, &pgFault):
		return answer{}, pgFault.err
	case err != nil:
		s.stats.redisFallback()
		return answer{}, errAdmissionUnchecked
	case cl.hasPrev:
		return s.replayHold(cl.existing, req)
	case cl.ended != "":
		return answer{}, admissionExpired(cl.ended)
	case cl.wait > 0:
		return answer{}, holdAttemptsExceeded(s.cfg.HoldAttempts, cl.wait)
	}
	idemKey := s.redis.idemKey(ev.ID, req.userID, req.key)
	if cl.cold {
		// Redis lost the bitmap, and perhaps this key's answer with it:
		// rebuilding puts both back, so look at the key again.
		s.snapshots.warm(ctx, ev)
		if rec, err := s.redis.get(ctx, idemKey); err == nil && strings.HasPrefix(rec, "D") {
			return s.replayHold(rec, req)
		}
	} else if len(cl.taken) > 0 {
		// The script stored this answer already.
		return s.holdAnswer(req, holdOutcome{taken: cl.taken, decidedBy: layerBitmap}), nil
	}
	var exclude []int
	for try := 0; ; try++ {
		if req.best {
			seats, err = s.chooseSeats(ctx, req, exclude)
			if err != nil {
				_ = s.redis.forget(ctx, idemKey)
				return answer{}, err
			}
			if seats == nil {
				return s.settle(ctx, req, nil, holdOutcome{noSeats: true, decidedBy: layerBitmap}, idemKey)
			}
		}
		out, locks, err := s.lockAndHold(ctx, req, seats)
		if err != nil {
			locks.release(ctx)
			s.giveBackKey(ctx, req, idemKey, err)
			return answer{}, err
		}
		// Best available retries with other seats when its pick was taken
		// meanwhile.
		if req.best && len(out.taken) > 0 && try < 2 {
			locks.release(ctx)
			exclude = append(exclude, out.taken...)
			continue
		}
		return s.settle(ctx, req, locks, out, idemKey)
	}
}

// shortRecordTTL is how long a refused hold's answer is kept: while its
// admission lives, when a retry could still come, and a minute after.
func (s *Service) shortRecordTTL(req *holdRequest) time.Duration {
	return min(s.cfg.IdempotencyTTL, max(time.Minute, req.admissionExp.Sub(s.now())+time.Minute))
}

func (s *Service) replayHold(record string, req *holdRequest) (answer, error) {
	a, err := replayRecord(record, req.hash)
	if err == nil {
		s.stats.decide(outcomeReplayed, layerIdempotency)
	}
	return a, err
}

// settle turns an outcome into the answer, and then, in this order, marks
// the seats taken in the bitmap and stores the answer (one round trip), and
// releases the locks.
func (s *Service) settle(ctx context.Context, req *holdRequest, locks *lockSet, out holdOutcome, idemKey string) (answer, error) {
	a := s.holdAnswer(req, out)
	// A created hold's answer is kept as long as any; a refusal only as
	// long as the admission that could retry it, so a fan's failed
	// attempts cannot pile up in Redis.
	ttl := s.cfg.IdempotencyTTL
	if out.created == nil {
		ttl = s.shortRecordTTL(req)
	}
	record := idemWrite{key: idemKey, value: doneRecord(req.hash, a), ttl: ttl}
	if out.record != "" {
		record.value = out.record
	}
	var seats []int
	if out.created != nil {
		for _, l := range out.created.Seats {
			seats = append(seats, l.ID)
		}
	}
	if err := s.redis.settle(ctx, req.ev.ID, seats, record, locks); err != nil {
		// The answer stands: Postgres has it. The bitmap catches up at the
		// next snapshot; a replay of a created hold finds it in Postgres.
		s.log.Debug().Err(err).Msg("recording a hold in Redis")
	}
	return a, nil
}

// holdAnswer is the HTTP answer of an outcome, counted by outcome and layer.
func (s *Service) holdAnswer(req *holdRequest, out holdOutcome) answer {
	switch {
	case out.replay != nil:
		s.stats.decide(outcomeReplayed, layerIdempotency)
		return *out.replay
	case out.created != nil:
		s.stats.decide(outcomeCreated, layerPostgres)
		return answer{status: fasthttp.StatusCreated, body: out.body}
	case out.limit:
		s.stats.decide(outcomeLimit, out.decidedBy)
		e := errTicketLimit.Withf("at most %d tickets per fan for this event, counting your holds and orders", req.ev.MaxPerFan)
		e.RetryAfter = int(s.cfg.HoldTTL.Seconds())
		return errorAnswer(e, fasthttp.StatusTooManyRequests, req.requestID)
	case out.noSeats:
		s.stats.decide(outcomeConflict, out.decidedBy)
		sec := req.ev.sections[req.section].Name
		e := errNotEnoughSeats.Withf("no %d free seats left in section %s", req.quantity, sec).
			With(map[string]any{"section": sec, "quantity": req.quantity})
		return errorAnswer(e, fasthttp.StatusConflict, req.requestID)
	default:
		s.stats.decide(outcomeConflict, out.decidedBy)
		return seatTakenAnswer(out.taken, req.requestID)
	}
}

// seatTakenAnswer is the 409 naming the taken seats; a replay rebuilds it
// from the seats and the first request's id, byte for byte.
func seatTakenAnswer(seats []int, requestID string) answer {
	taken := slices.Clone(seats)
	slices.Sort(taken)
	e := errSeatTaken.Withf("seats %s are taken", seatList(taken)).With(map[string]any{"seat_ids": taken})
	return errorAnswer(e, fasthttp.StatusConflict, requestID)
}

// lockAndHold takes the seats' locks (waiting a little for locks held by
// others), checks the bitmap again under them, and runs the Postgres
// transaction. It returns the locks still held; the caller releases them
// after recording the outcome. When Redis fails on the way it goes on
// without locks: Postgres decides alone.
func (s *Service) lockAndHold(ctx context.Context, req *holdRequest, seats []int) (holdOutcome, *lockSet, error) {
	ev := req.ev
	owner := newOwner()
	deadline := time.Now().Add(s.cfg.SeatLockWait)
	var locks *lockSet
	var taken []int
	for {
		ls, busy, tk, err := s.redis.tryLock(ctx, ev.ID, seats, s.cfg.SeatLockTTL, owner, ev.capacity())
		if err != nil {
			s.stats.redisFallback()
			break
		}
		if ls != nil {
			locks, taken = ls, tk
			break
		}
		s.stats.lockWait()
		if time.Now().After(deadline) {
			return holdOutcome{taken: busy, decidedBy: layerLock}, nil, nil
		}
		// The holder is most likely in its transaction: by the time it lets
		// go, the bitmap says whether it took the seats.
		time.Sleep(time.Millisecond + rand.N(2*time.Millisecond))
		if taken, _, err := s.redis.takenBits(ctx, ev.ID, ev.capacity(), seats); err == nil && len(taken) > 0 {
			return holdOutcome{taken: taken, decidedBy: layerLock}, nil, nil
		}
	}
	if len(taken) > 0 {
		// Under the locks the bitmap is exact for these seats, unless it is
		// missing (cold), when Postgres decides.
		return holdOutcome{taken: taken, decidedBy: layerLock}, locks, nil
	}
	out, err := s.holdTx(ctx, req, seats)
	return out, locks, err
}

// holdTx is the one Postgres transaction of a hold. It records the
// idempotent answer, inserts the hold, adds the seats to the fan's count
// within the event's limit, and updates the seats only where they are
// still available at the version last seen, requiring every one to change.
// A seat whose version moved but is still available is re-read and tried
// again at its new version within the same transaction.
//
// A transaction that failed before its COMMIT on a broken connection (a
// restart, terminated backends, connections a pool kept from before) runs
// again on another: the server kept nothing of it. One whose COMMIT failed
// is not retried: the idempotency record it carries decides, when the fan
// retries with the same key.
func (s *Service) holdTx(ctx context.Context, req *holdRequest, seats []int) (holdOutcome, error) {
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		var out holdOutcome
		out, err = s.holdTxOnce(ctx, req, seats)
		var pgErr *pgconn.PgError
		var commit *commitError
		switch {
		case errors.As(err, &pgErr) && (pgErr.Code == "40P01" || pgErr.Code == "40001"):
			// A deadlock between holds whose Redis locks lapsed: one of
			// them is told so; retry once, then call the seats taken.
			if attempt > 0 {
				return holdOutcome{taken: seats, decidedBy: layerPostgres}, nil
			}
		case err == nil, errors.As(err, &commit), !database.Retryable(err), ctx.Err() != nil:
			return out, err
		}
	}
	return holdOutcome{}, err
}

func (s *Service) holdTxOnce(ctx context.Context, req *holdRequest, seats []int) (holdOutcome, error) {
	if h := s.hooks.beforeHoldTx; h != nil {
		h(seats)
	}
	ev := req.ev
	holdID := newUUID()
	expires := s.now().Add(s.cfg.HoldTTL)
	view := ev.holdView(holdID, "active", seats, expires)
	created := jsonAnswer(fasthttp.StatusCreated, map[string]any{"hold": view})
	expected := make([]int64, len(seats))
	for i, no := range seats {
		expected[i] = ev.versions[no].Load()
	}
	scope := holdScope(ev.ID)

	s.stats.pgTx(opHoldTx)
	tx, err := beginBatchTx(ctx, s.pool, "hold")
	if err != nil {
		return holdOutcome{}, err
	}
	defer tx.close(ctx)

	batch := &pgx.Batch{}
	batch.Queue("BEGIN")
	// The answer goes in first: a duplicate of this request waits here for
	// this transaction, then replays its answer.
	batch.Queue(`INSERT INTO idempotency_keys (user_id, key, scope, request_hash, status_code, response)
		VALUES ($1, $2, $3, $4, 201, $5) ON CONFLICT DO NOTHING`, req.userID, req.key, scope, req.hash, encodeStored(created))
	batch.Queue(`INSERT INTO holds (id, event_id, user_id, seat_count, total_cents, expires_at, seat_nos, admission_expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, holdID, ev.ID, req.userID, len(seats), view.TotalCents, expires, seats, req.admissionExp)
	batch.Queue(`INSERT INTO fan_tickets AS f (event_id, user_id, tickets) VALUES ($1, $2, $3)
		ON CONFLICT (event_id, user_id) DO UPDATE SET tickets = f.tickets + excluded.tickets
		WHERE f.tickets + excluded.tickets <= $4
		RETURNING tickets`, ev.ID, req.userID, len(seats), ev.MaxPerFan)
	batch.Queue(updateSeatsSQL, ev.ID, holdID, seats, expected)
	br := tx.SendBatch(ctx, batch)
	if _, err := br.Exec(); err != nil {
		br.Close()
		return holdOutcome{}, fmt.Errorf("beginning hold: %w", err)
	}
	tag, err := br.Exec()
	if err != nil {
		br.Close()
		return holdOutcome{}, fmt.Errorf("recording hold answer: %w", err)
	}
	if tag.RowsAffected() == 0 {
		br.Close()
		tx.rollback(ctx)
		return s.replayFromPostgres(ctx, req, scope)
	}
	if _, err := br.Exec(); err != nil {
		br.Close()
		return holdOutcome{}, fmt.Errorf("inserting hold: %w", err)
	}
	var count int
	if err := br.QueryRow().Scan(&count); errors.Is(err, pgx.ErrNoRows) {
		br.Close()
		return holdOutcome{limit: true, decidedBy: layerPostgres}, nil
	} else if err != nil {
		br.Close()
		return holdOutcome{}, fmt.Errorf("counting fan tickets: %w", err)
	}
	rows, err := br.Query()
	if err != nil {
		br.Close()
		return holdOutcome{}, fmt.Errorf("updating seats: %w", err)
	}
	changed, err := collectSeatVersions(rows, ev)
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return holdOutcome{}, fmt.Errorf("updating seats: %w", err)
	}
	missing := missingSeats(seats, changed)
	for round := 0; len(missing) > 0; round++ {
		taken, fresh, err := s.seatStates(ctx, tx, ev, missing)
		if err != nil {
			return holdOutcome{}, err
		}
		if len(taken) > 0 || round == 2 {
			if len(taken) == 0 {
				taken = missing
			}
			return holdOutcome{taken: taken, decidedBy: layerPostgres}, nil
		}
		rows, err := tx.Query(ctx, updateSeatsSQL, ev.ID, holdID, missing, fresh)
		if err != nil {
			return holdOutcome{}, fmt.Errorf("updating seats again: %w", err)
		}
		again, err := collectSeatVersions(rows, ev)
		if err != nil {
			return holdOutcome{}, fmt.Errorf("updating seats again: %w", err)
		}
		missing = missingSeats(missing, again)
	}
	if h := s.hooks.afterSeatUpdate; h != nil {
		h(seats)
	}
	if err := tx.commit(ctx, "hold"); err != nil {
		return holdOutcome{}, err
	}
	return holdOutcome{created: &view, body: created.body, decidedBy: layerPostgres}, nil
}

// updateSeatsSQL takes seats that are available at the expected version.
const updateSeatsSQL = `UPDATE seats s SET status = 'held', hold_id = $2, version = s.version + 1
	FROM unnest($3::int[], $4::bigint[]) AS want(seat_no, version)
	WHERE s.event_id = $1 AND s.seat_no = want.seat_no AND s.version = want.version AND s.status = 'available'
	RETURNING s.seat_no, s.version`

func holdScope(eventID int64) string { return fmt.Sprintf("hold:%d", eventID) }

// collectSeatVersions reads (seat_no, version) rows and remembers the
// versions.
func collectSeatVersions(rows pgx.Rows, ev *eventInfo) (map[int]bool, error) {
	changed := map[int]bool{}
	var no int32
	var version int64
	_, err := pgx.ForEachRow(rows, []any{&no, &version}, func() error {
		changed[int(no)] = true
		ev.versions[no].Store(version)
		return nil
	})
	return changed, err
}

func missingSeats(seats []int, changed map[int]bool) []int {
	var out []int
	for _, s := range seats {
		if !changed[s] {
			out = append(out, s)
		}
	}
	return out
}

// seatStates reads seats the update missed: the taken ones, and the current
// versions of the others (remembered for next time).
func (s *Service) seatStates(ctx context.Context, tx queryer, ev *eventInfo, seats []int) (taken []int, versions []int64, err error) {
	rows, err := tx.Query(ctx, `SELECT seat_no, status, version FROM seats WHERE event_id = $1 AND seat_no = ANY($2) ORDER BY seat_no`, ev.ID, seats)
	if err != nil {
		return nil, nil, fmt.Errorf("reading seats: %w", err)
	}
	byNo := map[int]int64{}
	var no int32
	var status string
	var version int64
	_, err = pgx.ForEachRow(rows, []any{&no, &status, &version}, func() error {
		ev.versions[no].Store(version)
		if status != "available" {
			taken = append(taken, int(no))
		}
		byNo[int(no)] = version
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("reading seats: %w", err)
	}
	versions = make([]int64, len(seats))
	for i, no := range seats {
		versions[i] = byNo[no]
	}
	return taken, versions, nil
}

// queryer runs a query: a transaction, or a connection inside one.
type queryer interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// replayFromPostgres answers a request whose key already has a record in
// Postgres: a created hold, made before Redis lost its copy, or by a
// duplicate that ran while Redis was away.
func (s *Service) replayFromPostgres(ctx context.Context, req *holdRequest, scope string) (holdOutcome, error) {
	hash, first, found, err := s.storedHoldAnswer(ctx, req, scope)
	if err == nil && !found {
		err = errors.New("the idempotency record vanished")
	}
	if err != nil {
		return holdOutcome{}, err
	}
	record := doneRecord(hash, first)
	if hash != req.hash {
		a := errorAnswer(errKeyReused, fasthttp.StatusUnprocessableEntity, req.requestID)
		return holdOutcome{replay: &a, record: record}, nil
	}
	return holdOutcome{replay: &first, record: record}, nil
}
