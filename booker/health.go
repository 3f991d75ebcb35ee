package booker

import (
	"context"
	"math"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// healthWindow collects the latency and errors of holds and confirms since
// the last report, in log-spaced buckets (10% apart, 10 µs to ~100 s), so
// the p99 the admission controller reads is within 10% and costs two
// atomic adds per request.
type healthWindow struct {
	buckets [numHealthBuckets]atomic.Int64
	total   atomic.Int64
	errors  atomic.Int64
}

const (
	numHealthBuckets = 170
	healthBase       = 10 * time.Microsecond
	healthGrowth     = 1.1
)

func newHealthWindow() *healthWindow { return &healthWindow{} }

func bucketOf(d time.Duration) int {
	if d <= healthBase {
		return 0
	}
	i := int(math.Log(float64(d)/float64(healthBase))/math.Log(healthGrowth)) + 1
	return min(i, numHealthBuckets-1)
}

func bucketUpper(i int) time.Duration {
	return time.Duration(float64(healthBase) * math.Pow(healthGrowth, float64(i)))
}

// observe records one request; failed means the booker failed it (5xx).
func (w *healthWindow) observe(d time.Duration, failed bool) {
	w.buckets[bucketOf(d)].Add(1)
	w.total.Add(1)
	if failed {
		w.errors.Add(1)
	}
}

// take returns the window's p99 and error ratio and starts a new window.
func (w *healthWindow) take() (p99 time.Duration, errorRate float64, n int64) {
	var counts [numHealthBuckets]int64
	for i := range w.buckets {
		counts[i] = w.buckets[i].Swap(0)
		n += counts[i]
	}
	w.total.Store(0)
	errs := w.errors.Swap(0)
	if n == 0 {
		return 0, 0, 0
	}
	rank := int64(math.Ceil(float64(n) * 0.99))
	var seen int64
	for i, c := range counts {
		seen += c
		if seen >= rank {
			p99 = bucketUpper(i)
			break
		}
	}
	return p99, float64(errs) / float64(n), n
}

// healthReporter publishes the booker's p99 latency and error ratio of
// holds and confirms to the admission controller every interval, so its
// auto mode slows admission when the booker struggles.
type healthReporter struct {
	window     *healthWindow
	admissions Admissions
	interval   time.Duration
	log        zerolog.Logger
}

// Run reports until ctx ends.
func (r healthReporter) Run(ctx context.Context) error {
	t := time.NewTicker(r.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		p99, errorRate, _ := r.window.take()
		if err := r.admissions.ReportHealth(ctx, p99, errorRate); err != nil && ctx.Err() == nil {
			r.log.Warn().Err(err).Msg("reporting booker health")
		}
	}
}
