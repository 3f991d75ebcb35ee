package booker

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"testing"
	"time"
)

// TestStallUnderSlowPostgres measures what a booker does when Postgres
// slows down under a drop's load: 300 fans hold a seat and pay for it in a
// tight loop, and for the middle 15 s of 35 every round trip to Postgres
// takes 8 ms longer (a busy machine, a checkpoint). It prints, per second,
// holds and confirms done, their p99, the 503s and other 5xx, and the
// pool's wait for a connection. It is a measurement, not a check: run it
// with BOOKER_STALL=1 go test -run TestStallUnderSlowPostgres -v ./booker.
func TestStallUnderSlowPostgres(t *testing.T) {
	if os.Getenv("BOOKER_STALL") == "" {
		t.Skip("a measurement; set BOOKER_STALL=1 to run it")
	}
	h := newHarness(t, harnessOptions{seats: 20000, poolConns: 16, maxPerFan: 50, realClock: true, pgProxy: true})
	h.serve()
	users := h.users(1200) // each of 300 fans buys as four, within the ticket limit
	start := time.Now()
	rec := &stallRecorder{start: start}
	ctx, stop := context.WithTimeout(context.Background(), 35*time.Second)
	defer stop()
	go func() {
		time.Sleep(10 * time.Second)
		h.pgProxy.SetDelay(4 * time.Millisecond)
		time.Sleep(15 * time.Second)
		h.pgProxy.SetDelay(0)
	}()
	go rec.samplePool(ctx, h)
	var wg sync.WaitGroup
	for i := range 300 {
		wg.Go(func() { h.stallFan(ctx, rec, i, users[4*i:4*i+4]) })
	}
	wg.Wait()
	rec.print(t)
}

// stallFan holds one seat and pays for it, again and again, as each of
// its accounts in turn.
func (h *harness) stallFan(ctx context.Context, rec *stallRecorder, i int, accounts []int64) {
	rng := rand.New(rand.NewPCG(uint64(i), 3))
	for n := 0; ctx.Err() == nil; n++ {
		user := accounts[n/45%len(accounts)]
		acc := h.access(user)
		began := time.Now()
		r, err := h.do("POST", h.holdPath(), h.admission(user), fmt.Sprintf("s%d-%d", i, n),
			jsonBody(map[string]any{"seat_ids": []int{rng.IntN(h.seats)}}))
		rec.add("hold", began, r, err)
		if err != nil || r.status != 201 {
			continue
		}
		var held struct{ Hold holdJSON }
		if jsonUnmarshal(r.body, &held) != nil {
			continue
		}
		began = time.Now()
		r, err = h.do("POST", "/api/v1/holds/"+held.Hold.ID+"/confirm", acc, fmt.Sprintf("p%d-%d", i, n), `{"payment_token":"tok_visa"}`)
		rec.add("confirm", began, r, err)
	}
}

// stallRecorder keeps answers per second since start.
type stallRecorder struct {
	start time.Time
	mu    sync.Mutex
	secs  []stallSecond
}

type stallSecond struct {
	ok, shed, failed map[string]int
	took             map[string][]time.Duration
	acquireWait      time.Duration // mean wait for a connection of the acquires of this second
	acquired         int32
}

func (r *stallRecorder) at(t time.Time) *stallSecond {
	i := int(t.Sub(r.start) / time.Second)
	for len(r.secs) <= i {
		r.secs = append(r.secs, stallSecond{ok: map[string]int{}, shed: map[string]int{}, failed: map[string]int{}, took: map[string][]time.Duration{}})
	}
	return &r.secs[i]
}

func (r *stallRecorder) add(op string, began time.Time, rep reply, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.at(time.Now())
	switch {
	case err != nil || rep.status >= 500 && rep.status != 503:
		s.failed[op]++
	case rep.status == 503:
		s.shed[op]++
	case rep.status < 300:
		s.ok[op]++
	}
	s.took[op] = append(s.took[op], time.Since(began))
}

func (r *stallRecorder) samplePool(ctx context.Context, h *harness) {
	prev := h.pool.Stat()
	for ctx.Err() == nil {
		time.Sleep(time.Second)
		st := h.pool.Stat()
		n := st.AcquireCount() - prev.AcquireCount()
		r.mu.Lock()
		s := r.at(time.Now().Add(-500 * time.Millisecond))
		if n > 0 {
			s.acquireWait = (st.AcquireDuration() - prev.AcquireDuration()) / time.Duration(n)
		}
		s.acquired = st.AcquiredConns()
		r.mu.Unlock()
		prev = st
	}
}

func (r *stallRecorder) print(t *testing.T) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t.Logf("%3s %6s %7s %9s %9s %5s %5s %9s %4s", "s", "hold/s", "conf/s", "hold p99", "conf p99", "503", "5xx", "acq wait", "busy")
	for i, s := range r.secs {
		t.Logf("%3d %6d %7d %9s %9s %5d %5d %9s %4d", i, s.ok["hold"], s.ok["confirm"], p99(s.took["hold"]), p99(s.took["confirm"]),
			s.shed["hold"]+s.shed["confirm"], s.failed["hold"]+s.failed["confirm"], s.acquireWait.Round(100*time.Microsecond), s.acquired)
	}
}

func p99(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	d = slices.Clone(d)
	slices.Sort(d)
	return d[len(d)*99/100].Round(time.Millisecond)
}
