package booker

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

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

// unknownRecord marks a key whose request's outcome is unknown.
func unknownRecord(hash string) string { return "U" + hash }

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
func (s *Service) giveBackKey(ctx context.Context, req *holdRequest, idemKey string, cause error) {
	var commit *commitError
	if errors.As(cause, &commit) {
		_ = s.redis.setRecord(ctx, idemKey, unknownRecord(req.hash), s.shortRecordTTL(req))
		return
	}
	_ = s.redis.forget(ctx, idemKey)
}

// claimHold claims the request's key in Redis (see claimAndCheck). A key
// whose earlier attempt's outcome is unknown is settled first: with that
// attempt's answer when Postgres has one, else the key is claimed afresh.
func (s *Service) claimHold(ctx context.Context, req *holdRequest, seats []int) (claimResult, error) {
	args := claimArgs{
		eventID: req.ev.ID, userID: req.userID, key: req.key, hash: req.hash, requestID: req.requestID,
		admissionExp: req.admissionExp, now: s.now(), pendingTTL: s.pendingTTL(), conflictTTL: s.shortRecordTTL(req),
		attempts: s.cfg.HoldAttempts, sentinel: req.ev.capacity(), seats: seats,
	}
	for try := 0; ; try++ {
		cl, err := s.redis.claim(ctx, args)
		if err != nil || !cl.hasPrev || !strings.HasPrefix(cl.existing, "U") || try > 0 {
			return cl, err
		}
		record, err := s.settleUnknown(ctx, req, cl.existing)
		if err != nil {
			return claimResult{}, &unknownOutcomeError{err}
		}
		if record != "" {
			return claimResult{existing: record, hasPrev: true}, nil
		}
	}
}

// settleUnknown looks up in Postgres the answer of the earlier attempt with
// the request's key, whose outcome was unknown. It returns the record to
// replay, or "" when that attempt made nothing and the key is free again.
func (s *Service) settleUnknown(ctx context.Context, req *holdRequest, record string) (string, error) {
	if record != unknownRecord(req.hash) {
		return record, nil // another request's key: replaying it says 422
	}
	hash, first, found, err := s.storedHoldAnswer(ctx, req, holdScope(req.ev.ID))
	if err != nil {
		return "", err
	}
	key := s.redis.idemKey(req.ev.ID, req.userID, req.key)
	if !found {
		return "", s.redis.swapRecord(ctx, key, record, "", 0)
	}
	done := doneRecord(hash, first)
	// Best effort: Postgres keeps the answer either way.
	_ = s.redis.swapRecord(ctx, key, record, done, s.cfg.IdempotencyTTL)
	return done, nil
}

// storedHoldAnswer reads the answer Postgres keeps for the request's key.
func (s *Service) storedHoldAnswer(ctx context.Context, req *holdRequest, scope string) (hash string, first answer, found bool, err error) {
	var status int
	var stored []byte
	s.stats.pgTx(opIdempotency)
	err = database.Retry(ctx, func() error {
		return s.pool.QueryRow(ctx, `SELECT request_hash, status_code, response FROM idempotency_keys
			WHERE user_id = $1 AND scope = $2 AND key = $3`, req.userID, scope, req.key).Scan(&hash, &status, &stored)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return "", answer{}, false, nil
	}
	if err != nil {
		return "", answer{}, false, fmt.Errorf("reading idempotency key: %w", err)
	}
	first, err = decodeStored(status, stored)
	return hash, first, err == nil, err
}
