package admission_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ticketvelo/ticketvelo/admission"
	"github.com/ticketvelo/ticketvelo/internal/salekeys"
)

// TestOpsHistoryOfTheAdmissionSteps runs a controller whose clock moves a
// second a tick over a queue admitted at 2 fans a second, with two of ten
// seats taken in the booker's bitmap: the finished samples OpsHistory reads
// back from Redis say how many were admitted in each 5 s, the queue length
// and the seats left; samples nobody wrote are not reported.
func TestOpsHistoryOfTheAdmissionSteps(t *testing.T) {
	t.Parallel()
	w := newWorld(t, func(w *world) { w.cfg.Interval = 5 * time.Millisecond })
	const event, seats = 7, 10
	t0 := time.Unix(time.Now().Unix()/salekeys.OpsInterval*salekeys.OpsInterval, 0)
	opens := t0.Add(-time.Minute)
	w.joinMany(t, event, opens, t0.Add(-time.Second), 1, 200)
	if err := w.room.SetSettings(ctx, event, admission.Settings{RatePerSecond: 2, MaxActive: 1000}); err != nil {
		t.Fatal(err)
	}
	taken := salekeys.Taken(w.prefix, event)
	for _, bit := range []int64{0, 1, seats} { // seat 0 and 1, and the sentinel
		if err := w.client.Do(ctx, w.client.B().Setbit().Key(taken).Offset(bit).Value(1).Build()).Error(); err != nil {
			t.Fatal(err)
		}
	}

	var ticks atomic.Int64
	clock := func() time.Time { return t0.Add(time.Duration(ticks.Add(1)) * time.Second) }
	sales := func(context.Context, time.Time) ([]admission.Sale, error) {
		return []admission.Sale{{EventID: event, OpensAt: opens, Seats: seats}}, nil
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		admission.NewController(w.room, sales, clock, zerolog.Nop()).Run(runCtx)
	}()
	for ticks.Load() < 31 {
		time.Sleep(5 * time.Millisecond)
	}
	stop()
	<-done

	hist, err := w.room.OpsHistory(ctx, event, t0.Add(27*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != admission.OpsHistoryLength {
		t.Fatalf("got %d samples, want %d", len(hist), admission.OpsHistoryLength)
	}
	// The last finished sample at t0+27 s is the one from t0+20 s.
	if last := hist[len(hist)-1]; !last.Start.Equal(t0.Add(20 * time.Second)) {
		t.Errorf("last sample starts at %v, want %v", last.Start, t0.Add(20*time.Second))
	}
	if old := hist[0]; old.Reported || old.QueueLength != nil {
		t.Errorf("a sample from before the controller ran: got %+v, want not reported", old)
	}
	for _, s := range hist[len(hist)-3:] { // t0+10, +15, +20: five steps each
		if !s.Reported || s.QueueLength == nil || s.SeatsLeft == nil {
			t.Fatalf("sample at %v: got %+v, want the queue and seats left reported", s.Start, s)
		}
		if s.Admitted < 8 || s.Admitted > 12 {
			t.Errorf("sample at %v: got %d admitted, want 10 (2/s for 5 s)", s.Start, s.Admitted)
		}
		if *s.SeatsLeft != seats-2 {
			t.Errorf("sample at %v: got %d seats left, want %d", s.Start, *s.SeatsLeft, seats-2)
		}
		if *s.QueueLength <= 0 || *s.QueueLength >= 200 {
			t.Errorf("sample at %v: got queue length %d, want between 0 and 200", s.Start, *s.QueueLength)
		}
	}
}
