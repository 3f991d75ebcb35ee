package admission_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/ticketvelo/ticketvelo/admission"
	"github.com/ticketvelo/ticketvelo/internal/testenv"
)

// TestADrawFinishingDuringAStepIsNoLoss: the controller keeps stepping an
// event while its draw runs in another goroutine. A step that saw the queue
// closed just before the draw opened it must not take that for a queue
// whose keys were lost (which holds admission for the recovery window).
// Many events, each drawn while two gateways step it as fast as they can.
func TestADrawFinishingDuringAStepIsNoLoss(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	gateways := []*admission.Room{w.room, w.gateway(t)}
	opens := time.Now().Add(-time.Second)
	for event := int64(1); event <= 200; event++ {
		w.join(t, event, opens, opens.Add(-time.Minute), 1, 2, 3)
		sale := admission.Sale{EventID: event, OpensAt: opens}
		var wg sync.WaitGroup
		for _, g := range gateways {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					res, err := g.Step(ctx, sale, admission.HealthUnknown, time.Now())
					if err != nil {
						t.Error(err)
						return
					}
					if res.StateLost || res.Restoring {
						t.Errorf("event %d: a step during the draw reported the queue lost: %+v", event, res)
					}
					if !res.DrawDue {
						return
					}
				}
			}()
		}
		if _, err := w.room.Draw(ctx, event, opens, time.Now()); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		if t.Failed() {
			return
		}
	}
}

// TestAnOpenQueueWhoseKeysVanishIsRestoredFromReceipts: a gateway that saw
// the queue open notices once its keys are gone, holds admission while
// fans come back, and a fan's receipt puts them back at their place.
func TestAnOpenQueueWhoseKeysVanishIsRestoredFromReceipts(t *testing.T) {
	t.Parallel()
	w := newWorld(t, func(w *world) { w.cfg.RecoveryWindow = 2 * time.Second })
	const event = 7
	opens := time.Now().Add(-time.Minute)
	now := time.Now()
	w.open(t, event, opens, now)
	receipts := map[int64]string{}
	for u := int64(1); u <= 3; u++ {
		st, _, err := w.room.Join(ctx, event, u, opens, now.Add(time.Duration(u)*time.Millisecond), admission.JoinLimits{})
		if err != nil {
			t.Fatal(err)
		}
		receipts[u] = st.Receipt
	}
	if err := testenv.DeletePrefix(ctx, w.client, w.prefix+"wr:"); err != nil {
		t.Fatal(err)
	}
	sale := admission.Sale{EventID: event, OpensAt: opens}
	if res := w.step(t, event, opens, now); !res.StateLost {
		t.Fatalf("first step after the loss: %+v, want StateLost", res)
	}
	w.open(t, event, opens, now) // the controller draws again: the queue reopens empty
	// Fans come back, the last one first; they keep their order.
	for _, u := range []int64{3, 1, 2} {
		if _, err := w.room.Restore(ctx, event, u, receipts[u], now); err != nil {
			t.Fatalf("restoring fan %d: %v", u, err)
		}
	}
	if _, err := w.room.Restore(ctx, event, 9, receipts[1], now); !errors.Is(err, admission.ErrNotInQueue) {
		t.Errorf("a receipt shown by another fan: got %v, want ErrNotInQueue", err)
	}
	res, err := w.room.Step(ctx, sale, admission.HealthUnknown, now.Add(time.Second))
	if err != nil || !res.Restoring || res.Admitted != 0 {
		t.Fatalf("step within the recovery window: %+v %v, want restoring, nobody admitted", res, err)
	}
	if got := w.queue(t, event); !equal(got, []int64{1, 2, 3}) {
		t.Errorf("restored queue: %v, want [1 2 3]", got)
	}
	res, err = w.room.Step(ctx, sale, admission.HealthUnknown, now.Add(3*time.Second))
	if err != nil || res.Restoring || res.Admitted == 0 {
		t.Errorf("step after the recovery window: %+v %v, want admissions", res, err)
	}
}
