// Package testenv gives integration tests their own slice of the real
// services: a fresh Postgres database, a Redis key prefix and an embedded
// Kafka broker on a free port, each removed when the test ends, so tests run
// in parallel and leave the shared services clean. When a service is missing
// a test skips with a message, except under CI=true, where it fails.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/rueidis"

	"github.com/ticketvelo/ticketvelo/internal/database"
	"github.com/ticketvelo/ticketvelo/internal/kafka"
	"github.com/ticketvelo/ticketvelo/internal/redisconn"
)

// Where the shared services are; override with TEST_DATABASE_URL and
// TEST_REDIS_URL.
var (
	baseDatabaseURL = envOr("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
	redisURL        = envOr("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
)

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// unavailable skips the test, or fails it under CI, when a service it needs
// cannot be reached.
func unavailable(tb testing.TB, service string, err error) {
	tb.Helper()
	if os.Getenv("CI") == "true" {
		tb.Fatalf("%s is required under CI but unreachable: %v", service, err)
	}
	tb.Skipf("%s unreachable, skipping (set CI=true to fail instead): %v", service, err)
}

// RandomName is a short random lowercase name with prefix, for databases,
// key prefixes and topics.
func RandomName(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// DatabaseURL returns the URL of a database that does not exist yet; it is
// dropped when the test ends if something created it.
func DatabaseURL(tb testing.TB) string {
	tb.Helper()
	cfg, err := pgx.ParseConfig(baseDatabaseURL)
	if err != nil {
		tb.Fatalf("TEST_DATABASE_URL: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	admin, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		unavailable(tb, "PostgreSQL", err)
	}
	admin.Close(ctx)
	name := RandomName("tv_test_")
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			tb.Errorf("dropping test database %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			tb.Errorf("dropping test database %s: %v", name, err)
		}
	})
	return withDatabase(baseDatabaseURL, name)
}

// ScratchDatabases counts the databases a tool derived from the test's
// database URL (DatabaseURL) for a scratch world of kind, named
// <name>_<kind>_<suffix>: after the tool's run, none may be left.
func ScratchDatabases(tb testing.TB, url, kind string) int {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, baseDatabaseURL)
	if err != nil {
		tb.Fatalf("counting scratch databases: %v", err)
	}
	defer admin.Close(ctx)
	rest, _, _ := strings.Cut(url, "?")
	name := rest[strings.LastIndex(rest, "/")+1:]
	var n int
	if err := admin.QueryRow(ctx, "SELECT count(*) FROM pg_database WHERE datname LIKE $1", name+"_"+kind+"_%").Scan(&n); err != nil {
		tb.Fatalf("counting scratch databases: %v", err)
	}
	return n
}

// withDatabase replaces the database name in a postgres:// URL.
func withDatabase(url, name string) string {
	rest, query, _ := strings.Cut(url, "?")
	i := strings.LastIndex(rest, "/")
	out := rest[:i+1] + name
	if query != "" {
		out += "?" + query
	}
	return out
}

// Postgres creates a fresh, migrated database for the test and returns its
// URL and a pool on it, closed when the test ends.
func Postgres(tb testing.TB) (string, *pgxpool.Pool) {
	tb.Helper()
	url := DatabaseURL(tb)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pool, err := database.Open(ctx, url)
	if err != nil {
		tb.Fatalf("opening test database: %v", err)
	}
	tb.Cleanup(pool.Close)
	if _, err := database.Migrate(ctx, pool); err != nil {
		tb.Fatalf("migrating test database: %v", err)
	}
	return url, pool
}

// RedisURL is the shared Redis server's URL.
func RedisURL() string { return redisURL }

// Redis returns a client and a key prefix of the test's own; every key under
// the prefix is deleted when the test ends.
func Redis(tb testing.TB) (rueidis.Client, string) {
	tb.Helper()
	client, err := redisconn.Open(redisURL)
	if err != nil {
		unavailable(tb, "Redis", err)
	}
	prefix := RandomName("tvt") + ":"
	tb.Cleanup(func() {
		defer client.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := DeletePrefix(ctx, client, prefix); err != nil {
			tb.Errorf("cleaning Redis prefix %s: %v", prefix, err)
			return
		}
		// Cleanups run last registered first: whatever the test started
		// after taking its prefix (servers, loops, timers) should have
		// been stopped and waited for by now. A key found after the sweep
		// was written while it ran, by something still running, and such
		// writes leave keys in the shared Redis. One more scan catches
		// those that raced the sweep, and fails the test that let them.
		left, err := prefixKeys(ctx, client, prefix)
		if err != nil {
			tb.Errorf("checking Redis prefix %s is clean: %v", prefix, err)
			return
		}
		if len(left) > 0 {
			tb.Errorf("Redis keys %s were written while the test's keys were deleted: something the test started was still running at its cleanup", strings.Join(left, " "))
			if err := DeletePrefix(ctx, client, prefix); err != nil {
				tb.Errorf("cleaning Redis prefix %s: %v", prefix, err)
			}
		}
	})
	return client, prefix
}

// DeletePrefix deletes every key that starts with prefix.
func DeletePrefix(ctx context.Context, client rueidis.Client, prefix string) error {
	keys, err := prefixKeys(ctx, client, prefix)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if err := client.Do(ctx, client.B().Unlink().Key(k).Build()).Error(); err != nil {
			return fmt.Errorf("deleting %s: %w", k, err)
		}
	}
	return nil
}

// prefixKeys returns every key that starts with prefix.
func prefixKeys(ctx context.Context, client rueidis.Client, prefix string) ([]string, error) {
	var keys []string
	var cursor uint64
	for {
		entry, err := client.Do(ctx, client.B().Scan().Cursor(cursor).Match(prefix+"*").Count(1000).Build()).AsScanEntry()
		if err != nil {
			return nil, fmt.Errorf("scanning for %s*: %w", prefix, err)
		}
		keys = append(keys, entry.Elements...)
		if cursor = entry.Cursor; cursor == 0 {
			return keys, nil
		}
	}
}

// Kafka starts an embedded broker on a free loopback port, with its log in a
// temporary directory, and returns its address; it stops when the test ends.
func Kafka(tb testing.TB) []string {
	tb.Helper()
	b, err := kafka.StartEmbedded("127.0.0.1:0", tb.TempDir())
	if err != nil {
		tb.Fatalf("starting embedded broker: %v", err)
	}
	tb.Cleanup(b.Close)
	return b.Addrs()
}

// FreeAddr returns a loopback address with a port that was free a moment ago.
func FreeAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("finding a free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// Eventually polls cond every 20 ms until it returns nil or timeout passes,
// then fails the test with cond's last error.
func Eventually(tb testing.TB, timeout time.Duration, cond func() error) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("condition not met after %s: %v", timeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
