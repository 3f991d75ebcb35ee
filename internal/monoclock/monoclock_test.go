package monoclock

import (
	"testing"
	"time"
)

// TestNowFollowsElapsedTime: Now never reads zero and advances with
// the time slept, as Since reports it.
func TestNowFollowsElapsedTime(t *testing.T) {
	start := Now()
	if start <= 0 {
		t.Fatalf("Now() = %d, want above zero", start)
	}
	time.Sleep(20 * time.Millisecond)
	if d := Since(start); d < 20*time.Millisecond || d > 5*time.Second {
		t.Fatalf("Since after a 20 ms sleep: %v", d)
	}
	if Now() < start {
		t.Fatal("Now went back")
	}
}
