package booker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/valyala/fasthttp"

	"github.com/ticketvelo/ticketvelo/internal/bookingevent"
	"github.com/ticketvelo/ticketvelo/internal/database"
	"github.com/ticketvelo/ticketvelo/internal/kafka"
	"github.com/ticketvelo/ticketvelo/internal/outbox"
)

// holdRow is a hold as stored.
type holdRow struct {
	ID         string
	EventID    int64
	UserID     int64
	Status     string
	ExpiresAt  time.Time
	Seats      []int
	TotalCents int64
	// Admission is the expiry of the admission the hold was made under;
	// nil for holds older than the column.
	Admission *time.Time
}

const readHoldSQL = `SELECT id::text, event_id, user_id, status, expires_at, seat_nos, total_cents, admission_expires_at FROM holds WHERE id = $1`

// readHold reads a hold in a statement of its own.
func (p *pgStore) readHold(ctx context.Context, id string) (holdRow, error) {
	p.stats.pgTx(opRead)
	var h holdRow
	err := database.Retry(ctx, func() (err error) {
		h, err = scanHold(ctx, p.pool, id)
		return err
	})
	return h, err
}

// scanHold reads a hold with q.
func scanHold(ctx context.Context, q sqlRunner, id string) (holdRow, error) {
	var h holdRow
	var seats []int32
	err := q.QueryRow(ctx, readHoldSQL, id).Scan(&h.ID, &h.EventID, &h.UserID, &h.Status, &h.ExpiresAt, &seats, &h.TotalCents, &h.Admission)
	if errors.Is(err, pgx.ErrNoRows) {
		return h, errHoldNotFound
	}
	if err != nil {
		return h, fmt.Errorf("reading hold: %w", err)
	}
	h.Seats = make([]int, len(seats))
	for i, n := range seats {
		h.Seats[i] = int(n)
	}
	return h, nil
}

func lockHold(ctx context.Context, tx *database.Tx, id string) (holdRow, error) {
	if _, err := tx.Exec(ctx, `SELECT 1 FROM holds WHERE id = $1 FOR UPDATE`, id); err != nil {
		return holdRow{}, fmt.Errorf("locking hold: %w", err)
	}
	return scanHold(ctx, tx, id)
}

// releaseHold ends the fan's active hold as released. released is false
// when it had ended already (released or expired); a confirmed hold is
// errHoldNotActive.
func (p *pgStore) releaseHold(ctx context.Context, userID int64, id string) (h holdRow, released bool, err error) {
	p.stats.pgTx(opReleaseTx)
	err = database.RunTx(ctx, p.pool, database.TxOptions{Doing: "release"}, func(tx *database.Tx) error {
		released = false
		var err error
		if h, err = lockHold(ctx, tx, id); err != nil {
			return err
		}
		if h.UserID != userID {
			return errNotYourHold
		}
		switch h.Status {
		case "released", "expired":
			return nil
		case "confirmed":
			return errHoldNotActive
		}
		released = true
		return freeHold(ctx, tx, h, "released")
	})
	return h, released, err
}

// expireHold ends a hold that is still active as expired; done says it was.
func (p *pgStore) expireHold(ctx context.Context, id string) (done bool, err error) {
	p.stats.pgTx(opSweep)
	err = database.RunTx(ctx, p.pool, database.TxOptions{Doing: "expiry"}, func(tx *database.Tx) error {
		done = false
		cur, err := lockHold(ctx, tx, id)
		if err != nil || cur.Status != "active" {
			return err
		}
		done = true
		return freeHold(ctx, tx, cur, "expired")
	})
	return done, err
}

// freeHold ends an active hold (locked by the caller) and makes its seats
// available, in the lock order every writer follows: hold, fan count, seats.
func freeHold(ctx context.Context, tx *database.Tx, h holdRow, status string) error {
	if _, err := tx.Exec(ctx, `UPDATE holds SET status = $2, updated_at = now() WHERE id = $1`, h.ID, status); err != nil {
		return fmt.Errorf("ending hold: %w", err)
	}
	if _, err := tx.Exec(ctx, `UPDATE fan_tickets SET tickets = tickets - $3 WHERE event_id = $1 AND user_id = $2`,
		h.EventID, h.UserID, len(h.Seats)); err != nil {
		return fmt.Errorf("updating fan ticket count: %w", err)
	}
	if _, err := tx.Exec(ctx, `UPDATE seats SET status = 'available', hold_id = NULL, version = version + 1
		WHERE event_id = $1 AND hold_id = $2 AND status = 'held'`, h.EventID, h.ID); err != nil {
		return fmt.Errorf("releasing seats: %w", err)
	}
	return nil
}

// orderEvent is the event of the fan's order; errOrderNotFound when the
// order is not theirs or does not exist.
func (p *pgStore) orderEvent(ctx context.Context, userID int64, orderID string) (int64, error) {
	var eventID int64
	p.stats.pgTx(opRead)
	err := database.Retry(ctx, func() error {
		return p.pool.QueryRow(ctx, `SELECT event_id FROM orders WHERE id = $1 AND user_id = $2`, orderID, userID).Scan(&eventID)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, errOrderNotFound
	}
	if err != nil {
		return 0, fmt.Errorf("reading order: %w", err)
	}
	return eventID, nil
}

// bookingPayload is the booking event of an order, as the outbox keeps it.
func bookingPayload(ev *eventInfo, typ, orderID string, buyer bookingevent.Buyer, tickets []ticketJSON, total int64, at time.Time) ([]byte, error) {
	e := bookingevent.Event{
		Type: typ, OrderID: orderID, OccurredAt: at.UTC(), TotalCents: total, Currency: ev.Currency, Buyer: buyer,
		Show: bookingevent.Show{EventID: ev.ID, Name: ev.Name, StartsAt: ev.StartsAt.UTC(), Venue: ev.Venue, City: ev.City, Timezone: ev.Timezone},
	}
	for _, t := range tickets {
		e.Tickets = append(e.Tickets, bookingevent.Ticket{ID: t.ID, SeatNo: t.SeatID, Section: t.Section, Row: t.Row, Number: t.Number, PriceCents: t.PriceCents})
	}
	payload, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("encoding booking event: %w", err)
	}
	return payload, nil
}

// writeOutbox inserts a self-contained booking event in the caller's
// transaction; the relay publishes it to booking.events keyed by order.
func writeOutbox(ctx context.Context, tx *database.Tx, ev *eventInfo, typ, orderID string, userID int64, tickets []ticketJSON, total int64, at time.Time) error {
	buyer := bookingevent.Buyer{UserID: userID}
	if err := tx.QueryRow(ctx, `SELECT email, name FROM users WHERE id = $1`, userID).Scan(&buyer.Email, &buyer.Name); err != nil {
		return fmt.Errorf("reading buyer: %w", err)
	}
	payload, err := bookingPayload(ev, typ, orderID, buyer, tickets, total, at)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, outbox.InsertSQL, kafka.BookingEvents, orderID, typ, payload); err != nil {
		return fmt.Errorf("writing outbox: %w", err)
	}
	return nil
}

// orderTickets reads an order's tickets, in seat order.
func orderTickets(ctx context.Context, q sqlRunner, ev *eventInfo, orderID string) ([]ticketJSON, error) {
	rows, err := q.Query(ctx, `SELECT id::text, seat_no FROM tickets WHERE order_id = $1 ORDER BY seat_no`, orderID)
	if err != nil {
		return nil, fmt.Errorf("reading tickets: %w", err)
	}
	var out []ticketJSON
	var id string
	var seat int32
	_, err = pgx.ForEachRow(rows, []any{&id, &seat}, func() error {
		out = append(out, ev.ticketView(id, int(seat)))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading tickets: %w", err)
	}
	return out, nil
}

// listedOrder is an order as listOrders reads it, before its event's names.
type listedOrder struct {
	order     orderJSON
	ticketIDs []string
	seats     []int32
}

// listOrders reads the fan's orders with their tickets, newest first (the
// latest 100).
func (p *pgStore) listOrders(ctx context.Context, userID int64) ([]listedOrder, error) {
	var all []listedOrder
	p.stats.pgTx(opRead)
	err := database.Retry(ctx, func() error {
		all = nil
		rows, err := p.pool.Query(ctx, `SELECT o.id::text, o.event_id, o.status, o.total_cents, o.created_at, o.canceled_at,
			coalesce(array_agg(t.id::text ORDER BY t.seat_no) FILTER (WHERE t.id IS NOT NULL), '{}'),
			coalesce(array_agg(t.seat_no ORDER BY t.seat_no) FILTER (WHERE t.id IS NOT NULL), '{}')
		FROM orders o LEFT JOIN tickets t ON t.order_id = o.id
		WHERE o.user_id = $1 GROUP BY o.id ORDER BY o.created_at DESC LIMIT 100`, userID)
		if err != nil {
			return err
		}
		var l listedOrder
		o := &l.order
		_, err = pgx.ForEachRow(rows, []any{&o.ID, &o.EventID, &o.Status, &o.TotalCents, &o.CreatedAt, &o.CanceledAt, &l.ticketIDs, &l.seats}, func() error {
			all = append(all, l)
			l = listedOrder{}
			return nil
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("listing orders: %w", err)
	}
	return all, nil
}

// cancelTx cancels the fan's order in one transaction and records the
// answer under key; it returns the seats it freed.
func (p *pgStore) cancelTx(ctx context.Context, ev *eventInfo, userID int64, orderID, key string, now time.Time) (answer, []int, error) {
	var a answer
	var freed []int
	p.stats.pgTx(opCancelTx)
	err := database.RunTx(ctx, p.pool, database.TxOptions{Doing: "cancel"}, func(tx *database.Tx) error {
		order, holdID, err := cancelOrderRow(ctx, tx, ev, userID, orderID, now)
		if err != nil {
			return err
		}
		if freed, err = voidTickets(ctx, tx, orderID, now); err != nil {
			return err
		}
		if order.Tickets, err = orderTickets(ctx, tx, ev, orderID); err != nil {
			return err
		}
		if len(freed) > 0 {
			if err := freeSoldSeats(ctx, tx, ev, userID, holdID, freed); err != nil {
				return err
			}
			if err := writeOutbox(ctx, tx, ev, bookingevent.Canceled, orderID, userID, order.Tickets, order.TotalCents, now); err != nil {
				return err
			}
		}
		a = jsonAnswer(fasthttp.StatusOK, map[string]any{"order": order})
		return finishKey(ctx, tx, userID, "cancel", key, a)
	})
	return a, freed, err
}

// cancelOrderRow locks the fan's order and marks it canceled, when it is
// still confirmed; it returns the order as it stands and its hold.
func cancelOrderRow(ctx context.Context, tx *database.Tx, ev *eventInfo, userID int64, orderID string, now time.Time) (orderJSON, string, error) {
	var holdID string
	var owner int64
	order := orderJSON{ID: orderID, EventID: ev.ID, EventName: ev.Name, Currency: ev.Currency}
	err := tx.QueryRow(ctx, `SELECT hold_id::text, user_id, status, total_cents, created_at, canceled_at
		FROM orders WHERE id = $1 AND event_id = $2 FOR UPDATE`, orderID, ev.ID).Scan(&holdID, &owner, &order.Status, &order.TotalCents, &order.CreatedAt, &order.CanceledAt)
	if errors.Is(err, pgx.ErrNoRows) || err == nil && owner != userID {
		return order, "", errOrderNotFound
	}
	if err != nil {
		return order, "", fmt.Errorf("reading order: %w", err)
	}
	order.CreatedAt = order.CreatedAt.UTC()
	if order.Status == "confirmed" {
		if _, err := tx.Exec(ctx, `UPDATE orders SET status = 'canceled', canceled_at = $2 WHERE id = $1`, orderID, now); err != nil {
			return order, "", fmt.Errorf("canceling order: %w", err)
		}
		order.Status, order.CanceledAt = "canceled", &now
	}
	return order, holdID, nil
}

// voidTickets cancels the order's live tickets and returns their seats.
func voidTickets(ctx context.Context, tx *database.Tx, orderID string, now time.Time) ([]int, error) {
	rows, err := tx.Query(ctx, `UPDATE tickets SET canceled_at = $2 WHERE order_id = $1 AND canceled_at IS NULL
		RETURNING id::text, seat_no`, orderID, now)
	if err != nil {
		return nil, fmt.Errorf("voiding tickets: %w", err)
	}
	var freed []int
	var tid string
	var seat int32
	if _, err := pgx.ForEachRow(rows, []any{&tid, &seat}, func() error {
		freed = append(freed, int(seat))
		return nil
	}); err != nil {
		return nil, fmt.Errorf("voiding tickets: %w", err)
	}
	return freed, nil
}

// freeSoldSeats takes the seats of a canceled order off the fan's count
// and makes them available.
func freeSoldSeats(ctx context.Context, tx *database.Tx, ev *eventInfo, userID int64, holdID string, seats []int) error {
	if _, err := tx.Exec(ctx, `UPDATE fan_tickets SET tickets = tickets - $3 WHERE event_id = $1 AND user_id = $2`,
		ev.ID, userID, len(seats)); err != nil {
		return fmt.Errorf("updating fan ticket count: %w", err)
	}
	if _, err := tx.Exec(ctx, `UPDATE seats SET status = 'available', hold_id = NULL, version = version + 1
		WHERE event_id = $1 AND seat_no = ANY($2) AND hold_id = $3 AND status = 'sold'`, ev.ID, seats, holdID); err != nil {
		return fmt.Errorf("releasing seats: %w", err)
	}
	return nil
}
