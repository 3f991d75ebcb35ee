package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ticketvelo/ticketvelo/internal/database"
)

// Event is an event and its seat layout, as stored.
type Event struct {
	EventFacts
	Seats []Seat // by seat_no, from 0 and without gaps
}

// EventFacts are what an event is, where and when, and its ticket limit:
// fixed once the event exists.
type EventFacts struct {
	Name        string
	Currency    string
	MaxPerFan   int
	SaleOpensAt time.Time
	StartsAt    time.Time
	Venue       string
	City        string
	Timezone    string
}

// Seat is a seat of an event's layout, in layout order: sections, their
// rows, and the seats of a row by number.
type Seat struct {
	Section, Row, Tier string
	Number, PriceCents int32
	Accessible         bool
}

// LoadEvent reads an event and its seat layout in one round trip; found
// is false when there is no such event, or it has no seats.
func (s *Store) LoadEvent(ctx context.Context, id int64) (e Event, found bool, err error) {
	s.count(OpLoad)
	batch := &pgx.Batch{}
	batch.Queue(`SELECT e.name, e.currency, e.max_tickets_per_fan, e.sale_opens_at, e.starts_at, v.name, v.city, v.timezone
		FROM events e JOIN venues v ON v.id = e.venue_id WHERE e.id = $1`, id).QueryRow(func(row pgx.Row) error {
		return row.Scan(&e.Name, &e.Currency, &e.MaxPerFan, &e.SaleOpensAt, &e.StartsAt, &e.Venue, &e.City, &e.Timezone)
	})
	var no int32
	var seat Seat
	batch.Queue(`SELECT seat_no, section, row_label, number, price_cents, tier, accessible
		FROM seats WHERE event_id = $1 ORDER BY seat_no`, id).Query(func(rows pgx.Rows) error {
		_, err := pgx.ForEachRow(rows, []any{&no, &seat.Section, &seat.Row, &seat.Number, &seat.PriceCents, &seat.Tier, &seat.Accessible}, func() error {
			if int(no) != len(e.Seats) {
				return fmt.Errorf("seat numbers of event %d have a gap at %d", id, len(e.Seats))
			}
			e.Seats = append(e.Seats, seat)
			return nil
		})
		return err
	})
	err = database.Retry(ctx, func() error {
		e.Seats = nil
		return s.pool.SendBatch(ctx, batch).Close()
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return Event{}, false, nil
	}
	if err != nil {
		return Event{}, false, fmt.Errorf("loading event %d: %w", id, err)
	}
	return e, len(e.Seats) > 0, nil
}

// Seat statuses as ReadStatuses reports them.
const (
	SeatAvailable byte = iota
	SeatHeld
	SeatSold
)

// ReadStatuses reads which of the event's capacity seats are held or sold,
// one status a seat (SeatAvailable, SeatHeld, SeatSold), as of asOf.
func (s *Store) ReadStatuses(ctx context.Context, eventID int64, capacity int) (statuses []byte, asOf time.Time, err error) {
	asOf = time.Now()
	statuses = make([]byte, capacity)
	s.count(OpSnapshot)
	err = database.Retry(ctx, func() error {
		clear(statuses)
		rows, err := s.pool.Query(ctx, `SELECT seat_no, status FROM seats WHERE event_id = $1 AND status <> 'available'`, eventID)
		if err != nil {
			return err
		}
		var no int32
		var status string
		_, err = pgx.ForEachRow(rows, []any{&no, &status}, func() error {
			if int(no) < len(statuses) {
				statuses[no] = SeatHeld
				if status == "sold" {
					statuses[no] = SeatSold
				}
			}
			return nil
		})
		return err
	})
	if err != nil {
		return nil, asOf, fmt.Errorf("reading seat statuses: %w", err)
	}
	return statuses, asOf, nil
}

// TakenSeats reads which seats from first to last are held or sold.
func (s *Store) TakenSeats(ctx context.Context, eventID int64, first, last int) (map[int32]bool, error) {
	s.count(OpHoldRead)
	taken := map[int32]bool{}
	err := database.Retry(ctx, func() error {
		clear(taken)
		rows, err := s.pool.Query(ctx, `SELECT seat_no FROM seats WHERE event_id = $1 AND seat_no BETWEEN $2 AND $3 AND status <> 'available'`, eventID, first, last)
		if err != nil {
			return err
		}
		var no int32
		_, err = pgx.ForEachRow(rows, []any{&no}, func() error {
			taken[no] = true
			return nil
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("reading taken seats: %w", err)
	}
	return taken, nil
}
