package admission

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/redis/rueidis"

	"github.com/ticketvelo/ticketvelo/internal/promtext"
)

// lastPolls holds this gateway's last-poll writes for a moment, so the polls
// of many fans share one Redis round trip that no request waits for. A
// write lands within lastPollDelay, and before this gateway's next
// admission step, which reads them: a small lag against a grace period of
// a minute.
type lastPolls struct {
	mu      sync.Mutex
	pending []lastPoll
	closed  bool
	flushes sync.WaitGroup // delayed flushes scheduled or running
}

type lastPoll struct {
	k    *eventKeys
	user int64
	sec  int64
}

const lastPollDelay = 100 * time.Millisecond

var (
	lastPollWrites = metrics.NewCounter(promtext.Help("ticketvelo_waiting_room_last_poll_writes_total",
		"Fans' last polls this gateway wrote to Redis, in batches: with far polls answered from memory, most of the waiting room's load on an event's Redis node in a drop."))
	lastPollErrors = metrics.NewCounter(promtext.Help("ticketvelo_waiting_room_last_poll_errors_total", "Fans' last polls lost because Redis refused the gateway's batched write."))
)

// notePoll records that the fan polled at now.
func (r *Room) notePoll(k *eventKeys, userID int64, now time.Time) {
	p := &r.polls
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.pending = append(p.pending, lastPoll{k, userID, now.Unix()})
	if len(p.pending) == 1 {
		p.flushes.Add(1)
		time.AfterFunc(lastPollDelay, func() {
			defer p.flushes.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			r.flushPolls(ctx) // counted in lastPollErrors
		})
	}
}

// Close writes the last polls still held back and waits for the writes
// under way; polls after it are not recorded. Call it before closing the
// Redis client, so a gateway that stops loses no poll.
func (r *Room) Close() {
	p := &r.polls
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	r.flushPolls(ctx) // counted in lastPollErrors
	p.flushes.Wait()
}

// flushPolls writes the pending last polls in one round trip. A failed
// write is lost, not retried: the fan's next poll writes again.
func (r *Room) flushPolls(ctx context.Context) error {
	p := &r.polls
	p.mu.Lock()
	batch := p.pending
	p.pending = nil
	p.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	cmds := make(rueidis.Commands, len(batch))
	for i, lp := range batch {
		bucket, field := lp.k.seen(lp.user)
		cmds[i] = r.client.B().Hset().Key(bucket).FieldValue().FieldValue(field, strconv.FormatInt(lp.sec, 10)).Build()
	}
	var first error
	for _, res := range r.client.DoMulti(ctx, cmds...) {
		if err := res.Error(); err != nil {
			lastPollErrors.Inc()
			if first == nil {
				first = err
			}
			continue
		}
		lastPollWrites.Inc()
	}
	if first != nil {
		return unavailable("writing last polls", first)
	}
	return nil
}
