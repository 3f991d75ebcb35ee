package catalog

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ticketvelo/ticketvelo/internal/apperr"
	"github.com/ticketvelo/ticketvelo/internal/textfield"
)

// ErrEventNotFound is an event id that does not exist.
var ErrEventNotFound = apperr.New(apperr.NotFound, "event_not_found", "no such event")

// VenueRef is the part of a venue an event page shows.
type VenueRef struct {
	ID       int64
	Name     string
	City     string
	Timezone string
}

// VenueSummary is a venue in the ops console's list.
type VenueSummary struct {
	ID       int64
	Slug     string
	Name     string
	City     string
	Timezone string
	Capacity int
}

// EventInfo is an event as lists show it.
type EventInfo struct {
	ID               int64
	Slug             string
	Name             string
	Venue            VenueRef
	StartsAt         time.Time
	SaleOpensAt      time.Time
	MaxTicketsPerFan int
	Currency         string
	Capacity         int
	SeatsLeft        int
}

// SaleState is "upcoming" before the sale opens, "sold_out" when no seat is
// available, and "open" otherwise.
func (e EventInfo) SaleState(now time.Time) string {
	switch {
	case now.Before(e.SaleOpensAt):
		return "upcoming"
	case e.SeatsLeft == 0:
		return "sold_out"
	default:
		return "open"
	}
}

// SectionLeft is one section's seats and prices.
type SectionLeft struct {
	Name          string
	Tier          string
	Capacity      int
	SeatsLeft     int
	MinPriceCents int
	MaxPriceCents int
}

// EventDetail is an event with its seats left by section.
type EventDetail struct {
	EventInfo
	Sections []SectionLeft
}

const eventColumns = `e.id, e.slug, e.name, e.starts_at, e.sale_opens_at, e.max_tickets_per_fan, e.currency, e.capacity,
	v.id, v.name, v.city, v.timezone`

func scanEvent(row pgx.Row, e *EventInfo, extra ...any) error {
	dst := append([]any{&e.ID, &e.Slug, &e.Name, &e.StartsAt, &e.SaleOpensAt, &e.MaxTicketsPerFan, &e.Currency, &e.Capacity,
		&e.Venue.ID, &e.Venue.Name, &e.Venue.City, &e.Venue.Timezone}, extra...)
	return row.Scan(dst...)
}

// UpcomingEvents lists the events that have not started yet, soonest first,
// with the seats still available.
func (s *Store) UpcomingEvents(ctx context.Context, now time.Time) ([]EventInfo, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT `+eventColumns+`,
		       (SELECT count(*) FROM seats s WHERE s.event_id = e.id AND s.status = 'available')
		FROM events e JOIN venues v ON v.id = e.venue_id
		WHERE e.starts_at > $1
		ORDER BY e.starts_at, e.id
		LIMIT 500`, now)
	if err != nil {
		return nil, fmt.Errorf("listing events: %w", err)
	}
	defer rows.Close()
	events := []EventInfo{}
	for rows.Next() {
		var e EventInfo
		if err := scanEvent(rows, &e, &e.SeatsLeft); err != nil {
			return nil, fmt.Errorf("reading event: %w", err)
		}
		events = append(events, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing events: %w", err)
	}
	return events, nil
}

// Event returns one event with its seats left by section, in layout order.
func (s *Store) Event(ctx context.Context, id int64) (EventDetail, error) {
	var d EventDetail
	err := scanEvent(s.pool.QueryRow(ctx, `SELECT `+eventColumns+` FROM events e JOIN venues v ON v.id = e.venue_id WHERE e.id = $1`, id), &d.EventInfo)
	if errors.Is(err, pgx.ErrNoRows) {
		return EventDetail{}, ErrEventNotFound
	}
	if err != nil {
		return EventDetail{}, fmt.Errorf("reading event %d: %w", id, err)
	}
	rows, err := s.pool.Query(ctx, `
		SELECT section, min(tier), count(*), count(*) FILTER (WHERE status = 'available'), min(price_cents), max(price_cents)
		FROM seats WHERE event_id = $1
		GROUP BY section
		ORDER BY min(seat_no)`, id)
	if err != nil {
		return EventDetail{}, fmt.Errorf("counting seats of event %d: %w", id, err)
	}
	defer rows.Close()
	d.Sections = []SectionLeft{}
	for rows.Next() {
		var sec SectionLeft
		if err := rows.Scan(&sec.Name, &sec.Tier, &sec.Capacity, &sec.SeatsLeft, &sec.MinPriceCents, &sec.MaxPriceCents); err != nil {
			return EventDetail{}, fmt.Errorf("reading seats of event %d: %w", id, err)
		}
		d.SeatsLeft += sec.SeatsLeft
		d.Sections = append(d.Sections, sec)
	}
	if err := rows.Err(); err != nil {
		return EventDetail{}, fmt.Errorf("counting seats of event %d: %w", id, err)
	}
	return d, nil
}

// Venues lists every venue by name.
func (s *Store) Venues(ctx context.Context) ([]VenueSummary, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, slug, name, city, timezone, capacity FROM venues ORDER BY name, id`)
	if err != nil {
		return nil, fmt.Errorf("listing venues: %w", err)
	}
	defer rows.Close()
	venues := []VenueSummary{}
	for rows.Next() {
		var v VenueSummary
		if err := rows.Scan(&v.ID, &v.Slug, &v.Name, &v.City, &v.Timezone, &v.Capacity); err != nil {
			return nil, fmt.Errorf("reading venue: %w", err)
		}
		venues = append(venues, v)
	}
	return venues, rows.Err()
}

// Sale is an event whose waiting room may need admission steps: its sale has
// opened or opens soon, and the show has not started.
type Sale struct {
	EventID     int64
	SaleOpensAt time.Time
	Capacity    int
}

// Sales lists the events whose sale opens before now+ahead and that have
// not started yet.
func (s *Store) Sales(ctx context.Context, now time.Time, ahead time.Duration) ([]Sale, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT id, sale_opens_at, capacity FROM events
		WHERE sale_opens_at <= $1 AND starts_at > $2
		ORDER BY id`, now.Add(ahead), now)
	if err != nil {
		return nil, fmt.Errorf("listing events on sale: %w", err)
	}
	defer rows.Close()
	var sales []Sale
	for rows.Next() {
		var sale Sale
		if err := rows.Scan(&sale.EventID, &sale.SaleOpensAt, &sale.Capacity); err != nil {
			return nil, fmt.Errorf("reading event on sale: %w", err)
		}
		sales = append(sales, sale)
	}
	return sales, rows.Err()
}

// NewEvent is what ops give to create an event.
type NewEvent struct {
	VenueID          int64
	Name             string
	StartsAt         time.Time
	SaleOpensAt      time.Time
	MaxTicketsPerFan int
}

func invalidField(field, format string, args ...any) *apperr.Error {
	return textfield.Invalid(field, format, args...)
}

// maxYearsAhead bounds how far ahead an event may be put on: a date
// further off is a typo (9999 for 2026), not a booking.
const maxYearsAhead = 10

// CreateEvent checks e, creates the event with the seat inventory of its
// venue and a slug made from its name, and returns it.
func (s *Store) CreateEvent(ctx context.Context, e NewEvent, now time.Time) (EventDetail, error) {
	if e.VenueID <= 0 {
		return EventDetail{}, invalidField("venue_id", "venue_id must be the id of a venue")
	}
	// The name goes to Postgres, pages and mail subjects.
	name, err := textfield.Clean("name", e.Name, 200)
	if err != nil {
		return EventDetail{}, err
	}
	e.Name = name
	switch {
	case e.StartsAt.IsZero() || !e.StartsAt.After(now):
		return EventDetail{}, invalidField("starts_at", "starts_at must be in the future")
	case e.StartsAt.After(now.AddDate(maxYearsAhead, 0, 0)):
		return EventDetail{}, invalidField("starts_at", "starts_at must be within %d years", maxYearsAhead)
	case e.SaleOpensAt.IsZero() || e.SaleOpensAt.After(e.StartsAt):
		return EventDetail{}, invalidField("sale_opens_at", "sale_opens_at must be set and not after starts_at")
	case e.MaxTicketsPerFan < 1 || e.MaxTicketsPerFan > 50:
		return EventDetail{}, invalidField("max_tickets_per_fan", "max_tickets_per_fan must be 1 to 50")
	}
	var exists bool
	if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM venues WHERE id = $1)`, e.VenueID).Scan(&exists); err != nil {
		return EventDetail{}, fmt.Errorf("finding venue %d: %w", e.VenueID, err)
	}
	if !exists {
		return EventDetail{}, invalidField("venue_id", "there is no venue %d", e.VenueID)
	}
	// A random suffix keeps slugs unique when ops reuse a name; a collision
	// would make EnsureEvent return the other event, so it draws again.
	for range 5 {
		created, err := s.EnsureEvent(ctx, EventSpec{
			VenueID: e.VenueID, Slug: slugFor(e.Name), Name: e.Name,
			StartsAt: e.StartsAt, SaleOpensAt: e.SaleOpensAt, MaxTicketsPerFan: e.MaxTicketsPerFan,
		})
		if err != nil {
			return EventDetail{}, err
		}
		if created.Created {
			return s.Event(ctx, created.ID)
		}
	}
	return EventDetail{}, errors.New("creating event: no free slug after 5 draws")
}

// slugFor is the name in lowercase ASCII words joined by '-', cut to 50
// bytes, and a random suffix.
func slugFor(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
		default:
			dash = true
		}
		if b.Len() >= 50 {
			break
		}
	}
	base := strings.TrimRight(b.String(), "-")
	if base == "" {
		base = "event"
	}
	suffix := make([]byte, 3)
	_, _ = rand.Read(suffix)
	return base + "-" + hex.EncodeToString(suffix)
}
