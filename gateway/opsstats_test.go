package gateway_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ticketvelo/ticketvelo/internal/salekeys"
)

// TestOpsHistoryServesTheSamplesInRedis writes one sample the way an
// admission step and two bookers do, and reads the event's history: 180
// samples 5 s apart, oldest first, with that one's figures as rates per
// second (the bookers' counts added up, the worst p99) and nulls where
// nobody reported.
func TestOpsHistoryServesTheSamplesInRedis(t *testing.T) {
	t.Parallel()
	sample := time.Now().Unix() / salekeys.OpsInterval * salekeys.OpsInterval
	now := time.Unix(sample+3, 0) // 3 s into a sample
	e := newEdge(t, edgeOptions{cfg: noLimits, now: func() time.Time { return now }})
	ops := e.opsToken(t)
	event := e.event(t, 10, now.Add(-time.Hour))
	// 3 s into a sample the one before it is finished (its writers flush
	// within 2 s of its end).
	last := sample - salekeys.OpsInterval
	b := e.redis.B()
	for _, c := range [][]string{
		{salekeys.OpsSample(e.prefix, event, last), salekeys.OpsQueue, "40", salekeys.OpsSeatsLeft, "6", salekeys.OpsAdmitted, "10",
			salekeys.OpsHoldsCreated, "5", salekeys.OpsHoldsConflict, "45", salekeys.OpsOrders, "2"},
		{salekeys.OpsBookers(e.prefix, last), salekeys.OpsRequests, "100", salekeys.OpsErrors, "3",
			salekeys.OpsP99Prefix + "a", "12500", salekeys.OpsP99Prefix + "b", "80000"},
	} {
		cmd := b.Hset().Key(c[0]).FieldValue()
		for i := 1; i < len(c); i += 2 {
			cmd = cmd.FieldValue(c[i], c[i+1])
		}
		if err := e.redis.Do(context.Background(), cmd.Build()).Error(); err != nil {
			t.Fatal(err)
		}
	}

	r := e.call(t, "GET", fmt.Sprintf("/api/v1/admin/events/%d/stats/history", event), ops, nil)
	if r.status != 200 {
		t.Fatalf("history: got %d %s, want 200", r.status, r.raw)
	}
	samples, _ := r.get("samples").([]any)
	if r.num("interval_seconds") != 5 || len(samples) != 180 {
		t.Fatalf("history: got interval %v and %d samples, want 5 and 180", r.get("interval_seconds"), len(samples))
	}
	got := samples[179].(map[string]any)
	want := map[string]any{
		"at": time.Unix(last, 0).UTC().Format(time.RFC3339), "queue_length": 40.0, "seats_left": 6.0,
		"admitted_per_second": 2.0, "holds_created_per_second": 1.0, "holds_conflict_per_second": 9.0,
		"orders_per_second": 0.4, "booker_p99_ms": 80.0, "booker_error_ratio": 0.03,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("last sample %s: got %v, want %v", k, got[k], v)
		}
	}
	first := samples[0].(map[string]any)
	for _, k := range []string{"queue_length", "holds_conflict_per_second", "booker_p99_ms"} {
		if v, ok := first[k]; !ok || v != nil {
			t.Errorf("unreported sample %s: got %v (present %v), want null", k, v, ok)
		}
	}
}
