package database

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ErrCommitUnknown marks a COMMIT that failed without the server's verdict
// (the connection broke after it went out): the transaction may have taken
// effect. Callers must not run it again blindly; only a record the
// transaction wrote (an idempotency key) can tell.
var ErrCommitUnknown = errors.New("outcome unknown")

// TxOptions tune RunTx.
type TxOptions struct {
	// Doing names the transaction in its errors ("hold", "order").
	Doing string
	// MaxConflictRetries bounds the runs again after a serialization
	// failure or a deadlock; past it the conflict is returned, for the
	// caller to turn into an answer. 0 retries conflicts like any other
	// failure the server rolled back, within the attempts.
	MaxConflictRetries int
}

// RunTx runs fn in a transaction on one pooled connection and commits it
// when fn returns nil without ending it; fn refuses by calling
// Tx.Rollback and returning nil, or fails by returning an error. Every
// way out ends the transaction before the connection goes back to the
// pool.
//
// A run that failed before its COMMIT with a Retryable error (a broken
// connection, a restart, a lost serialization or deadlock race) left
// nothing behind, so fn runs again on another connection, up to attempts
// times in all: fn must start from scratch each time. A failed COMMIT
// whose verdict is unknown is never run again; its error wraps
// ErrCommitUnknown.
func RunTx(ctx context.Context, pool *pgxpool.Pool, o TxOptions, fn func(*Tx) error) error {
	var err error
	conflicts := 0
	for range attempts {
		err = runTxOnce(ctx, pool, o.Doing, fn)
		if err == nil || errors.Is(err, ErrCommitUnknown) || !Retryable(err) || ctx.Err() != nil {
			return err
		}
		if IsConflict(err) {
			conflicts++
			if o.MaxConflictRetries > 0 && conflicts > o.MaxConflictRetries {
				return err
			}
		}
	}
	return err
}

// IsConflict reports whether err is a serialization failure or a deadlock:
// the server rolled the transaction back to let a concurrent one win.
func IsConflict(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "40001" || pgErr.Code == "40P01")
}

func runTxOnce(ctx context.Context, pool *pgxpool.Pool, doing string, fn func(*Tx) error) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("beginning %s: %w", doing, err)
	}
	tx := &Tx{conn: conn, doing: doing}
	defer tx.close(ctx)
	if err := fn(tx); err != nil || tx.ended {
		return err
	}
	return tx.commit(ctx)
}

// Tx is a transaction on one pooled connection. Its BEGIN travels with the
// first batch sent (a round trip fewer than pool.Begin, on the hold's and
// the order's paths); a lone statement first sends it on its own.
type Tx struct {
	conn  *pgxpool.Conn
	doing string
	begun bool
	ended bool
}

// SendBatch sends b, preceded by BEGIN when it is the transaction's first.
// An error is BEGIN's; the results are those of b's statements.
func (t *Tx) SendBatch(ctx context.Context, b *pgx.Batch) (pgx.BatchResults, error) {
	if t.begun {
		return t.conn.SendBatch(ctx, b), nil
	}
	t.begun = true
	with := &pgx.Batch{QueuedQueries: make([]*pgx.QueuedQuery, 0, 1+b.Len())}
	with.Queue("BEGIN")
	with.QueuedQueries = append(with.QueuedQueries, b.QueuedQueries...)
	br := t.conn.SendBatch(ctx, with)
	if _, err := br.Exec(); err != nil {
		_ = br.Close()
		return nil, fmt.Errorf("beginning %s: %w", t.doing, err)
	}
	return br, nil
}

func (t *Tx) begin(ctx context.Context) error {
	if t.begun {
		return nil
	}
	t.begun = true
	if _, err := t.conn.Exec(ctx, "BEGIN"); err != nil {
		return fmt.Errorf("beginning %s: %w", t.doing, err)
	}
	return nil
}

// Exec runs a statement in the transaction.
func (t *Tx) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if err := t.begin(ctx); err != nil {
		return pgconn.CommandTag{}, err
	}
	return t.conn.Exec(ctx, sql, args...)
}

// Query runs a query in the transaction.
func (t *Tx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if err := t.begin(ctx); err != nil {
		return nil, err
	}
	return t.conn.Query(ctx, sql, args...)
}

// QueryRow runs a query of one row in the transaction.
func (t *Tx) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	if err := t.begin(ctx); err != nil {
		return errRow{err}
	}
	return t.conn.QueryRow(ctx, sql, args...)
}

// errRow is the row of a query that could not begin its transaction.
type errRow struct{ err error }

// Scan returns the error.
func (r errRow) Scan(...any) error { return r.err }

// Rollback ends the transaction undone: a refusal. It is bounded like the
// rollback of every other way out.
func (t *Tx) Rollback(ctx context.Context) {
	if t.begun && !t.ended {
		// A dead connection fails at once; one that merely stalls must
		// not hold the request.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		_, _ = t.conn.Exec(rctx, "ROLLBACK")
		cancel()
	}
	t.ended = true
}

// commit ends the transaction. An error the server answered is its
// verdict (a deferred check, a serialization failure); any other leaves
// the outcome unknown and wraps ErrCommitUnknown.
func (t *Tx) commit(ctx context.Context) error {
	if !t.begun {
		t.ended = true
		return nil
	}
	tag, err := t.conn.Exec(ctx, "COMMIT")
	t.ended = true
	switch {
	case err == nil && tag.String() == "COMMIT":
		return nil
	case err == nil:
		// The server rolled back at COMMIT: a statement failed earlier.
		return fmt.Errorf("committing %s: %w", t.doing, pgx.ErrTxCommitRollback)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && !IsUnavailable(err) {
		return fmt.Errorf("committing %s: %w", t.doing, err)
	}
	return fmt.Errorf("committing %s: %w: %w", t.doing, ErrCommitUnknown, err)
}

// close rolls back a transaction that did not end and gives the connection
// back.
func (t *Tx) close(ctx context.Context) {
	t.Rollback(ctx)
	t.conn.Release()
}
