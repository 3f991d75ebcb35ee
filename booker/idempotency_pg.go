package booker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ticketvelo/ticketvelo/internal/database"
)

// Postgres keeps the idempotency record of every confirm and cancel (the
// calls that go to Postgres anyway), and the answer of every hold, which
// outlives Redis.

// claimKey takes key for a request in Postgres. It returns the earlier
// answer to replay (replay true), or replay false when this request owns
// the key now. A claim whose request died unanswered is taken over after
// staleAfter.
//
// The claim is retried inside only when it surely did not land (see
// database.RetryStatement): a claim whose INSERT outcome is unknown may be
// this very request's, which a retry would see as in flight, so the fan
// gets 503 and the claim is stale, and taken over, within staleAfter.
func (p *pgStore) claimKey(ctx context.Context, userID int64, scope, key, hash string, staleAfter time.Duration) (prev answer, replay bool, err error) {
	p.stats.pgTx(opIdempotency)
	var tag pgconn.CommandTag
	err = database.RetryStatement(ctx, func() (err error) {
		tag, err = p.pool.Exec(ctx, `INSERT INTO idempotency_keys (user_id, key, scope, request_hash) VALUES ($1, $2, $3, $4)
			ON CONFLICT DO NOTHING`, userID, key, scope, hash)
		return err
	})
	if err != nil {
		return answer{}, false, fmt.Errorf("claiming idempotency key: %w", err)
	}
	if tag.RowsAffected() == 1 {
		return answer{}, false, nil
	}
	c, found, err := p.readClaim(ctx, userID, scope, key)
	switch {
	case err != nil:
		return answer{}, false, err
	case !found:
		return p.claimKey(ctx, userID, scope, key, hash, staleAfter) // the owner gave it up meanwhile
	case c.hash != hash:
		return answer{}, false, errKeyReused
	case c.answered:
		return c.answer, true, nil
	case time.Since(c.createdAt) < staleAfter:
		return answer{}, false, errInFlight
	}
	return answer{}, false, p.takeOverClaim(ctx, userID, scope, key, c.createdAt)
}

// claim is an idempotency record as Postgres keeps it.
type claim struct {
	hash      string
	answered  bool
	answer    answer // when answered
	createdAt time.Time
}

// readClaim reads the record under a key; found is false when there is none.
func (p *pgStore) readClaim(ctx context.Context, userID int64, scope, key string) (c claim, found bool, err error) {
	var status *int
	var stored []byte
	p.stats.pgTx(opIdempotency)
	err = database.Retry(ctx, func() error {
		return p.pool.QueryRow(ctx, `SELECT request_hash, status_code, response, created_at FROM idempotency_keys
			WHERE user_id = $1 AND scope = $2 AND key = $3`, userID, scope, key).Scan(&c.hash, &status, &stored, &c.createdAt)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return claim{}, false, nil
	}
	if err != nil {
		return claim{}, false, fmt.Errorf("reading idempotency key: %w", err)
	}
	if status != nil {
		c.answered = true
		c.answer, err = decodeStored(*status, stored)
	}
	return c, true, err
}

// takeOverClaim takes a stale claim (created at createdAt) for this
// request; errInFlight when another request took it first.
func (p *pgStore) takeOverClaim(ctx context.Context, userID int64, scope, key string, createdAt time.Time) error {
	p.stats.pgTx(opIdempotency)
	var tag pgconn.CommandTag
	err := database.RetryStatement(ctx, func() (err error) {
		tag, err = p.pool.Exec(ctx, `UPDATE idempotency_keys SET created_at = now()
			WHERE user_id = $1 AND scope = $2 AND key = $3 AND status_code IS NULL AND created_at = $4`, userID, scope, key, createdAt)
		return err
	})
	if err != nil {
		return fmt.Errorf("taking over idempotency key: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return errInFlight
	}
	return nil
}

// storedHold is the answer Postgres keeps for a hold's key.
type storedHold struct {
	hash   string
	answer answer
}

// storedAnswer reads the answer Postgres keeps for a key; found is false
// when the key has none (no record, or a claim still unanswered).
func (p *pgStore) storedAnswer(ctx context.Context, userID int64, scope, key string) (storedHold, bool, error) {
	c, found, err := p.readClaim(ctx, userID, scope, key)
	if err != nil || !found || !c.answered {
		return storedHold{}, false, err
	}
	return storedHold{hash: c.hash, answer: c.answer}, true, nil
}

// errClaimLost: the key got its answer from another request (one that took
// over this request's claim) before this one could record its own; a
// retry replays that answer.
var errClaimLost = errInFlight.Withf("another request with this Idempotency-Key answered first; retry to see its answer")

// finishKey records the answer of a claimed key. Only an unanswered claim
// takes it, so a request that lost its claim never overwrites the answer
// of the one that took it over; the same answer again is a no-op, so a
// retry of finishKey itself is safe.
func finishKey(ctx context.Context, q sqlRunner, userID int64, scope, key string, a answer) error {
	tag, err := q.Exec(ctx, finishKeySQL, userID, scope, key, a.status, encodeStored(a))
	if err != nil {
		return fmt.Errorf("recording idempotent answer: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return errClaimLost
	}
	return nil
}

const finishKeySQL = `UPDATE idempotency_keys SET status_code = $4, response = $5
	WHERE user_id = $1 AND scope = $2 AND key = $3
	AND (status_code IS NULL OR (status_code = $4 AND response = $5))`

// finishKeyAlone is finishKey in a statement of its own.
func (p *pgStore) finishKeyAlone(ctx context.Context, userID int64, scope, key string, a answer) error {
	p.stats.pgTx(opIdempotency)
	return database.Retry(ctx, func() error { return finishKey(ctx, p.pool, userID, scope, key, a) })
}

// abandonGrace is how long giving a claim back may take past the
// request's own deadline: a request that failed at its very end (a store
// that stalled until the deadline) still tries, briefly, and its answer is
// held up by this much at most.
const abandonGrace = 300 * time.Millisecond

// abandonKey gives up a claim whose request failed for a reason a retry
// may not meet again (payment timeout, a store error), so the retry runs
// at once. It runs within the request's deadline, or abandonGrace past it,
// whatever became of the request's context; when it fails as well, the
// claim goes stale and is taken over.
func (p *pgStore) abandonKey(ctx context.Context, userID int64, scope, key string) error {
	p.stats.pgTx(opIdempotency)
	deadline := time.Now().Add(abandonGrace)
	if d, ok := ctx.Deadline(); ok && d.After(deadline) {
		deadline = d
	}
	actx, cancel := context.WithDeadline(context.WithoutCancel(ctx), deadline)
	defer cancel()
	return database.Retry(actx, func() error {
		_, err := p.pool.Exec(actx, `DELETE FROM idempotency_keys
			WHERE user_id = $1 AND scope = $2 AND key = $3 AND status_code IS NULL`, userID, scope, key)
		return err
	})
}

// pruneIdempotency deletes idempotency records created before cutoff, a
// bounded batch at a time.
func (p *pgStore) pruneIdempotency(ctx context.Context, cutoff time.Time) error {
	p.stats.pgTx(opSweep)
	_, err := p.pool.Exec(ctx, `DELETE FROM idempotency_keys WHERE ctid = ANY(ARRAY(
		SELECT ctid FROM idempotency_keys WHERE created_at < $1 LIMIT 5000))`, cutoff)
	if err != nil {
		return fmt.Errorf("pruning idempotency keys: %w", err)
	}
	return nil
}

// keptAnswer is an answer Postgres keeps under a fan's key.
type keptAnswer struct {
	userID    int64
	key, hash string
	answer    answer
	createdAt time.Time
}

// recentAnswers reads the answers of scope recorded since since.
func (p *pgStore) recentAnswers(ctx context.Context, scope string, since time.Time) ([]keptAnswer, error) {
	p.stats.pgTx(opSnapshot)
	rows, err := p.pool.Query(ctx, `SELECT user_id, key, request_hash, status_code, response, created_at FROM idempotency_keys
		WHERE scope = $1 AND created_at > $2 AND status_code IS NOT NULL`, scope, since)
	if err != nil {
		return nil, fmt.Errorf("reading hold answers: %w", err)
	}
	var out []keptAnswer
	var k keptAnswer
	var status int
	var stored []byte
	_, err = pgx.ForEachRow(rows, []any{&k.userID, &k.key, &k.hash, &status, &stored, &k.createdAt}, func() error {
		a, err := decodeStored(status, stored)
		if err == nil {
			k.answer = a
			out = append(out, k)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading hold answers: %w", err)
	}
	return out, nil
}
