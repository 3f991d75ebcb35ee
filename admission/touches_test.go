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
	if !newTouches(0).due(1, 1, t0) || !newTouches(0).due(1, 1, t0) {
		t.Fatal("with no interval every poll must be written")
	}
	// A full shard starts over rather than grow.
	for u := int64(0); u < 64*(maxTouchesPerShard+10); u++ {
		tc.due(3, u, t0)
	}
	for i := range tc.shards {
		if n := len(tc.shards[i].m); n > maxTouchesPerShard {
			t.Fatalf("shard %d holds %d entries, over %d", i, n, maxTouchesPerShard)
		}
	}
}
