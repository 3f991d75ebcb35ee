package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ticketvelo/ticketvelo/internal/bookingevent"
	"github.com/ticketvelo/ticketvelo/internal/database"
	"github.com/ticketvelo/ticketvelo/internal/kafka"
	"github.com/ticketvelo/ticketvelo/internal/outbox"
)

// OrderDraft is an order about to be written, as the booker drafted it.
type OrderDraft struct {
	ID   string
	Hold Hold // the hold it confirms, as read
	// Key is the request's Idempotency-Key, claimed in ScopeConfirm.
	Key        string
	PaymentRef string
	At         time.Time
	// TicketIDs and Prices are one per seat of the hold, in its order.
	TicketIDs []string
	Prices    []int64
	// Event is the booking.confirmed event of the outbox row, but its
	// buyer, which the transaction reads.
	Event bookingevent.Event
	// Created is the 201 the transaction records under the key.
	Created Answer
}

// OrderVerdict is what the order transaction decided.
type OrderVerdict int

// The verdicts.
const (
	// OrderPlaced: the order is written; the draft's answer is recorded.
	OrderPlaced OrderVerdict = iota + 1
	// OrderHoldGone: the hold was no longer active and unexpired (the
	// sweeper or a parallel request got there first); nothing changed.
	OrderHoldGone
	// OrderSeatSold: the unique index on live tickets refused a second
	// sale of a seat, the last line of defence: something upstream let two
	// holds own one seat. Nothing changed.
	OrderSeatSold
)

// OrderResult is the outcome of Order.
type OrderResult struct {
	Verdict OrderVerdict
	// HoldStatus is the status of the hold of OrderHoldGone; "" when it
	// could not be read.
	HoldStatus string
}

// Order is the order's one transaction, in three round trips on one
// connection: BEGIN with the hold's confirmation and the buyer's name; the
// seats, the order, its tickets, the outbox row and the idempotent answer;
// COMMIT. A statement each, as it once was, held a pooled connection for
// nine round trips, four times a hold's: when Postgres slowed down,
// confirms queued for connections and timed out first
// (TestStallUnderSlowPostgres).
//
// A run that failed before its COMMIT on a broken connection runs again on
// another; a failed COMMIT is left to the idempotency record it carries.
// ErrClaimLost when another request answered the key first.
func (s *Store) Order(ctx context.Context, d *OrderDraft) (OrderResult, error) {
	var res OrderResult
	err := database.RunTx(ctx, s.pool, database.TxOptions{Doing: "order"}, func(tx *database.Tx) error {
		s.count(OpConfirm)
		buyer, taken, err := takeHold(ctx, tx, d)
		if err != nil {
			return err
		}
		if !taken {
			res = OrderResult{Verdict: OrderHoldGone, HoldStatus: holdStatus(ctx, tx, d.Hold.ID)}
			tx.Rollback(ctx)
			return nil
		}
		res = OrderResult{Verdict: OrderPlaced}
		return writeOrder(ctx, tx, d, buyer)
	})
	var pgErr *pgconn.PgError
	switch {
	case errors.As(err, &pgErr) && pgErr.Code == "23505" && pgErr.ConstraintName == "tickets_one_per_seat":
		return OrderResult{Verdict: OrderSeatSold}, nil
	case err != nil:
		return OrderResult{}, err
	}
	return res, nil
}

// takeHold is the first round trip: BEGIN, the hold from active to
// confirmed (taken says it was still active and unexpired), and the buyer
// the booking event names.
func takeHold(ctx context.Context, tx *database.Tx, d *OrderDraft) (buyer bookingevent.Buyer, taken bool, err error) {
	h := d.Hold
	buyer.UserID = h.UserID
	b := &pgx.Batch{}
	b.Queue(`UPDATE holds SET status = 'confirmed', updated_at = now()
		WHERE id = $1 AND user_id = $2 AND status = 'active' AND expires_at > $3`, h.ID, h.UserID, d.At)
	b.Queue(`SELECT email, name FROM users WHERE id = $1`, h.UserID)
	br, err := tx.SendBatch(ctx, b)
	if err != nil {
		return buyer, false, err
	}
	defer br.Close()
	tag, err := br.Exec()
	if err != nil {
		return buyer, false, fmt.Errorf("confirming hold: %w", err)
	}
	if err := br.QueryRow().Scan(&buyer.Email, &buyer.Name); err != nil {
		return buyer, false, fmt.Errorf("reading buyer: %w", err)
	}
	return buyer, tag.RowsAffected() == 1, br.Close()
}

// holdStatus reads the status of a hold the order found no longer active;
// "" when it cannot.
func holdStatus(ctx context.Context, tx *database.Tx, id string) string {
	var status string
	if err := tx.QueryRow(ctx, `SELECT status FROM holds WHERE id = $1`, id).Scan(&status); err != nil {
		return ""
	}
	return status
}

// writeOrder is the second round trip: the seats sold, the order, its
// tickets, the booking.confirmed outbox row and the idempotent answer.
func writeOrder(ctx context.Context, tx *database.Tx, d *OrderDraft, buyer bookingevent.Buyer) error {
	h := d.Hold
	payload, err := encodeEvent(d.Event, buyer)
	if err != nil {
		return err
	}
	b := &pgx.Batch{}
	b.Queue(`UPDATE seats SET status = 'sold', version = version + 1
		WHERE event_id = $1 AND hold_id = $2 AND status = 'held'`, h.EventID, h.ID)
	b.Queue(`INSERT INTO orders (id, hold_id, event_id, user_id, idempotency_key, total_cents, payment_ref, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, d.ID, h.ID, h.EventID, h.UserID, d.Key, h.TotalCents, d.PaymentRef, d.At)
	b.Queue(`INSERT INTO tickets (id, order_id, event_id, seat_no, price_cents)
		SELECT t.id, $1, $2, t.seat_no, t.price FROM unnest($3::uuid[], $4::int[], $5::int[]) AS t(id, seat_no, price)`,
		d.ID, h.EventID, d.TicketIDs, h.Seats, d.Prices)
	b.Queue(outbox.InsertSQL, kafka.BookingEvents, d.ID, bookingevent.Confirmed, payload)
	b.Queue(finishKeySQL, h.UserID, ScopeConfirm, d.Key, d.Created.Status, d.Created.encode())
	br, err := tx.SendBatch(ctx, b)
	if err != nil {
		return err
	}
	defer br.Close()
	steps := []string{"selling seats", "inserting order", "inserting tickets", "writing outbox", "recording idempotent answer"}
	for i, step := range steps {
		tag, err := br.Exec()
		switch {
		case err != nil:
			return fmt.Errorf("%s: %w", step, err)
		case i == 0 && int(tag.RowsAffected()) != len(h.Seats):
			return fmt.Errorf("hold %s owns %d of its %d seats", h.ID, tag.RowsAffected(), len(h.Seats))
		case i == len(steps)-1 && tag.RowsAffected() == 0:
			return ErrClaimLost
		}
	}
	return br.Close()
}

// encodeEvent is the outbox's payload of a booking event, with its buyer.
func encodeEvent(e bookingevent.Event, buyer bookingevent.Buyer) ([]byte, error) {
	e.Buyer = buyer
	payload, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("encoding booking event: %w", err)
	}
	return payload, nil
}

// writeOutbox inserts a self-contained booking event, its buyer read now,
// in the caller's transaction; the relay publishes it to booking.events
// keyed by order.
func writeOutbox(ctx context.Context, tx *database.Tx, e bookingevent.Event, userID int64) error {
	buyer := bookingevent.Buyer{UserID: userID}
	if err := tx.QueryRow(ctx, `SELECT email, name FROM users WHERE id = $1`, userID).Scan(&buyer.Email, &buyer.Name); err != nil {
		return fmt.Errorf("reading buyer: %w", err)
	}
	payload, err := encodeEvent(e, buyer)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, outbox.InsertSQL, kafka.BookingEvents, e.OrderID, e.Type, payload); err != nil {
		return fmt.Errorf("writing outbox: %w", err)
	}
	return nil
}
