package gateway_test

import (
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ticketvelo/ticketvelo/gateway"
	"github.com/ticketvelo/ticketvelo/internal/config"
)

// BenchmarkPoll and BenchmarkJoin run the queue routes in memory, without
// the network, against the real Redis, with 64 requests in flight as a busy
// gateway has. Besides ns/op they report the CPU time per request of this
// process (cpu-µs/op) and of Redis (redis-µs/op), which unlike ns/op barely
// move when other programs compete for the machine. The ratios to a bare
// handler over loopback come from 'ticketvelo loadgen' (docs/BENCHMARKS.md).

func BenchmarkPoll(b *testing.B) {
	e := newEdge(b, edgeOptions{cfg: noLimits})
	opens := time.Now().Add(-time.Minute)
	id := e.event(b, 10, opens)
	if _, err := e.room.Draw(b.Context(), id, opens, time.Now()); err != nil {
		b.Fatal(err)
	}
	path := fmt.Sprintf("/api/v1/events/%d/queue", id)
	const fans = 10000
	toks := make([]string, fans)
	for i := range toks {
		toks[i] = e.fanToken(b, int64(i+1))
		if res := e.serve("POST", path, toks[i], nil); res.StatusCode() != 201 {
			b.Fatalf("join: %d %s", res.StatusCode(), res.Body())
		}
	}
	var n atomic.Uint64
	e.measure(b, func() {
		if res := e.serve("GET", path, toks[n.Add(1)%fans], nil); res.StatusCode() != 200 {
			b.Fatalf("poll: %d %s", res.StatusCode(), res.Body())
		}
	})
}

func BenchmarkJoin(b *testing.B) {
	e := newEdge(b, edgeOptions{cfg: func(c *gateway.Config) { c.JoinPerIP = config.RateLimit{N: 1 << 30, Per: time.Minute} }})
	opens := time.Now().Add(-time.Minute)
	id := e.event(b, 10, opens)
	if _, err := e.room.Draw(b.Context(), id, opens, time.Now()); err != nil {
		b.Fatal(err)
	}
	path := fmt.Sprintf("/api/v1/events/%d/queue", id)
	// Each join is a new fan whose token the gateway has seen (as after
	// login on it), so the figure is the join's own cost.
	toks := make([]string, b.N)
	for i := range toks {
		toks[i] = e.fanToken(b, int64(i+1))
		e.serve("GET", path, toks[i], nil)
	}
	var n atomic.Int64
	e.measure(b, func() {
		if res := e.serve("POST", path, toks[n.Add(1)-1], nil); res.StatusCode() != 201 {
			b.Fatalf("join: %d %s", res.StatusCode(), res.Body())
		}
	})
}

// measure runs op b.N times from 64 goroutines and reports CPU per op.
func (e *edge) measure(b *testing.B, op func()) {
	b.ReportAllocs()
	b.SetParallelism(32)
	redis0, cpu0 := e.redisCPU(b), processCPU()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			op()
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(processCPU()-cpu0)/float64(time.Microsecond)/float64(b.N), "cpu-µs/op")
	b.ReportMetric(float64(e.redisCPU(b)-redis0)/float64(time.Microsecond)/float64(b.N), "redis-µs/op")
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func (e *edge) redisCPU(b *testing.B) time.Duration {
	info, err := e.redis.Do(b.Context(), e.redis.B().Info().Section("cpu").Build()).ToString()
	if err != nil {
		b.Fatal(err)
	}
	var total float64
	for _, line := range strings.Split(info, "\n") {
		for _, f := range []string{"used_cpu_sys:", "used_cpu_user:"} {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), f); ok {
				x, _ := strconv.ParseFloat(v, 64)
				total += x
			}
		}
	}
	return time.Duration(total * float64(time.Second))
}
