package gateway_test

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ticketvelo/ticketvelo/internal/config"
)

// BenchmarkPoll and BenchmarkJoin run the queue routes in memory against
// the real Redis: their ns/op and allocs/op are the gateway's own cost per
// request, without the network. The ratios to a bare handler come from
// 'ticketvelo loadgen' (docs/BENCHMARKS.md).

func BenchmarkPoll(b *testing.B) {
	e := newEdge(b, edgeOptions{cfg: noLimits})
	id := e.event(b, 10, time.Now().Add(-time.Minute))
	path := fmt.Sprintf("/api/v1/events/%d/queue", id)
	const fans = 1000
	toks := make([]string, fans)
	for i := range toks {
		toks[i] = e.fanToken(b, int64(i+1))
		if res := e.serve("POST", path, toks[i], nil); res.StatusCode() != 201 {
			b.Fatalf("join: %d %s", res.StatusCode(), res.Body())
		}
	}
	var n atomic.Uint64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if res := e.serve("GET", path, toks[n.Add(1)%fans], nil); res.StatusCode() != 200 {
				b.Fatalf("poll: %d %s", res.StatusCode(), res.Body())
			}
		}
	})
}

func BenchmarkJoin(b *testing.B) {
	e := newEdge(b, edgeOptions{cfg: func(c *config.GatewayConfig) { c.JoinPerIP = config.RateLimit{N: 1 << 30, Per: time.Minute} }})
	id := e.event(b, 10, time.Now().Add(-time.Minute))
	path := fmt.Sprintf("/api/v1/events/%d/queue", id)
	// Each join is a new fan whose token the gateway has seen (as after
	// login on it), so the figure is the join's own cost.
	toks := make([]string, b.N)
	for i := range toks {
		toks[i] = e.fanToken(b, int64(i+1))
		e.serve("GET", path, toks[i], nil)
	}
	var n atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if res := e.serve("POST", path, toks[n.Add(1)-1], nil); res.StatusCode() != 201 {
				b.Fatalf("join: %d %s", res.StatusCode(), res.Body())
			}
		}
	})
}
