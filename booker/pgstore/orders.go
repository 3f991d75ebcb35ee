package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ticketvelo/ticketvelo/internal/database"
)

// Order is an order as stored, with its tickets.
type Order struct {
	ID         string
	EventID    int64
	Status     string // confirmed or canceled
	TotalCents int64
	CreatedAt  time.Time
	CanceledAt *time.Time
	Tickets    []Ticket // in seat order
}

// Ticket is a ticket of an order.
type Ticket struct {
	ID   string
	Seat int
}

// OrderEvent is the event of the fan's order; found is false when the
// order is not theirs or does not exist.
func (s *Store) OrderEvent(ctx context.Context, userID int64, orderID string) (eventID int64, found bool, err error) {
	s.count(OpRead)
	err = database.Retry(ctx, func() error {
		return s.pool.QueryRow(ctx, `SELECT event_id FROM orders WHERE id = $1 AND user_id = $2`, orderID, userID).Scan(&eventID)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("reading order: %w", err)
	}
	return eventID, true, nil
}

// ListOrders reads the fan's orders with their tickets, newest first (the
// latest 100).
func (s *Store) ListOrders(ctx context.Context, userID int64) ([]Order, error) {
	all := []Order{}
	s.count(OpRead)
	err := database.Retry(ctx, func() error {
		all = all[:0]
		rows, err := s.pool.Query(ctx, `SELECT o.id::text, o.event_id, o.status, o.total_cents, o.created_at, o.canceled_at,
			coalesce(array_agg(t.id::text ORDER BY t.seat_no) FILTER (WHERE t.id IS NOT NULL), '{}'),
			coalesce(array_agg(t.seat_no ORDER BY t.seat_no) FILTER (WHERE t.id IS NOT NULL), '{}')
		FROM orders o LEFT JOIN tickets t ON t.order_id = o.id
		WHERE o.user_id = $1 GROUP BY o.id ORDER BY o.created_at DESC LIMIT 100`, userID)
		if err != nil {
			return err
		}
		var o Order
		var ids []string
		var seats []int32
		_, err = pgx.ForEachRow(rows, []any{&o.ID, &o.EventID, &o.Status, &o.TotalCents, &o.CreatedAt, &o.CanceledAt, &ids, &seats}, func() error {
			o.Tickets = make([]Ticket, len(ids))
			for i := range ids {
				o.Tickets[i] = Ticket{ID: ids[i], Seat: int(seats[i])}
			}
			all = append(all, o)
			o = Order{}
			return nil
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("listing orders: %w", err)
	}
	return all, nil
}

// orderTickets reads an order's tickets, in seat order.
func orderTickets(ctx context.Context, q sqlRunner, orderID string) ([]Ticket, error) {
	rows, err := q.Query(ctx, `SELECT id::text, seat_no FROM tickets WHERE order_id = $1 ORDER BY seat_no`, orderID)
	if err != nil {
		return nil, fmt.Errorf("reading tickets: %w", err)
	}
	out := []Ticket{}
	var t Ticket
	var seat int32
	_, err = pgx.ForEachRow(rows, []any{&t.ID, &seat}, func() error {
		t.Seat = int(seat)
		out = append(out, t)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading tickets: %w", err)
	}
	return out, nil
}
