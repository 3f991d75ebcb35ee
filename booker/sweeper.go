package booker

import (
	"context"
	"time"

	"github.com/rs/zerolog"

	"github.com/ticketvelo/ticketvelo/booker/pgstore"
	"github.com/ticketvelo/ticketvelo/internal/loop"
)

// sweeper ends holds that expired: the round that releases them in
// Postgres, and what follows an expiry (the bitmap's bits cleared, the
// buyer's admission slot freed).
type sweeper struct {
	pg         sweepPostgres
	redis      bitClearer
	admissions Admissions
	stats      *counters
	log        zerolog.Logger
	now        func() time.Time
	interval   time.Duration // between rounds
	batch      int           // holds released per transaction
	answerTTL  time.Duration // how long idempotency records are kept
}

// sweepPostgres is what the sweeper needs of Postgres.
type sweepPostgres interface {
	SweepBatch(ctx context.Context, now time.Time, limit int) ([]pgstore.ExpiredHold, error)
	PruneIdempotency(ctx context.Context, cutoff time.Time) error
}

var _ sweepPostgres = (*pgstore.Store)(nil)

// Run releases expired holds every sweep interval until ctx ends.
// Several bookers may sweep at once: each claims its holds with FOR UPDATE
// SKIP LOCKED, so no hold is released twice and none waits for another
// sweeper. Expiry is decided by expires_at in Postgres against the
// booker's clock, never by Redis key expiry.
func (s *sweeper) Run(ctx context.Context) error {
	lastPrune := time.Time{}
	return loop.Every(ctx, s.interval, func(ctx context.Context) { s.sweepRound(ctx, &lastPrune) })
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
		if err := s.pg.PruneIdempotency(rctx, s.now().Add(-s.answerTTL)); err != nil && ctx.Err() == nil {
			s.log.Warn().Err(err).Msg("pruning idempotency keys")
		}
	}
}

// SweepOnce releases the holds that have expired, in batches, and returns
// how many it released.
func (s *sweeper) SweepOnce(ctx context.Context) (int, error) {
	total := 0
	for {
		holds, err := s.pg.SweepBatch(ctx, s.now(), s.batch)
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

// afterExpiry clears the bitmap bits of expired holds and frees their
// buyers' admission slots.
func (s *sweeper) afterExpiry(ctx context.Context, holds []pgstore.ExpiredHold) {
	if len(holds) == 0 {
		return
	}
	s.stats.expired.Add(int64(len(holds)))
	holdsExpiredTotal.Add(len(holds))
	byEvent := map[int64][]int{}
	for _, h := range holds {
		byEvent[h.EventID] = append(byEvent[h.EventID], h.Seats...)
	}
	for ev, seats := range byEvent {
		if err := s.redis.SetBits(ctx, ev, seats, false, nil); err != nil {
			s.log.Debug().Err(err).Int64("event_id", ev).Msg("clearing bits of expired holds; the next snapshot repairs them")
		}
	}
	for _, h := range holds {
		s.admissionDone(ctx, h.EventID, h.UserID, h.Admission)
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
