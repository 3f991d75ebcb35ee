// Package outbox is the transactional outbox: a service writes a row
// (InsertSQL) in the same transaction as the change it reports, and the
// relay publishes the rows to Kafka. The booker writes its booking events
// there; the relay runs in the notifier's process. A row is written in the
// same transaction as the order change it reports, so an event
// exists exactly when the change committed; the relay then publishes each row
// at least once, in order per key, and stamps it published. Duplicates (a
// crash between publishing and the commit that stamps the row) are left to
// the consumers, which are idempotent per order and kind.
package outbox

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ticketvelo/ticketvelo/internal/kafka"
	"github.com/ticketvelo/ticketvelo/internal/promtext"
)

// InsertSQL writes one outbox row in the caller's transaction: $1 topic,
// $2 key (the record's key, in order per key), $3 type (HeaderType), $4
// payload.
const InsertSQL = `INSERT INTO outbox (topic, key, type, payload) VALUES ($1, $2, $3, $4)`

// Headers the relay puts on every record, besides its key (the row's key,
// the order id).
const (
	// HeaderType is the event type (booking.confirmed, booking.canceled), so
	// consumers can route a record without decoding it.
	HeaderType = "type"
	// HeaderOutboxID is the row's id: a consumer that sees it twice got a
	// duplicate publication.
	HeaderOutboxID = "outbox-id"
)

// Options tune the relay; zero fields take the defaults.
type Options struct {
	// BatchSize is the most rows one transaction locks and publishes.
	BatchSize int
	// PollInterval is how long the relay sleeps after a batch that was not
	// full: the bound on the delay a quiet outbox adds to an event.
	PollInterval time.Duration
	// PublishTimeout bounds how long a batch waits for Kafka while its rows
	// stay locked; after it (plus up to a second of the client's own retry
	// backoff) the batch is rolled back and retried. Locked rows block no
	// booker: they only wait, as every row does while Kafka is away.
	PublishTimeout time.Duration
	// MinBackoff and MaxBackoff bound the wait after a failed batch, which
	// doubles per consecutive failure.
	MinBackoff, MaxBackoff time.Duration
	// LagInterval is how often the lag gauges are refreshed.
	LagInterval time.Duration
	// Retention is how long published rows are kept before the relay
	// deletes them, every PruneInterval; zero keeps them.
	Retention, PruneInterval time.Duration
	// Jitter returns a number in [0, 1) that spreads the backoff of several
	// bookers; tests pass a fixed one.
	Jitter func() float64
}

func (o Options) withDefaults() Options {
	if o.BatchSize <= 0 {
		o.BatchSize = 500
	}
	if o.PollInterval <= 0 {
		o.PollInterval = 50 * time.Millisecond
	}
	if o.PublishTimeout <= 0 {
		o.PublishTimeout = 10 * time.Second
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = 200 * time.Millisecond
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = max(10*time.Second, o.MinBackoff)
	}
	if o.LagInterval <= 0 {
		o.LagInterval = time.Second
	}
	if o.PruneInterval <= 0 {
		o.PruneInterval = time.Minute
	}
	if o.Jitter == nil {
		o.Jitter = rand.Float64
	}
	return o
}

// Relay publishes outbox rows. Any number of relays may run against one
// database: each batch is taken with FOR UPDATE SKIP LOCKED, so no row is
// published by two of them at once, and a row becomes eligible only once
// every older row of its key is published, so a key's events keep their
// order across relays.
type Relay struct {
	pool    *pgxpool.Pool
	brokers []string
	opts    Options
	log     zerolog.Logger
}

// NewRelay returns a relay publishing the rows of pool's outbox to brokers.
func NewRelay(pool *pgxpool.Pool, brokers []string, opts Options, log zerolog.Logger) *Relay {
	return &Relay{pool: pool, brokers: brokers, opts: opts.withDefaults(), log: log.With().Str("component", "outbox-relay").Logger()}
}

// newProducer makes the relay's own Kafka client. Its producer is idempotent
// (franz-go's default), which keeps a partition's records in order and free
// of duplicates across the client's own retries. By default franz-go also
// refuses to give up on a record it may have sent, so a dead broker would
// hold a batch (and its row locks) forever; the relay allows that
// cancellation instead: the batch is rolled back and published again later,
// and the rare duplicate this can make is absorbed by the consumers.
func newProducer(brokers []string) (*kgo.Client, error) {
	return kafka.NewClient(brokers, append(kafka.QuickRecovery(), kgo.AllowIdempotentProduceCancellation())...)
}

var (
	publishedTotal   = metrics.NewCounter(promtext.Help("ticketvelo_outbox_published_total", "Booking events the outbox relay got into Kafka."))
	publishFailures  = metrics.NewCounter(promtext.Help("ticketvelo_outbox_publish_failures_total", "Outbox batches that failed to publish and wait for a retry."))
	pendingRows      = metrics.NewGauge(promtext.Help("ticketvelo_outbox_pending_rows", "Booking events in the outbox not yet published."), nil)
	oldestPendingAge = metrics.NewGauge(promtext.Help("ticketvelo_outbox_lag_seconds", "Age of the oldest unpublished booking event in the outbox."), nil)
	prunedTotal      = metrics.NewCounter(promtext.Help("ticketvelo_outbox_pruned_total", "Published outbox rows deleted after their retention."))
	publishDuration  = metrics.NewPrometheusHistogramExt(promtext.Help("ticketvelo_outbox_publish_duration_seconds", "Time to publish one outbox batch to Kafka."),
		[]float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10})
)

// Run publishes until ctx ends. Failed batches (Kafka away, Postgres away)
// are retried with a growing backoff; the rows simply wait, and the lag
// gauges show how long the oldest has waited.
func (r *Relay) Run(ctx context.Context) error {
	client, err := newProducer(r.brokers)
	if err != nil {
		return err
	}
	defer client.Close()
	var wg sync.WaitGroup
	wg.Go(func() { r.watchLag(ctx) })
	if r.opts.Retention > 0 {
		wg.Go(func() { r.prune(ctx) })
	}
	defer wg.Wait()

	failures := 0
	for {
		n, err := r.publishBatch(ctx, client)
		if ctx.Err() != nil {
			return nil
		}
		var wait time.Duration
		switch {
		case err != nil:
			failures++
			wait = backoff(failures, r.opts.MinBackoff, r.opts.MaxBackoff, r.opts.Jitter)
			r.log.Warn().Err(err).Int("consecutive_failures", failures).Dur("retry_in", wait).Msg("outbox batch not published; rows wait")
		case n == r.opts.BatchSize:
			// A full batch: more rows are probably waiting.
		default:
			if failures > 0 {
				r.log.Info().Int("after_failures", failures).Msg("outbox relay publishing again")
			}
			failures = 0
			wait = r.opts.PollInterval
		}
		if wait > 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(wait):
			}
		}
	}
}

// backoff is the wait after the n-th consecutive failure: min doubled per
// failure up to max, the upper half drawn at random so relays that failed
// together do not retry together.
func backoff(n int, minWait, maxWait time.Duration, jitter func() float64) time.Duration {
	d := minWait << min(n-1, 30)
	if d <= 0 || d > maxWait {
		d = maxWait
	}
	return d/2 + time.Duration(jitter()*float64(d/2))
}

// selectBatch locks the oldest unpublished rows that no other relay holds and
// whose key has no older unpublished row: the older one is in flight in
// another relay's batch (or failed there), and publishing this one first
// would reorder the key's events.
const selectBatch = `
SELECT o.id, o.topic, o.key, o.type, o.payload, o.created_at
FROM outbox o
WHERE o.published_at IS NULL
  AND NOT EXISTS (
    SELECT 1 FROM outbox older
    WHERE older.key = o.key AND older.published_at IS NULL AND older.id < o.id)
ORDER BY o.id
LIMIT $1
FOR UPDATE OF o SKIP LOCKED`

// publishBatch publishes one batch of rows and returns how many it
// published. The rows stay locked while Kafka acknowledges them and are
// stamped in the same transaction, so a crash at any point leaves them
// unpublished (to be published again) rather than lost.
func (r *Relay) publishBatch(ctx context.Context, client *kgo.Client) (int, error) {
	tx, err := r.pool.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("beginning outbox transaction: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // a no-op after Commit

	records, err := lockBatch(ctx, tx, r.opts.BatchSize)
	if err != nil || len(records) == 0 {
		return 0, err
	}

	start := time.Now()
	pctx, cancel := context.WithTimeout(ctx, r.opts.PublishTimeout)
	results := client.ProduceSync(pctx, records...)
	cancel()
	publishDuration.UpdateDuration(start)

	published := make([]int64, 0, len(records))
	var failed []int64
	var firstErr error
	for _, res := range results {
		id := res.Record.Context.Value(outboxIDKey{}).(int64)
		if res.Err != nil {
			failed = append(failed, id)
			if firstErr == nil {
				firstErr = res.Err
			}
			continue
		}
		published = append(published, id)
	}
	// Stamp what Kafka acknowledged even when part of the batch failed:
	// franz-go fails every later record of a partition after a failed one,
	// so what remains unpublished is always a key's newest events.
	if len(published) > 0 {
		if _, err := tx.Exec(ctx, `UPDATE outbox SET published_at = now(), attempts = attempts + 1 WHERE id = ANY($1)`, published); err != nil {
			return 0, fmt.Errorf("stamping %d published outbox rows: %w", len(published), err)
		}
	}
	if len(failed) > 0 {
		if _, err := tx.Exec(ctx, `UPDATE outbox SET attempts = attempts + 1 WHERE id = ANY($1)`, failed); err != nil {
			return 0, fmt.Errorf("counting attempts of %d outbox rows: %w", len(failed), err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("committing published outbox rows: %w", err)
	}
	publishedTotal.Add(len(published))
	if firstErr != nil {
		publishFailures.Inc()
		return len(published), fmt.Errorf("publishing %d of %d outbox rows: %w", len(failed), len(records), firstErr)
	}
	return len(published), nil
}

// outboxIDKey carries a record's row id through the producer.
type outboxIDKey struct{}

func lockBatch(ctx context.Context, tx pgx.Tx, limit int) ([]*kgo.Record, error) {
	rows, err := tx.Query(ctx, selectBatch, limit)
	if err != nil {
		return nil, fmt.Errorf("locking outbox rows: %w", err)
	}
	defer rows.Close()
	var records []*kgo.Record
	for rows.Next() {
		var (
			id              int64
			topic, key, typ string
			payload         []byte
			createdAt       time.Time
		)
		if err := rows.Scan(&id, &topic, &key, &typ, &payload, &createdAt); err != nil {
			return nil, fmt.Errorf("reading outbox row: %w", err)
		}
		records = append(records, &kgo.Record{
			Topic:     topic,
			Key:       []byte(key),
			Value:     payload,
			Timestamp: createdAt,
			Headers: []kgo.RecordHeader{
				{Key: HeaderType, Value: []byte(typ)},
				{Key: HeaderOutboxID, Value: strconv.AppendInt(nil, id, 10)},
			},
			Context: context.WithValue(context.Background(), outboxIDKey{}, id),
		})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("locking outbox rows: %w", err)
	}
	return records, nil
}

// watchLag refreshes the lag gauges until ctx ends. Every relay of a fleet
// reports the same table, so dashboards take the max across bookers.
func (r *Relay) watchLag(ctx context.Context) {
	t := time.NewTicker(r.opts.LagInterval)
	defer t.Stop()
	for {
		if _, err := r.Lag(ctx); err != nil && ctx.Err() == nil {
			r.log.Debug().Err(err).Msg("reading outbox lag")
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Lag is the outbox backlog: how many rows wait and how long the oldest has.
type Lag struct {
	Pending int64
	Oldest  time.Duration
}

// Lag reads the backlog from the table and updates the gauges
// ticketvelo_outbox_pending_rows and ticketvelo_outbox_lag_seconds.
func (r *Relay) Lag(ctx context.Context) (Lag, error) {
	var l Lag
	var seconds float64
	err := r.pool.QueryRow(ctx, `
		SELECT count(*), coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8
		FROM outbox WHERE published_at IS NULL`).Scan(&l.Pending, &seconds)
	if err != nil {
		return Lag{}, fmt.Errorf("reading outbox lag: %w", err)
	}
	l.Oldest = time.Duration(seconds * float64(time.Second))
	pendingRows.Set(float64(l.Pending))
	oldestPendingAge.Set(l.Oldest.Seconds())
	return l, nil
}

// prune deletes published rows past the retention until ctx ends.
func (r *Relay) prune(ctx context.Context) {
	t := time.NewTicker(r.opts.PruneInterval)
	defer t.Stop()
	for {
		if _, err := r.Prune(ctx, time.Now().Add(-r.opts.Retention)); err != nil && ctx.Err() == nil {
			r.log.Warn().Err(err).Msg("pruning the outbox")
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// pruneBatch is the most rows one delete removes, so a first prune of a
// large backlog does not hold one long transaction.
const pruneBatch = 10_000

// Prune deletes the published rows created before cutoff and returns how
// many. Rows still to publish are never deleted, however old. Several
// relays may prune at once: each skips the rows another has locked.
func (r *Relay) Prune(ctx context.Context, cutoff time.Time) (int64, error) {
	var total int64
	for {
		tag, err := r.pool.Exec(ctx, `
			DELETE FROM outbox WHERE id IN (
				SELECT id FROM outbox
				WHERE created_at < $1 AND published_at IS NOT NULL
				LIMIT $2 FOR UPDATE SKIP LOCKED)`, cutoff, pruneBatch)
		if err != nil {
			return total, fmt.Errorf("deleting published outbox rows: %w", err)
		}
		n := tag.RowsAffected()
		total += n
		prunedTotal.Add(int(n))
		if n < pruneBatch {
			return total, nil
		}
	}
}
