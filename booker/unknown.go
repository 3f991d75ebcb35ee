package booker

import (
	"context"
	"errors"

	"github.com/ticketvelo/ticketvelo/booker/pgstore"
	"github.com/ticketvelo/ticketvelo/booker/redisstore"
	"github.com/ticketvelo/ticketvelo/internal/database"
)

// A hold whose COMMIT failed may have been made all the same: the
// connection broke after Postgres received the COMMIT, before its answer
// came back. Giving its key back would let the fan's retry be decided by
// the bitmap, which by then may show the hold's own seats taken (by that
// very hold), and the fan would get 409 while a hold in their name keeps
// the seats for ten minutes. So the key keeps a record "U<hash>" instead:
// the outcome is unknown, and the next request with the key asks Postgres,
// which has the answer if the hold was made, before anything else.

// unknownOutcomeError: Postgres could not say whether an earlier attempt
// with the key made its hold; the retry gets 503 and tries again.
type unknownOutcomeError struct{ err error }

func (e *unknownOutcomeError) Error() string {
	return "checking an earlier attempt's outcome: " + e.err.Error()
}
func (e *unknownOutcomeError) Unwrap() error { return e.err }

// giveBackKey frees the key of a request that failed, so its retry runs at
// once; when its hold may have been made (a failed COMMIT), the key says
// so instead.
func (h *holdRules) giveBackKey(ctx context.Context, req *holdRequest, idemKey string, cause error) {
	if errors.Is(cause, database.ErrCommitUnknown) {
		_ = h.redis.SetRecord(ctx, idemKey, redisstore.UnknownRecord(req.hash), h.shortRecordTTL(req))
		return
	}
	_ = h.redis.Forget(ctx, idemKey)
}

// claimHold claims the request's key in Redis (redisstore.Store.Claim). A key
// whose earlier attempt's outcome is unknown is settled first: with that
// attempt's answer when Postgres has one, else the key is claimed afresh.
func (h *holdRules) claimHold(ctx context.Context, req *holdRequest, seats []int) (redisstore.ClaimResult, error) {
	args := redisstore.ClaimArgs{
		EventID: req.ev.ID, UserID: req.userID, Key: req.key, Hash: req.hash, RequestID: req.requestID,
		AdmissionExp: req.admissionExp, Now: h.now(), PendingTTL: h.pendingTTL(), ConflictTTL: h.shortRecordTTL(req),
		Attempts: h.cfg.HoldAttempts, Sentinel: req.ev.capacity(), Seats: seats,
	}
	for try := 0; ; try++ {
		cl, err := h.redis.Claim(ctx, args)
		if err != nil || !cl.HasPrev || cl.Existing.Kind() != redisstore.KindUnknown || try > 0 {
			return cl, err
		}
		rec, settled, err := h.settleUnknown(ctx, req, cl.Existing)
		if err != nil {
			return redisstore.ClaimResult{}, &unknownOutcomeError{err}
		}
		if settled {
			return redisstore.ClaimResult{Existing: rec, HasPrev: true}, nil
		}
	}
}

// settleUnknown looks up in Postgres the answer of the earlier attempt with
// the request's key, whose outcome was unknown. It returns the record to
// replay (settled), or settled false when that attempt made nothing and
// the key is free again.
func (h *holdRules) settleUnknown(ctx context.Context, req *holdRequest, rec redisstore.Record) (_ redisstore.Record, settled bool, _ error) {
	if rec != redisstore.UnknownRecord(req.hash) {
		return rec, true, nil // another request's key: replaying it says 422
	}
	first, found, err := h.pg.StoredAnswer(ctx, pgstore.HoldKey(req.ev.ID, req.userID, req.key))
	if err != nil {
		return "", false, err
	}
	key := h.redis.IdemKey(req.ev.ID, req.userID, req.key)
	if !found {
		return "", false, h.redis.SwapRecord(ctx, key, rec, "", 0)
	}
	done := doneRecord(first.Hash, replayOf(first.Answer))
	// Best effort: Postgres keeps the answer either way.
	_ = h.redis.SwapRecord(ctx, key, rec, done, h.cfg.IdempotencyTTL)
	return done, true, nil
}
