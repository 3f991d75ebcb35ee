package catalog_test

import (
	"context"
	"errors"
	"regexp"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ticketvelo/ticketvelo/catalog"
	"github.com/ticketvelo/ticketvelo/internal/apperr"
	"github.com/ticketvelo/ticketvelo/internal/testenv"
)

// sellSeats marks seats sold through a hold, as the booker would.
func sellSeats(t *testing.T, pool *pgxpool.Pool, eventID int64, seatNos ...int) {
	t.Helper()
	ctx := context.Background()
	var userID int64
	if err := pool.QueryRow(ctx, `INSERT INTO users (email, name, password_hash) VALUES ($1, 'Buyer', 'x') RETURNING id`,
		testenv.RandomName("buyer")+"@example.com").Scan(&userID); err != nil {
		t.Fatal(err)
	}
	var holdID string
	if err := pool.QueryRow(ctx, `INSERT INTO holds (event_id, user_id, status, seat_count, total_cents, expires_at)
		VALUES ($1, $2, 'confirmed', $3, 0, now()) RETURNING id`, eventID, userID, len(seatNos)).Scan(&holdID); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `UPDATE seats SET status = 'sold', hold_id = $1 WHERE event_id = $2 AND seat_no = ANY($3)`,
		holdID, eventID, seatNos); err != nil {
		t.Fatal(err)
	}
}

func TestEventsWithSeatsLeftBySection(t *testing.T) {
	t.Parallel()
	_, pool := testenv.Postgres(t)
	store := catalog.NewStore(pool)
	ctx := context.Background()
	now := time.Now()
	r, err := store.SeedGrid(ctx, "grid-t", 1200, now.Add(time.Hour)) // S1 has 1000 seats, S2 200
	if err != nil {
		t.Fatal(err)
	}
	sellSeats(t, pool, r.EventID, 0, 1, 1100)

	d, err := store.Event(ctx, r.EventID)
	if err != nil {
		t.Fatal(err)
	}
	if d.Name != "Load test grid-t" || d.Capacity != 1200 || d.SeatsLeft != 1197 || d.Venue.Name == "" {
		t.Fatalf("event: got %+v", d.EventInfo)
	}
	want := []catalog.SectionLeft{
		{Name: "S1", Tier: "Standard", Capacity: 1000, SeatsLeft: 998, MinPriceCents: 5000, MaxPriceCents: 5000},
		{Name: "S2", Tier: "Standard", Capacity: 200, SeatsLeft: 199, MinPriceCents: 5000, MaxPriceCents: 5000},
	}
	if len(d.Sections) != 2 || d.Sections[0] != want[0] || d.Sections[1] != want[1] {
		t.Fatalf("sections: got %+v, want %+v", d.Sections, want)
	}
	if got := d.SaleState(now); got != "upcoming" {
		t.Fatalf("sale state before opening: got %s", got)
	}
	if got := d.SaleState(now.Add(2 * time.Hour)); got != "open" {
		t.Fatalf("sale state after opening: got %s", got)
	}

	list, err := store.UpcomingEvents(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].ID != r.EventID || list[0].SeatsLeft != 1197 {
		t.Fatalf("list: got %+v", list)
	}
	if list, _ := store.UpcomingEvents(ctx, now.Add(60*24*time.Hour)); len(list) != 0 {
		t.Fatalf("events that started are still listed: %+v", list)
	}
	if _, err := store.Event(ctx, r.EventID+99); !errors.Is(err, catalog.ErrEventNotFound) {
		t.Fatalf("missing event: got %v", err)
	}

	sales, err := store.Sales(ctx, now, 2*time.Hour)
	if err != nil || len(sales) != 1 || sales[0].EventID != r.EventID {
		t.Fatalf("sales opening within 2h: got %+v, %v", sales, err)
	}
	if sales, _ := store.Sales(ctx, now, time.Minute); len(sales) != 0 {
		t.Fatalf("sales opening within a minute: got %+v, want none", sales)
	}
}

func TestCreateEvent(t *testing.T) {
	t.Parallel()
	_, pool := testenv.Postgres(t)
	store := catalog.NewStore(pool)
	ctx := context.Background()
	now := time.Now()
	venueID, _, err := store.EnsureVenue(ctx, catalog.Venue{Slug: "small-hall", Name: "Small Hall", City: "Leeds", Timezone: "Europe/London", Layout: catalog.GridLayout(80)})
	if err != nil {
		t.Fatal(err)
	}
	spec := catalog.NewEvent{VenueID: venueID, Name: "  Ünïcode Night — Live! ", StartsAt: now.Add(48 * time.Hour), SaleOpensAt: now.Add(-time.Minute), MaxTicketsPerFan: 4}
	d, err := store.CreateEvent(ctx, spec, now)
	if err != nil {
		t.Fatal(err)
	}
	if d.Name != "Ünïcode Night — Live!" || d.Capacity != 80 || d.SeatsLeft != 80 || d.MaxTicketsPerFan != 4 || d.Currency != "GBP" {
		t.Fatalf("created: %+v", d.EventInfo)
	}
	if !regexp.MustCompile(`^n-code-night-live-[0-9a-f]{6}$`).MatchString(d.Slug) {
		t.Fatalf("slug: got %q, want the ASCII words of the name and a random suffix", d.Slug)
	}
	again, err := store.CreateEvent(ctx, spec, now)
	if err != nil || again.ID == d.ID || again.Slug == d.Slug {
		t.Fatalf("the same name again must make another event with another slug: got %+v, %v", again.EventInfo, err)
	}

	bad := []struct {
		name  string
		edit  func(*catalog.NewEvent)
		field string
	}{
		{"unknown venue", func(e *catalog.NewEvent) { e.VenueID = venueID + 100 }, "venue_id"},
		{"empty name", func(e *catalog.NewEvent) { e.Name = " " }, "name"},
		{"NUL in the name", func(e *catalog.NewEvent) { e.Name = "Night\x00Show" }, "name"},
		{"name not UTF-8", func(e *catalog.NewEvent) { e.Name = "Night \xff\xfe" }, "name"},
		{"line break in the name", func(e *catalog.NewEvent) { e.Name = "Night\r\nShow" }, "name"},
		{"starts in the past", func(e *catalog.NewEvent) { e.StartsAt = now.Add(-time.Hour) }, "starts_at"},
		{"starts in 9999", func(e *catalog.NewEvent) { e.StartsAt = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC) }, "starts_at"},
		{"a name of zero-width spaces", func(e *catalog.NewEvent) { e.Name = "\u200b\u200b" }, "name"},
		{"sale after start", func(e *catalog.NewEvent) { e.SaleOpensAt = e.StartsAt.Add(time.Second) }, "sale_opens_at"},
		{"no sale time", func(e *catalog.NewEvent) { e.SaleOpensAt = time.Time{} }, "sale_opens_at"},
		{"zero tickets", func(e *catalog.NewEvent) { e.MaxTicketsPerFan = 0 }, "max_tickets_per_fan"},
		{"too many tickets", func(e *catalog.NewEvent) { e.MaxTicketsPerFan = 51 }, "max_tickets_per_fan"},
	}
	for _, b := range bad {
		e := spec
		b.edit(&e)
		_, err := store.CreateEvent(ctx, e, now)
		ae := apperr.As(err)
		if ae.Kind != apperr.Invalid || ae.Details["field"] != b.field {
			t.Errorf("%s: got %v, want invalid_field on %s", b.name, err, b.field)
		}
	}
	var count int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM events`).Scan(&count); err != nil || count != 2 {
		t.Fatalf("events after the rejected ones: got %d (%v), want 2", count, err)
	}
	venues, err := store.Venues(ctx)
	if err != nil || len(venues) != 1 || venues[0].Name != "Small Hall" || venues[0].Timezone != "Europe/London" || venues[0].Capacity != 80 {
		t.Fatalf("venues: got %+v, %v", venues, err)
	}
}

// TestVenueTextIsCheckedBeforePostgres: the seed command takes a slug from
// its flags, and a venue's text goes to Postgres and to mail; text that is
// not UTF-8 or holds a control character is an invalid_field naming what,
// not a Postgres error, and nothing is written.
func TestVenueTextIsCheckedBeforePostgres(t *testing.T) {
	t.Parallel()
	_, pool := testenv.Postgres(t)
	store := catalog.NewStore(pool)
	ctx := context.Background()
	ok := catalog.Venue{Slug: "hall", Name: "Hall", City: "Leeds", Timezone: "Europe/London", Layout: catalog.GridLayout(10)}
	bad := []struct {
		name  string
		edit  func(*catalog.Venue)
		field string
	}{
		{"slug not UTF-8", func(v *catalog.Venue) { v.Slug = "hall-\xff" }, "slug"},
		{"NUL in the name", func(v *catalog.Venue) { v.Name = "Hall\x00" }, "name"},
		{"line break in the city", func(v *catalog.Venue) { v.City = "Leeds\nBcc: x" }, "city"},
		{"NUL in a section", func(v *catalog.Venue) { v.Layout.Sections[0].Name = "S\x00" }, "section"},
		{"tier not UTF-8", func(v *catalog.Venue) { v.Layout.Sections[0].Tier = "\xc3" }, "tier"},
		{"control in a row label", func(v *catalog.Venue) { v.Layout.Sections[0].Rows[0].Label = "1\x1b" }, "row"},
	}
	for _, b := range bad {
		v := ok
		v.Layout = catalog.GridLayout(10)
		b.edit(&v)
		_, _, err := store.EnsureVenue(ctx, v)
		if ae := apperr.As(err); ae.Kind != apperr.Invalid || ae.Details["field"] != b.field {
			t.Errorf("%s: got %v, want invalid_field on %s", b.name, err, b.field)
		}
	}
	if _, err := store.SeedGrid(ctx, "grid-\xff", 10, time.Now()); apperr.As(err).Kind != apperr.Invalid {
		t.Errorf("seeding a grid with a slug that is not UTF-8: got %v, want invalid_field", err)
	}
	var venues int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM venues`).Scan(&venues); err != nil || venues != 0 {
		t.Fatalf("venues after the refused ones: %d (%v), want 0", venues, err)
	}
}

func TestCacheServesFreshThenRefreshes(t *testing.T) {
	t.Parallel()
	_, pool := testenv.Postgres(t)
	store := catalog.NewStore(pool)
	ctx := context.Background()
	r, err := store.SeedGrid(ctx, "grid-c", 100, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var clock atomic.Int64
	clock.Store(time.Now().UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()) }
	cache := catalog.NewCache(store, time.Second, 5*time.Second, now)

	d, err := cache.Event(ctx, r.EventID)
	if err != nil || d.SeatsLeft != 100 {
		t.Fatalf("first read: %d, %v", d.SeatsLeft, err)
	}
	sellSeats(t, pool, r.EventID, 5)
	if d, _ := cache.Event(ctx, r.EventID); d.SeatsLeft != 100 {
		t.Fatalf("within the TTL the cache must answer from memory: got %d seats left", d.SeatsLeft)
	}
	clock.Add(int64(1500 * time.Millisecond))
	// Past the TTL the stale entry answers while a refresh runs.
	testenv.Eventually(t, 5*time.Second, func() error {
		if d, _ := cache.Event(ctx, r.EventID); d.SeatsLeft != 99 {
			return errors.New("still the old count")
		}
		return nil
	})
	if _, err := cache.Event(ctx, r.EventID+1); !errors.Is(err, catalog.ErrEventNotFound) {
		t.Fatalf("unknown id: got %v", err)
	}
	list, err := cache.UpcomingEvents(ctx)
	if err != nil || len(list) != 1 || list[0].SeatsLeft != 99 {
		t.Fatalf("list: %+v, %v", list, err)
	}
}
