// Package deadline bounds calls on the hot path without a timer each.
//
// context.WithTimeout costs a timer per call, and under a parent that is
// not a context of the standard library (fasthttp's RequestCtx) also a
// goroutine that waits for either to end: about 2 µs of a drop-day join,
// which only needs its Redis call to end within a bound. A Shared context
// serves every call that starts within the same grain.
package deadline

import (
	"context"
	"sync/atomic"
	"time"
)

// Shared hands out contexts that end between timeout and timeout + grain
// after the call that asked for one, one context (and one timer) a grain.
type Shared struct {
	timeout, grain time.Duration
	cur            atomic.Pointer[slot]
}

type slot struct {
	// start is when the grain began. Calls are compared to it on the
	// monotonic clock: a wall clock that steps back (NTP) must not let a
	// later call share a context that ends too soon for it.
	start time.Time
	ctx   context.Context
	// cancel is never called: calls in flight share ctx until its deadline,
	// which releases its timer.
	cancel context.CancelFunc
}

// NewShared returns contexts that end timeout (and at most a hundredth of
// it, or a millisecond, more) after they are asked for.
func NewShared(timeout time.Duration) *Shared {
	return &Shared{timeout: timeout, grain: max(timeout/100, time.Millisecond)}
}

// Timeout is the least time a context of s leaves a call.
func (s *Shared) Timeout() time.Duration { return s.timeout }

// Context is a context for a call starting at now. It carries no values
// and no cancellation of the caller's: the bound is all it gives.
func (s *Shared) Context(now time.Time) context.Context {
	if c := s.cur.Load(); c != nil {
		if since := now.Sub(c.start); since >= 0 && since < s.grain {
			return c.ctx
		}
	}
	ctx, cancel := context.WithDeadline(context.Background(), now.Add(s.timeout+s.grain))
	// Two callers may both make one at a grain's start; either serves.
	s.cur.Store(&slot{start: now, ctx: ctx, cancel: cancel})
	return ctx
}
