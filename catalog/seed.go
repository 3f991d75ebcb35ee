package catalog

import (
	"context"
	"fmt"
	"time"
)

// SeedResult reports what seeding one venue and its event did.
type SeedResult struct {
	Venue        string
	VenueCreated bool
	EventID      int64
	Event        string
	EventCreated bool
	Seats        int
	SaleOpensAt  time.Time
	Took         time.Duration
}

func (r SeedResult) String() string {
	if !r.EventCreated {
		return fmt.Sprintf("%s: already seeded (event %d %q, %d seats)", r.Venue, r.EventID, r.Event, r.Seats)
	}
	return fmt.Sprintf("%s: seeded event %d %q with %d seats in %s; sale opens %s",
		r.Venue, r.EventID, r.Event, r.Seats, r.Took.Round(time.Millisecond), r.SaleOpensAt.Format(time.RFC3339))
}

// demo is one venue of the demo data and the event on sale there.
type demo struct {
	venue      Venue
	eventSlug  string
	eventName  string
	startsIn   time.Duration
	maxPerFan  int
	saleOffset time.Duration
}

func demos() []demo {
	return []demo{
		{
			venue:     Venue{Slug: "northgate-arena", Name: "Northgate Arena", City: "Manchester", Timezone: "Europe/London", Layout: ArenaLayout()},
			eventSlug: "aurora-skies-world-tour-northgate", eventName: "Aurora Skies — World Tour",
			startsIn: 60 * 24 * time.Hour, maxPerFan: 6, saleOffset: 5 * time.Minute,
		},
		{
			venue:     Venue{Slug: "royal-lyceum-theatre", Name: "Royal Lyceum Theatre", City: "Edinburgh", Timezone: "Europe/London", Layout: TheatreLayout()},
			eventSlug: "midnight-strings-lyceum", eventName: "Midnight Strings — Live at the Lyceum",
			startsIn: 45 * 24 * time.Hour, maxPerFan: 4, saleOffset: 10 * time.Minute,
		},
	}
}

// SeedDemo makes sure the two demo venues exist, each with an upcoming event
// whose sale opens a few minutes after now. It is idempotent: what exists is
// kept as it is, so a restart reuses the first run's data.
func (s *Store) SeedDemo(ctx context.Context, now time.Time) ([]SeedResult, error) {
	var out []SeedResult
	for _, d := range demos() {
		start := time.Now()
		venueID, venueCreated, err := s.EnsureVenue(ctx, d.venue)
		if err != nil {
			return out, err
		}
		opens := now.Add(d.saleOffset).Truncate(time.Minute)
		ev, err := s.EnsureEvent(ctx, EventSpec{
			VenueID: venueID, Slug: d.eventSlug, Name: d.eventName,
			StartsAt: now.Add(d.startsIn).Truncate(time.Hour), SaleOpensAt: opens, MaxTicketsPerFan: d.maxPerFan,
		})
		if err != nil {
			return out, err
		}
		out = append(out, SeedResult{
			Venue: d.venue.Name, VenueCreated: venueCreated, EventID: ev.ID, Event: d.eventName,
			EventCreated: ev.Created, Seats: ev.Seats, SaleOpensAt: ev.SaleOpensAt, Took: time.Since(start),
		})
	}
	return out, nil
}

// SeedGrid makes a venue of exactly seats seats and an event on it, named
// after slug, for benchmarks and load tests.
func (s *Store) SeedGrid(ctx context.Context, slug string, seats int, saleOpensAt time.Time) (SeedResult, error) {
	start := time.Now()
	venueID, venueCreated, err := s.EnsureVenue(ctx, Venue{Slug: slug, Name: fmt.Sprintf("Grid venue %s (%d seats)", slug, seats), Timezone: "UTC", Layout: GridLayout(seats)})
	if err != nil {
		return SeedResult{}, err
	}
	name := fmt.Sprintf("Load test %s", slug)
	ev, err := s.EnsureEvent(ctx, EventSpec{
		VenueID: venueID, Slug: slug, Name: name,
		StartsAt: saleOpensAt.Add(30 * 24 * time.Hour), SaleOpensAt: saleOpensAt, MaxTicketsPerFan: 10,
	})
	if err != nil {
		return SeedResult{}, err
	}
	return SeedResult{Venue: slug, VenueCreated: venueCreated, EventID: ev.ID, Event: name, EventCreated: ev.Created,
		Seats: ev.Seats, SaleOpensAt: ev.SaleOpensAt, Took: time.Since(start)}, nil
}
