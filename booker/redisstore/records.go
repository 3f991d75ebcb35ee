package redisstore

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/redis/rueidis"
)

// Record is an idempotency record of a hold as Redis keeps it: a kind
// byte, the request's hash, and what the kind carries. The claim script
// writes the pending and the conflict records; restoreRecord reads the
// kind. This file is the one definition of the format.
type Record string

// Kind is a record's first byte.
type Kind byte

// The kinds of record.
const (
	// KindPending, "P<hash>": the request runs.
	KindPending Kind = 'P'
	// KindDone, "D<hash><status><retry-after>:<body>": the answer.
	KindDone Kind = 'D'
	// KindConflict, "C<hash><request id>|<taken seats>": the 409 the claim
	// script answered when the bitmap showed the seats taken.
	KindConflict Kind = 'C'
	// KindUnknown, "U<hash>": the request failed at a COMMIT that may have
	// gone through.
	KindUnknown Kind = 'U'
)

// Kind is the record's kind; 0 for an empty record.
func (r Record) Kind() Kind {
	if r == "" {
		return 0
	}
	return Kind(r[0])
}

func newRecord(k Kind, hash string) Record { return Record(string(rune(k)) + hash) }

// PendingRecord marks a key whose request runs.
func PendingRecord(hash string) Record { return newRecord(KindPending, hash) }

// UnknownRecord marks a key whose request's outcome is unknown.
func UnknownRecord(hash string) Record { return newRecord(KindUnknown, hash) }

// DoneRecord is the answer of the request with hash.
func DoneRecord(hash string, status, retryAfter int, body []byte) Record {
	return newRecord(KindDone, hash) + Record(strconv.Itoa(status)+strconv.Itoa(retryAfter)+":"+string(body))
}

// ConflictPrefix starts the record the claim script stores when it finds
// seats taken; the script appends the seats, comma-separated.
func ConflictPrefix(hash, requestID string) Record {
	return newRecord(KindConflict, hash) + Record(requestID+"|")
}

// Errors of Decode.
var (
	ErrOtherRequest = errors.New("the record is another request's")
	ErrCorrupt      = errors.New("idempotency record is corrupt")
)

// Decoded is what a record says.
type Decoded struct {
	Kind Kind
	// Of KindDone: the answer.
	Status, RetryAfter int
	Body               []byte
	// Of KindConflict: the first request's id and the seats it found taken.
	RequestID string
	Seats     []int
}

// Decode reads the record for the request with hash: ErrOtherRequest when
// it is another request's, ErrCorrupt when it cannot be read.
func (r Record) Decode(hash string) (Decoded, error) {
	if len(r) < 1+len(hash) || string(r[1:1+len(hash)]) != hash {
		return Decoded{}, ErrOtherRequest
	}
	d := Decoded{Kind: r.Kind()}
	rest := string(r[1+len(hash):])
	switch d.Kind {
	case KindPending, KindUnknown:
		return d, nil
	case KindConflict:
		if err := d.conflict(rest); err != nil {
			return Decoded{}, err
		}
		return d, nil
	case KindDone:
		head, body, ok := strings.Cut(rest, ":")
		if !ok || len(head) < 4 {
			return Decoded{}, ErrCorrupt
		}
		status, err1 := strconv.Atoi(head[:3])
		retry, err2 := strconv.Atoi(head[3:])
		if err1 != nil || err2 != nil {
			return Decoded{}, ErrCorrupt
		}
		d.Status, d.RetryAfter, d.Body = status, retry, []byte(body)
		return d, nil
	}
	return Decoded{}, ErrCorrupt
}

// conflict reads what follows a conflict record's hash: "<request
// id>|<taken seats>".
func (d *Decoded) conflict(rest string) error {
	requestID, list, ok := strings.Cut(rest, "|")
	for _, f := range strings.Split(list, ",") {
		n, err := strconv.Atoi(f)
		if err != nil {
			return ErrCorrupt
		}
		d.Seats = append(d.Seats, n)
	}
	if !ok {
		return ErrCorrupt
	}
	d.RequestID = requestID
	return nil
}

// setCommand stores an idempotency record.
func (r *Store) setCommand(w Write) rueidis.Completed {
	return r.client.B().Set().Key(w.Key).Value(string(w.Value)).PxMilliseconds(w.TTL.Milliseconds()).Build()
}

// Write is an idempotency record to store.
type Write struct {
	Key   string
	Value Record
	TTL   time.Duration
}

// Get reads the record under key; "" when there is none.
func (r *Store) Get(ctx context.Context, key string) (Record, error) {
	cctx, cancel, err := r.ctx(ctx)
	if err != nil {
		return "", err
	}
	defer cancel()
	v, err := r.client.Do(cctx, r.client.B().Get().Key(key).Build()).ToString()
	if rueidis.IsRedisNil(err) {
		return "", nil
	}
	return Record(v), r.failed(err)
}

// Forget deletes the pending claim of a request that failed, so its retry
// runs at once. It runs whatever became of the request's context (its
// store timeout passing is the usual reason to be here), within the Redis
// timeout; if it fails too, the claim's own TTL frees the key.
func (r *Store) Forget(ctx context.Context, key string) error {
	cctx, cancel, err := r.ctx(context.WithoutCancel(ctx))
	if err != nil {
		return err
	}
	defer cancel()
	return r.failed(r.client.Do(cctx, r.client.B().Del().Key(key).Build()).Error())
}

// SetRecord stores an idempotency record, whatever became of the
// request's context, within the Redis timeout.
func (r *Store) SetRecord(ctx context.Context, key string, value Record, ttl time.Duration) error {
	cctx, cancel, err := r.ctx(context.WithoutCancel(ctx))
	if err != nil {
		return err
	}
	defer cancel()
	return r.failed(r.client.Do(cctx, r.client.B().Set().Key(key).Value(string(value)).PxMilliseconds(ttl.Milliseconds()).Build()).Error())
}

// SwapRecord replaces the record under key with value (deletes it when
// value is empty) if it is still old: a request that claimed the key
// meanwhile keeps its claim.
func (r *Store) SwapRecord(ctx context.Context, key string, old, value Record, ttl time.Duration) error {
	cctx, cancel, err := r.ctx(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	ms := strconv.FormatInt(max(1, ttl.Milliseconds()), 10)
	return r.failed(swapScript.Exec(cctx, r.client, []string{key}, []string{string(old), string(value), ms}).Error())
}

var swapScript = rueidis.NewLuaScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == '' then return redis.call('DEL', KEYS[1]) end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
`)

// RestoreRecords puts answers back, a thousand a round trip, leaving keys
// that have an answer already.
func (r *Store) RestoreRecords(ctx context.Context, writes []Write) error {
	for len(writes) > 0 {
		n := min(len(writes), 1000)
		execs := make([]rueidis.LuaExec, n)
		for i, w := range writes[:n] {
			execs[i] = rueidis.LuaExec{Keys: []string{w.Key},
				Args: []string{string(w.Value), strconv.FormatInt(max(1, w.TTL.Milliseconds()), 10), string(rune(KindDone))}}
		}
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		for _, res := range restoreRecord.ExecMulti(cctx, r.client, execs...) {
			if err := res.Error(); err != nil {
				cancel()
				return r.failed(err)
			}
		}
		cancel()
		writes = writes[n:]
	}
	return nil
}

// restoreRecord puts back an answer unless the key already has one (a
// record of the kind ARGV[3]); a pending claim there is a retry of that
// very request (or a reuse of its key), which must now find the answer.
var restoreRecord = rueidis.NewLuaScript(`
local cur = redis.call('GET', KEYS[1])
if cur and string.sub(cur, 1, 1) == ARGV[3] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`)
