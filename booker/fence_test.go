package booker

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ticketvelo/ticketvelo/internal/config"
)

// TestFenceLockExpiresWhileHolderStallsInTransaction: A updates seats 1 and
// 2 and stalls before committing; its Redis locks expire; B takes the locks
// of 2 and 3 and reaches Postgres, where it waits on A's row locks and then
// finds seat 2 taken. Postgres, not the lock, decides.
func TestFenceLockExpiresWhileHolderStallsInTransaction(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{cfg: func(c *config.BookerConfig) {
		c.SeatLockTTL = 100 * time.Millisecond
		c.SeatLockWait = 0
	}})
	h.serve()
	users := h.users(2)
	stalled, resume := make(chan struct{}), make(chan struct{})
	var once sync.Once
	h.svc.pg.hooks.afterSeatUpdate = func(seats []int) {
		if slices.Equal(seats, []int{1, 2}) {
			once.Do(func() {
				close(stalled)
				<-resume
			})
		}
	}
	var a reply
	done := make(chan struct{})
	go func() {
		defer close(done)
		a = h.holdSeats(users[0], "a", 1, 2)
	}()
	<-stalled
	time.Sleep(250 * time.Millisecond) // A's locks expire
	bDone := make(chan reply)
	go func() { bDone <- h.holdSeats(users[1], "b", 2, 3) }()
	time.Sleep(300 * time.Millisecond) // B is now waiting on A's rows
	select {
	case r := <-bDone:
		t.Fatalf("B answered %d %s while A still held the rows", r.status, r.body)
	default:
	}
	close(resume)
	<-done
	b := <-bDone
	if a.status != 201 {
		t.Fatalf("A: got %d %s, want 201", a.status, a.body)
	}
	if b.status != 409 || b.code() != "seat_taken" {
		t.Fatalf("B: got %d %s, want 409 seat_taken", b.status, b.body)
	}
	if n := h.svc.Stats().Decided["conflict/postgres"]; n != 1 {
		t.Errorf("conflicts decided by Postgres: got %d, want 1 (B got past its locks)", n)
	}
	checkInvariants(t, h.pool, h.eventID)
	if got := seatStatus(t, h.pool, h.eventID); got["held"] != 2 {
		t.Errorf("seat statuses: got %v, want 2 held (A's)", got)
	}
}

// TestFenceLockExpiresBeforeStalledHolderUpdates: A takes the locks of 1
// and 2 and stalls before its transaction; the locks expire; B holds 2 and
// 3 and commits; when A goes on, its update finds seat 2 changed and A gets
// 409. A's late release must not delete locks it no longer owns.
func TestFenceLockExpiresBeforeStalledHolderUpdates(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{cfg: func(c *config.BookerConfig) {
		c.SeatLockTTL = 100 * time.Millisecond
		c.SeatLockWait = 0
	}})
	h.serve()
	users := h.users(2)
	stalled, resume := make(chan struct{}), make(chan struct{})
	var once sync.Once
	h.svc.pg.hooks.beforeHoldTx = func(seats []int) {
		if slices.Equal(seats, []int{1, 2}) {
			once.Do(func() {
				close(stalled)
				<-resume
			})
		}
	}
	var a reply
	done := make(chan struct{})
	go func() {
		defer close(done)
		a = h.holdSeats(users[0], "a", 1, 2)
	}()
	<-stalled
	time.Sleep(250 * time.Millisecond)
	if b := h.holdSeats(users[1], "b", 2, 3); b.status != 201 {
		t.Fatalf("B: got %d %s, want 201", b.status, b.body)
	}
	close(resume)
	<-done
	if a.status != 409 || a.code() != "seat_taken" {
		t.Fatalf("A: got %d %s, want 409 seat_taken", a.status, a.body)
	}
	checkInvariants(t, h.pool, h.eventID)
	if got := seatStatus(t, h.pool, h.eventID); got["held"] != 2 {
		t.Errorf("seat statuses: got %v, want 2 held (B's)", got)
	}
}

// TestLockReleaseIsCompareAndDelete: an owner whose lock expired and was
// taken by another cannot release the other's lock; a partial set is
// released whole.
func TestLockReleaseIsCompareAndDelete(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	ctx := context.Background()
	r := h.svc.redis
	x, busy, _, err := r.tryLock(ctx, h.eventID, []int{5, 6}, 50*time.Millisecond, "owner-x", -1)
	if err != nil || x == nil || busy != nil {
		t.Fatalf("x: got %v %v %v", x, busy, err)
	}
	time.Sleep(80 * time.Millisecond)
	y, _, _, err := r.tryLock(ctx, h.eventID, []int{6}, time.Minute, "owner-y", -1)
	if err != nil || y == nil {
		t.Fatalf("y: got %v %v", y, err)
	}
	x.release(ctx)
	if v, err := h.redis.Do(ctx, h.redis.B().Get().Key(r.lockKey(h.eventID, 6)).Build()).ToString(); err != nil || v != "owner-y" {
		t.Fatalf("lock of seat 6 after x's release: got %q %v, want owner-y", v, err)
	}
	// z wants 4, 5, 6, 7: 6 is y's, so z takes none of them.
	z, busy, _, err := r.tryLock(ctx, h.eventID, []int{4, 5, 6, 7}, time.Minute, "owner-z", -1)
	if err != nil || z != nil || !slices.Equal(busy, []int{6}) {
		t.Fatalf("z: got %v busy %v %v, want nothing and busy [6]", z, busy, err)
	}
	for _, seat := range []int{4, 5, 7} {
		if n, _ := h.redis.Do(ctx, h.redis.B().Exists().Key(r.lockKey(h.eventID, seat)).Build()).AsInt64(); n != 0 {
			t.Errorf("seat %d is still locked after z gave up", seat)
		}
	}
}
