package booker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/valyala/fasthttp"

	"github.com/ticketvelo/ticketvelo/internal/bookingevent"
	"github.com/ticketvelo/ticketvelo/internal/database"
	"github.com/ticketvelo/ticketvelo/internal/kafka"
)

// newOrder is an order about to be written: what orderTx needs of it.
type newOrder struct {
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

func (s *Service) prepareOrder(ev *eventInfo, h holdRow, key, paymentRef, requestID string) *newOrder {
	now := s.now()
	o := &newOrder{ev: ev, hold: h, id: newUUID(), key: key, paymentRef: paymentRef, requestID: requestID, at: now,
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

// orderTx is the order's one transaction. A transaction that failed before
// its COMMIT on a broken connection runs again on another; a failed COMMIT
// is left to the idempotency record it carries.
func (s *Service) orderTx(ctx context.Context, ev *eventInfo, h holdRow, key, paymentRef, requestID string) (answer, error) {
	o := s.prepareOrder(ev, h, key, paymentRef, requestID)
	var outcome answer
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		s.stats.pgTx(opConfirmTx)
		outcome, err = s.orderTxOnce(ctx, o)
		var commit *commitError
		if err == nil || errors.As(err, &commit) || !database.Retryable(err) || ctx.Err() != nil {
			break
		}
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" && pgErr.ConstraintName == "tickets_one_per_seat" {
		// The last line of defence held: something upstream let two holds
		// own one seat. Refuse the sale; the metric should stay at zero.
		lastDefenceTotal.Inc()
		s.log.Error().Str("hold_id", h.ID).Msg("unique ticket index refused a second sale of a seat")
		return errorAnswer(errSeatTaken.Withf("a seat of this hold was sold to someone else"), fasthttp.StatusConflict, requestID), nil
	}
	if err != nil {
		return answer{}, err
	}
	if outcome.status == fasthttp.StatusCreated {
		ordersTotal("confirmed").Inc()
		s.admissionDone(ctx, ev.ID, h.UserID, h.Admission)
	}
	return outcome, nil
}

// orderTxOnce writes the order in three round trips on one connection:
// BEGIN with the hold's confirmation and the buyer's name; the seats, the
// order, its tickets, the outbox row and the idempotent answer; COMMIT. A
// statement each, as it once was, held a pooled connection for nine round
// trips, four times a hold's: when Postgres slowed down, confirms queued
// for connections and timed out first (TestStallUnderSlowPostgres).
func (s *Service) orderTxOnce(ctx context.Context, o *newOrder) (answer, error) {
	tx, err := beginBatchTx(ctx, s.pool, "order")
	if err != nil {
		return answer{}, err
	}
	defer tx.close(ctx)
	buyer, taken, err := s.takeHold(ctx, tx.Conn, o)
	if err != nil {
		return answer{}, err
	}
	if !taken {
		outcome := s.holdGone(ctx, tx.Conn, o)
		tx.rollback(ctx)
		return outcome, nil
	}
	if err := s.writeOrder(ctx, tx.Conn, o, buyer); err != nil {
		return answer{}, err
	}
	if err := tx.commit(ctx, "order"); err != nil {
		return answer{}, err
	}
	return o.created, nil
}

// takeHold is the first round trip: BEGIN, the hold from active to
// confirmed (taken says it was still active and unexpired), and the buyer
// the booking event names.
func (s *Service) takeHold(ctx context.Context, conn *pgxpool.Conn, o *newOrder) (buyer bookingevent.Buyer, taken bool, err error) {
	h := o.hold
	buyer.UserID = h.UserID
	b := &pgx.Batch{}
	b.Queue("BEGIN")
	b.Queue(`UPDATE holds SET status = 'confirmed', updated_at = now()
		WHERE id = $1 AND user_id = $2 AND status = 'active' AND expires_at > $3`, h.ID, h.UserID, o.at)
	b.Queue(`SELECT email, name FROM users WHERE id = $1`, h.UserID)
	br := conn.SendBatch(ctx, b)
	defer br.Close()
	if _, err := br.Exec(); err != nil {
		return buyer, false, fmt.Errorf("beginning order: %w", err)
	}
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
func (s *Service) holdGone(ctx context.Context, conn *pgxpool.Conn, o *newOrder) answer {
	var status string
	err := conn.QueryRow(ctx, `SELECT status FROM holds WHERE id = $1`, o.hold.ID).Scan(&status)
	if err == nil && status != "expired" && status != "active" {
		return errorAnswer(errHoldNotActive.Withf("the hold is %s", status), fasthttp.StatusConflict, o.requestID)
	}
	return errorAnswer(errHoldExpired, fasthttp.StatusGone, o.requestID)
}

// writeOrder is the second round trip: the seats sold, the order, its
// tickets, the booking.confirmed outbox row and the idempotent answer.
func (s *Service) writeOrder(ctx context.Context, conn *pgxpool.Conn, o *newOrder, buyer bookingevent.Buyer) error {
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
	b.Queue(insertOutboxSQL, kafka.BookingEvents, o.id, bookingevent.Confirmed, payload)
	b.Queue(pgFinishSQL, h.UserID, "confirm", o.key, o.created.status, encodeStored(o.created))
	br := conn.SendBatch(ctx, b)
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
