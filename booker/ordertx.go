package booker

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/valyala/fasthttp"

	"github.com/ticketvelo/ticketvelo/internal/bookingevent"
	"github.com/ticketvelo/ticketvelo/internal/database"
	"github.com/ticketvelo/ticketvelo/internal/kafka"
	"github.com/ticketvelo/ticketvelo/internal/outbox"
)

// orderDraft is an order about to be written: what orderTx needs of it.
type orderDraft struct {
	ev         *eventInfo
	hold       holdRow
	id, key    string
	paymentRef string
	requestID  string
	at         time.Time
	view       orderJSON
	ticketIDs  []string
	prices     []int64
	created    answer // the 201, recorded in the transaction
}

func newOrderDraft(ev *eventInfo, h holdRow, key, paymentRef, requestID string, now time.Time) *orderDraft {
	o := &orderDraft{ev: ev, hold: h, id: newUUID(), key: key, paymentRef: paymentRef, requestID: requestID, at: now,
		ticketIDs: make([]string, len(h.Seats)), prices: make([]int64, len(h.Seats))}
	o.view = orderJSON{ID: o.id, EventID: ev.ID, EventName: ev.Name, Status: "confirmed", Currency: ev.Currency,
		TotalCents: h.TotalCents, CreatedAt: now.UTC(), Tickets: make([]ticketJSON, len(h.Seats))}
	for i, no := range h.Seats {
		o.ticketIDs[i] = newUUID()
		o.view.Tickets[i] = ev.ticketView(o.ticketIDs[i], no)
		o.prices[i] = o.view.Tickets[i].PriceCents
	}
	o.created = jsonAnswer(fasthttp.StatusCreated, map[string]any{"order": o.view})
	return o
}

// orderTx is the order's one transaction, in three round trips on one
// connection: BEGIN with the hold's confirmation and the buyer's name; the
// seats, the order, its tickets, the outbox row and the idempotent answer;
// COMMIT. A statement each, as it once was, held a pooled connection for
// nine round trips, four times a hold's: when Postgres slowed down,
// confirms queued for connections and timed out first
// (TestStallUnderSlowPostgres).
//
// A run that failed before its COMMIT on a broken connection runs again on
// another; a failed COMMIT is left to the idempotency record it carries.
func (p *pgStore) orderTx(ctx context.Context, o *orderDraft) (answer, error) {
	var outcome answer
	err := database.RunTx(ctx, p.pool, database.TxOptions{Doing: "order"}, func(tx *database.Tx) error {
		p.stats.pgTx(opConfirmTx)
		buyer, taken, err := takeHold(ctx, tx, o)
		if err != nil {
			return err
		}
		if !taken {
			outcome = holdGone(ctx, tx, o)
			tx.Rollback(ctx)
			return nil
		}
		outcome = o.created
		return writeOrder(ctx, tx, o, buyer)
	})
	return outcome, err
}

// takeHold is the first round trip: BEGIN, the hold from active to
// confirmed (taken says it was still active and unexpired), and the buyer
// the booking event names.
func takeHold(ctx context.Context, tx *database.Tx, o *orderDraft) (buyer bookingevent.Buyer, taken bool, err error) {
	h := o.hold
	buyer.UserID = h.UserID
	b := &pgx.Batch{}
	b.Queue(`UPDATE holds SET status = 'confirmed', updated_at = now()
		WHERE id = $1 AND user_id = $2 AND status = 'active' AND expires_at > $3`, h.ID, h.UserID, o.at)
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

// holdGone is the answer when the hold was no longer active: the sweeper
// or a parallel request got there first.
func holdGone(ctx context.Context, tx *database.Tx, o *orderDraft) answer {
	var status string
	err := tx.QueryRow(ctx, `SELECT status FROM holds WHERE id = $1`, o.hold.ID).Scan(&status)
	if err == nil && status != "expired" && status != "active" {
		return errorAnswer(errHoldNotActive.Withf("the hold is %s", status), o.requestID)
	}
	return errorAnswer(errHoldExpired, o.requestID)
}

// writeOrder is the second round trip: the seats sold, the order, its
// tickets, the booking.confirmed outbox row and the idempotent answer.
func writeOrder(ctx context.Context, tx *database.Tx, o *orderDraft, buyer bookingevent.Buyer) error {
	ev, h := o.ev, o.hold
	payload, err := bookingPayload(ev, bookingevent.Confirmed, o.id, buyer, o.view.Tickets, h.TotalCents, o.at)
	if err != nil {
		return err
	}
	b := &pgx.Batch{}
	b.Queue(`UPDATE seats SET status = 'sold', version = version + 1
		WHERE event_id = $1 AND hold_id = $2 AND status = 'held'`, ev.ID, h.ID)
	b.Queue(`INSERT INTO orders (id, hold_id, event_id, user_id, idempotency_key, total_cents, payment_ref, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, o.id, h.ID, ev.ID, h.UserID, o.key, h.TotalCents, o.paymentRef, o.at)
	b.Queue(`INSERT INTO tickets (id, order_id, event_id, seat_no, price_cents)
		SELECT t.id, $1, $2, t.seat_no, t.price FROM unnest($3::uuid[], $4::int[], $5::int[]) AS t(id, seat_no, price)`,
		o.id, ev.ID, o.ticketIDs, h.Seats, o.prices)
	b.Queue(outbox.InsertSQL, kafka.BookingEvents, o.id, bookingevent.Confirmed, payload)
	b.Queue(finishKeySQL, h.UserID, "confirm", o.key, o.created.status, encodeStored(o.created))
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
			return errClaimLost
		}
	}
	return br.Close()
}
