package booker

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"

	"github.com/valyala/fasthttp"

	"github.com/ticketvelo/ticketvelo/booker/pgstore"
	"github.com/ticketvelo/ticketvelo/booker/redisstore"
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
	// upstream marks a failure outside the booker (the payment provider
	// timed out): not the booker's health, and never stored.
	upstream bool
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

// doneRecord is the Redis record of answer a to the request with hash.
func doneRecord(hash string, a answer) redisstore.Record {
	return redisstore.DoneRecord(hash, a.status, a.retryAfter, a.body)
}

// replayRecord turns a stored record into the answer for a request with
// hash: the first answer, 409 while it runs, 422 for another request.
func replayRecord(rec redisstore.Record, hash string) (answer, error) {
	d, err := rec.Decode(hash)
	switch {
	case errors.Is(err, redisstore.ErrOtherRequest):
		return answer{}, errKeyReused
	case err != nil:
		return answer{}, err
	}
	switch d.Kind {
	case redisstore.KindPending, redisstore.KindUnknown:
		return answer{}, errInFlight
	case redisstore.KindConflict:
		a := seatTakenAnswer(d.Seats, d.RequestID)
		a.replayed = true
		return a, nil
	}
	return answer{status: d.Status, body: d.Body, retryAfter: d.RetryAfter, replayed: true}, nil
}

// kept is a as an idempotency record in Postgres keeps it.
func (a answer) kept() pgstore.Answer {
	return pgstore.Answer{Status: a.status, RetryAfter: a.retryAfter, Body: a.body}
}

// answerOf is the answer a record in Postgres keeps.
func answerOf(k pgstore.Answer) answer {
	return answer{status: k.Status, body: k.Body, retryAfter: k.RetryAfter}
}

// replayOf is the answer a record in Postgres kept, replayed.
func replayOf(k pgstore.Answer) answer {
	a := answerOf(k)
	a.replayed = true
	return a
}
