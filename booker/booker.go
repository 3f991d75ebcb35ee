// Package booker sells seats: the seat map, holds, orders and
// cancellations. Postgres decides who owns a seat (an optimistic update of
// seats that are still available at the version last seen, and a unique
// index on live tickets); Redis only cuts load in front of it, with a bitmap
// of taken seats that rejects most conflicting requests at once and seat
// locks that keep concurrent requests for the same seats from reaching
// Postgres together. Losing Redis, or a lock expiring under a stalled
// holder, costs Postgres work but never sells a seat twice.
package booker

import (
	"context"
	"errors"
	"time"

	"github.com/fasthttp/router"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/rueidis"
	"github.com/rs/zerolog"

	"github.com/ticketvelo/ticketvelo/booker/pgstore"
	"github.com/ticketvelo/ticketvelo/booker/redisstore"
	"github.com/ticketvelo/ticketvelo/internal/config"
	"github.com/ticketvelo/ticketvelo/internal/httpapi"
	"github.com/ticketvelo/ticketvelo/internal/tokens"
)

// Admissions is the waiting room as the booker sees it.
type Admissions interface {
	// Done ends the buyer's admission that expires at admission and frees
	// its slot (order confirmed, hold expired): that admission token buys
	// nothing more. A newer admission of the same fan is left alone; a
	// zero admission ends whichever the fan has.
	Done(ctx context.Context, eventID, userID int64, admission time.Time) error
	// ReportHealth publishes the booker's recent p99 latency and error ratio for auto mode.
	ReportHealth(ctx context.Context, p99 time.Duration, errorRate float64) error
}

// Deps are what a Service works with besides its Config.
type Deps struct {
	Pool       *pgxpool.Pool
	Redis      rueidis.Client
	Prefix     string // of every Redis key
	Tokens     *tokens.Ring
	Admissions Admissions
	// StoreTimeout bounds the store work of one request
	// (TICKETVELO_STORE_TIMEOUT); the default when 0.
	StoreTimeout time.Duration
	Log          zerolog.Logger
	// Now is the clock; time.Now when nil. Hold expiry follows it.
	Now func() time.Time
}

// Service is the booker's HTTP face and its background loops, over the
// rules that decide holds and orders. Each part below is given exactly what
// it uses; none reaches back into the Service.
type Service struct {
	tokens *tokens.Ring
	now    func() time.Time
	// storeTimeout bounds a request's store work, and so how long its
	// idempotency claim can be in flight.
	storeTimeout time.Duration
	log          zerolog.Logger

	pg         *pgstore.Store
	redis      *redisstore.Store
	events     *eventCache
	snapshots  *snapshots
	holds      *holdRules
	orders     *orderRules
	sweeper    *sweeper
	health     *healthWindow
	ops        *opsStats // the ops console's figures
	stats      *counters
	hooks      *testHooks
	healthLoop healthReporter
}

// testHooks let tests stall a hold at its two critical moments: before
// the hold transaction begins, with the seat locks (if any) held; and
// inside it (pgstore.Hooks.AfterSeatUpdate), once the seats are updated
// and before the commit.
type testHooks struct {
	beforeHoldTx func(seats []int)
	pgstore.Hooks
}

// New returns a booker with the settings cfg over o.
func New(cfg Config, o Deps) (*Service, error) {
	switch {
	case o.Pool == nil:
		return nil, errors.New("booker: no Postgres pool")
	case o.Redis == nil:
		return nil, errors.New("booker: no Redis client")
	case o.Tokens == nil:
		return nil, errors.New("booker: no key ring")
	case o.Admissions == nil:
		return nil, errors.New("booker: no admissions (the waiting room)")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.StoreTimeout <= 0 {
		o.StoreTimeout = config.Default().StoreTimeout
	}
	stats := newCounters()
	s := &Service{tokens: o.Tokens, now: o.Now, storeTimeout: o.StoreTimeout, log: o.Log, stats: stats, health: newHealthWindow(), hooks: &testHooks{}}
	s.ops = newOpsStats(o.Redis, o.Prefix, o.Now)
	s.pg = pgstore.New(o.Pool, pgstore.Options{Count: stats.pgTx, Hooks: &s.hooks.Hooks})
	s.redis = redisstore.New(o.Redis, o.Prefix, cfg.RedisTimeout, stats.redisDown)
	s.events = newEventCache(func(ctx context.Context, id int64) (*eventInfo, error) { return loadEvent(ctx, s.pg, id) }, o.StoreTimeout)
	s.snapshots = newSnapshots(s.pg, s.redis, s.events, snapshotOptions{
		interval: cfg.SnapshotInterval, storeTimeout: o.StoreTimeout, answerTTL: cfg.IdempotencyTTL, now: o.Now}, stats, o.Log)
	s.sweeper = &sweeper{pg: s.pg, redis: s.redis, admissions: o.Admissions, stats: stats, log: o.Log, now: o.Now,
		interval: cfg.SweepInterval, batch: cfg.SweepBatch, answerTTL: cfg.IdempotencyTTL}
	s.holds = &holdRules{pg: s.pg, redis: s.redis, snapshots: s.snapshots, cfg: cfg, storeTimeout: o.StoreTimeout, now: o.Now, log: o.Log,
		stats: stats, hooks: s.hooks, slots: make(chan struct{}, max(1, cfg.HoldConcurrency))}
	s.orders = &orderRules{pg: s.pg, redis: s.redis, events: s.events, expiry: s.sweeper, cfg: cfg,
		storeTimeout: o.StoreTimeout, now: o.Now, log: o.Log}
	s.healthLoop = healthReporter{window: s.health, admissions: o.Admissions, interval: cfg.HealthInterval, log: o.Log}
	return s, nil
}

// Routes mounts the booker's API on r.
func (s *Service) Routes(r *router.Router) {
	r.GET("/api/v1/events/{id}/seats", s.handleSeatMap)
	r.GET("/api/v1/events/{id}/seats/status", s.handleSeatStatus)
	r.POST("/api/v1/events/{id}/holds", s.answering(opHold, s.handleCreateHold))
	r.GET("/api/v1/holds/{id}", httpapi.Handle(s.handleGetHold))
	r.POST("/api/v1/holds/{id}/confirm", s.answering(opConfirm, s.handleConfirm))
	r.DELETE("/api/v1/holds/{id}", httpapi.Handle(s.handleReleaseHold))
	r.GET("/api/v1/orders", httpapi.Handle(s.handleListOrders))
	r.POST("/api/v1/orders/{id}/cancel", s.answering(opOther, s.handleCancelOrder))
}

// loopTimeout bounds one round of a background loop (a sweep, a seat-map
// build). Requests have the store timeout; a round may do more (a sweep
// releases up to a batch of holds per transaction, in as many transactions
// as are due), but a store that stalls without failing must not stop a
// loop for good: past this the round is abandoned and the next starts on
// a fresh connection.
const loopTimeout = 10 * time.Second

// Loops are the booker's background loops, each a Run(ctx) error: the hold
// expiry sweeper, the seat-map snapshot refresher, the health reporter and
// the ops console's figures.
func (s *Service) Loops() []func(context.Context) error {
	return []func(context.Context) error{s.sweeper.Run, s.snapshots.Run, s.healthLoop.Run, s.RunOpsStats}
}

// SweepOnce releases the holds that have expired and returns how many.
func (s *Service) SweepOnce(ctx context.Context) (int, error) { return s.sweeper.SweepOnce(ctx) }

// RunHealthReporter publishes the booker's health to the waiting room
// every health interval until ctx ends.
func (s *Service) RunHealthReporter(ctx context.Context) error { return s.healthLoop.Run(ctx) }
