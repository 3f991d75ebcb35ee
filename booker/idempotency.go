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

// A Redis record is "P<hash>" while its request runs and
// "D<hash><status><retry-after>:<body>" once answered.
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
	if record[0] == 'P' {
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
func (s *Service) pgClaim(ctx context.Context, userID int64, scope, key, hash string, staleAfter time.Duration) (*answer, error) {
	s.stats.pgTx(opIdempotency)
	tag, err := s.pool.Exec(ctx, `INSERT INTO idempotency_keys (user_id, key, scope, request_hash) VALUES ($1, $2, $3, $4)
		ON CONFLICT DO NOTHING`, userID, key, scope, hash)
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
	err = s.pool.QueryRow(ctx, `SELECT request_hash, status_code, response, created_at FROM idempotency_keys
		WHERE user_id = $1 AND scope = $2 AND key = $3`, userID, scope, key).Scan(&prevHash, &status, &response, &createdAt)
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
	tag, err = s.pool.Exec(ctx, `UPDATE idempotency_keys SET created_at = now()
		WHERE user_id = $1 AND scope = $2 AND key = $3 AND status_code IS NULL AND created_at = $4`, userID, scope, key, createdAt)
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

// pgFinish records the answer of a claimed key.
func pgFinish(ctx context.Context, q execer, userID int64, scope, key string, a answer) error {
	_, err := q.Exec(ctx, `UPDATE idempotency_keys SET status_code = $4, response = $5
		WHERE user_id = $1 AND scope = $2 AND key = $3`, userID, scope, key, a.status, encodeStored(a))
	if err != nil {
		return fmt.Errorf("recording idempotent answer: %w", err)
	}
	return nil
}

// pgAbandon gives up a claim whose request failed for a reason a retry may
// not meet again (payment timeout, a store error).
func (s *Service) pgAbandon(ctx context.Context, userID int64, scope, key string) {
	s.stats.pgTx(opIdempotency)
	_, err := s.pool.Exec(context.WithoutCancel(ctx), `DELETE FROM idempotency_keys
		WHERE user_id = $1 AND scope = $2 AND key = $3 AND status_code IS NULL`, userID, scope, key)
	if err != nil {
		s.log.Warn().Err(err).Msg("releasing idempotency key")
	}
}

// execer runs a statement: a pool or a transaction.
type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}
