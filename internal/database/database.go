// Package database opens TicketVelo's PostgreSQL pool, creating the database
// when it does not exist yet, and applies the embedded schema migrations.
package database

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ticketvelo/ticketvelo/internal/redact"
)

// defaultMaxConns is the pool size when DATABASE_URL does not set one.
const defaultMaxConns = 16

// Defaults of Options.
const (
	DefaultAcquireTimeout = time.Second
	// defaultConnectTimeout bounds a new connection when DATABASE_URL sets
	// no connect_timeout. pgx's own is two minutes, which a black-holed
	// server after a failover would make every new connection wait.
	defaultConnectTimeout = 5 * time.Second
)

// Options tune the pool beyond what DATABASE_URL says.
type Options struct {
	// AcquireTimeout bounds how long any call waits for a free connection
	// of the pool; then it fails with an error IsUnavailable knows, so a
	// request gets 503 instead of queueing. 0 takes DefaultAcquireTimeout.
	AcquireTimeout time.Duration
}

// Open connects to the database at url, creating the database first when the
// server says it does not exist, and checks the connection. Its errors
// never hold url's password.
func Open(ctx context.Context, url string) (*pgxpool.Pool, error) {
	return OpenWith(ctx, url, Options{})
}

// OpenWith is Open with options.
func OpenWith(ctx context.Context, url string, o Options) (*pgxpool.Pool, error) {
	pool, err := open(ctx, url, o)
	return pool, redact.Error(err, url)
}

func open(ctx context.Context, url string, o Options) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parsing the URL: %w", err)
	}
	if !strings.Contains(url, "pool_max_conns") {
		// pgx's default is max(4, CPUs): on a small box that queues a drop's
		// holds behind four connections while Postgres idles. 16 keeps a
		// 2-core Postgres busy without thrashing it; set pool_max_conns in
		// DATABASE_URL to tune it.
		cfg.MaxConns = defaultMaxConns
	}
	if !strings.Contains(url, "connect_timeout") {
		cfg.ConnConfig.ConnectTimeout = defaultConnectTimeout
	}
	if o.AcquireTimeout <= 0 {
		o.AcquireTimeout = DefaultAcquireTimeout
	}
	cfg.ConnConfig.Tracer = &acquireBound{wait: o.AcquireTimeout}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("opening pool: %w", err)
	}
	err = pool.Ping(ctx)
	if isMissingDatabase(err) {
		if err = create(ctx, cfg.ConnConfig); err == nil {
			err = pool.Ping(ctx)
		}
	}
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("connecting to %s on %s: %w", cfg.ConnConfig.Database, cfg.ConnConfig.Host, err)
	}
	return pool, nil
}

func isMissingDatabase(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "3D000" // invalid_catalog_name
}

// create makes the database named in cfg through the server's maintenance
// database. Several processes may race to create it; losing the race is fine.
func create(ctx context.Context, cfg *pgx.ConnConfig) error {
	admin := cfg.Copy()
	admin.Database = "postgres"
	conn, err := pgx.ConnectConfig(ctx, admin)
	if err != nil {
		return fmt.Errorf("connecting to the maintenance database to create %q: %w", cfg.Database, err)
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{cfg.Database}.Sanitize())
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && (pgErr.Code == "42P04" || pgErr.Code == "23505") {
		return nil // duplicate_database, or unique_violation when two creates race
	}
	if err != nil {
		return fmt.Errorf("creating database %q: %w", cfg.Database, err)
	}
	return nil
}
