package catalog_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ticketvelo/ticketvelo/catalog"
	"github.com/ticketvelo/ticketvelo/internal/testenv"
)

func TestSeedDemoIsExactAndIdempotent(t *testing.T) {
	t.Parallel()
	_, pool := testenv.Postgres(t)
	ctx := context.Background()
	store := catalog.NewStore(pool)
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

	first, err := store.SeedDemo(ctx, now)
	if err != nil {
		t.Fatalf("first seed: %v", err)
	}
	want := map[string]int{"Northgate Arena": 19920, "Royal Lyceum Theatre": 2496}
	for _, r := range first {
		if !r.EventCreated || r.Seats != want[r.Venue] {
			t.Errorf("first seed of %s: created=%v seats=%d, want created with %d", r.Venue, r.EventCreated, r.Seats, want[r.Venue])
		}
		if !r.SaleOpensAt.After(now) || r.SaleOpensAt.After(now.Add(15*time.Minute)) {
			t.Errorf("%s: sale opens %s, want a few minutes after %s", r.Venue, r.SaleOpensAt, now)
		}
	}
	second, err := store.SeedDemo(ctx, now.Add(time.Hour))
	if err != nil {
		t.Fatalf("second seed: %v", err)
	}
	for i, r := range second {
		if r.EventCreated || r.VenueCreated {
			t.Errorf("second seed of %s created something again", r.Venue)
		}
		if r.EventID != first[i].EventID || !r.SaleOpensAt.Equal(first[i].SaleOpensAt) {
			t.Errorf("second seed of %s: event %d opening %s, want the first run's %d opening %s",
				r.Venue, r.EventID, r.SaleOpensAt, first[i].EventID, first[i].SaleOpensAt)
		}
	}

	rows, err := pool.Query(ctx, `
		SELECT v.name, count(s.*), count(*) FILTER (WHERE s.status = 'available'), count(*) FILTER (WHERE s.accessible), e.capacity
		FROM events e JOIN venues v ON v.id = e.venue_id JOIN seats s ON s.event_id = e.id
		GROUP BY v.name, e.capacity`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	found := 0
	for rows.Next() {
		var venue string
		var seats, available, accessible, capacity int
		if err := rows.Scan(&venue, &seats, &available, &accessible, &capacity); err != nil {
			t.Fatal(err)
		}
		found++
		if seats != want[venue] || available != seats || capacity != seats {
			t.Errorf("%s: %d seats (%d available, capacity %d), want %d all available", venue, seats, available, capacity, want[venue])
		}
		if accessible == 0 {
			t.Errorf("%s has no accessible seats", venue)
		}
	}
	if found != 2 {
		t.Errorf("found %d seeded events, want 2", found)
	}
}

func TestSeedGridMakesExactlyNSeats(t *testing.T) {
	t.Parallel()
	_, pool := testenv.Postgres(t)
	ctx := context.Background()
	store := catalog.NewStore(pool)
	for i, n := range []int{1, 999, 12345} {
		r, err := store.SeedGrid(ctx, fmt.Sprintf("grid-test-%d", i), n, time.Now())
		if err != nil {
			t.Fatalf("SeedGrid(%d): %v", n, err)
		}
		var count int
		if err := pool.QueryRow(ctx, "SELECT count(*) FROM seats WHERE event_id = $1", r.EventID).Scan(&count); err != nil {
			t.Fatal(err)
		}
		if count != n || r.Seats != n {
			t.Errorf("SeedGrid(%d): %d rows, reported %d", n, count, r.Seats)
		}
	}
}

func TestEnsureEventRacesCreateOnce(t *testing.T) {
	t.Parallel()
	_, pool := testenv.Postgres(t)
	ctx := context.Background()
	store := catalog.NewStore(pool)
	venueID, _, err := store.EnsureVenue(ctx, catalog.Venue{Slug: "race", Name: "Race", Layout: catalog.GridLayout(500)})
	if err != nil {
		t.Fatal(err)
	}
	spec := catalog.EventSpec{VenueID: venueID, Slug: "race-night", Name: "Race night",
		StartsAt: time.Now().Add(48 * time.Hour), SaleOpensAt: time.Now(), MaxTicketsPerFan: 4}
	const racers = 8
	created := make(chan bool, racers)
	errs := make(chan error, racers)
	for range racers {
		go func() {
			ev, err := store.EnsureEvent(ctx, spec)
			errs <- err
			created <- ev.Created
		}()
	}
	n := 0
	for range racers {
		if err := <-errs; err != nil {
			t.Fatalf("EnsureEvent: %v", err)
		}
		if <-created {
			n++
		}
	}
	var seats int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM seats").Scan(&seats); err != nil {
		t.Fatal(err)
	}
	if n != 1 || seats != 500 {
		t.Errorf("%d racers created the event and %d seats exist, want 1 and 500", n, seats)
	}
}
