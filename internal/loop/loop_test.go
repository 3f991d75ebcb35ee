package loop

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// TestEveryAndNow: Every waits an interval before its first call and Now
// does not; both call again each interval and return when ctx ends.
func TestEveryAndNow(t *testing.T) {
	for _, c := range []struct {
		name  string
		run   func(context.Context, time.Duration, func(context.Context)) error
		first bool
	}{{"Every", Every, false}, {"Now", Now, true}} {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			var calls atomic.Int32
			done := make(chan error, 1)
			go func() { done <- c.run(ctx, 20*time.Millisecond, func(context.Context) { calls.Add(1) }) }()
			time.Sleep(5 * time.Millisecond)
			if got := calls.Load() > 0; got != c.first {
				t.Errorf("called before the first interval: %v, want %v", got, c.first)
			}
			deadline := time.Now().Add(5 * time.Second)
			for calls.Load() < 3 && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			cancel()
			if err := <-done; err != nil || calls.Load() < 3 {
				t.Errorf("after cancel: %v with %d calls, want nil after 3 or more", err, calls.Load())
			}
		})
	}
}

// TestSleep: Sleep waits its time while ctx lives, and returns false at
// once when ctx has ended.
func TestSleep(t *testing.T) {
	start := time.Now()
	if !Sleep(context.Background(), 20*time.Millisecond) || time.Since(start) < 20*time.Millisecond {
		t.Errorf("Sleep on a live context: returned early or false")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start = time.Now()
	if Sleep(ctx, time.Hour) || time.Since(start) > time.Second {
		t.Errorf("Sleep on an ended context: waited or said it lives")
	}
}
