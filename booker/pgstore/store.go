// Package pgstore is the booker's use of Postgres, which decides who owns a
// seat: every statement and transaction of the hold, order, cancel,
// release and expiry paths, the idempotency records that outlive Redis,
// and the reads of events, seat statuses and orders. Each transaction runs
// through database.RunTx and is counted by operation.
//
// It speaks in plain data (drafts of what to write, results of what was
// decided) and knows nothing of HTTP or of the booker's JSON views: where
// a record keeps an answer, the booker builds the answer and passes it in.
// It is the mirror of booker/redisstore, which only cuts load in front of
// it.
package pgstore

import (
	"context"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ticketvelo/ticketvelo/internal/database"
)

// Store is the booker's use of Postgres.
type Store struct {
	pool  *pgxpool.Pool
	count func(Op)
	hooks *Hooks
}

// Options are what a Store may be given besides its pool.
type Options struct {
	// Count is told of each transaction (or lone statement) by operation;
	// the booker's metrics and per-Service counts. Nil counts nothing.
	Count func(Op)
	// Hooks let tests stall a hold inside its transaction; nil in
	// production. The store reads them at each use, so a test may set them
	// after New.
	Hooks *Hooks
}

// Hooks are the store's test hooks.
type Hooks struct {
	// AfterSeatUpdate runs inside the hold transaction once the seats are
	// updated and before the commit.
	AfterSeatUpdate func(seats []int)
}

// New returns the store on pool.
func New(pool *pgxpool.Pool, o Options) *Store {
	if o.Count == nil {
		o.Count = func(Op) {}
	}
	if o.Hooks == nil {
		o.Hooks = &Hooks{}
	}
	return &Store{pool: pool, count: o.Count, hooks: o.Hooks}
}

// Op is a kind of Postgres transaction, as the booker's metrics count them.
type Op int

// The operations.
const (
	OpLoad Op = iota
	OpHold
	OpHoldRead // best-available and fallbacks reading seats without Redis
	OpConfirm
	OpRelease
	OpCancel
	OpIdempotency
	OpRead
	OpSweep
	OpSnapshot
	NumOps
)

var opNames = [NumOps]string{"load_event", "hold", "hold_read", "confirm", "release", "cancel", "idempotency", "read", "sweep", "snapshot"}

// String is the operation's metric label.
func (o Op) String() string {
	if o < 0 || o >= NumOps {
		return "op" + strconv.Itoa(int(o))
	}
	return opNames[o]
}

// sqlRunner runs statements: the pool, or a transaction.
type sqlRunner interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

var (
	_ sqlRunner = (*pgxpool.Pool)(nil)
	_ sqlRunner = (*database.Tx)(nil)
)

// int32sToInts converts a seat_no array as pgx reads it.
func int32sToInts(in []int32) []int {
	out := make([]int, len(in))
	for i, n := range in {
		out[i] = int(n)
	}
	return out
}
