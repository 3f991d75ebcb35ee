package admission_test

import (
	"testing"
	"time"

	"github.com/ticketvelo/ticketvelo/admission"
)

// TestAdmissionLogKeepsTheOrderOfAdmissionWithinASecond admits fans over
// several steps of one second, whose admissions share an expiry, and reads
// them back from the log in queue order, step after step.
func TestAdmissionLogKeepsTheOrderOfAdmissionWithinASecond(t *testing.T) {
	t.Parallel()
	w := newWorld(t, func(w *world) { w.cfg.DefaultRate = 40 })
	const event = 11
	opens := time.Now().Add(-time.Hour)
	now := time.Now().Truncate(time.Second)
	w.open(t, event, opens, now)
	arrivals := []int64{42, 7, 1000, 3, 19, 600, 5, 88}
	w.join(t, event, opens, now, arrivals...)
	w.step(t, event, opens, now)
	// 40 a second: 100 ms admit four, the next 100 ms the other four, all
	// within one second, so with one expiry.
	for _, at := range []time.Duration{100 * time.Millisecond, 200 * time.Millisecond} {
		if res := w.step(t, event, opens, now.Add(at)); res.Admitted != 4 {
			t.Fatalf("step at +%s admitted %d, want 4", at, res.Admitted)
		}
	}
	got, err := admission.AdmissionOrder(ctx, w.client, w.prefix, event)
	if err != nil {
		t.Fatal(err)
	}
	if !equal(got, arrivals) {
		t.Errorf("admission log: got %v, want the queue's order %v", got, arrivals)
	}
	if got, err := admission.AdmissionOrder(ctx, w.client, w.prefix, event+1); err != nil || len(got) != 0 {
		t.Errorf("log of an event nobody was admitted to: got %v, %v; want empty", got, err)
	}
}
