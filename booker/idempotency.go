package booker

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/valyala/fasthttp"

	"github.com/ticketvelo/ticketvelo/internal/apperr"
	"github.com/ticketvelo/ticketvelo/internal/database"
)

// Idempotency answers.
var (
	errKeyMissing = apperr.New(apperr.Invalid, "invalid_field", "send an Idempotency-Key header of 1-200 visible ASCII characters").
			With(map[string]any{"field": "Idempotency-Key"})
	errKeyReused = apperr.New(apperr.Invalid, "idempotency_key_reused", "this Idempotency-Key was used for another request; use a new key")
	errInFlight  = apperr.New(apperr.Conflict, "request_in_flight", "a request with this Idempotency-Key is still running; retry shortly")
)

// answer is a complete HTTP answer that an Idempotency-Key replays.
type answer struct {
	status     int
	body       []byte
	retryAfter int
	replayed   bool
}

// idempotencyKey reads and checks the Idempotency-Key header.
func idempotencyKey(ctx *fasthttp.RequestCtx) (string, error) {
	k := ctx.Request.Header.Peek("Idempotency-Key")
	if len(k) == 0 || len(k) > 200 {
		return "", errKeyMissing
	}
	for _, c := range k {
		if c < 0x21 || c > 0x7e {
			return "", errKeyMissing
		}
	}
	return string(k), nil
}

// requestHash identifies what a request asks for, so the same key with
// another request is told apart from a retry.
func requestHash(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// A Redis record is "P<hash>" while its request runs,
// "D<hash><status><retry-after>:<body>" once answered, and "U<hash>" when
// its request failed at a COMMIT that may have gone through (unknown.go).
func pendingRecord(hash string) string { return "P" + hash }

func doneRecord(hash string, a answer) string {
	return "D" + hash + strconv.Itoa(a.status) + strconv.Itoa(a.retryAfter) + ":" + string(a.body)
}

// conflictPrefix starts the record the claim script stores when it finds
// seats taken: "C<hash><request id>|" and then the seats.
func conflictPrefix(hash, requestID string) string { return "C" + hash + requestID + "|" }

// replayRecord turns a stored record into the answer for a request with
// hash: the first answer, 409 while it runs, 422 for another request.
func replayRecord(record, hash string) (answer, error) {
	if len(record) < 1+len(hash) || record[1:1+len(hash)] != hash {
		return answer{}, errKeyReused
	}
	if record[0] == 'P' || record[0] == 'U' {
		return answer{}, errInFlight
	}
	if record[0] == 'C' {
		requestID, list, ok := strings.Cut(record[1+len(hash):], "|")
		var seats []int
		for _, f := range strings.Split(list, ",") {
			n, err := strconv.Atoi(f)
			if err != nil {
				ok = false
			}
			seats = append(seats, n)
		}
		if !ok {
			return answer{}, fmt.Errorf("idempotency record is corrupt")
		}
		a := seatTakenAnswer(seats, requestID)
		a.replayed = true
		return a, nil
	}
	rest := record[1+len(hash):]
	head, body, ok := strings.Cut(rest, ":")
	if record[0] != 'D' || !ok || len(head) < 4 {
		return answer{}, fmt.Errorf("idempotency record is corrupt")
	}
	status, err1 := strconv.Atoi(head[:3])
	retry, err2 := strconv.Atoi(head[3:])
	if err1 != nil || err2 != nil {
		return answer{}, fmt.Errorf("idempotency record is corrupt")
	}
	return answer{status: status, body: []byte(body), retryAfter: retry, replayed: true}, nil
}

// pgClaim takes key for a request in Postgres, for the calls that go to
// Postgres anyway (confirm, cancel). It returns the earlier answer to
// replay, or nil when this request owns the key now. A claim whose request
// died unanswered is taken over after staleAfter.
//
// The claim is retried inside only when it surely did not land (see
// database.RetryStatement): a claim whose INSERT outcome is unknown may be
// this very request's, which a retry would see as in flight, so the fan
// gets 503 and the claim is stale, and taken over, within staleAfter.
func (s *Service) pgClaim(ctx context.Context, userID int64, scope, key, hash string, staleAfter time.Duration) (*answer, error) {
	s.stats.pgTx(opIdempotency)
	var tag pgconn.CommandTag
	err := database.RetryStatement(ctx, func() (err error) {
		tag, err = s.pool.Exec(ctx, `INSERT INTO idempotency_keys (user_id, key, scope, request_hash) VALUES ($1, $2, $3, $4)
			ON CONFLICT DO NOTHING`, userID, key, scope, hash)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("claiming idempotency key: %w", err)
	}
	if tag.RowsAffected() == 1 {
		return nil, nil
	}
	var (
		prevHash  string
		status    *int
		response  []byte
		createdAt time.Time
	)
	s.stats.pgTx(opIdempotency)
	err = database.Retry(ctx, func() error {
		return s.pool.QueryRow(ctx, `SELECT request_hash, status_code, response, created_at FROM idempotency_keys
			WHERE user_id = $1 AND scope = $2 AND key = $3`, userID, scope, key).Scan(&prevHash, &status, &response, &createdAt)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return s.pgClaim(ctx, userID, scope, key, hash, staleAfter) // the owner gave it up meanwhile
	}
	if err != nil {
		return nil, fmt.Errorf("reading idempotency key: %w", err)
	}
	if prevHash != hash {
		return nil, errKeyReused
	}
	if status != nil {
		a, err := decodeStored(*status, response)
		return &a, err
	}
	if time.Since(createdAt) < staleAfter {
		return nil, errInFlight
	}
	s.stats.pgTx(opIdempotency)
	err = database.RetryStatement(ctx, func() (err error) {
		tag, err = s.pool.Exec(ctx, `UPDATE idempotency_keys SET created_at = now()
			WHERE user_id = $1 AND scope = $2 AND key = $3 AND status_code IS NULL AND created_at = $4`, userID, scope, key, createdAt)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("taking over idempotency key: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return nil, errInFlight
	}
	return nil, nil
}

// Stored responses are "<retry-after>:<body>" so a replayed 429 or 503
// keeps its Retry-After.
func encodeStored(a answer) []byte {
	return append([]byte(strconv.Itoa(a.retryAfter)+":"), a.body...)
}

func decodeStored(status int, stored []byte) (answer, error) {
	head, body, ok := strings.Cut(string(stored), ":")
	retry, err := strconv.Atoi(head)
	if !ok || err != nil {
		return answer{}, fmt.Errorf("stored idempotent response is corrupt")
	}
	return answer{status: status, body: []byte(body), retryAfter: retry, replayed: true}, nil
}

// errClaimLost: the key got its answer from another request (one that took
// over this request's claim) before this one could record its own; a
// retry replays that answer.
var errClaimLost = errInFlight.Withf("another request with this Idempotency-Key answered first; retry to see its answer")

// pgFinish records the answer of a claimed key. Only an unanswered claim
// takes it, so a request that lost its claim never overwrites the answer
// of the one that took it over; the same answer again is a no-op, so a
// retry of pgFinish itself is safe.
func pgFinish(ctx context.Context, q execer, userID int64, scope, key string, a answer) error {
	tag, err := q.Exec(ctx, pgFinishSQL, userID, scope, key, a.status, encodeStored(a))
	if err != nil {
		return fmt.Errorf("recording idempotent answer: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return errClaimLost
	}
	return nil
}

const pgFinishSQL = `UPDATE idempotency_keys SET status_code = $4, response = $5
	WHERE user_id = $1 AND scope = $2 AND key = $3
	AND (status_code IS NULL OR (status_code = $4 AND response = $5))`

// abandonGrace is how long giving a claim back may take past the
// request's own deadline: a request that failed at its very end (a store
// that stalled until the deadline) still tries, briefly, and its answer is
// held up by this much at most.
const abandonGrace = 300 * time.Millisecond

// claimStale is how long a confirm's or cancel's claim may say "in flight"
// before another request with its key takes it over: past the longest its
// request can run (the store timeout plus extra, the payment's wait) and
// give the claim back, so the request that took it has surely ended. A
// request that failed on a fault gives its claim back at once (pgAbandon);
// only when that fails too does the key wait this long: seconds, not the
// half minute it once did.
func (s *Service) claimStale(extra time.Duration) time.Duration {
	return s.storeTimeout + extra + abandonGrace + 700*time.Millisecond
}

// pgAbandon gives up a claim whose request failed for a reason a retry may
// not meet again (payment timeout, a store error), so the retry runs at
// once. It runs within the request's deadline, or abandonGrace past it,
// whatever became of the request's context; when it fails as well,
// claimStale frees the key.
func (s *Service) pgAbandon(ctx context.Context, userID int64, scope, key string) {
	s.stats.pgTx(opIdempotency)
	deadline := time.Now().Add(abandonGrace)
	if d, ok := ctx.Deadline(); ok && d.After(deadline) {
		deadline = d
	}
	actx, cancel := context.WithDeadline(context.WithoutCancel(ctx), deadline)
	defer cancel()
	err := database.Retry(actx, func() error {
		_, err := s.pool.Exec(actx, `DELETE FROM idempotency_keys
			WHERE user_id = $1 AND scope = $2 AND key = $3 AND status_code IS NULL`, userID, scope, key)
		return err
	})
	if err != nil {
		s.log.Warn().Err(err).Str("scope", scope).Msg("releasing idempotency key; it frees itself when stale")
	}
}

// execer runs a statement: a pool or a transaction.
type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}
