package admission_test

import (
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// The last-poll writes a gateway sends are counted, one per fan written:
// ops read the waiting room's load on an event's Redis node from it. Not
// parallel: the counter is the process's, and parallel tests poll too.
func TestLastPollWritesAreCounted(t *testing.T) {
	w := newWorld(t)
	const event = 41
	opens := time.Now().Add(-time.Hour)
	t0 := time.Now().Truncate(time.Second)
	w.open(t, event, opens, t0)
	w.join(t, event, opens, t0, 1, 2, 3)
	before := lastPollWrites()
	// The join was each fan's first sign of life; a poll writes once the
	// gateway wrote nothing for the fan in a sixth of the grace period.
	due := t0.Add(w.cfg.GracePeriod/6 + time.Second)
	for _, u := range []int64{1, 2, 3} {
		w.status(t, event, u, due)
	}
	w.status(t, event, 1, due.Add(time.Second))   // written a second ago
	w.step(t, event, opens, due.Add(time.Second)) // writes the held-back polls first
	if got := lastPollWrites() - before; got != 3 {
		t.Fatalf("%d last-poll writes counted, want 3", got)
	}
}

// lastPollWrites reads the counter the gateway's flush adds to.
func lastPollWrites() uint64 {
	return metrics.GetOrCreateCounter("ticketvelo_waiting_room_last_poll_writes_total").Get()
}
