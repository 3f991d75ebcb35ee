package notifier

import (
	"context"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ticketvelo/ticketvelo/internal/kafka"
	"github.com/ticketvelo/ticketvelo/internal/loop"
)

// Why an event was dead-lettered: the value of its HeaderDLQReason.
const (
	// reasonMalformed: the event cannot be decoded or rendered; it went to
	// the dead-letter topic at once.
	reasonMalformed = "malformed"
	// reasonRefused: the mail server refused the mail for good (5xx).
	reasonRefused = "refused"
	// reasonExhausted: every delivery attempt failed.
	reasonExhausted = "exhausted"
)

// Headers a dead-lettered record carries besides the original ones; key and
// value are the original record's.
const (
	HeaderDLQReason   = "dlq-reason"
	HeaderDLQError    = "dlq-error"
	HeaderDLQAttempts = "dlq-attempts"
	HeaderDLQSource   = "dlq-source"
	HeaderDLQFailedAt = "dlq-failed-at"
)

// deadLetter copies r to booking.events.dlq with the reason, retrying while
// Kafka is away. It returns false only when ctx ended first (or, in a
// graceful stop, when one last try failed): the event is then not committed.
func (n *Notifier) deadLetter(ctx context.Context, client *kgo.Client, r *kgo.Record, reason string, cause error, attempts int, mode stopMode) bool {
	dl := &kgo.Record{
		Topic: kafka.BookingDeadLetters,
		Key:   r.Key,
		Value: r.Value,
		Headers: append(append(make([]kgo.RecordHeader, 0, len(r.Headers)+5), r.Headers...),
			kgo.RecordHeader{Key: HeaderDLQReason, Value: []byte(reason)},
			kgo.RecordHeader{Key: HeaderDLQError, Value: []byte(cause.Error())},
			kgo.RecordHeader{Key: HeaderDLQAttempts, Value: strconv.AppendInt(nil, int64(attempts), 10)},
			kgo.RecordHeader{Key: HeaderDLQSource, Value: []byte(r.Topic + "/" + strconv.Itoa(int(r.Partition)) + "/" + strconv.FormatInt(r.Offset, 10))},
			kgo.RecordHeader{Key: HeaderDLQFailedAt, Value: []byte(n.now().UTC().Format(time.RFC3339Nano))},
		),
	}
	for failures := 1; ; failures++ {
		pctx := ctx
		if ctx.Err() != nil && mode == graceful {
			// Shutting down with this event in hand: one bounded try.
			var cancel context.CancelFunc
			pctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
		}
		err := client.ProduceSync(pctx, dl).FirstErr()
		if err == nil {
			deadLetteredTotal(reason).Inc()
			return true
		}
		wait := n.backoff(failures)
		n.log.Warn().Err(err).Str("reason", reason).Dur("retry_in", wait).Msg("producing to the dead-letter topic")
		if ctx.Err() != nil || !loop.Sleep(ctx, wait) {
			return false
		}
	}
}
