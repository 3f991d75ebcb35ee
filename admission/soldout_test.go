package admission_test

import (
	"testing"
	"time"

	"github.com/ticketvelo/ticketvelo/admission"
	"github.com/ticketvelo/ticketvelo/internal/salekeys"
)

// TestSoldOutPausesAdmissionUntilASeatComesBack: while the booker's
// taken-seat bitmap shows every seat taken, the step admits nobody and says
// so (step result, overview, ETA unknown), and no budget builds up; the
// first seat that comes back lets admission go on, front first.
func TestSoldOutPausesAdmissionUntilASeatComesBack(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	const event, seats = 11, 20
	opens := time.Now().Add(-time.Hour)
	now := time.Now()
	w.open(t, event, opens, now)
	fans := users(1, 30)
	w.join(t, event, opens, now, fans...)
	if err := w.room.SetSettings(ctx, event, admission.Settings{RatePerSecond: 5, MaxActive: 100}); err != nil {
		t.Fatal(err)
	}
	sale := admission.Sale{EventID: event, OpensAt: opens, Seats: seats}
	step := func(at time.Time) admission.StepResult {
		t.Helper()
		res, err := w.room.Step(ctx, sale, admission.HealthUnknown, at)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	setBits := func(v int64, offsets ...int) {
		t.Helper()
		for _, o := range offsets {
			if err := w.client.Do(ctx, w.client.B().Setbit().Key(salekeys.Taken(w.prefix, event)).Offset(int64(o)).Value(v).Build()).Error(); err != nil {
				t.Fatal(err)
			}
		}
	}

	// A bitmap without its sentinel is incomplete: it proves nothing.
	all := make([]int, seats)
	for i := range all {
		all[i] = i
	}
	setBits(1, all...)
	step(now)
	if res := step(now.Add(time.Second)); res.SoldOut || res.Admitted != 5 {
		t.Fatalf("every bit set but no sentinel: got %+v, want 5 admitted", res)
	}

	setBits(1, seats) // complete: every seat taken
	for i := 2; i < 5; i++ {
		if res := step(now.Add(time.Duration(i) * time.Second)); !res.SoldOut || res.Admitted != 0 {
			t.Fatalf("sold out, step %d: got %+v, want sold out and nobody admitted", i, res)
		}
	}
	o, err := w.room.Overview(ctx, event, now.Add(4*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if _, known := o.ETA(3); !o.SoldOut || known {
		t.Fatalf("overview while sold out: SoldOut %v, ETA known %v; want sold out with no ETA", o.SoldOut, known)
	}

	setBits(0, 7) // a hold expired
	res := step(now.Add(5 * time.Second))
	if res.SoldOut || res.Admitted != 5 {
		t.Fatalf("a seat back after 3 s sold out: got %+v, want a second's 5 admitted, no burst for the time sold out", res)
	}
	for i, u := range fans[:15] {
		st := w.status(t, event, u, now.Add(5*time.Second))
		if admitted := st.State == admission.Admitted; admitted != (i < 10) {
			t.Fatalf("place %d (user %d): got %v; want the first 10 admitted in queue order", i, u, st.State)
		}
	}
	if o, _ := w.room.Overview(ctx, event, now.Add(5*time.Second)); o.SoldOut {
		t.Error("the overview still says sold out after a seat came back")
	}
}
