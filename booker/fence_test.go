package booker

import (
	"slices"
	"sync"
	"testing"
	"time"
)

// TestFenceLockExpiresWhileHolderStallsInTransaction: A updates seats 1 and
// 2 and stalls before committing; its Redis locks expire; B takes the locks
// of 2 and 3 and reaches Postgres, where it waits on A's row locks and then
// finds seat 2 taken. Postgres, not the lock, decides.
func TestFenceLockExpiresWhileHolderStallsInTransaction(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{cfg: func(c *Config) {
		c.SeatLockTTL = 100 * time.Millisecond
		c.SeatLockWait = 0
	}})
	h.serve()
	users := h.users(2)
	stalled, resume := make(chan struct{}), make(chan struct{})
	var once sync.Once
	h.svc.hooks.AfterSeatUpdate = func(seats []int) {
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
	h := newHarness(t, harnessOptions{cfg: func(c *Config) {
		c.SeatLockTTL = 100 * time.Millisecond
		c.SeatLockWait = 0
	}})
	h.serve()
	users := h.users(2)
	stalled, resume := make(chan struct{}), make(chan struct{})
	var once sync.Once
	h.svc.hooks.beforeHoldTx = func(seats []int) {
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
