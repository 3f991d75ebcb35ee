package booker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/valyala/fasthttp"

	"github.com/ticketvelo/ticketvelo/internal/apperr"
	"github.com/ticketvelo/ticketvelo/internal/bookingevent"
	"github.com/ticketvelo/ticketvelo/internal/database"
	"github.com/ticketvelo/ticketvelo/internal/kafka"
)

// Answers about holds and orders.
var (
	errHoldNotFound   = apperr.New(apperr.NotFound, "hold_not_found", "no such hold")
	errNotYourHold    = apperr.New(apperr.Forbidden, "not_your_hold", "this hold belongs to another fan")
	errHoldNotActive  = apperr.New(apperr.Conflict, "hold_not_active", "the hold is no longer active")
	errHoldExpired    = apperr.New(apperr.Gone, "hold_expired", "the hold has expired and its seats were released; hold them again")
	errOrderNotFound  = apperr.New(apperr.NotFound, "order_not_found", "no such order")
	errPaymentDecline = apperr.New(apperr.PaymentRequired, "payment_declined", "the payment was declined; the hold stays active until it expires")
	errPaymentTimeout = apperr.New(apperr.Unavailable, "payment_timeout", "the payment provider did not answer; the hold stays active, retry shortly")
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

func (s *Service) readHold(ctx context.Context, q pgx.Tx, id string) (holdRow, error) {
	var h holdRow
	var seats []int32
	const sql = `SELECT id::text, event_id, user_id, status, expires_at, seat_nos, total_cents, admission_expires_at FROM holds WHERE id = $1`
	dest := []any{&h.ID, &h.EventID, &h.UserID, &h.Status, &h.ExpiresAt, &seats, &h.TotalCents, &h.Admission}
	var err error
	if q != nil {
		err = q.QueryRow(ctx, sql, id).Scan(dest...)
	} else {
		s.stats.pgTx(opRead)
		err = database.Retry(ctx, func() error { return s.pool.QueryRow(ctx, sql, id).Scan(dest...) })
	}
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

// visibleStatus is the hold's status as a fan sees it: an active hold past
// its expiry is expired even before the sweeper gets to it.
func (s *Service) visibleStatus(h holdRow) string {
	if h.Status == "active" && !s.now().Before(h.ExpiresAt) {
		return "expired"
	}
	return h.Status
}

// getHold answers GET /holds/{id} for its buyer.
func (s *Service) getHold(ctx context.Context, userID int64, id string) (holdJSON, error) {
	h, err := s.readHold(ctx, nil, id)
	if err != nil {
		return holdJSON{}, err
	}
	if h.UserID != userID {
		return holdJSON{}, errNotYourHold
	}
	ev, err := s.events.get(ctx, h.EventID)
	if err != nil {
		return holdJSON{}, err
	}
	return ev.holdView(h.ID, s.visibleStatus(h), h.Seats, h.ExpiresAt), nil
}

// releaseHold frees an active hold's seats. Releasing a hold that is
// already released or expired succeeds again; a confirmed one is 409.
func (s *Service) releaseHold(ctx context.Context, userID int64, id string) error {
	var h holdRow
	s.stats.pgTx(opReleaseTx)
	released := false
	err := database.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		released = false
		var err error
		h, err = s.readHoldForUpdate(ctx, tx, id)
		if err != nil {
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
	if err != nil || !released {
		return err
	}
	if err := s.redis.setBits(ctx, h.EventID, h.Seats, false, nil); err != nil {
		s.log.Debug().Err(err).Msg("clearing bits of a released hold; the next snapshot repairs them")
	}
	// The fan keeps their admission: releasing seats to choose others is
	// part of buying. Their slot frees when they order, or when it expires.
	return nil
}

func (s *Service) readHoldForUpdate(ctx context.Context, tx pgx.Tx, id string) (holdRow, error) {
	if _, err := tx.Exec(ctx, `SELECT 1 FROM holds WHERE id = $1 FOR UPDATE`, id); err != nil {
		return holdRow{}, fmt.Errorf("locking hold: %w", err)
	}
	return s.readHold(ctx, tx, id)
}

// freeHold ends an active hold (locked by the caller) and makes its seats
// available, in the lock order every writer follows: hold, fan count, seats.
func freeHold(ctx context.Context, tx pgx.Tx, h holdRow, status string) error {
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

// Payment tokens of the simulated provider.
const (
	payOK       = "tok_visa"
	payDeclined = "tok_declined"
	payTimeout  = "tok_timeout"
)

// paymentWait is how long the simulated payment with token may take; a
// confirm's store budget comes on top of it.
func (s *Service) paymentWait(token string) time.Duration {
	if token == payTimeout {
		return s.cfg.PaymentTimeout
	}
	return 0
}

// confirm turns an active hold into an order after the simulated payment.
// The order, its tickets and the booking.confirmed outbox row are written in
// one transaction; the unique index on live tickets is the last line of
// defence against a seat sold twice.
//
// A confirm that fails on a store fault gives its key back, so the fan's
// retry with the same key runs at once; if its COMMIT went through
// unseen, the answer recorded in that transaction is what the retry
// replays, and the key is never given back from under it.
func (s *Service) confirm(ctx context.Context, userID int64, holdID, key, payment, requestID string) (answer, error) {
	start := time.Now()
	defer confirmSeconds.UpdateDuration(start)
	const scope = "confirm"
	hash := requestHash("confirm", holdID, payment)
	prev, err := s.pgClaim(ctx, userID, scope, key, hash, s.claimStale(s.paymentWait(payment)))
	if err != nil || prev != nil {
		if prev != nil {
			return *prev, nil
		}
		return answer{}, err
	}
	a, err := s.confirmClaimed(ctx, userID, holdID, key, payment, requestID)
	if err == nil && a.status >= 500 {
		// A timed-out payment is not an answer to keep: the same key may
		// try again.
		s.pgAbandon(ctx, userID, scope, key)
		return a, nil
	}
	if err == nil && a.status != fasthttp.StatusCreated {
		s.stats.pgTx(opIdempotency)
		err = database.Retry(ctx, func() error { return pgFinish(ctx, s.pool, userID, scope, key, a) })
	}
	switch {
	case errors.Is(err, errClaimLost):
		return answer{}, err // the key is another request's now: not ours to give back
	case err != nil:
		s.pgAbandon(ctx, userID, scope, key)
		return answer{}, err
	}
	return a, nil
}

func (s *Service) confirmClaimed(ctx context.Context, userID int64, holdID, key, payment, requestID string) (answer, error) {
	h, err := s.readHold(ctx, nil, holdID)
	if err != nil {
		return answer{}, err
	}
	if h.UserID != userID {
		return answer{}, errNotYourHold
	}
	switch s.visibleStatus(h) {
	case "active":
	case "expired":
		s.expireNow(ctx, h)
		ordersTotal("expired").Inc()
		return errorAnswer(errHoldExpired, fasthttp.StatusGone, requestID), nil
	default:
		return errorAnswer(errHoldNotActive.Withf("the hold is %s", h.Status), fasthttp.StatusConflict, requestID), nil
	}
	ev, err := s.events.get(ctx, h.EventID)
	if err != nil {
		return answer{}, err
	}
	switch payment {
	case payDeclined:
		ordersTotal("declined").Inc()
		return errorAnswer(errPaymentDecline, fasthttp.StatusPaymentRequired, requestID), nil
	case payTimeout:
		select {
		case <-time.After(s.cfg.PaymentTimeout):
		case <-ctx.Done():
		}
		ordersTotal("payment_timeout").Inc()
		e := *errPaymentTimeout
		e.RetryAfter = 1
		return errorAnswer(&e, fasthttp.StatusServiceUnavailable, requestID), nil
	}
	return s.orderTx(ctx, ev, h, key, "pay_"+newOwner()[:24], requestID)
}

// expireNow releases a hold found past its expiry before the sweeper got to
// it, so a confirm that fails with 410 leaves the seats free at once.
func (s *Service) expireNow(ctx context.Context, h holdRow) {
	s.stats.pgTx(opSweep)
	var done bool
	err := database.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		done = false
		cur, err := s.readHoldForUpdate(ctx, tx, h.ID)
		if err != nil || cur.Status != "active" {
			return err
		}
		done = true
		return freeHold(ctx, tx, cur, "expired")
	})
	if err != nil {
		s.log.Warn().Err(err).Str("hold_id", h.ID).Msg("expiring hold on confirm; the sweeper will")
		return
	}
	if done {
		s.afterExpiry(ctx, []expiredHold{{id: h.ID, eventID: h.EventID, userID: h.UserID, seats: h.Seats}})
	}
}

// writeOutbox inserts a self-contained booking event in the caller's
// transaction; the relay publishes it to booking.events keyed by order.
func (s *Service) writeOutbox(ctx context.Context, tx pgx.Tx, ev *eventInfo, typ, orderID string, userID int64, tickets []ticketJSON, total int64, at time.Time) error {
	buyer := bookingevent.Buyer{UserID: userID}
	if err := tx.QueryRow(ctx, `SELECT email, name FROM users WHERE id = $1`, userID).Scan(&buyer.Email, &buyer.Name); err != nil {
		return fmt.Errorf("reading buyer: %w", err)
	}
	payload, err := bookingPayload(ev, typ, orderID, buyer, tickets, total, at)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, insertOutboxSQL, kafka.BookingEvents, orderID, typ, payload); err != nil {
		return fmt.Errorf("writing outbox: %w", err)
	}
	return nil
}

const insertOutboxSQL = `INSERT INTO outbox (topic, key, type, payload) VALUES ($1, $2, $3, $4)`

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

// cancelOrder cancels a confirmed order: its tickets are voided, its seats
// become available and booking.canceled goes to the outbox, in one
// transaction. Cancelling a canceled order answers it again.
func (s *Service) cancelOrder(ctx context.Context, userID int64, orderID, key, requestID string) (answer, error) {
	const scope = "cancel"
	prev, err := s.pgClaim(ctx, userID, scope, key, requestHash("cancel", orderID), s.claimStale(0))
	if err != nil || prev != nil {
		if prev != nil {
			return *prev, nil
		}
		return answer{}, err
	}
	var eventID int64
	s.stats.pgTx(opRead)
	err = database.Retry(ctx, func() error {
		return s.pool.QueryRow(ctx, `SELECT event_id FROM orders WHERE id = $1 AND user_id = $2`, orderID, userID).Scan(&eventID)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		err = errOrderNotFound
	}
	var ev *eventInfo
	if err == nil {
		// Resolved before the transaction, so a cold event cache never
		// needs a second connection while the transaction holds one.
		ev, err = s.events.get(ctx, eventID)
	}
	if err != nil {
		s.pgAbandon(ctx, userID, scope, key)
		return answer{}, err
	}
	a, seats, err := s.cancelTx(ctx, ev, userID, orderID, key)
	if errors.Is(err, errClaimLost) {
		return answer{}, err
	}
	if err != nil {
		s.pgAbandon(ctx, userID, scope, key)
		return answer{}, err
	}
	if len(seats) > 0 {
		cancellationsTotal.Inc()
		if err := s.redis.setBits(ctx, eventID, seats, false, nil); err != nil {
			s.log.Debug().Err(err).Msg("clearing bits of a canceled order; the next snapshot repairs them")
		}
	}
	return a, nil
}

func (s *Service) cancelTx(ctx context.Context, ev *eventInfo, userID int64, orderID, key string) (answer, []int, error) {
	var a answer
	var freed []int
	eventID := ev.ID
	s.stats.pgTx(opCancelTx)
	err := database.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		freed = nil
		var (
			holdID, status string
			owner          int64
			total          int64
			createdAt      time.Time
			canceledAt     *time.Time
		)
		err := tx.QueryRow(ctx, `SELECT hold_id::text, user_id, status, total_cents, created_at, canceled_at
			FROM orders WHERE id = $1 AND event_id = $2 FOR UPDATE`, orderID, eventID).Scan(&holdID, &owner, &status, &total, &createdAt, &canceledAt)
		if errors.Is(err, pgx.ErrNoRows) || err == nil && owner != userID {
			return errOrderNotFound
		}
		if err != nil {
			return fmt.Errorf("reading order: %w", err)
		}
		order := orderJSON{ID: orderID, EventID: eventID, EventName: ev.Name, Status: status, TotalCents: total,
			Currency: ev.Currency, CreatedAt: createdAt.UTC(), CanceledAt: canceledAt}
		now := s.now()
		if status == "confirmed" {
			if _, err := tx.Exec(ctx, `UPDATE orders SET status = 'canceled', canceled_at = $2 WHERE id = $1`, orderID, now); err != nil {
				return fmt.Errorf("canceling order: %w", err)
			}
			order.Status, order.CanceledAt = "canceled", &now
		}
		rows, err := tx.Query(ctx, `UPDATE tickets SET canceled_at = $2 WHERE order_id = $1 AND canceled_at IS NULL
			RETURNING id::text, seat_no`, orderID, now)
		if err != nil {
			return fmt.Errorf("voiding tickets: %w", err)
		}
		var tid string
		var seat int32
		if _, err := pgx.ForEachRow(rows, []any{&tid, &seat}, func() error {
			freed = append(freed, int(seat))
			return nil
		}); err != nil {
			return fmt.Errorf("voiding tickets: %w", err)
		}
		tickets, err := orderTickets(ctx, tx, ev, orderID)
		if err != nil {
			return err
		}
		order.Tickets = tickets
		if len(freed) > 0 {
			if _, err := tx.Exec(ctx, `UPDATE fan_tickets SET tickets = tickets - $3 WHERE event_id = $1 AND user_id = $2`,
				eventID, userID, len(freed)); err != nil {
				return fmt.Errorf("updating fan ticket count: %w", err)
			}
			if _, err := tx.Exec(ctx, `UPDATE seats SET status = 'available', hold_id = NULL, version = version + 1
				WHERE event_id = $1 AND seat_no = ANY($2) AND hold_id = $3 AND status = 'sold'`, eventID, freed, holdID); err != nil {
				return fmt.Errorf("releasing seats: %w", err)
			}
			if err := s.writeOutbox(ctx, tx, ev, bookingevent.Canceled, orderID, userID, tickets, total, now); err != nil {
				return err
			}
		}
		a = jsonAnswer(fasthttp.StatusOK, map[string]any{"order": order})
		return pgFinish(ctx, tx, userID, "cancel", key, a)
	})
	return a, freed, err
}

// orderTickets reads an order's tickets, in seat order.
func orderTickets(ctx context.Context, q pgx.Tx, ev *eventInfo, orderID string) ([]ticketJSON, error) {
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

// listOrders returns the fan's orders, newest first (the latest 100).
func (s *Service) listOrders(ctx context.Context, userID int64) ([]orderJSON, error) {
	type listed struct {
		o     orderJSON
		ids   []string
		seats []int32
	}
	var all []listed
	s.stats.pgTx(opRead)
	err := database.Retry(ctx, func() error {
		all = nil
		rows, err := s.pool.Query(ctx, `SELECT o.id::text, o.event_id, o.status, o.total_cents, o.created_at, o.canceled_at,
			coalesce(array_agg(t.id::text ORDER BY t.seat_no) FILTER (WHERE t.id IS NOT NULL), '{}'),
			coalesce(array_agg(t.seat_no ORDER BY t.seat_no) FILTER (WHERE t.id IS NOT NULL), '{}')
		FROM orders o LEFT JOIN tickets t ON t.order_id = o.id
		WHERE o.user_id = $1 GROUP BY o.id ORDER BY o.created_at DESC LIMIT 100`, userID)
		if err != nil {
			return err
		}
		var l listed
		_, err = pgx.ForEachRow(rows, []any{&l.o.ID, &l.o.EventID, &l.o.Status, &l.o.TotalCents, &l.o.CreatedAt, &l.o.CanceledAt, &l.ids, &l.seats}, func() error {
			all = append(all, l)
			l = listed{}
			return nil
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("listing orders: %w", err)
	}
	// Events are looked up once the rows are read, so a cold event cache
	// never needs a second connection while this one is held.
	out := make([]orderJSON, 0, len(all))
	for _, l := range all {
		o := l.o
		ev, err := s.events.get(ctx, o.EventID)
		if err != nil {
			return nil, err
		}
		o.EventName, o.Currency, o.CreatedAt = ev.Name, ev.Currency, o.CreatedAt.UTC()
		o.Tickets = make([]ticketJSON, len(l.ids))
		for i := range l.ids {
			o.Tickets[i] = ev.ticketView(l.ids[i], int(l.seats[i]))
		}
		out = append(out, o)
	}
	return out, nil
}
