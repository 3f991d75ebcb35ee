package booker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ticketvelo/ticketvelo/internal/database"
)

// batchTx is a transaction on one pooled connection whose BEGIN travels in
// the batch of its first statements: a round trip fewer than pool.Begin,
// on the hold's and the order's paths. Every way out ends it before the
// connection goes back to the pool: commit, rollback, or close's rollback
// when neither ran.
type batchTx struct {
	*pgxpool.Conn
	ended bool
}

// beginBatchTx takes the connection; the caller sends BEGIN first in its
// batch and defers close.
func beginBatchTx(ctx context.Context, pool *pgxpool.Pool, doing string) (*batchTx, error) {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("beginning %s: %w", doing, err)
	}
	return &batchTx{Conn: conn}, nil
}

// rollback ends the transaction undone.
func (t *batchTx) rollback(ctx context.Context) {
	_, _ = t.Exec(ctx, "ROLLBACK")
	t.ended = true
}

// commit ends the transaction. An error the server answered is its
// verdict (a deferred check, say); any other leaves the outcome unknown,
// a *commitError the caller must not retry blindly.
func (t *batchTx) commit(ctx context.Context, doing string) error {
	tag, err := t.Exec(ctx, "COMMIT")
	t.ended = true
	if err == nil && tag.String() != "COMMIT" {
		err = pgx.ErrTxCommitRollback
	}
	if err == nil {
		return nil
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && !database.IsUnavailable(err) {
		return err
	}
	return &commitError{doing: doing, err: err}
}

// close rolls back a transaction that did not end and gives the
// connection back. The rollback is bounded: a connection that died
// mid-transaction fails at once, but one that merely stalls must not hold
// the request.
func (t *batchTx) close(ctx context.Context) {
	if !t.ended {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		_, _ = t.Exec(rctx, "ROLLBACK")
		cancel()
	}
	t.Release()
}

// commitError is a COMMIT that failed: whether the transaction took effect
// is unknown.
type commitError struct {
	doing string
	err   error
}

func (e *commitError) Error() string { return "committing " + e.doing + ": " + e.err.Error() }
func (e *commitError) Unwrap() error { return e.err }
