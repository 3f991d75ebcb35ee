package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ticketvelo/ticketvelo/internal/bookingevent"
	"github.com/ticketvelo/ticketvelo/internal/database"
)

// CancelDraft is a cancel about to run, as the booker drafted it.
type CancelDraft struct {
	EventID int64
	UserID  int64
	OrderID string
	// Key is the request's Idempotency-Key, claimed in ScopeCancel.
	Key string
	At  time.Time
	// Describe runs inside the transaction, on the order as it stands once
	// canceled, and returns the answer to record under the key and the
	// booking.canceled event of the outbox row (but its buyer, which the
	// transaction reads). Both depend on what the transaction finds, so
	// the booker cannot build them beforehand.
	Describe func(Order) (Answer, bookingevent.Event)
}

// CancelResult is the outcome of Cancel.
type CancelResult struct {
	// Found is false when the fan has no such order in the event; nothing
	// changed.
	Found  bool
	Answer Answer // recorded under the key
	// Freed are the seats this cancel made available; none when the order
	// was canceled already.
	Freed []int
}

// Cancel cancels the fan's order in one transaction: its tickets voided,
// its seats available, booking.canceled in the outbox (when it freed
// seats), and the answer recorded under the key. ErrClaimLost when another
// request answered the key first.
func (s *Store) Cancel(ctx context.Context, d CancelDraft) (CancelResult, error) {
	var res CancelResult
	s.count(OpCancel)
	err := database.RunTx(ctx, s.pool, database.TxOptions{Doing: "cancel"}, func(tx *database.Tx) error {
		res = CancelResult{}
		order, holdID, found, err := cancelOrderRow(ctx, tx, d)
		if err != nil {
			return err
		}
		if !found {
			tx.Rollback(ctx)
			return nil
		}
		if res.Freed, err = voidTickets(ctx, tx, d.OrderID, d.At); err != nil {
			return err
		}
		if order.Tickets, err = orderTickets(ctx, tx, d.OrderID); err != nil {
			return err
		}
		a, event := d.Describe(order)
		if len(res.Freed) > 0 {
			if err := freeSoldSeats(ctx, tx, d, holdID, res.Freed); err != nil {
				return err
			}
			if err := writeOutbox(ctx, tx, event, d.UserID); err != nil {
				return err
			}
		}
		res.Found, res.Answer = true, a
		return finishKey(ctx, tx, Key{UserID: d.UserID, Scope: ScopeCancel, Key: d.Key}, a)
	})
	return res, err
}

// cancelOrderRow locks the fan's order and marks it canceled, when it is
// still confirmed; it returns the order as it stands and its hold, or
// found false when the fan has no such order in the event.
func cancelOrderRow(ctx context.Context, tx *database.Tx, d CancelDraft) (o Order, holdID string, found bool, err error) {
	var owner int64
	o = Order{ID: d.OrderID, EventID: d.EventID}
	err = tx.QueryRow(ctx, `SELECT hold_id::text, user_id, status, total_cents, created_at, canceled_at
		FROM orders WHERE id = $1 AND event_id = $2 FOR UPDATE`, d.OrderID, d.EventID).Scan(&holdID, &owner, &o.Status, &o.TotalCents, &o.CreatedAt, &o.CanceledAt)
	if errors.Is(err, pgx.ErrNoRows) || err == nil && owner != d.UserID {
		return o, "", false, nil
	}
	if err != nil {
		return o, "", false, fmt.Errorf("reading order: %w", err)
	}
	if o.Status == "confirmed" {
		if _, err := tx.Exec(ctx, `UPDATE orders SET status = 'canceled', canceled_at = $2 WHERE id = $1`, d.OrderID, d.At); err != nil {
			return o, "", false, fmt.Errorf("canceling order: %w", err)
		}
		at := d.At
		o.Status, o.CanceledAt = "canceled", &at
	}
	return o, holdID, true, nil
}

// voidTickets cancels the order's live tickets and returns their seats.
func voidTickets(ctx context.Context, tx *database.Tx, orderID string, now time.Time) ([]int, error) {
	rows, err := tx.Query(ctx, `UPDATE tickets SET canceled_at = $2 WHERE order_id = $1 AND canceled_at IS NULL
		RETURNING id::text, seat_no`, orderID, now)
	if err != nil {
		return nil, fmt.Errorf("voiding tickets: %w", err)
	}
	freed := []int{}
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
func freeSoldSeats(ctx context.Context, tx *database.Tx, d CancelDraft, holdID string, seats []int) error {
	if _, err := tx.Exec(ctx, `UPDATE fan_tickets SET tickets = tickets - $3 WHERE event_id = $1 AND user_id = $2`,
		d.EventID, d.UserID, len(seats)); err != nil {
		return fmt.Errorf("updating fan ticket count: %w", err)
	}
	if _, err := tx.Exec(ctx, `UPDATE seats SET status = 'available', hold_id = NULL, version = version + 1
		WHERE event_id = $1 AND seat_no = ANY($2) AND hold_id = $3 AND status = 'sold'`, d.EventID, seats, holdID); err != nil {
		return fmt.Errorf("releasing seats: %w", err)
	}
	return nil
}
