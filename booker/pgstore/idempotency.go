package pgstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ticketvelo/ticketvelo/internal/database"
)

// Postgres keeps the idempotency record of every confirm and cancel (the
// calls that go to Postgres anyway), and the answer of every hold, which
// outlives Redis.

// Key names an idempotency record: the fan's Idempotency-Key within a
// scope (the confirms, the cancels, the holds of one event).
type Key struct {
	UserID int64
	Scope  string
	Key    string
}

// The scopes of confirms and cancels; holds have one per event (HoldKey).
const (
	ScopeConfirm = "confirm"
	ScopeCancel  = "cancel"
)

// HoldKey is the record of a fan's hold key for an event.
func HoldKey(eventID, userID int64, key string) Key {
	return Key{UserID: userID, Scope: holdScope(eventID), Key: key}
}

func holdScope(eventID int64) string { return fmt.Sprintf("hold:%d", eventID) }

// Answer is an HTTP answer as a record keeps it, byte for byte: the booker
// builds it, the store keeps it and gives it back.
type Answer struct {
	Status     int
	RetryAfter int
	Body       []byte
}

// encode is the record's response column, "<retry-after>:<body>", so a
// replayed 429 or 503 keeps its Retry-After.
func (a Answer) encode() []byte {
	return append([]byte(strconv.Itoa(a.RetryAfter)+":"), a.Body...)
}

func decodeAnswer(status int, stored []byte) (Answer, error) {
	head, body, ok := strings.Cut(string(stored), ":")
	retry, err := strconv.Atoi(head)
	if !ok || err != nil {
		return Answer{}, fmt.Errorf("stored idempotent response is corrupt")
	}
	return Answer{Status: status, Body: []byte(body), RetryAfter: retry}, nil
}

// ClaimState is what ClaimKey found.
type ClaimState int

// The states of a claim.
const (
	// Claimed: the request owns the key now.
	Claimed ClaimState = iota + 1
	// Answered: the key has its first request's answer, to replay.
	Answered
	// OtherRequest: the key was used for another request.
	OtherRequest
	// InFlight: another request with the key still runs.
	InFlight
)

// Claim is the result of ClaimKey.
type Claim struct {
	State  ClaimState
	Answer Answer // when Answered
}

// ClaimKey takes k for the request with hash. A claim whose request died
// unanswered is taken over after staleAfter.
//
// The claim is retried inside only when it surely did not land (see
// database.RetryStatement): a claim whose INSERT outcome is unknown may be
// this very request's, which a retry would see as in flight, so the fan
// gets 503 and the claim is stale, and taken over, within staleAfter.
func (s *Store) ClaimKey(ctx context.Context, k Key, hash string, staleAfter time.Duration) (Claim, error) {
	s.count(OpIdempotency)
	var tag pgconn.CommandTag
	err := database.RetryStatement(ctx, func() (err error) {
		tag, err = s.pool.Exec(ctx, `INSERT INTO idempotency_keys (user_id, key, scope, request_hash) VALUES ($1, $2, $3, $4)
			ON CONFLICT DO NOTHING`, k.UserID, k.Key, k.Scope, hash)
		return err
	})
	if err != nil {
		return Claim{}, fmt.Errorf("claiming idempotency key: %w", err)
	}
	if tag.RowsAffected() == 1 {
		return Claim{State: Claimed}, nil
	}
	r, found, err := s.readRecord(ctx, k)
	switch {
	case err != nil:
		return Claim{}, err
	case !found:
		return s.ClaimKey(ctx, k, hash, staleAfter) // the owner gave it up meanwhile
	case r.hash != hash:
		return Claim{State: OtherRequest}, nil
	case r.answered:
		return Claim{State: Answered, Answer: r.answer}, nil
	case time.Since(r.createdAt) < staleAfter:
		return Claim{State: InFlight}, nil
	}
	return s.takeOverClaim(ctx, k, r.createdAt)
}

// record is an idempotency record as Postgres keeps it.
type record struct {
	hash      string
	answered  bool
	answer    Answer // when answered
	createdAt time.Time
}

// readRecord reads the record under k; found is false when there is none.
func (s *Store) readRecord(ctx context.Context, k Key) (r record, found bool, err error) {
	var status *int
	var stored []byte
	s.count(OpIdempotency)
	err = database.Retry(ctx, func() error {
		return s.pool.QueryRow(ctx, `SELECT request_hash, status_code, response, created_at FROM idempotency_keys
			WHERE user_id = $1 AND scope = $2 AND key = $3`, k.UserID, k.Scope, k.Key).Scan(&r.hash, &status, &stored, &r.createdAt)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return record{}, false, nil
	}
	if err != nil {
		return record{}, false, fmt.Errorf("reading idempotency key: %w", err)
	}
	if status != nil {
		r.answered = true
		r.answer, err = decodeAnswer(*status, stored)
	}
	return r, true, err
}

// takeOverClaim takes a stale claim (created at createdAt) for this
// request; InFlight when another request took it first.
func (s *Store) takeOverClaim(ctx context.Context, k Key, createdAt time.Time) (Claim, error) {
	s.count(OpIdempotency)
	var tag pgconn.CommandTag
	err := database.RetryStatement(ctx, func() (err error) {
		tag, err = s.pool.Exec(ctx, `UPDATE idempotency_keys SET created_at = now()
			WHERE user_id = $1 AND scope = $2 AND key = $3 AND status_code IS NULL AND created_at = $4`, k.UserID, k.Scope, k.Key, createdAt)
		return err
	})
	if err != nil {
		return Claim{}, fmt.Errorf("taking over idempotency key: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return Claim{State: InFlight}, nil
	}
	return Claim{State: Claimed}, nil
}

// Recorded is the answer a record keeps, with the hash of the request
// that got it.
type Recorded struct {
	Hash   string
	Answer Answer
}

// StoredAnswer reads the answer recorded under k; found is false when k
// has none (no record, or a claim still unanswered).
func (s *Store) StoredAnswer(ctx context.Context, k Key) (_ Recorded, found bool, _ error) {
	r, found, err := s.readRecord(ctx, k)
	if err != nil || !found || !r.answered {
		return Recorded{}, false, err
	}
	return Recorded{Hash: r.hash, Answer: r.answer}, true, nil
}

// ErrClaimLost: the key got its answer from another request (one that
// took over this request's claim) before this one could record its own.
var ErrClaimLost = errors.New("another request with the idempotency key answered first")

// finishKey records the answer of a claimed key. Only an unanswered claim
// takes it, so a request that lost its claim never overwrites the answer
// of the one that took it over; the same answer again is a no-op, so a
// retry of finishKey itself is safe.
func finishKey(ctx context.Context, q sqlRunner, k Key, a Answer) error {
	tag, err := q.Exec(ctx, finishKeySQL, k.UserID, k.Scope, k.Key, a.Status, a.encode())
	if err != nil {
		return fmt.Errorf("recording idempotent answer: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return ErrClaimLost
	}
	return nil
}

const finishKeySQL = `UPDATE idempotency_keys SET status_code = $4, response = $5
	WHERE user_id = $1 AND scope = $2 AND key = $3
	AND (status_code IS NULL OR (status_code = $4 AND response = $5))`

// FinishKey records the answer of a claimed key in a statement of its own
// (see finishKey); ErrClaimLost when another request answered first.
func (s *Store) FinishKey(ctx context.Context, k Key, a Answer) error {
	s.count(OpIdempotency)
	return database.Retry(ctx, func() error { return finishKey(ctx, s.pool, k, a) })
}

// AbandonGrace is how long giving a claim back may take past the
// request's own deadline: a request that failed at its very end (a store
// that stalled until the deadline) still tries, briefly, and its answer is
// held up by this much at most.
const AbandonGrace = 300 * time.Millisecond

// AbandonKey gives up a claim whose request failed for a reason a retry
// may not meet again (payment timeout, a store error), so the retry runs
// at once. It runs within the request's deadline, or AbandonGrace past it,
// whatever became of the request's context; when it fails as well, the
// claim goes stale and is taken over.
func (s *Store) AbandonKey(ctx context.Context, k Key) error {
	s.count(OpIdempotency)
	deadline := time.Now().Add(AbandonGrace)
	if d, ok := ctx.Deadline(); ok && d.After(deadline) {
		deadline = d
	}
	actx, cancel := context.WithDeadline(context.WithoutCancel(ctx), deadline)
	defer cancel()
	return database.Retry(actx, func() error {
		_, err := s.pool.Exec(actx, `DELETE FROM idempotency_keys
			WHERE user_id = $1 AND scope = $2 AND key = $3 AND status_code IS NULL`, k.UserID, k.Scope, k.Key)
		return err
	})
}

// PruneIdempotency deletes idempotency records created before cutoff, a
// bounded batch at a time.
func (s *Store) PruneIdempotency(ctx context.Context, cutoff time.Time) error {
	s.count(OpSweep)
	_, err := s.pool.Exec(ctx, `DELETE FROM idempotency_keys WHERE ctid = ANY(ARRAY(
		SELECT ctid FROM idempotency_keys WHERE created_at < $1 LIMIT 5000))`, cutoff)
	if err != nil {
		return fmt.Errorf("pruning idempotency keys: %w", err)
	}
	return nil
}

// KeptAnswer is an answer Postgres keeps under a fan's hold key.
type KeptAnswer struct {
	UserID    int64
	Key, Hash string
	Answer    Answer
	CreatedAt time.Time
}

// RecentHoldAnswers reads the answers of the event's holds recorded since
// since; a record that cannot be decoded is left out.
func (s *Store) RecentHoldAnswers(ctx context.Context, eventID int64, since time.Time) ([]KeptAnswer, error) {
	s.count(OpSnapshot)
	rows, err := s.pool.Query(ctx, `SELECT user_id, key, request_hash, status_code, response, created_at FROM idempotency_keys
		WHERE scope = $1 AND created_at > $2 AND status_code IS NOT NULL`, holdScope(eventID), since)
	if err != nil {
		return nil, fmt.Errorf("reading hold answers: %w", err)
	}
	out := []KeptAnswer{}
	var k KeptAnswer
	var status int
	var stored []byte
	_, err = pgx.ForEachRow(rows, []any{&k.UserID, &k.Key, &k.Hash, &status, &stored, &k.CreatedAt}, func() error {
		a, err := decodeAnswer(status, stored)
		if err == nil {
			k.Answer = a
			out = append(out, k)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading hold answers: %w", err)
	}
	return out, nil
}
