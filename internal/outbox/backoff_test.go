package outbox

import (
	"testing"
	"time"
)

func TestBackoffDoublesWithinBounds(t *testing.T) {
	t.Parallel()
	const lo, hi = 100 * time.Millisecond, 2 * time.Second
	cases := []struct {
		failures int
		jitter   float64
		want     time.Duration
	}{
		{1, 0, 50 * time.Millisecond},
		{1, 0.999999, 100 * time.Millisecond},
		{2, 0, 100 * time.Millisecond},
		{3, 0.5, 300 * time.Millisecond},
		{5, 0, 800 * time.Millisecond}, // 1.6 s is under the cap
		{6, 0, hi / 2},                 // 3.2 s is capped
		{200, 0.999999, hi},
	}
	for _, c := range cases {
		got := backoff(c.failures, lo, hi, func() float64 { return c.jitter })
		if d := got - c.want; d < -time.Millisecond || d > time.Millisecond {
			t.Errorf("backoff(%d, jitter %.2f) = %v, want %v", c.failures, c.jitter, got, c.want)
		}
	}
}
