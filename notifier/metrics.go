package notifier

import (
	"context"
	"sync"

	"github.com/VictoriaMetrics/metrics"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ticketvelo/ticketvelo/internal/bookingevent"
)

var (
	consumedTotal = metrics.NewCounter("ticketvelo_notifier_consumed_total")
	skippedTotal  = metrics.NewCounter("ticketvelo_notifier_duplicates_skipped_total")
	retriedTotal  = metrics.NewCounter("ticketvelo_notifier_retries_total")
	// takeoversTotal counts claims taken over after their lease: each is a
	// notifier that died (or stopped) between claiming a mail and sending it.
	takeoversTotal = metrics.NewCounter("ticketvelo_notifier_claim_takeovers_total")
	sendDuration   = metrics.NewPrometheusHistogramExt("ticketvelo_notifier_send_duration_seconds",
		[]float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30})
	// deliveryDelay runs from the order change (the event's occurred_at)
	// to the mail accepted by the server: the delay a buyer sees.
	deliveryDelay = metrics.NewPrometheusHistogramExt("ticketvelo_notifier_delivery_delay_seconds",
		[]float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600})
	_ = metrics.NewGauge("ticketvelo_notifier_consumer_lag", func() float64 { return float64(totalLag()) })
)

func init() {
	// Every series exists from the start, so rate() and alerts see zeros.
	for _, kind := range []string{bookingevent.Confirmed, bookingevent.Canceled} {
		sentTotal(kind)
	}
	for _, reason := range []string{reasonMalformed, reasonRefused, reasonExhausted} {
		deadLetteredTotal(reason)
	}
}

func sentTotal(kind string) *metrics.Counter {
	return metrics.GetOrCreateCounter(`ticketvelo_notifier_sent_total{kind="` + kind + `"}`)
}

func deadLetteredTotal(reason string) *metrics.Counter {
	return metrics.GetOrCreateCounter(`ticketvelo_notifier_dead_lettered_total{reason="` + reason + `"}`)
}

// lagTracker holds one notifier's consumer lag per assigned partition: the
// records after the last one handled, up to the high watermark of the fetch.
type lagTracker struct {
	mu        sync.Mutex
	partition map[int32]int64
}

// trackers are the live notifiers of the process, summed by the gauge.
var trackers sync.Map // *lagTracker -> struct{}

func newLagTracker() *lagTracker {
	t := &lagTracker{partition: map[int32]int64{}}
	trackers.Store(t, struct{}{})
	return t
}

func (t *lagTracker) close() { trackers.Delete(t) }

func (t *lagTracker) observe(partition int32, lag int64) {
	t.mu.Lock()
	t.partition[partition] = max(lag, 0)
	t.mu.Unlock()
}

// forget drops partitions this notifier no longer owns (an OnPartitions
// callback).
func (t *lagTracker) forget(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, ps := range lost {
		for _, p := range ps {
			delete(t.partition, p)
		}
	}
}

func (t *lagTracker) sum() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	var s int64
	for _, l := range t.partition {
		s += l
	}
	return s
}

func totalLag() int64 {
	var s int64
	trackers.Range(func(k, _ any) bool {
		s += k.(*lagTracker).sum()
		return true
	})
	return s
}
