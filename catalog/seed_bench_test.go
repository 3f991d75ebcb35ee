package catalog_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ticketvelo/ticketvelo/catalog"
	"github.com/ticketvelo/ticketvelo/internal/testenv"
)

// BenchmarkSeed100k writes the inventory of a 100,000-seat event three ways
// in one run, each op one committed transaction: COPY (what EnsureEvent
// does), multi-row INSERT in statements of 1,000 rows, and one INSERT per
// seat. Compare the three in the same run; absolute times move with the
// machine.
func BenchmarkSeed100k(b *testing.B) {
	const seats = 100_000
	_, pool := testenv.Postgres(b)
	ctx := context.Background()
	store := catalog.NewStore(pool)
	venueID, _, err := store.EnsureVenue(ctx, catalog.Venue{Slug: "bench", Name: "Bench", Layout: catalog.GridLayout(seats)})
	if err != nil {
		b.Fatal(err)
	}
	inventory := catalog.GridLayout(seats).Seats()
	methods := []struct {
		name  string
		write func(ctx context.Context, tx pgx.Tx, eventID int64, seats []catalog.Seat) error
	}{
		{"copy", func(ctx context.Context, tx pgx.Tx, eventID int64, seats []catalog.Seat) error {
			_, err := catalog.CopySeats(ctx, tx, eventID, seats)
			return err
		}},
		{"multirow-insert", insertMultiRow},
		{"single-row-insert", insertSingleRows},
	}
	n := 0
	for _, m := range methods {
		b.Run(m.name, func(b *testing.B) {
			for b.Loop() {
				n++
				eventID := newEvent(b, pool, venueID, fmt.Sprintf("bench-%s-%d", m.name, n), seats)
				err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return m.write(ctx, tx, eventID, inventory) })
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(seats)*float64(b.N)/b.Elapsed().Seconds(), "seats/s")
		})
	}
}

func newEvent(b *testing.B, pool *pgxpool.Pool, venueID int64, slug string, capacity int) int64 {
	b.Helper()
	var id int64
	err := pool.QueryRow(context.Background(), `INSERT INTO events (venue_id, slug, name, starts_at, sale_opens_at, capacity)
		VALUES ($1, $2, $2, now() + interval '1 day', now(), $3) RETURNING id`, venueID, slug, capacity).Scan(&id)
	if err != nil {
		b.Fatal(err)
	}
	return id
}

func insertMultiRow(ctx context.Context, tx pgx.Tx, eventID int64, seats []catalog.Seat) error {
	const batch = 1000
	cols := len(catalog.SeatColumns)
	for start := 0; start < len(seats); start += batch {
		chunk := seats[start:min(start+batch, len(seats))]
		var sql strings.Builder
		sql.WriteString("INSERT INTO seats (" + strings.Join(catalog.SeatColumns, ", ") + ") VALUES ")
		args := make([]any, 0, len(chunk)*cols)
		for i, s := range chunk {
			if i > 0 {
				sql.WriteString(", ")
			}
			sql.WriteString("(")
			for c := range cols {
				if c > 0 {
					sql.WriteString(", ")
				}
				fmt.Fprintf(&sql, "$%d", i*cols+c+1)
			}
			sql.WriteString(")")
			args = append(args, eventID, s.No, s.Section, s.Row, s.Number, s.PriceCents, s.Tier, s.Accessible)
		}
		if _, err := tx.Exec(ctx, sql.String(), args...); err != nil {
			return err
		}
	}
	return nil
}

func insertSingleRows(ctx context.Context, tx pgx.Tx, eventID int64, seats []catalog.Seat) error {
	sql := "INSERT INTO seats (" + strings.Join(catalog.SeatColumns, ", ") + ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
	for _, s := range seats {
		if _, err := tx.Exec(ctx, sql, eventID, s.No, s.Section, s.Row, s.Number, s.PriceCents, s.Tier, s.Accessible); err != nil {
			return err
		}
	}
	return nil
}
