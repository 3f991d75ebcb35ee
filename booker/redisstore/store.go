// Package redisstore is the booker's use of Redis, which only cuts load in
// front of Postgres: the taken-seat bitmaps, seat locks, the claim script
// that admits a hold request, the idempotency records of holds (whose
// format the Lua scripts share, defined once in records.go), and the
// stored seat-map snapshots. Losing any of it costs Postgres work, never
// a seat sold twice.
package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"
	"github.com/ticketvelo/ticketvelo/internal/monoclock"
	"github.com/ticketvelo/ticketvelo/internal/salekeys"
)

// errRedisDown means the hold path does not try Redis for a moment after it
// failed, so a dead Redis costs one timeout per second, not one per request.
var errRedisDown = errors.New("redis is marked down")

// Store is the booker's use of Redis: the taken-seat bitmaps, seat
// locks, idempotency records of holds and the seat-map snapshots.
//
// Keys: <prefix>bk:{<event>}:... share the event's cluster slot, so a script
// may read the bitmap and an idempotency record together; seat locks,
// <prefix>bk:lock:<event>:<seat>, carry no hash tag and spread across slots.
type Store struct {
	client  rueidis.Client
	prefix  string
	timeout time.Duration
	// onOutage is told each time calls are refused for a while.
	onOutage  func()
	downUntil atomic.Int64 // monoclock nanos
	// failingSince is when the calls began to fail with none succeeding
	// since (monoclock nanos), 0 while they succeed.
	failingSince atomic.Int64
}

// outageAfter is how long Redis must fail without one call succeeding
// before it counts as down. A count of failures in a row would not do:
// with a hundred holds in flight, one stall (a GC pause, a busy machine)
// fails them all at once, and calling that an outage refused every hold
// for a second on a healthy Redis.
const outageAfter = time.Second

// New returns the store on client, its keys under prefix, each call bounded
// by timeout; onOutage (may be nil) is told each time Redis is marked down.
// Its timing (timeouts, how long Redis stays marked down) follows the wall
// clock, not the booker's injected one, which decides hold expiry only.
func New(client rueidis.Client, prefix string, timeout time.Duration, onOutage func()) *Store {
	if onOutage == nil {
		onOutage = func() {}
	}
	return &Store{client: client, prefix: prefix, timeout: timeout, onOutage: onOutage}
}

func (r *Store) eventKey(eventID int64, suffix string) string {
	return salekeys.Booker(r.prefix, eventID) + suffix
}

// TakenKey is the event's taken-seat bitmap.
func (r *Store) TakenKey(eventID int64) string { return salekeys.Taken(r.prefix, eventID) }

// IdemKey is the idempotency record of a fan's hold key.
func (r *Store) IdemKey(eventID, userID int64, key string) string {
	return r.eventKey(eventID, "idem:"+strconv.FormatInt(userID, 10)+":"+key)
}

// attemptsKey counts the fan's hold attempts in the current window.
func (r *Store) attemptsKey(eventID, userID int64) string {
	return r.eventKey(eventID, "tries:"+strconv.FormatInt(userID, 10))
}

func (r *Store) lockKey(eventID int64, seat int) string {
	return r.prefix + "bk:lock:" + strconv.FormatInt(eventID, 10) + ":" + strconv.Itoa(seat)
}

// ctx bounds one call by the configured timeout; it fails at once while
// Redis is marked down.
func (r *Store) ctx(parent context.Context) (context.Context, context.CancelFunc, error) {
	if monoclock.Now() < r.downUntil.Load() {
		return nil, nil, errRedisDown
	}
	ctx, cancel := context.WithTimeout(parent, r.timeout)
	return ctx, cancel, nil
}

// failed records the result of a Redis call: once calls have failed for
// outageAfter with none succeeding, holds are refused (503) at once for a
// second instead of each waiting for the timeout.
func (r *Store) failed(err error) error {
	if err == nil {
		r.succeeded()
		return nil
	}
	if errors.Is(err, errRedisDown) {
		return err
	}
	now := monoclock.Now()
	r.failingSince.CompareAndSwap(0, now)
	if now-r.failingSince.Load() > int64(outageAfter) {
		r.onOutage()
		r.downUntil.Store(now + int64(time.Second))
	}
	return fmt.Errorf("redis: %w", err)
}

// succeeded ends a run of failures.
func (r *Store) succeeded() {
	if r.failingSince.Load() != 0 {
		r.failingSince.Store(0)
	}
}
