package database_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ticketvelo/ticketvelo/internal/database"
	"github.com/ticketvelo/ticketvelo/internal/testenv"
)

func pgErr(code string) error {
	return fmt.Errorf("doing something: %w", &pgconn.PgError{Code: code, Message: "m"})
}

// The classifier tells a store that is away, restarting or full from a
// statement that is wrong, and a transaction the server rolled back from a
// COMMIT whose outcome is unknown.
func TestIsUnavailableAndRetryable(t *testing.T) {
	t.Parallel()
	refused := dialClosedPort(t)
	deadline, cancel := context.WithTimeout(context.Background(), 0)
	defer cancel()
	<-deadline.Done()
	cases := []struct {
		name                   string
		err                    error
		unavailable, retryable bool
	}{
		{"admin shutdown (restart, pg_terminate_backend)", pgErr("57P01"), true, true},
		{"crash shutdown", pgErr("57P02"), true, true},
		{"cannot connect now (starting up)", pgErr("57P03"), true, true},
		{"connection failure", pgErr("08006"), true, true},
		{"too many connections", pgErr("53300"), true, false},
		{"read-only after a failover", pgErr("25006"), true, false},
		{"statement canceled", pgErr("57014"), true, false},
		{"serialization failure", pgErr("40001"), true, true},
		{"deadlock", pgErr("40P01"), true, true},
		{"unique violation", pgErr("23505"), false, false},
		{"syntax error", pgErr("42601"), false, false},
		{"check violation", pgErr("23514"), false, false},
		{"connection refused", refused, true, true},
		{"connection cut", fmt.Errorf("reading: %w", io.ErrUnexpectedEOF), true, true},
		{"closed conn", fmt.Errorf("x: %w", pgconn.ErrConnClosed), true, true},
		{"network error", &net.OpError{Op: "read", Net: "tcp", Err: errors.New("reset")}, true, true},
		{"deadline of a store call", fmt.Errorf("x: %w", deadline.Err()), true, false},
		{"no rows", pgx.ErrNoRows, false, false},
		{"a bug", errors.New("hold owns 1 of its 2 seats"), false, false},
		{"nil", nil, false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := database.IsUnavailable(c.err); got != c.unavailable {
				t.Errorf("IsUnavailable(%v) = %v, want %v", c.err, got, c.unavailable)
			}
			if got := database.Retryable(c.err); got != c.retryable {
				t.Errorf("Retryable(%v) = %v, want %v", c.err, got, c.retryable)
			}
		})
	}
}

// dialClosedPort is the error of connecting to a port nobody listens on.
func dialClosedPort(t *testing.T) error {
	t.Helper()
	addr := testenv.FreeAddr(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := pgx.Connect(ctx, "postgres://postgres@"+addr+"/x?sslmode=disable")
	if err == nil {
		t.Fatal("connected to a closed port")
	}
	return err
}

// A pool whose connections are all taken fails the next call within the
// acquire timeout, with an error the classifier calls unavailable, instead
// of waiting as long as the caller's context allows.
func TestExhaustedPoolFailsWithinTheAcquireTimeout(t *testing.T) {
	t.Parallel()
	url, _ := testenv.Postgres(t)
	ctx := context.Background()
	pool, err := database.OpenWith(ctx, url+"&pool_max_conns=1", database.Options{AcquireTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	held, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = pool.Exec(ctx, "SELECT 1")
	took := time.Since(start)
	held.Release()
	if !database.IsUnavailable(err) {
		t.Fatalf("Exec on an exhausted pool: got %v, want an unavailable error", err)
	}
	if took > time.Second {
		t.Errorf("Exec on an exhausted pool took %s, want about the 200ms acquire timeout", took)
	}
	if _, err := pool.Exec(ctx, "SELECT 1"); err != nil {
		t.Errorf("Exec once the connection is back: %v", err)
	}
}

// A pool whose server goes away and comes back (a restart, a failover
// behind one address) fails fast meanwhile and works again afterwards by
// itself: nothing needs restarting.
func TestPoolRecoversAfterTheServerComesBack(t *testing.T) {
	t.Parallel()
	url, _ := testenv.Postgres(t)
	url, proxy := testenv.ProxyPostgres(t, url)
	ctx := context.Background()
	pool, err := database.Open(ctx, url+"&pool_max_conns=4")
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	for range 4 {
		if _, err := pool.Exec(ctx, "SELECT 1"); err != nil {
			t.Fatal(err)
		}
	}
	proxy.Cut()
	for i := range 8 {
		start := time.Now()
		_, err := pool.Exec(ctx, "SELECT 1")
		if !database.IsUnavailable(err) {
			t.Fatalf("call %d with the server away: got %v, want an unavailable error", i, err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("call %d with the server away took %s", i, d)
		}
	}
	if err := proxy.Restore(); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 5*time.Second, func() error {
		_, err := pool.Exec(ctx, "SELECT 1")
		return err
	})
}
