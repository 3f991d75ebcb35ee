package booker

import (
	"fmt"
	"time"

	"github.com/ticketvelo/ticketvelo/internal/config"
)

// Config holds the settings of the booker: holds, orders, the sweeper
// and the outbox relay.
type Config struct {
	// HoldTTL is how long a hold keeps its seats before the sweeper frees them.
	HoldTTL time.Duration
	// SweepInterval is how often the sweeper looks for expired holds.
	SweepInterval time.Duration
	// SweepBatch caps the holds one sweep releases in one transaction.
	SweepBatch int
	// PaymentTimeout is how long the simulated payment provider takes to
	// time out (tok_timeout).
	PaymentTimeout time.Duration
	// SnapshotInterval is how often one booker rebuilds an event's seat map
	// and taken-seat bitmap from Postgres; the map is at most this stale
	// plus the build time.
	SnapshotInterval time.Duration
	// SeatLockTTL is how long a Redis seat lock lives when its holder stalls.
	SeatLockTTL time.Duration
	// SeatLockWait is how long a hold waits for seat locks another request
	// holds before answering 409.
	SeatLockWait time.Duration
	// RedisTimeout bounds each Redis call of the hold path; past it the
	// hold answers 503 (Retry-After) rather than skip the admission check.
	RedisTimeout time.Duration
	// IdempotencyTTL is how long an Idempotency-Key replays its first answer.
	IdempotencyTTL time.Duration
	// HoldConcurrency caps the holds one booker works on at once; the rest
	// queue in memory, so a burst cannot pile thousands of calls onto Redis
	// and Postgres at the same moment.
	HoldConcurrency int
	// HoldQueueWait is how long a hold waits for one of those slots; past
	// it the booker is overloaded and the hold gets 503 with Retry-After
	// at once, rather than queueing into a timeout.
	HoldQueueWait time.Duration
	// HoldAttempts caps the hold attempts (replays aside) one fan makes
	// for one event in a minute, so one admission cannot flood the booker
	// and Redis with refused requests.
	HoldAttempts int
	// HealthInterval is how often the booker reports its p99 latency and
	// error ratio to the admission controller.
	HealthInterval time.Duration
	// OutboxRetention is how long published outbox rows are kept (for
	// audits and replays) before the relay deletes them; 0 keeps them.
	OutboxRetention time.Duration
}

// DefaultConfig returns the settings a booker runs with unless told
// otherwise.
func DefaultConfig() Config {
	return Config{
		HoldTTL:          10 * time.Minute,
		SweepInterval:    time.Second,
		SweepBatch:       500,
		PaymentTimeout:   5 * time.Second,
		SnapshotInterval: 500 * time.Millisecond,
		SeatLockTTL:      5 * time.Second,
		SeatLockWait:     50 * time.Millisecond,
		RedisTimeout:     500 * time.Millisecond,
		IdempotencyTTL:   24 * time.Hour,
		HealthInterval:   time.Second,
		HoldConcurrency:  128,
		HoldQueueWait:    500 * time.Millisecond,
		HoldAttempts:     30,
		OutboxRetention:  7 * 24 * time.Hour,
	}
}

// RegisterFlags binds every setting to a flag of b.
func (k *Config) RegisterFlags(b *config.Binder) {
	b.Duration(&k.HoldTTL, "hold-ttl", "TICKETVELO_HOLD_TTL", "how long a seat hold lasts before it expires")
	b.Duration(&k.SweepInterval, "sweep-interval", "TICKETVELO_SWEEP_INTERVAL", "how often expired holds are released")
	b.Int(&k.SweepBatch, "sweep-batch", "TICKETVELO_SWEEP_BATCH", "most expired holds released in one sweep transaction")
	b.Duration(&k.PaymentTimeout, "payment-timeout", "TICKETVELO_PAYMENT_TIMEOUT", "how long the simulated payment takes to time out (payment token tok_timeout)")
	b.Duration(&k.SnapshotInterval, "snapshot-interval", "TICKETVELO_SNAPSHOT_INTERVAL", "how often the seat map and taken-seat bitmap are rebuilt from Postgres (at most 1s)")
	b.Duration(&k.SeatLockTTL, "seat-lock-ttl", "TICKETVELO_SEAT_LOCK_TTL", "lifetime of a Redis seat lock whose holder stalls")
	b.Duration(&k.SeatLockWait, "seat-lock-wait", "TICKETVELO_SEAT_LOCK_WAIT", "how long a hold waits for seat locks held by another request before answering 409")
	b.Duration(&k.RedisTimeout, "booker-redis-timeout", "TICKETVELO_BOOKER_REDIS_TIMEOUT", "timeout of each Redis call on the hold path; past it the hold answers 503")
	b.Duration(&k.IdempotencyTTL, "idempotency-ttl", "TICKETVELO_IDEMPOTENCY_TTL", "how long an Idempotency-Key replays its first answer")
	b.Int(&k.HoldConcurrency, "hold-concurrency", "TICKETVELO_HOLD_CONCURRENCY", "most holds one booker works on at once; the rest wait their turn")
	b.Duration(&k.HoldQueueWait, "hold-queue-wait", "TICKETVELO_HOLD_QUEUE_WAIT", "longest a hold waits for its turn (hold-concurrency); then it gets 503 with Retry-After")
	b.Int(&k.HoldAttempts, "hold-attempts", "TICKETVELO_HOLD_ATTEMPTS", "most hold attempts one fan makes for one event in a minute (replays of the same Idempotency-Key aside); more get 429")
	b.Duration(&k.HealthInterval, "health-interval", "TICKETVELO_HEALTH_INTERVAL", "how often the booker reports its latency and error ratio to the admission controller")
	b.Duration(&k.OutboxRetention, "outbox-retention", "TICKETVELO_OUTBOX_RETENTION", "how long published outbox rows are kept before they are deleted (0 keeps them)")
}

// Validate names the variable of the first setting that is wrong.
func (k *Config) Validate() error {
	positive := []struct {
		env string
		d   time.Duration
	}{
		{"TICKETVELO_HOLD_TTL", k.HoldTTL},
		{"TICKETVELO_SWEEP_INTERVAL", k.SweepInterval},
		{"TICKETVELO_PAYMENT_TIMEOUT", k.PaymentTimeout},
		{"TICKETVELO_SNAPSHOT_INTERVAL", k.SnapshotInterval},
		{"TICKETVELO_SEAT_LOCK_TTL", k.SeatLockTTL},
		{"TICKETVELO_BOOKER_REDIS_TIMEOUT", k.RedisTimeout},
		{"TICKETVELO_IDEMPOTENCY_TTL", k.IdempotencyTTL},
		{"TICKETVELO_HEALTH_INTERVAL", k.HealthInterval},
	}
	for _, p := range positive {
		if p.d <= 0 {
			return fmt.Errorf("%s: expected a positive duration, got %s", p.env, p.d)
		}
	}
	if k.OutboxRetention < 0 {
		return fmt.Errorf("TICKETVELO_OUTBOX_RETENTION: expected zero (keep) or a positive duration, got %s", k.OutboxRetention)
	}
	if k.HoldQueueWait < 0 || k.HoldQueueWait > 10*time.Second {
		return fmt.Errorf("TICKETVELO_HOLD_QUEUE_WAIT: expected 0 to 10s, got %s", k.HoldQueueWait)
	}
	if k.SeatLockWait < 0 {
		return fmt.Errorf("TICKETVELO_SEAT_LOCK_WAIT: expected zero or a positive duration, got %s", k.SeatLockWait)
	}
	if k.SnapshotInterval > time.Second {
		return fmt.Errorf("TICKETVELO_SNAPSHOT_INTERVAL: the seat map may be at most 1s stale, got %s", k.SnapshotInterval)
	}
	if k.HoldConcurrency < 1 || k.HoldConcurrency > 100000 {
		return fmt.Errorf("TICKETVELO_HOLD_CONCURRENCY: expected 1 to 100000, got %d", k.HoldConcurrency)
	}
	if k.HoldAttempts < 1 || k.HoldAttempts > 100000 {
		return fmt.Errorf("TICKETVELO_HOLD_ATTEMPTS: expected 1 to 100000, got %d", k.HoldAttempts)
	}
	if k.SweepBatch < 1 || k.SweepBatch > 10000 {
		return fmt.Errorf("TICKETVELO_SWEEP_BATCH: expected 1 to 10000, got %d", k.SweepBatch)
	}
	return nil
}
