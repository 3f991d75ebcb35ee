package database_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ticketvelo/ticketvelo/internal/database"
	"github.com/ticketvelo/ticketvelo/internal/testenv"
)

func TestOpenCreatesMissingDatabase(t *testing.T) {
	t.Parallel()
	url := testenv.DatabaseURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pool, err := database.Open(ctx, url)
	if err != nil {
		t.Fatalf("Open on a missing database: %v", err)
	}
	defer pool.Close()
	var name string
	if err := pool.QueryRow(ctx, "SELECT current_database()").Scan(&name); err != nil {
		t.Fatal(err)
	}
	if name == "" || name == "test" {
		t.Errorf("connected to %q, want the new test database", name)
	}
}

func TestMigrateAppliesOnceAndAgainWithoutChange(t *testing.T) {
	t.Parallel()
	url := testenv.DatabaseURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pool, err := database.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	all, err := database.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	first, err := database.Migrate(ctx, pool)
	if err != nil {
		t.Fatalf("first migrate: %v", err)
	}
	if len(first) != len(all) {
		t.Errorf("first migrate applied %v, want all %d migrations", first, len(all))
	}
	schema := tableColumns(t, ctx, pool)
	second, err := database.Migrate(ctx, pool)
	if err != nil {
		t.Fatalf("second migrate: %v", err)
	}
	if len(second) != 0 {
		t.Errorf("second migrate applied %v, want nothing", second)
	}
	if again := tableColumns(t, ctx, pool); again != schema {
		t.Error("the schema changed on the second migrate")
	}
	for _, table := range []string{"users", "venues", "events", "seats", "holds", "orders", "tickets", "outbox", "notifications", "idempotency_keys"} {
		var exists bool
		if err := pool.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", table).Scan(&exists); err != nil || !exists {
			t.Errorf("table %s: exists=%v err=%v", table, exists, err)
		}
	}
}

// tableColumns fingerprints the schema as its tables' column lists.
func tableColumns(t *testing.T, ctx context.Context, pool *pgxpool.Pool) string {
	t.Helper()
	var s string
	err := pool.QueryRow(ctx, `SELECT string_agg(table_name || '.' || column_name || ':' || data_type, ',' ORDER BY table_name, ordinal_position)
		FROM information_schema.columns WHERE table_schema = 'public'`).Scan(&s)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConcurrentStartsMigrateOnce(t *testing.T) {
	t.Parallel()
	url := testenv.DatabaseURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// Three independent pools stand in for three processes starting at once;
	// cmd/ticketvelo's tests do the same with real processes.
	const starts = 3
	applied := make([][]string, starts)
	errs := make([]error, starts)
	var wg sync.WaitGroup
	for i := range starts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pool, err := database.Open(ctx, url)
			if err != nil {
				errs[i] = err
				return
			}
			defer pool.Close()
			applied[i], errs[i] = database.Migrate(ctx, pool)
		}()
	}
	wg.Wait()
	all, _ := database.Migrations()
	total := 0
	for i := range starts {
		if errs[i] != nil {
			t.Fatalf("start %d: %v", i, errs[i])
		}
		total += len(applied[i])
	}
	if total != len(all) {
		t.Errorf("the starts applied %d migrations between them (%v), want each of the %d exactly once", total, applied, len(all))
	}
}

func TestChangedMigrationStopsStartUp(t *testing.T) {
	t.Parallel()
	_, pool := testenv.Postgres(t)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, "UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1"); err != nil {
		t.Fatal(err)
	}
	if _, err := database.Migrate(ctx, pool); err == nil {
		t.Error("got no error for a migration whose file changed after it was applied")
	}
}

func TestMigrationsAreNumberedInOrder(t *testing.T) {
	all, err := database.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range all {
		if i > 0 && m.Version <= all[i-1].Version {
			t.Errorf("migration %s is not after %s", m.Name, all[i-1].Name)
		}
		if m.Checksum == "" || m.SQL == "" {
			t.Errorf("migration %s has no body or checksum", m.Name)
		}
	}
}
