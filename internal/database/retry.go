package database

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5/pgconn"
)

// attempts is how many times Retry and RunTx run their work: a first try
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
