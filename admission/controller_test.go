package admission_test

import (
	"context"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ticketvelo/ticketvelo/admission"
	"github.com/ticketvelo/ticketvelo/internal/redisconn"
	"github.com/ticketvelo/ticketvelo/internal/testenv"
)

// TestThreeGatewaysKeepTheRateAndNeverExceedTheCap runs three controllers,
// each with its own Redis connection as three gateway processes would, for
// 30 seconds on two events at once:
//   - event 1 (rate 50/s, cap not binding) must admit 50/s within 5%;
//   - event 2 (rate 400/s, max_active 25) has a booker that reports buyers
//     done after 20-200 ms; a watcher samples the admitted set all along
//     and it must never hold more than 25.
func TestThreeGatewaysKeepTheRateAndNeverExceedTheCap(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for 30 s")
	}
	t.Parallel()
	w := newWorld(t)
	const rateEvent, capEvent = 1, 2
	const rate, maxActive = 50, 25
	opens := time.Now().Add(-time.Minute)
	now := time.Now()
	w.joinMany(t, rateEvent, opens, now, 1, 3000)
	w.joinMany(t, capEvent, opens, now, 1, 20000)
	w.room.SetSettings(ctx, rateEvent, admission.Settings{RatePerSecond: rate, MaxActive: 100000})
	w.room.SetSettings(ctx, capEvent, admission.Settings{RatePerSecond: 400, MaxActive: maxActive})

	runCtx, stop := context.WithCancel(ctx)
	var running sync.WaitGroup
	sales := func(context.Context, time.Time) ([]admission.Sale, error) {
		return []admission.Sale{{EventID: rateEvent, OpensAt: opens}, {EventID: capEvent, OpensAt: opens}}, nil
	}
	for range 3 {
		client, err := redisconn.Open(testenv.RedisURL())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(client.Close)
		room := admission.NewRoom(w.cfg, w.deps(client))
		t.Cleanup(room.Close) // before the client's close: it writes the last polls
		c := admission.NewController(room, sales, time.Now, zerolog.Nop())
		running.Add(1)
		go func() {
			defer running.Done()
			c.Run(runCtx)
		}()
	}
	activeKey := w.prefix + "wr:{" + strconv.Itoa(capEvent) + "}:active"

	// The booker: each admitted buyer of event 2 is done 20-200 ms later.
	// Its reports are waited for like the loops: one still due when the
	// test ends would land while the test's keys are being deleted and
	// write the ended hash again, leaving it in the shared Redis.
	var doneCount atomic.Int64
	running.Add(1)
	go func() {
		defer running.Done()
		scheduled := map[string]bool{}
		for runCtx.Err() == nil {
			members, err := w.client.Do(runCtx, w.client.B().Zrange().Key(activeKey).Min("0").Max("-1").Build()).AsStrSlice()
			if err != nil {
				continue
			}
			for _, m := range members {
				if scheduled[m] {
					continue
				}
				scheduled[m] = true
				user, _ := strconv.ParseInt(m, 10, 64)
				running.Add(1)
				time.AfterFunc(time.Duration(20+rand.IntN(180))*time.Millisecond, func() {
					defer running.Done()
					if runCtx.Err() != nil {
						return // the booker stopped with the controllers
					}
					if w.fb.Done(ctx, capEvent, user, time.Time{}) == nil {
						doneCount.Add(1)
					}
				})
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	// The watcher: the cap must hold at every moment it looks.
	var worst, samples atomic.Int64
	running.Add(1)
	go func() {
		defer running.Done()
		for runCtx.Err() == nil {
			n, err := w.client.Do(runCtx, w.client.B().Zcard().Key(activeKey).Build()).AsInt64()
			if err != nil {
				continue
			}
			samples.Add(1)
			if n > worst.Load() {
				worst.Store(n)
			}
		}
	}()

	// Measure event 1 from its first admission for 30 s.
	var n0 int64
	testenv.Eventually(t, 10*time.Second, func() error {
		o, err := w.room.Overview(ctx, rateEvent, time.Now())
		if err != nil {
			return err
		}
		if n0 = o.AdmittedTotal; n0 == 0 {
			return context.DeadlineExceeded
		}
		return nil
	})
	t0 := time.Now()
	time.Sleep(30 * time.Second)
	o1, err := w.room.Overview(ctx, rateEvent, time.Now())
	elapsed := time.Since(t0)
	if err != nil {
		t.Fatal(err)
	}
	o2, err := w.room.Overview(ctx, capEvent, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	stop()
	running.Wait()

	got := float64(o1.AdmittedTotal-n0) / elapsed.Seconds()
	t.Logf("event 1: %d admitted in %s: %.2f/s (configured %d/s), measured rate %.2f/s",
		o1.AdmittedTotal-n0, elapsed.Round(time.Millisecond), got, rate, o1.MeasuredRate)
	if got < rate*0.95 || got > rate*1.05 {
		t.Fatalf("event 1 admitted %.2f/s, want %d/s within 5%%", got, rate)
	}
	if o1.MeasuredRate < rate*0.9 || o1.MeasuredRate > rate*1.1 {
		t.Fatalf("measured rate %.2f/s, want about %d/s", o1.MeasuredRate, rate)
	}
	// Nobody was admitted twice or lost: every fan is still waiting or admitted once.
	if o1.QueueLength+o1.Active != 3000 || o1.Active != o1.AdmittedTotal {
		t.Fatalf("event 1: %d waiting + %d active, %d admitted in all; want 3000 fans, each admitted once", o1.QueueLength, o1.Active, o1.AdmittedTotal)
	}

	t.Logf("event 2: %d admitted, %d reported done, at most %d active at once over %d samples",
		o2.AdmittedTotal, doneCount.Load(), worst.Load(), samples.Load())
	if worst.Load() > maxActive {
		t.Fatalf("event 2 had %d buyers admitted at once, over max_active %d", worst.Load(), maxActive)
	}
	if worst.Load() < maxActive || o2.AdmittedTotal < 1000 || samples.Load() < 1000 {
		t.Fatalf("event 2 must run at its cap with slots recycled: worst %d, %d admitted, %d samples", worst.Load(), o2.AdmittedTotal, samples.Load())
	}
}
