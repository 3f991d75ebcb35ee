package notifier

import (
	"context"
	"sync"

	"github.com/VictoriaMetrics/metrics"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ticketvelo/ticketvelo/internal/bookingevent"
	"github.com/ticketvelo/ticketvelo/internal/promtext"
)

var (
	consumedTotal = metrics.NewCounter(promtext.Help("ticketvelo_notifier_consumed_total", "Booking events the notifier read from Kafka."))
	skippedTotal  = metrics.NewCounter(promtext.Help("ticketvelo_notifier_duplicates_skipped_total", "Booking events skipped because their mail had already gone out."))
	retriedTotal  = metrics.NewCounter(promtext.Help("ticketvelo_notifier_retries_total", "Mail sends that failed and were tried again."))
	// takeoversTotal counts claims taken over after their lease: each is a
	// notifier that died (or stopped) between claiming a mail and sending it.
	takeoversTotal = metrics.NewCounter(promtext.Help("ticketvelo_notifier_claim_takeovers_total", "Mail claims taken over after their lease ran out: a notifier died between claiming and sending."))
	sendDuration   = metrics.NewPrometheusHistogramExt(promtext.Help("ticketvelo_notifier_send_duration_seconds", "Time to hand one mail to the SMTP server."),
		[]float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30})
	// deliveryDelay runs from the order change (the event's occurred_at)
	// to the mail accepted by the server: the delay a buyer sees.
	deliveryDelay = metrics.NewPrometheusHistogramExt(promtext.Help("ticketvelo_notifier_delivery_delay_seconds", "Time from the order change to the mail accepted by the SMTP server: the delay a buyer sees."),
		[]float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600})
	_ = metrics.NewGauge(promtext.Help("ticketvelo_notifier_consumer_lag", "Booking events after the last one handled, summed over this notifier's partitions."), func() float64 { return float64(totalLag()) })
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

var (
	sentFamily         = promtext.Help("ticketvelo_notifier_sent_total", "Mails accepted by the SMTP server, by kind of booking event.")
	deadLetteredFamily = promtext.Help("ticketvelo_notifier_dead_lettered_total", "Booking events given up on and put on the dead-letter topic, by reason.")
)

func sentTotal(kind string) *metrics.Counter {
	return metrics.GetOrCreateCounter(sentFamily + `{kind="` + kind + `"}`)
}

func deadLetteredTotal(reason string) *metrics.Counter {
	return metrics.GetOrCreateCounter(deadLetteredFamily + `{reason="` + reason + `"}`)
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
