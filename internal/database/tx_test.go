package database_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ticketvelo/ticketvelo/internal/database"
	"github.com/ticketvelo/ticketvelo/internal/testenv"
)

// TestRunTx: what fn leaves decides the end (commit, a refusal's
// rollback, an error's rollback), a conflict runs again within its bound,
// and the connection always goes back to the pool.
func TestRunTx(t *testing.T) {
	t.Parallel()
	_, pool := testenv.Postgres(t)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `CREATE TABLE runtx (n int)`); err != nil {
		t.Fatal(err)
	}
	insert := func(n int) func(*database.Tx) error {
		return func(tx *database.Tx) error {
			b := &pgx.Batch{}
			b.Queue(`INSERT INTO runtx VALUES ($1)`, n)
			br, err := tx.SendBatch(ctx, b) // BEGIN goes with it
			if err != nil {
				return err
			}
			if _, err := br.Exec(); err != nil {
				return err
			}
			return br.Close()
		}
	}
	errFailed := errors.New("failed")
	deadlock := &pgconn.PgError{Code: "40P01", Message: "deadlock detected"}
	cases := []struct {
		name      string
		opts      database.TxOptions
		fn        func(*database.Tx) error
		wantErr   error
		wantRows  int
		wantCalls int
	}{
		{"nil commits", database.TxOptions{Doing: "commit"}, insert(1), nil, 1, 1},
		{"a refusal rolls back", database.TxOptions{Doing: "refuse"}, func(tx *database.Tx) error {
			if err := insert(2)(tx); err != nil {
				return err
			}
			tx.Rollback(ctx)
			return nil
		}, nil, 0, 1},
		{"an error rolls back", database.TxOptions{Doing: "fail"}, func(tx *database.Tx) error {
			if err := insert(3)(tx); err != nil {
				return err
			}
			return errFailed
		}, errFailed, 0, 1},
		{"a lone statement begins the transaction", database.TxOptions{Doing: "exec"}, func(tx *database.Tx) error {
			_, err := tx.Exec(ctx, `INSERT INTO runtx VALUES (4)`)
			return err
		}, nil, 1, 1},
		{"conflicts run again up to the attempts", database.TxOptions{Doing: "deadlock"}, func(*database.Tx) error { return deadlock }, deadlock, 0, 3},
		{"conflicts run again within their bound", database.TxOptions{Doing: "deadlock", MaxConflictRetries: 1}, func(*database.Tx) error { return deadlock }, deadlock, 0, 2},
	}
	for i, c := range cases {
		calls := 0
		err := database.RunTx(ctx, pool, c.opts, func(tx *database.Tx) error {
			calls++
			return c.fn(tx)
		})
		if !errors.Is(err, c.wantErr) {
			t.Errorf("%s: got error %v, want %v", c.name, err, c.wantErr)
		}
		if errors.Is(err, database.ErrCommitUnknown) {
			t.Errorf("%s: got %v, an unknown outcome", c.name, err)
		}
		if calls != c.wantCalls {
			t.Errorf("%s: fn ran %d times, want %d", c.name, calls, c.wantCalls)
		}
		var rows int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM runtx WHERE n = $1`, i+1).Scan(&rows); err != nil {
			t.Fatal(err)
		}
		if rows != c.wantRows {
			t.Errorf("%s: %d rows committed, want %d", c.name, rows, c.wantRows)
		}
		if n := pool.Stat().AcquiredConns(); n != 0 {
			t.Errorf("%s: %d connections still acquired, want 0", c.name, n)
		}
	}
}
