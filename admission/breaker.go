package admission

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"

	"github.com/ticketvelo/ticketvelo/internal/monoclock"
	"github.com/ticketvelo/ticketvelo/internal/redisconn"
)

// A breaker keeps an event's requests from piling up on a Redis node that
// is away. One event's keys live on one node (they share a hash tag), so
// when a call for the event finds Redis unreachable, slow or failing over,
// the event's next calls fail at once (503 with Retry-After) instead of
// each waiting out the store timeout, while one call at a time, the probe,
// goes on trying; the first call that reaches Redis closes the breaker.
// Far-back polls are answered from the gateway's memory meanwhile (see
// Room.Status), so most fans never notice a failover.
type breaker struct {
	failing atomic.Bool
	probing atomic.Bool
	// quietUntil (monoclock ns) holds the next probe back a moment after one
	// failed, so a request that met a failed probe is not the next probe,
	// and a stalled node is not asked without pause.
	quietUntil atomic.Int64
}

// probePause is how long after a failed probe the next may go.
const probePause = 250 * time.Millisecond

// pass is what a breaker lets a call do.
type pass uint8

const (
	refused pass = iota // Redis is failing: fail now
	allowed             // Redis is fine as far as anyone knows
	probe               // Redis is failing: this call finds out whether it still is
)

// errRedisFailing is the answer of a refused call.
var errRedisFailing = errors.New("the event's Redis failed a moment ago; not asking again until it answers")

func (b *breaker) allow() pass {
	switch {
	case !b.failing.Load():
		return allowed
	case monoclock.Now() < b.quietUntil.Load():
		return refused
	case b.probing.CompareAndSwap(false, true):
		return probe
	default:
		return refused
	}
}

// done records how an allowed call or a probe went: err is its Redis error.
func (b *breaker) done(p pass, err error) {
	failed := redisconn.IsUnavailable(err)
	if failed {
		b.quietUntil.Store(monoclock.Now() + int64(probePause))
	}
	b.failing.Store(failed)
	if p == probe {
		b.probing.Store(false)
	}
}

// call runs f, a Redis call of the event, within the room's call timeout,
// unless the event's breaker refuses it; f returns Redis's error, which
// call returns. The bound is a shared one (package deadline): a timer per
// call cost a drop-day join ~2 µs. A caller that set its own deadline
// keeps it, and gets the timeout on top.
func (k *eventKeys) call(ctx context.Context, f func(context.Context) error) error {
	p := k.breaker.allow()
	if p == refused {
		return errRedisFailing
	}
	var err error
	if _, ok := ctx.Deadline(); ok {
		bounded, cancel := context.WithTimeout(ctx, k.bound.Timeout())
		err = f(bounded)
		cancel()
	} else {
		err = f(k.bound.Context(time.Now()))
	}
	k.breaker.done(p, err)
	return err
}

// firstError is the first error of a pipeline's replies other than nil.
func firstError(res []rueidis.RedisResult) error {
	for _, x := range res {
		if err := x.Error(); err != nil && !rueidis.IsRedisNil(err) {
			return err
		}
	}
	return nil
}
