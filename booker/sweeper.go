package booker

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rs/zerolog"

	"github.com/ticketvelo/ticketvelo/booker/redisstore"
	"github.com/ticketvelo/ticketvelo/internal/database"
)

// sweeper ends holds that expired: the round that releases them in
// Postgres, and what follows an expiry (the bitmap's bits cleared, the
// buyer's admission slot freed).
type sweeper struct {
	pg         *pgStore
	redis      *redisstore.Store
	admissions Admissions
	stats      *counters
	log        zerolog.Logger
	now        func() time.Time
	interval   time.Duration // between rounds
	batch      int           // holds released per transaction
	answerTTL  time.Duration // how long idempotency records are kept
}

// Run releases expired holds every sweep interval until ctx ends.
// Several bookers may sweep at once: each claims its holds with FOR UPDATE
// SKIP LOCKED, so no hold is released twice and none waits for another
// sweeper. Expiry is decided by expires_at in Postgres against the
// booker's clock, never by Redis key expiry.
func (s *sweeper) Run(ctx context.Context) error {
	t := time.NewTicker(s.interval)
	defer t.Stop()
	lastPrune := time.Time{}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		s.sweepRound(ctx, &lastPrune)
	}
}

// sweepRound is one round of the sweeper, within loopTimeout: a Postgres
// that stalls without failing holds it that long at most, and the next
// round starts afresh on another connection.
func (s *sweeper) sweepRound(ctx context.Context, lastPrune *time.Time) {
	rctx, cancel := context.WithTimeout(ctx, loopTimeout)
	defer cancel()
	if _, err := s.SweepOnce(rctx); err != nil && ctx.Err() == nil {
		s.log.Warn().Err(err).Msg("sweeping expired holds")
	}
	if time.Since(*lastPrune) > time.Minute {
		*lastPrune = time.Now()
		if err := s.pg.pruneIdempotency(rctx, s.now().Add(-s.answerTTL)); err != nil && ctx.Err() == nil {
			s.log.Warn().Err(err).Msg("pruning idempotency keys")
		}
	}
}

// expiredHold is a hold the sweeper released.
type expiredHold struct {
	id        string
	eventID   int64
	userID    int64
	seats     []int
	admission *time.Time // the admission it was made under; nil for old holds
}

// SweepOnce releases the holds that have expired, in batches, and returns
// how many it released.
func (s *sweeper) SweepOnce(ctx context.Context) (int, error) {
	total := 0
	for {
		holds, err := s.pg.sweepBatch(ctx, s.now(), s.batch)
		if err != nil {
			return total, err
		}
		total += len(holds)
		s.afterExpiry(ctx, holds)
		if len(holds) < s.batch {
			return total, nil
		}
	}
}

// sweepBatch releases up to limit holds that expired by now, in one
// transaction.
func (p *pgStore) sweepBatch(ctx context.Context, now time.Time, limit int) ([]expiredHold, error) {
	var out []expiredHold
	p.stats.pgTx(opSweep)
	err := database.RunTx(ctx, p.pool, database.TxOptions{Doing: "sweep"}, func(tx *database.Tx) error {
		out = out[:0]
		rows, err := tx.Query(ctx, `
			WITH due AS (
				SELECT id FROM holds WHERE status = 'active' AND expires_at <= $1
				ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED)
			UPDATE holds h SET status = 'expired', updated_at = now() FROM due WHERE h.id = due.id
			RETURNING h.id::text, h.event_id, h.user_id, h.seat_nos, h.admission_expires_at`, now, limit)
		if err != nil {
			return fmt.Errorf("expiring holds: %w", err)
		}
		var h expiredHold
		var seats []int32
		_, err = pgx.ForEachRow(rows, []any{&h.id, &h.eventID, &h.userID, &seats, &h.admission}, func() error {
			c := h
			c.seats = make([]int, len(seats))
			for i, n := range seats {
				c.seats[i] = int(n)
			}
			out = append(out, c)
			return nil
		})
		if err != nil {
			return fmt.Errorf("expiring holds: %w", err)
		}
		if len(out) == 0 {
			return nil
		}
		if err := releaseFanTickets(ctx, tx, out); err != nil {
			return err
		}
		ids := make([]string, len(out))
		for i, h := range out {
			ids[i] = h.id
		}
		if _, err := tx.Exec(ctx, `UPDATE seats SET status = 'available', hold_id = NULL, version = version + 1
			WHERE hold_id = ANY($1::uuid[]) AND status = 'held'`, ids); err != nil {
			return fmt.Errorf("releasing seats of expired holds: %w", err)
		}
		return nil
	})
	return out, err
}

// releaseFanTickets takes the holds' seats off their fans' counts, locking
// the count rows in one order so concurrent sweepers cannot deadlock.
func releaseFanTickets(ctx context.Context, tx *database.Tx, holds []expiredHold) error {
	type fan struct{ event, user int64 }
	counts := map[fan]int{}
	for _, h := range holds {
		counts[fan{h.eventID, h.userID}] += len(h.seats)
	}
	fans := make([]fan, 0, len(counts))
	for f := range counts {
		fans = append(fans, f)
	}
	slices.SortFunc(fans, func(a, b fan) int {
		if a.event != b.event {
			return int(a.event - b.event)
		}
		return int(a.user - b.user)
	})
	events, users, n := make([]int64, len(fans)), make([]int64, len(fans)), make([]int32, len(fans))
	for i, f := range fans {
		events[i], users[i], n[i] = f.event, f.user, int32(counts[f])
	}
	if _, err := tx.Exec(ctx, `SELECT 1 FROM fan_tickets f JOIN unnest($1::bigint[], $2::bigint[]) AS d(event_id, user_id)
		USING (event_id, user_id) ORDER BY event_id, user_id FOR UPDATE OF f`, events, users); err != nil {
		return fmt.Errorf("locking fan ticket counts: %w", err)
	}
	if _, err := tx.Exec(ctx, `UPDATE fan_tickets f SET tickets = f.tickets - d.n
		FROM unnest($1::bigint[], $2::bigint[], $3::int[]) AS d(event_id, user_id, n)
		WHERE f.event_id = d.event_id AND f.user_id = d.user_id`, events, users, n); err != nil {
		return fmt.Errorf("updating fan ticket counts: %w", err)
	}
	return nil
}

// afterExpiry clears the bitmap bits of expired holds and frees their
// buyers' admission slots.
func (s *sweeper) afterExpiry(ctx context.Context, holds []expiredHold) {
	if len(holds) == 0 {
		return
	}
	s.stats.expired.Add(int64(len(holds)))
	holdsExpiredTotal.Add(len(holds))
	byEvent := map[int64][]int{}
	for _, h := range holds {
		byEvent[h.eventID] = append(byEvent[h.eventID], h.seats...)
	}
	for ev, seats := range byEvent {
		if err := s.redis.SetBits(ctx, ev, seats, false, nil); err != nil {
			s.log.Debug().Err(err).Int64("event_id", ev).Msg("clearing bits of expired holds; the next snapshot repairs them")
		}
	}
	for _, h := range holds {
		s.admissionDone(ctx, h.eventID, h.userID, h.admission)
	}
}

// admissionDone tells the waiting room the buyer is done with the
// admission that ends at admission (whichever they have when nil); a
// failure only delays the slot until the admission expires.
func (s *sweeper) admissionDone(ctx context.Context, eventID, userID int64, admission *time.Time) {
	var exp time.Time
	if admission != nil {
		exp = *admission
	}
	if err := s.admissions.Done(context.WithoutCancel(ctx), eventID, userID, exp); err != nil {
		s.log.Warn().Err(err).Int64("event_id", eventID).Int64("user_id", userID).Msg("freeing admission slot")
	}
}
