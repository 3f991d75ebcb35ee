package outbox_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ticketvelo/ticketvelo/internal/bookingevent"
	"github.com/ticketvelo/ticketvelo/internal/kafka"
	"github.com/ticketvelo/ticketvelo/internal/outbox"
	"github.com/ticketvelo/ticketvelo/internal/testenv"
)

// insertEvent writes one outbox row as the booker does, in its own
// transaction, and returns its id.
func insertEvent(tb testing.TB, ctx context.Context, pool *pgxpool.Pool, orderID, typ string) int64 {
	tb.Helper()
	payload, err := json.Marshal(bookingevent.Event{
		Type: typ, OrderID: orderID, OccurredAt: time.Now(),
		Buyer:   bookingevent.Buyer{UserID: 1, Email: "ana@example.com", Name: "Ana"},
		Tickets: []bookingevent.Ticket{{ID: "t-" + orderID, Section: "Floor A", Row: "1", Number: 1, PriceCents: 5000}},
	})
	if err != nil {
		tb.Fatal(err)
	}
	var id int64
	err = pool.QueryRow(ctx, `INSERT INTO outbox (topic, key, type, payload) VALUES ($1, $2, $3, $4) RETURNING id`,
		kafka.BookingEvents, orderID, typ, payload).Scan(&id)
	if err != nil {
		tb.Errorf("inserting outbox row: %v", err)
	}
	return id
}

// createTopics creates the topics of an install, as start-up does.
func createTopics(tb testing.TB, brokers []string) {
	tb.Helper()
	client, err := kafka.NewClient(brokers)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(client.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := kafka.EnsureTopics(ctx, client, kafka.DefaultTopics); err != nil {
		tb.Fatal(err)
	}
}

// consumed is what a plain consumer read from booking.events.
type consumed struct {
	mu      sync.Mutex
	records []*kgo.Record
}

// consume reads booking.events from the start into c until ctx ends.
func consume(tb testing.TB, ctx context.Context, brokers []string, c *consumed) {
	tb.Helper()
	client, err := kafka.NewClient(brokers, kgo.ConsumeTopics(kafka.BookingEvents), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		tb.Fatal(err)
	}
	done := make(chan struct{})
	tb.Cleanup(func() { client.Close(); <-done })
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			fetches := client.PollFetches(ctx)
			c.mu.Lock()
			c.records = append(c.records, fetches.Records()...)
			c.mu.Unlock()
			if fetches.IsClientClosed() {
				return
			}
		}
	}()
}

// byOutboxID counts the records of each outbox row.
func (c *consumed) byOutboxID(tb testing.TB) map[int64][]*kgo.Record {
	tb.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[int64][]*kgo.Record{}
	for _, r := range c.records {
		id, err := strconv.ParseInt(header(r, outbox.HeaderOutboxID), 10, 64)
		if err != nil {
			tb.Fatalf("record at %d/%d has no outbox id: %v", r.Partition, r.Offset, err)
		}
		out[id] = append(out[id], r)
	}
	return out
}

func header(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

func quietLog() zerolog.Logger { return zerolog.Nop() }

func runRelay(tb testing.TB, ctx context.Context, r *outbox.Relay) {
	tb.Helper()
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	tb.Cleanup(func() {
		if err := <-done; err != nil {
			tb.Errorf("relay: %v", err)
		}
	})
}

func unpublished(tb testing.TB, ctx context.Context, pool *pgxpool.Pool) int {
	tb.Helper()
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE published_at IS NULL`).Scan(&n); err != nil {
		tb.Fatal(err)
	}
	return n
}

// Three relays drain an outbox that 40 writers fill at the same time: every
// row reaches Kafka exactly once, keyed by its order, with its type header,
// and an order's cancellation never overtakes its confirmation.
func TestRelaysPublishEveryRowOnceInKeyOrder(t *testing.T) {
	t.Parallel()
	_, pool := testenv.Postgres(t)
	brokers := testenv.Kafka(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var got consumed
	consume(t, ctx, brokers, &got)

	createTopics(t, brokers)
	relayCtx, stopRelays := context.WithCancel(ctx)
	defer stopRelays()
	for range 3 {
		// Small batches so the relays interleave on the same keys.
		runRelay(t, relayCtx, outbox.NewRelay(pool, brokers, outbox.Options{BatchSize: 20, PollInterval: 5 * time.Millisecond}, quietLog()))
	}

	const writers, ordersPerWriter = 40, 50
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range ordersPerWriter {
				order := fmt.Sprintf("order-%02d-%02d", w, i)
				insertEvent(t, ctx, pool, order, bookingevent.Confirmed)
				if i%2 == 0 {
					// Canceled right after: the two rows are likely to be
					// locked by different relays.
					insertEvent(t, ctx, pool, order, bookingevent.Canceled)
				}
			}
		})
	}
	wg.Wait()
	const rows = writers*ordersPerWriter + writers*ordersPerWriter/2

	testenv.Eventually(t, time.Minute, func() error {
		if n := unpublished(t, ctx, pool); n > 0 {
			return fmt.Errorf("%d rows unpublished", n)
		}
		if n := len(got.byOutboxID(t)); n < rows {
			return fmt.Errorf("consumed %d of %d rows", n, rows)
		}
		return nil
	})
	stopRelays()

	byID := got.byOutboxID(t)
	if len(byID) != rows {
		t.Fatalf("consumed %d distinct rows, want %d", len(byID), rows)
	}
	dbRows, err := pool.Query(ctx, `SELECT id, key, type, attempts FROM outbox ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer dbRows.Close()
	firstSeen := map[string]string{} // key -> type of its first record in Kafka
	partitionOf := map[string]int32{}
	for dbRows.Next() {
		var id int64
		var key, typ string
		var attempts int
		if err := dbRows.Scan(&id, &key, &typ, &attempts); err != nil {
			t.Fatal(err)
		}
		recs := byID[id]
		if len(recs) != 1 {
			t.Errorf("row %d published %d times, want once", id, len(recs))
			continue
		}
		if attempts != 1 {
			t.Errorf("row %d attempts = %d, want 1", id, attempts)
		}
		r := recs[0]
		if string(r.Key) != key || header(r, outbox.HeaderType) != typ {
			t.Errorf("row %d published with key %q type %q, want %q %q", id, r.Key, header(r, outbox.HeaderType), key, typ)
		}
		if p, ok := partitionOf[key]; ok && p != r.Partition {
			t.Errorf("order %s spread over partitions %d and %d", key, p, r.Partition)
		}
		partitionOf[key] = r.Partition
		if _, ok := firstSeen[key]; !ok {
			firstSeen[key] = typ
		}
	}
	// Within a partition, offsets give Kafka's order: the confirmation of
	// each order must come before its cancellation.
	confirmedAt := map[string]int64{}
	for _, recs := range byID {
		if r := recs[0]; header(r, outbox.HeaderType) == bookingevent.Confirmed {
			confirmedAt[string(r.Key)] = r.Offset
		}
	}
	for _, recs := range byID {
		if r := recs[0]; header(r, outbox.HeaderType) == bookingevent.Canceled && r.Offset < confirmedAt[string(r.Key)] {
			t.Errorf("order %s: canceled at offset %d before confirmed at %d", r.Key, r.Offset, confirmedAt[string(r.Key)])
		}
	}
}

// With the broker gone, rows wait (the lag grows, failures are counted) and
// the relay keeps retrying; once a broker is back on the same address and
// data directory, every row is published.
func TestRelayWaitsOutABrokerOutage(t *testing.T) {
	t.Parallel()
	_, pool := testenv.Postgres(t)
	addr, dir := testenv.FreeAddr(t), t.TempDir()
	broker, err := kafka.StartEmbedded(addr, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { broker.Close() })
	brokers := broker.Addrs()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	createTopics(t, brokers)

	relay := outbox.NewRelay(pool, brokers, outbox.Options{
		PollInterval: 10 * time.Millisecond, PublishTimeout: 500 * time.Millisecond,
		MinBackoff: 50 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
	}, quietLog())
	runRelay(t, ctx, relay)

	var ids []int64
	for i := range 20 {
		ids = append(ids, insertEvent(t, ctx, pool, fmt.Sprintf("before-%d", i), bookingevent.Confirmed))
	}
	testenv.Eventually(t, 20*time.Second, func() error {
		if n := unpublished(t, ctx, pool); n > 0 {
			return fmt.Errorf("%d rows unpublished before the outage", n)
		}
		return nil
	})

	broker.Close()
	failuresBefore := metrics.GetOrCreateCounter("ticketvelo_outbox_publish_failures_total").Get()
	for i := range 30 {
		// The booker's confirm keeps working: it only writes Postgres.
		ids = append(ids, insertEvent(t, ctx, pool, fmt.Sprintf("during-%d", i), bookingevent.Confirmed))
	}
	testenv.Eventually(t, 20*time.Second, func() error {
		if f := metrics.GetOrCreateCounter("ticketvelo_outbox_publish_failures_total").Get(); f < failuresBefore+2 {
			return fmt.Errorf("relay failures %d, want retries while the broker is down", f-failuresBefore)
		}
		return nil
	})
	lag, err := relay.Lag(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if lag.Pending != 30 || lag.Oldest <= 0 {
		t.Errorf("lag during outage = %+v, want 30 rows pending with a positive age", lag)
	}

	broker, err = kafka.StartEmbedded(addr, dir)
	if err != nil {
		t.Fatalf("restarting the broker: %v", err)
	}
	var got consumed
	consume(t, ctx, brokers, &got)
	testenv.Eventually(t, 30*time.Second, func() error {
		if n := unpublished(t, ctx, pool); n > 0 {
			return fmt.Errorf("%d rows unpublished after the broker came back", n)
		}
		return nil
	})
	testenv.Eventually(t, 20*time.Second, func() error {
		byID := got.byOutboxID(t)
		for _, id := range ids {
			if len(byID[id]) == 0 {
				return fmt.Errorf("row %d not in Kafka", id)
			}
		}
		return nil
	})
	if lag, err := relay.Lag(ctx); err != nil || lag.Pending != 0 {
		t.Errorf("lag after recovery = %+v, %v; want none pending", lag, err)
	}
}

// Published rows past the retention go, in batches, however many relays
// prune at once; rows still to publish stay however old, and so do recent
// ones.
func TestPruneDeletesOnlyOldPublishedRows(t *testing.T) {
	t.Parallel()
	_, pool := testenv.Postgres(t)
	ctx := context.Background()
	fill := func(n int, age time.Duration, published bool) {
		t.Helper()
		_, err := pool.Exec(ctx, `
			INSERT INTO outbox (topic, key, type, payload, created_at, published_at)
			SELECT $1, 'order-' || i, 'booking.confirmed', '{}', now() - $2::interval,
			       CASE WHEN $3 THEN now() - $2::interval END
			FROM generate_series(1, $4) AS i`, kafka.BookingEvents, age.String(), published, n)
		if err != nil {
			t.Fatal(err)
		}
	}
	const old, week = 25_000, 7 * 24 * time.Hour
	fill(old, 8*24*time.Hour, true) // past the retention: pruned
	fill(3, 30*24*time.Hour, false) // never published: kept
	fill(5, 24*time.Hour, true)     // published, within the retention: kept
	count := func(where string) (n int) {
		t.Helper()
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE `+where).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	cutoff := time.Now().Add(-week)
	var deleted [2]int64
	var wg sync.WaitGroup
	for i := range deleted {
		wg.Go(func() {
			n, err := outbox.NewRelay(pool, nil, outbox.Options{}, quietLog()).Prune(ctx, cutoff)
			if err != nil {
				t.Error(err)
			}
			deleted[i] = n
		})
	}
	wg.Wait()
	if deleted[0]+deleted[1] != old {
		t.Fatalf("two relays pruned %d and %d rows, want %d in all", deleted[0], deleted[1], old)
	}
	if n := count("published_at IS NULL"); n != 3 {
		t.Fatalf("%d unpublished rows left, want the 3", n)
	}
	if n := count("published_at IS NOT NULL"); n != 5 {
		t.Fatalf("%d published rows left, want the 5 within the retention", n)
	}

	// A running relay prunes on its own.
	fill(2, 8*24*time.Hour, true)
	relayCtx, stop := context.WithCancel(ctx)
	defer stop()
	runRelay(t, relayCtx, outbox.NewRelay(pool, testenv.Kafka(t), outbox.Options{Retention: week, PruneInterval: 10 * time.Millisecond}, quietLog()))
	testenv.Eventually(t, 10*time.Second, func() error {
		if n := count("true"); n != 8 {
			return fmt.Errorf("%d rows, want 8 once the running relay pruned the 2 old ones", n)
		}
		return nil
	})
}
