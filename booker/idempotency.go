package booker

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

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

// record is an idempotency record of a hold as Redis keeps it: a kind
// byte, the request's hash, and what the kind carries. The claim script
// writes the pending and the conflict records; restoreRecord reads the kind.
type record string

// recordKind is a record's first byte.
type recordKind byte

// The kinds of record.
const (
	// recordPending, "P<hash>": the request runs.
	recordPending recordKind = 'P'
	// recordDone, "D<hash><status><retry-after>:<body>": the answer.
	recordDone recordKind = 'D'
	// recordConflict, "C<hash><request id>|<taken seats>": the 409 the
	// claim script answered when the bitmap showed the seats taken.
	recordConflict recordKind = 'C'
	// recordUnknown, "U<hash>": the request failed at a COMMIT that may
	// have gone through (unknown.go).
	recordUnknown recordKind = 'U'
)

func (r record) kind() recordKind {
	if r == "" {
		return 0
	}
	return recordKind(r[0])
}

func newRecord(k recordKind, hash string) record { return record(string(rune(k)) + hash) }

func pendingRecord(hash string) record { return newRecord(recordPending, hash) }

func doneRecord(hash string, a answer) record {
	return newRecord(recordDone, hash) + record(strconv.Itoa(a.status)+strconv.Itoa(a.retryAfter)+":"+string(a.body))
}

// conflictPrefix starts the record the claim script stores when it finds
// seats taken; the script appends the seats.
func conflictPrefix(hash, requestID string) record {
	return newRecord(recordConflict, hash) + record(requestID+"|")
}

var errCorruptRecord = errors.New("idempotency record is corrupt")

// replayRecord turns a stored record into the answer for a request with
// hash: the first answer, 409 while it runs, 422 for another request.
func replayRecord(rec record, hash string) (answer, error) {
	if len(rec) < 1+len(hash) || string(rec[1:1+len(hash)]) != hash {
		return answer{}, errKeyReused
	}
	rest := string(rec[1+len(hash):])
	switch rec.kind() {
	case recordPending, recordUnknown:
		return answer{}, errInFlight
	case recordConflict:
		return replayConflict(rest)
	case recordDone:
		head, body, ok := strings.Cut(rest, ":")
		if !ok || len(head) < 4 {
			return answer{}, errCorruptRecord
		}
		status, err1 := strconv.Atoi(head[:3])
		retry, err2 := strconv.Atoi(head[3:])
		if err1 != nil || err2 != nil {
			return answer{}, errCorruptRecord
		}
		return answer{status: status, body: []byte(body), retryAfter: retry, replayed: true}, nil
	}
	return answer{}, errCorruptRecord
}

// replayConflict rebuilds the 409 of a conflict record from what follows
// its hash: "<request id>|<taken seats>".
func replayConflict(rest string) (answer, error) {
	requestID, list, ok := strings.Cut(rest, "|")
	var seats []int
	for _, f := range strings.Split(list, ",") {
		n, err := strconv.Atoi(f)
		if err != nil {
			ok = false
		}
		seats = append(seats, n)
	}
	if !ok {
		return answer{}, errCorruptRecord
	}
	a := seatTakenAnswer(seats, requestID)
	a.replayed = true
	return a, nil
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
