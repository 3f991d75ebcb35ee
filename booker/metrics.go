package booker

import (
	"sync/atomic"

	"github.com/VictoriaMetrics/metrics"

	"github.com/ticketvelo/ticketvelo/booker/pgstore"
	"github.com/ticketvelo/ticketvelo/internal/promtext"
)

// The layer that decided a hold.
type layer int

const (
	layerBitmap layer = iota
	layerLock
	layerPostgres
	layerIdempotency
	numLayers
)

var layerNames = [numLayers]string{"bitmap", "lock", "postgres", "idempotency"}

// The outcome of a hold request.
type outcome int

const (
	outcomeCreated outcome = iota
	outcomeConflict
	outcomeLimit
	outcomeReplayed
	outcomeFailed
	numOutcomes
)

var outcomeNames = [numOutcomes]string{"created", "conflict", "limit", "replayed", "failed"}

// holdLatencyBuckets span a bitmap rejection (100 µs) to a stalled store.
var holdLatencyBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// counters are the booker's metrics: exported once per process for
// Prometheus and also kept per Service, so a test reads exactly what its own
// booker did while other tests run beside it.
type counters struct {
	pg      [pgstore.NumOps]atomic.Int64
	decided [numOutcomes][numLayers]atomic.Int64
	waits   atomic.Int64
	fallbak atomic.Int64
	expired atomic.Int64
	repairs atomic.Int64
	shed    atomic.Int64

	pgTotal      [pgstore.NumOps]*metrics.Counter
	decidedTotal [numOutcomes][numLayers]*metrics.Counter
}

var (
	lockWaitsTotal      = metrics.NewCounter(promtext.Help("ticketvelo_booker_seat_lock_waits_total", "Holds that waited for another hold's Redis seat lock."))
	redisFallbacksTotal = metrics.NewCounter(promtext.Help("ticketvelo_booker_redis_fallbacks_total", "Hold checks Postgres decided alone because Redis failed or was set aside."))
	holdsExpiredTotal   = metrics.NewCounter(promtext.Help("ticketvelo_booker_holds_expired_total", "Holds released by the expiry sweep after their time ran out."))
	cancellationsTotal  = metrics.NewCounter(promtext.Help("ticketvelo_booker_cancellations_total", "Holds and orders cancelled by their fan."))
	bitmapRepairsTotal  = metrics.NewCounter(promtext.Help("ticketvelo_booker_bitmap_repairs_total", "Seats whose Redis availability bit disagreed with Postgres and was set right."))
	lastDefenceTotal    = metrics.NewCounter(promtext.Help("ticketvelo_booker_ticket_unique_violations_total", "Second sales of a seat refused by the tickets unique constraint, the last line of defence."))
	snapshotBuildsTotal = metrics.NewCounter(promtext.Help("ticketvelo_booker_snapshot_builds_total", "Seat-map snapshots built from Postgres."))
	holdsShedTotal      = metrics.NewCounter(promtext.Help("ticketvelo_booker_holds_shed_total", "Holds refused with 503 because the booker had too many in flight."))
	holdSeconds         = metrics.NewPrometheusHistogramExt(promtext.Help("ticketvelo_booker_hold_duration_seconds", "Time the booker took to decide a hold, from request to verdict."), holdLatencyBuckets)
	confirmSeconds      = metrics.NewPrometheusHistogramExt(promtext.Help("ticketvelo_booker_confirm_duration_seconds", "Time the booker took to confirm a hold into an order."), holdLatencyBuckets)
	snapshotSeconds     = metrics.NewPrometheusHistogramExt(promtext.Help("ticketvelo_booker_snapshot_build_seconds", "Time to build one seat-map snapshot from Postgres."), holdLatencyBuckets)
)

var (
	ordersFamily = promtext.Help("ticketvelo_booker_orders_total", "Orders by result: confirmed, declined by payment, expired hold, or payment timed out.")
	pgFamily     = promtext.Help("ticketvelo_booker_pg_transactions_total", "Postgres transactions (or lone statements) the booker ran, by operation.")
	holdsFamily  = promtext.Help("ticketvelo_booker_holds_total", "Hold decisions by outcome and by the layer that decided (Redis bitmap, Redis lock or Postgres).")
)

func init() {
	// Every result's series exists from the start, so rate() sees zeros.
	for _, result := range []string{"confirmed", "declined", "expired", "payment_timeout"} {
		ordersTotal(result)
	}
}

func ordersTotal(result string) *metrics.Counter {
	return metrics.GetOrCreateCounter(ordersFamily + `{result="` + result + `"}`)
}

func newCounters() *counters {
	c := &counters{}
	for op := range pgstore.NumOps {
		c.pgTotal[op] = metrics.GetOrCreateCounter(pgFamily + `{op="` + op.String() + `"}`)
	}
	for o := range numOutcomes {
		for l := range numLayers {
			c.decidedTotal[o][l] = metrics.GetOrCreateCounter(holdsFamily + `{outcome="` + outcomeNames[o] + `",layer="` + layerNames[l] + `"}`)
		}
	}
	return c
}

// pgTx counts one Postgres transaction (or a lone statement, which is one).
func (c *counters) pgTx(op pgstore.Op) {
	c.pg[op].Add(1)
	c.pgTotal[op].Inc()
}

func (c *counters) decide(o outcome, l layer) {
	c.decided[o][l].Add(1)
	c.decidedTotal[o][l].Inc()
}

func (c *counters) holdShed() {
	c.shed.Add(1)
	holdsShedTotal.Inc()
}

func (c *counters) lockWait() {
	c.waits.Add(1)
	lockWaitsTotal.Inc()
}

var redisTripsTotal = metrics.NewCounter(promtext.Help("ticketvelo_booker_redis_trips_total", "Times the hold path stopped using Redis for a while after repeated failures."))

// redisDown counts the times the hold path stopped using Redis for a while.
func (c *counters) redisDown() { redisTripsTotal.Inc() }

// redisFallback counts a request that could not use Redis: a hold refused
// with 503 (its admission cannot be checked without it), or a best-available
// choice read from Postgres instead of the bitmap. The metric keeps its
// name from when holds fell back to Postgres alone.
func (c *counters) redisFallback() {
	c.fallbak.Add(1)
	redisFallbacksTotal.Inc()
}

// Stats is a summary of what one booker did, for tests and benchmarks.
type Stats struct {
	// HoldTransactions are Postgres transactions on the hold path.
	HoldTransactions int64
	// Transactions are all Postgres transactions by operation.
	Transactions map[string]int64
	// Decided counts hold requests by "outcome/layer".
	Decided        map[string]int64
	LockWaits      int64
	RedisFallbacks int64
	HoldsExpired   int64
	BitmapRepairs  int64
	// HoldsShed are holds refused with 503 because every hold slot stayed
	// busy for the queue wait.
	HoldsShed int64
}

// Stats returns the booker's counters so far.
func (s *Service) Stats() Stats {
	c := s.stats
	st := Stats{Transactions: map[string]int64{}, Decided: map[string]int64{},
		LockWaits: c.waits.Load(), RedisFallbacks: c.fallbak.Load(), HoldsExpired: c.expired.Load(), BitmapRepairs: c.repairs.Load(), HoldsShed: c.shed.Load()}
	for op := range pgstore.NumOps {
		st.Transactions[op.String()] = c.pg[op].Load()
	}
	st.HoldTransactions = c.pg[pgstore.OpHold].Load() + c.pg[pgstore.OpHoldRead].Load()
	for o := range numOutcomes {
		for l := range numLayers {
			if n := c.decided[o][l].Load(); n > 0 {
				st.Decided[outcomeNames[o]+"/"+layerNames[l]] = n
			}
		}
	}
	return st
}
