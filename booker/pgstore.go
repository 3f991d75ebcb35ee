package booker

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ticketvelo/ticketvelo/internal/database"
)

// pgStore is the booker's use of Postgres, which decides who owns a seat:
// every statement and transaction of the hold, order, cancel, release and
// expiry paths, the idempotency records that outlive Redis, and the reads
// of events and seat statuses. Each transaction runs through
// database.RunTx and is counted by operation.
type pgStore struct {
	pool  *pgxpool.Pool
	stats *counters
	hooks *testHooks
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
