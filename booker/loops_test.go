package booker

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// TestHealthReporter: the loop publishes the p99 and error ratio of the
// holds since its last report.
func TestHealthReporter(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{cfg: func(c *Config) { c.HealthInterval = 50 * time.Millisecond }})
	h.serve()
	fan := h.users(1)[0]
	for i := range 20 {
		h.holdSeats(fan, itoa(i), 1) // one 201, then 409s
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = h.svc.RunHealthReporter(ctx) }()
	time.Sleep(300 * time.Millisecond)
	cancel()
	<-done
	h.adm.mu.Lock()
	defer h.adm.mu.Unlock()
	if len(h.adm.reports) < 4 {
		t.Fatalf("reports: got %d values, want several reports", len(h.adm.reports))
	}
	p99, errRate := h.adm.reports[0], h.adm.reports[1]
	if p99 <= 0 || p99 > 5 || errRate != 0 {
		t.Errorf("first report: p99 %vs, error rate %v; want a p99 of the 20 holds and no errors (409s are answers)", p99, errRate)
	}
	if later := h.adm.reports[len(h.adm.reports)-2]; later != 0 {
		t.Errorf("a report with no requests since the last: p99 %vs, want 0", later)
	}
}

// TestOneSnapshotBuilderPerInterval: two bookers serving one event rebuild
// its map from Postgres once per interval between them, not once each.
func TestOneSnapshotBuilderPerInterval(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{realClock: true, cfg: func(c *Config) { c.SnapshotInterval = 100 * time.Millisecond }})
	other, err := New(h.svc.holds.cfg, Deps{Pool: h.pool, Redis: h.redis, Prefix: h.prefix, Tokens: h.ring, Admissions: h.adm,
		Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, s := range []*Service{h.svc, other} {
		ev, err := s.events.get(ctx, h.eventID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.snapshots.current(ctx, ev); err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() { defer wg.Done(); _ = s.snapshots.Run(ctx) }()
	}
	start := time.Now()
	time.Sleep(2 * time.Second)
	cancel()
	wg.Wait()
	took := time.Since(start)
	builds := h.svc.Stats().Transactions["snapshot"] + other.Stats().Transactions["snapshot"]
	// The lease lasts 90 ms of each 100 ms interval.
	if limit := int64(took/(90*time.Millisecond)) + 3; builds > limit || builds < 5 {
		t.Errorf("snapshot builds in %s: got %d, want between 5 and %d (one per interval between both bookers)", took, builds, limit)
	}
}
