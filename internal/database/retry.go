package database

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// attempts is how many times Retry and InTx run their work: a first try
// and two more, enough to get past the dead connections a pool still holds
// after a restart or after its backends were terminated, few enough that a
// server that is really away costs a request milliseconds, not seconds.
const attempts = 3

// Retry runs fn, which must be safe to run twice (a read, or a statement
// whose second run changes nothing more), again while it fails with a
// Retryable error.
func Retry(ctx context.Context, fn func() error) error {
	var err error
	for range attempts {
		if err = fn(); err == nil || !Retryable(err) || ctx.Err() != nil {
			return err
		}
	}
	return err
}

// InTx runs fn in a transaction on pool and commits it. When the
// transaction fails before its COMMIT with a Retryable error, the server
// kept nothing of it, so it runs again on another connection; fn must
// therefore start from scratch each time (reset what it collects). A
// failed COMMIT is returned as it is, never retried: whether it took
// effect is unknown, and only an idempotency record may decide.
func InTx(ctx context.Context, pool *pgxpool.Pool, fn func(pgx.Tx) error) error {
	var err error
	for range attempts {
		var committing bool
		committing, err = inTx(ctx, pool, fn)
		if err == nil || committing || !Retryable(err) || ctx.Err() != nil {
			return err
		}
	}
	return err
}

// inTx is one attempt of InTx; committing says the error came from COMMIT.
func inTx(ctx context.Context, pool *pgxpool.Pool, fn func(pgx.Tx) error) (committing bool, err error) {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return false, fmt.Errorf("beginning transaction: %w", err)
	}
	if err := fn(tx); err != nil {
		// A dead connection rolls back by itself; a live one needs the
		// ROLLBACK, which pgx bounds by ctx.
		_ = tx.Rollback(ctx)
		return false, err
	}
	if err := tx.Commit(ctx); err != nil {
		if errors.Is(err, pgx.ErrTxCommitRollback) {
			// The server rolled the transaction back on COMMIT: an
			// earlier statement failed, and fn saw its error. Nothing is
			// unknown.
			return false, err
		}
		return true, fmt.Errorf("committing: %w", err)
	}
	return false, nil
}

// RetryStatement runs fn, one statement in a transaction of its own,
// again while it surely did not take effect: the server refused or
// aborted it, or the driver failed before sending it. A connection lost
// after the statement went out leaves its outcome unknown, so that error
// is returned for the caller's idempotency record to sort out.
func RetryStatement(ctx context.Context, fn func() error) error {
	var err error
	for range attempts {
		if err = fn(); err == nil || !statementRetryable(err) || ctx.Err() != nil {
			return err
		}
	}
	return err
}

func statementRetryable(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return Retryable(err)
	}
	return pgconn.SafeToRetry(err)
}
