package admission

import (
	"testing"
	"time"
)

func TestTouchesWriteAFansLastPollOncePerInterval(t *testing.T) {
	tc := newTouches(10 * time.Second)
	t0 := time.Unix(1_800_000_000, 0)
	steps := []struct {
		event, user int64
		at          time.Duration
		want        bool
	}{
		{1, 7, 0, true},                // first poll
		{1, 7, 3 * time.Second, false}, // within the interval
		{1, 8, 3 * time.Second, true},  // another fan
		{2, 7, 3 * time.Second, true},  // the same fan, another event
		{1, 7, 9 * time.Second, false}, // still within
		{1, 7, 10 * time.Second, true}, // the interval passed
		{1, 7, 5 * time.Second, true},  // the clock went back: write
		{1, 7, 6 * time.Second, false}, // and count from there
	}
	for i, s := range steps {
		if got := tc.due(s.event, s.user, t0.Add(s.at)); got != s.want {
			t.Fatalf("step %d (event %d user %d at +%s): due %v, want %v", i, s.event, s.user, s.at, got, s.want)
		}
	}
	never := newTouches(0)
	for i := range 3 {
		if !never.due(1, 1, t0) {
			t.Fatalf("with no interval every poll must be written; poll %d was not", i)
		}
	}
	// Fans who share a slot cost each other writes, never skip one: with
	// a single slot, two fans polling in turn are written every time.
	one := newTouchTable(10*time.Second, 1)
	for i := range 6 {
		if !one.due(1, int64(100+i%2), t0.Add(time.Duration(i)*time.Second)) {
			t.Fatalf("poll %d of a fan sharing the slot was not written", i)
		}
	}
	if one.due(1, 101, t0.Add(5*time.Second)) {
		t.Fatal("the slot's own fan, just written, was written again")
	}
}
