// Package notifier is the process that turns booking events into mail: a
// Kafka consumer group on booking.events that sends each confirmation and
// cancellation exactly once per order and kind, whatever restarts, crashes
// and redeliveries happen. A claim in Postgres is taken before sending, the
// offset is committed only after the mail is sent or dead-lettered, failures
// are retried with backoff, and what cannot be sent goes to
// booking.events.dlq with the reason.
package notifier

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ticketvelo/ticketvelo/internal/bookingevent"
	"github.com/ticketvelo/ticketvelo/internal/kafka"
	"github.com/ticketvelo/ticketvelo/internal/loop"
	"github.com/ticketvelo/ticketvelo/internal/tokens"
	"github.com/ticketvelo/ticketvelo/internal/uuidtext"
)

// Deps are what a Notifier works with besides its Config.
type Deps struct {
	Pool    *pgxpool.Pool // holds the claims
	Brokers []string
	Ring    *tokens.Ring // signs ticket codes
	Mailer  Mailer
	Log     zerolog.Logger
	// Now and Jitter are the clock and the random source ([0, 1));
	// time.Now and math/rand when nil.
	Now    func() time.Time
	Jitter func() float64
}

// Notifier consumes booking events and mails the buyers.
type Notifier struct {
	brokers []string
	mailer  Mailer
	render  *renderer
	claims  claims
	cfg     Config
	now     func() time.Time
	jitter  func() float64
	log     zerolog.Logger
	// kafkaOpts are added to the consumer's (tests route its connections
	// through a proxy they can cut, as a killed process's sockets are).
	kafkaOpts []kgo.Opt
}

// New returns a notifier with the settings cfg that consumes from
// d.Brokers, claims in d.Pool, signs ticket codes with d.Ring and delivers
// with d.Mailer.
func New(cfg Config, d Deps) (*Notifier, error) {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Jitter == nil {
		d.Jitter = rand.Float64
	}
	r, err := newRenderer(d.Ring, cfg.MailFrom)
	if err != nil {
		return nil, err
	}
	if _, err := d.Ring.Signer(); err != nil {
		return nil, fmt.Errorf("notifier: ticket codes need a signing key: %w", err)
	}
	return &Notifier{
		brokers: d.Brokers, mailer: d.Mailer, render: r,
		claims: claims{pool: d.Pool, lease: cfg.ClaimLease},
		cfg:    cfg, now: d.Now, jitter: d.Jitter, log: d.Log.With().Str("component", "notifier").Logger(),
	}, nil
}

// Run consumes until ctx ends, then shuts down gracefully: it starts no new
// mail, finishes the deliveries in progress, gives back the claims of mails
// waiting for a retry, commits what is done and leaves the group, so the
// partitions move to the other notifiers at once.
func (n *Notifier) Run(ctx context.Context) error { return n.run(ctx, graceful) }

// stopMode is how a notifier stops when its context ends.
type stopMode bool

const (
	graceful stopMode = false
	// crash stops like a killed process: claimed mails are abandoned
	// unsent and the batch in hand is not committed. Only tests use it, to
	// prove that a notifier dying at any point loses and doubles no mail.
	crash stopMode = true
)

func (n *Notifier) run(ctx context.Context, mode stopMode) error {
	lag := newLagTracker()
	defer lag.close()
	client, err := kafka.NewClient(n.brokers, n.consumerOpts(lag)...)
	if err != nil {
		return err
	}
	defer closeConsumer(client, mode)

	for {
		fetches := client.PollRecords(ctx, n.cfg.MaxPollRecords)
		if fetches.IsClientClosed() {
			return nil
		}
		fetches.EachError(func(topic string, p int32, err error) {
			if ctx.Err() == nil {
				n.log.Warn().Err(err).Str("topic", topic).Int32("partition", p).Msg("fetching booking events")
			}
		})
		done := n.handleFetches(ctx, client, fetches, mode, lag)
		if len(done) > 0 && !(mode == crash && ctx.Err() != nil) {
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			if err := client.CommitRecords(cctx, done...); err != nil {
				// The events come back to this or another notifier, whose
				// claims find the mails sent and skip them.
				n.log.Warn().Err(err).Msg("committing offsets; the events will be redelivered and skipped")
			}
			cancel()
		}
		client.AllowRebalance()
		if ctx.Err() != nil {
			return nil
		}
	}
}

// consumerOpts are the consumer's options.
func (n *Notifier) consumerOpts(lag *lagTracker) []kgo.Opt {
	opts := append(kafka.QuickRecovery(),
		kgo.ConsumerGroup(n.cfg.ConsumerGroup),
		kgo.ConsumeTopics(kafka.BookingEvents),
		// A notifier that dies without leaving the group (kill -9, a lost
		// machine) keeps its partitions until the session times out:
		// seconds, so its orders' mail is late by about that much.
		kgo.SessionTimeout(n.cfg.SessionTimeout),
		kgo.HeartbeatInterval(n.cfg.HeartbeatInterval),
		// A new group starts at the oldest event: no confirmed order goes
		// unmailed because the notifier was deployed after it.
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
		// Rebalances wait until the records of a poll are handled and
		// committed, so no partition changes hands with work in flight.
		kgo.BlockRebalanceOnPoll(),
		kgo.OnPartitionsRevoked(lag.forget),
		kgo.OnPartitionsLost(lag.forget),
		// Dead letters are produced by this client too; see the outbox
		// relay for why cancellation is allowed.
		kgo.AllowIdempotentProduceCancellation(),
	)
	return append(opts, n.kafkaOpts...)
}

// closeConsumer closes the client. A graceful stop leaves the group, so the
// partitions move at once; a crash does not (a killed process sends
// nothing), and the group takes them over when the session times out.
func closeConsumer(client *kgo.Client, mode stopMode) {
	if mode == crash {
		// A leave with a context already canceled gives up before it is
		// sent, and makes Close skip it.
		gone, cancel := context.WithCancel(context.Background())
		cancel()
		_ = client.LeaveGroupContext(gone)
	}
	client.CloseAllowingRebalance()
}

// handleFetches handles the records of a poll and returns, per partition,
// the last record of the prefix handled to its end: the offset to commit.
// One order's events share a key and so a partition; they are handled in
// order, while different orders, even of one partition, are mailed side by
// side, up to Concurrency at a time, so a few partitions do not limit a
// notifier to a few mails at once.
func (n *Notifier) handleFetches(ctx context.Context, client *kgo.Client, fetches kgo.Fetches, mode stopMode, lag *lagTracker) []*kgo.Record {
	var (
		mu    sync.Mutex
		done  []*kgo.Record
		wg    sync.WaitGroup
		slots = make(chan struct{}, n.cfg.Concurrency)
	)
	fetches.EachPartition(func(p kgo.FetchTopicPartition) {
		if len(p.Records) == 0 {
			return
		}
		wg.Go(func() {
			handled := make([]bool, len(p.Records))
			var orders sync.WaitGroup
			for _, idx := range byKey(p.Records) {
				select {
				case slots <- struct{}{}:
				case <-ctx.Done():
				}
				if ctx.Err() != nil {
					break
				}
				orders.Go(func() {
					defer func() { <-slots }()
					for _, i := range idx {
						if ctx.Err() != nil || !n.handle(ctx, client, p.Records[i], mode) {
							return
						}
						handled[i] = true
					}
				})
			}
			orders.Wait()
			last := -1
			for last+1 < len(handled) && handled[last+1] {
				last++
			}
			if last < 0 {
				return
			}
			r := p.Records[last]
			lag.observe(p.Partition, p.HighWatermark-r.Offset-1)
			mu.Lock()
			done = append(done, r)
			mu.Unlock()
		})
	})
	wg.Wait()
	return done
}

// byKey groups the indexes of records by key, in order of first appearance
// and, within a key, in offset order.
func byKey(records []*kgo.Record) [][]int {
	at := make(map[string]int, len(records))
	var groups [][]int
	for i, r := range records {
		g, ok := at[string(r.Key)]
		if !ok {
			g = len(groups)
			at[string(r.Key)] = g
			groups = append(groups, nil)
		}
		groups[g] = append(groups[g], i)
	}
	return groups
}

// handle takes one event to its end: mailed, skipped as already mailed, or
// dead-lettered. It returns false only when ctx ended first; the event is
// then not committed and comes back.
func (n *Notifier) handle(ctx context.Context, client *kgo.Client, r *kgo.Record, mode stopMode) bool {
	consumedTotal.Inc()
	ev, msg, err := n.decode(r)
	if err != nil {
		return n.deadLetter(ctx, client, r, reasonMalformed, err, 0, mode)
	}
	log := n.log.With().Str("order_id", ev.OrderID).Str("kind", ev.Type).Logger()
	// Claim first: a redelivered or duplicated event finds the mail sent.
	state, attempt, ok := n.claim(ctx, ev, msg, log)
	switch {
	case !ok:
		return false
	case state == claimDone:
		skippedTotal.Inc()
		return true
	}
	defer n.claims.keep(ctx, ev.OrderID, ev.Type)()
	return n.deliver(ctx, client, r, ev, msg, attempt, mode, log)
}

// decode reads a booking event and renders its mail.
func (n *Notifier) decode(r *kgo.Record) (bookingevent.Event, *Message, error) {
	ev, err := bookingevent.Decode(r.Value)
	if err == nil && !uuidtext.Valid(ev.OrderID) {
		err = fmt.Errorf("booking event: order_id %q is not a UUID", ev.OrderID)
	}
	if err != nil {
		return ev, nil, err
	}
	msg, err := n.render.render(ev, n.now())
	return ev, msg, err
}

// claim waits until this notifier owns the event's mail (claimTaken, with
// the attempt it starts) or finds it sent (claimDone); ok is false when ctx
// ended first.
func (n *Notifier) claim(ctx context.Context, ev bookingevent.Event, msg *Message, log zerolog.Logger) (state claimState, attempt int, ok bool) {
	for failures := 0; ; {
		// Not cut short by a shutdown: a claim Postgres made whose answer
		// the notifier never read would hold the mail for the whole lease
		// (2 min), where a claim it knows of it finishes or gives back.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		state, attempt, err := n.claims.claim(cctx, ev.OrderID, ev.Type, msg.To, msg.ID)
		cancel()
		var wait time.Duration
		switch {
		case err != nil:
			failures++
			wait = n.backoff(failures)
			log.Warn().Err(err).Dur("retry_in", wait).Msg("claiming a mail")
		case state == claimBusy:
			// Another notifier held it when this one got the partition:
			// wait for it to finish, or for its lease to run out.
			wait = min(n.cfg.ClaimLease/4, time.Second)
		default:
			return state, attempt, true
		}
		if !loop.Sleep(ctx, wait) {
			return 0, 0, false
		}
	}
}

// deliver sends a claimed mail, retrying with backoff up to the attempts
// allowed; it reports whether the record is done with.
func (n *Notifier) deliver(ctx context.Context, client *kgo.Client, r *kgo.Record, ev bookingevent.Event, msg *Message, attempt int, mode stopMode, log zerolog.Logger) bool {
	var lastErr error
	for {
		if attempt > n.cfg.MaxAttempts {
			// Taken over from a notifier that died at its last attempt.
			cause := fmt.Errorf("gave up after %d attempts: %w", attempt-1, errors.Join(lastErr, errors.New("attempts exhausted")))
			return n.giveUp(ctx, client, r, ev, reasonExhausted, cause, attempt-1, mode)
		}
		if mode == crash && ctx.Err() != nil {
			return false // killed between the claim and the send
		}
		start := n.now()
		// The delivery runs to its end even if ctx ends now: the mail in
		// hand is finished, never cut in half.
		err := n.mailer.Send(context.WithoutCancel(ctx), msg)
		sendDuration.UpdateDuration(start)
		if err == nil {
			n.finish(ctx, ev, "sent", "")
			sentTotal(ev.Type).Inc()
			deliveryDelay.Update(n.now().Sub(ev.OccurredAt).Seconds())
			return true
		}
		lastErr = err
		if ferr := n.claims.failed(context.WithoutCancel(ctx), ev.OrderID, ev.Type, err); ferr != nil {
			log.Warn().Err(ferr).Msg("recording a failed delivery")
		}
		if errors.Is(err, errPermanent) {
			return n.giveUp(ctx, client, r, ev, reasonRefused, err, attempt, mode)
		}
		if attempt >= n.cfg.MaxAttempts {
			return n.giveUp(ctx, client, r, ev, reasonExhausted, fmt.Errorf("gave up after %d attempts: %w", attempt, err), attempt, mode)
		}
		retriedTotal.Inc()
		wait := n.backoff(attempt)
		log.Warn().Err(err).Int("attempt", attempt).Dur("retry_in", wait).Msg("mail not delivered; retrying")
		next, ok := n.nextAttempt(ctx, ev, wait, log)
		if !ok {
			return n.giveBack(ctx, ev, mode)
		}
		attempt = next
	}
}

// nextAttempt waits out a retry's backoff and records the attempt it
// starts; ok is false when ctx ended first.
func (n *Notifier) nextAttempt(ctx context.Context, ev bookingevent.Event, wait time.Duration, log zerolog.Logger) (attempt int, ok bool) {
	for {
		if !loop.Sleep(ctx, wait) {
			return 0, false
		}
		attempt, err := n.claims.startAttempt(ctx, ev.OrderID, ev.Type)
		if err == nil {
			return attempt, true
		}
		log.Warn().Err(err).Msg("starting a delivery")
		wait = n.cfg.RetryBackoff
	}
}

// giveBack releases the claim of a mail this notifier stops working on
// between attempts; after a crash the claim stays until its lease ends.
func (n *Notifier) giveBack(ctx context.Context, ev bookingevent.Event, mode stopMode) bool {
	if mode == graceful {
		if err := n.claims.release(context.WithoutCancel(ctx), ev.OrderID, ev.Type); err != nil {
			n.log.Warn().Err(err).Msg("releasing a claim on shutdown; it frees itself when its lease ends")
		}
	}
	return false
}

// giveUp dead-letters the event of a mail that cannot be sent and closes its
// claim.
func (n *Notifier) giveUp(ctx context.Context, client *kgo.Client, r *kgo.Record, ev bookingevent.Event, reason string, cause error, attempts int, mode stopMode) bool {
	if !n.deadLetter(ctx, client, r, reason, cause, attempts, mode) {
		return n.giveBack(ctx, ev, mode)
	}
	n.finish(ctx, ev, "dead", cause.Error())
	n.log.Error().Err(cause).Str("order_id", ev.OrderID).Str("kind", ev.Type).Str("reason", reason).Msg("mail dead-lettered")
	return true
}

// finish stamps the claim. It runs whatever ctx says, a few times if
// Postgres is away: a sent mail whose row stays "claimed" would be sent again
// after a redelivery.
func (n *Notifier) finish(ctx context.Context, ev bookingevent.Event, status, reason string) {
	ctx = context.WithoutCancel(ctx)
	var err error
	for try := 1; try <= 5; try++ {
		if err = n.claims.finish(ctx, ev.OrderID, ev.Type, status, reason); err == nil {
			return
		}
		time.Sleep(n.backoff(try))
	}
	n.log.Error().Err(err).Str("order_id", ev.OrderID).Msg("could not record a finished mail; its offset is committed anyway, so it is not sent again unless the event is redelivered")
}

// backoff is the wait after the n-th failure: RetryBackoff doubled per
// failure up to RetryBackoffMax, the upper half at random.
func (n *Notifier) backoff(failures int) time.Duration {
	d := n.cfg.RetryBackoff << min(failures-1, 30)
	if d <= 0 || d > n.cfg.RetryBackoffMax {
		d = n.cfg.RetryBackoffMax
	}
	return d/2 + time.Duration(n.jitter()*float64(d/2))
}
