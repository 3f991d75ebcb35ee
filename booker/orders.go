package booker

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/rs/zerolog"
	"github.com/valyala/fasthttp"

	"github.com/ticketvelo/ticketvelo/booker/redisstore"
	"github.com/ticketvelo/ticketvelo/internal/apperr"
)

// Answers about holds and orders.
var (
	errHoldNotFound   = apperr.New(apperr.NotFound, "hold_not_found", "no such hold")
	errNotYourHold    = apperr.New(apperr.Forbidden, "not_your_hold", "this hold belongs to another fan")
	errHoldNotActive  = apperr.New(apperr.Conflict, "hold_not_active", "the hold is no longer active")
	errHoldExpired    = apperr.New(apperr.Gone, "hold_expired", "the hold has expired and its seats were released; hold them again")
	errOrderNotFound  = apperr.New(apperr.NotFound, "order_not_found", "no such order")
	errPaymentDecline = apperr.New(apperr.PaymentRequired, "payment_declined", "the payment was declined; the hold stays active until it expires")
	errPaymentTimeout = &apperr.Error{Kind: apperr.Unavailable, Code: "payment_timeout",
		Message: "the payment provider did not answer; the hold stays active, retry shortly", RetryAfter: 1}
)

// orderRules decide what happens to a hold after it is made (read,
// released, confirmed into an order) and to orders (listed, canceled).
type orderRules struct {
	pg     *pgStore
	redis  *redisstore.Store
	events *eventCache
	expiry *sweeper
	cfg    Config
	// storeTimeout bounds a request's store work (see claimStale).
	storeTimeout time.Duration
	now          func() time.Time
	log          zerolog.Logger
}

// visibleStatus is the hold's status as a fan sees it: an active hold past
// its expiry is expired even before the sweeper gets to it.
func (o *orderRules) visibleStatus(h holdRow) string {
	if h.Status == "active" && !o.now().Before(h.ExpiresAt) {
		return "expired"
	}
	return h.Status
}

// getHold answers GET /holds/{id} for its buyer.
func (o *orderRules) getHold(ctx context.Context, userID int64, id string) (holdJSON, error) {
	h, err := o.pg.readHold(ctx, id)
	if err != nil {
		return holdJSON{}, err
	}
	if h.UserID != userID {
		return holdJSON{}, errNotYourHold
	}
	ev, err := o.events.get(ctx, h.EventID)
	if err != nil {
		return holdJSON{}, err
	}
	return ev.holdView(h.ID, o.visibleStatus(h), h.Seats, h.ExpiresAt), nil
}

// releaseHold frees an active hold's seats. Releasing a hold that is
// already released or expired succeeds again; a confirmed one is 409.
func (o *orderRules) releaseHold(ctx context.Context, userID int64, id string) error {
	h, released, err := o.pg.releaseHold(ctx, userID, id)
	if err != nil || !released {
		return err
	}
	if err := o.redis.SetBits(ctx, h.EventID, h.Seats, false, nil); err != nil {
		o.log.Debug().Err(err).Msg("clearing bits of a released hold; the next snapshot repairs them")
	}
	// The fan keeps their admission: releasing seats to choose others is
	// part of buying. Their slot frees when they order, or when it expires.
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
func (o *orderRules) paymentWait(token string) time.Duration {
	if token == payTimeout {
		return o.cfg.PaymentTimeout
	}
	return 0
}

// claimStale is how long a confirm's or cancel's claim may say "in flight"
// before another request with its key takes it over: past the longest its
// request can run (the store timeout plus extra, the payment's wait) and
// give the claim back, so the request that took it has surely ended. A
// request that failed on a fault gives its claim back at once (abandon);
// only when that fails too does the key wait this long: seconds, not the
// half minute it once did.
func (o *orderRules) claimStale(extra time.Duration) time.Duration {
	return o.storeTimeout + extra + abandonGrace + 700*time.Millisecond
}

// abandon gives the claim of a failed request back (see pgStore.abandonKey).
func (o *orderRules) abandon(ctx context.Context, userID int64, scope, key string) {
	if err := o.pg.abandonKey(ctx, userID, scope, key); err != nil {
		o.log.Warn().Err(err).Str("scope", scope).Msg("releasing idempotency key; it frees itself when stale")
	}
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
func (o *orderRules) confirm(ctx context.Context, userID int64, holdID, key, payment, requestID string) (answer, error) {
	start := time.Now()
	defer confirmSeconds.UpdateDuration(start)
	const scope = "confirm"
	hash := requestHash("confirm", holdID, payment)
	prev, replay, err := o.pg.claimKey(ctx, userID, scope, key, hash, o.claimStale(o.paymentWait(payment)))
	if err != nil || replay {
		return prev, err
	}
	a, err := o.confirmClaimed(ctx, userID, holdID, key, payment, requestID)
	if err == nil && a.status >= 500 {
		// A timed-out payment is not an answer to keep: the same key may
		// try again.
		o.abandon(ctx, userID, scope, key)
		return a, nil
	}
	if err == nil && a.status != fasthttp.StatusCreated {
		err = o.pg.finishKeyAlone(ctx, userID, scope, key, a)
	}
	switch {
	case errors.Is(err, errClaimLost):
		return answer{}, err // the key is another request's now: not ours to give back
	case err != nil:
		o.abandon(ctx, userID, scope, key)
		return answer{}, err
	}
	return a, nil
}

func (o *orderRules) confirmClaimed(ctx context.Context, userID int64, holdID, key, payment, requestID string) (answer, error) {
	h, err := o.pg.readHold(ctx, holdID)
	if err != nil {
		return answer{}, err
	}
	if h.UserID != userID {
		return answer{}, errNotYourHold
	}
	switch o.visibleStatus(h) {
	case "active":
	case "expired":
		o.expireNow(ctx, h)
		ordersTotal("expired").Inc()
		return errorAnswer(errHoldExpired, requestID), nil
	default:
		return errorAnswer(errHoldNotActive.Withf("the hold is %s", h.Status), requestID), nil
	}
	ev, err := o.events.get(ctx, h.EventID)
	if err != nil {
		return answer{}, err
	}
	switch payment {
	case payDeclined:
		ordersTotal("declined").Inc()
		return errorAnswer(errPaymentDecline, requestID), nil
	case payTimeout:
		select {
		case <-time.After(o.cfg.PaymentTimeout):
		case <-ctx.Done():
		}
		ordersTotal("payment_timeout").Inc()
		a := errorAnswer(errPaymentTimeout, requestID)
		a.upstream = true // the provider failed, not the booker
		return a, nil
	}
	return o.placeOrder(ctx, ev, h, key, "pay_"+redisstore.NewOwner()[:24], requestID)
}

// placeOrder writes the order of a paid hold.
func (o *orderRules) placeOrder(ctx context.Context, ev *eventInfo, h holdRow, key, paymentRef, requestID string) (answer, error) {
	outcome, err := o.pg.orderTx(ctx, newOrderDraft(ev, h, key, paymentRef, requestID, o.now()))
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" && pgErr.ConstraintName == "tickets_one_per_seat" {
		// The last line of defence held: something upstream let two holds
		// own one seat. Refuse the sale; the metric should stay at zero.
		lastDefenceTotal.Inc()
		o.log.Error().Str("hold_id", h.ID).Msg("unique ticket index refused a second sale of a seat")
		return errorAnswer(errSeatTaken.Withf("a seat of this hold was sold to someone else"), requestID), nil
	}
	if err != nil {
		return answer{}, err
	}
	if outcome.status == fasthttp.StatusCreated {
		ordersTotal("confirmed").Inc()
		o.expiry.admissionDone(ctx, ev.ID, h.UserID, h.Admission)
	}
	return outcome, nil
}

// expireNow releases a hold found past its expiry before the sweeper got to
// it, so a confirm that fails with 410 leaves the seats free at once.
func (o *orderRules) expireNow(ctx context.Context, h holdRow) {
	done, err := o.pg.expireHold(ctx, h.ID)
	if err != nil {
		o.log.Warn().Err(err).Str("hold_id", h.ID).Msg("expiring hold on confirm; the sweeper will")
		return
	}
	if done {
		o.expiry.afterExpiry(ctx, []expiredHold{{id: h.ID, eventID: h.EventID, userID: h.UserID, seats: h.Seats}})
	}
}

// cancelOrder cancels a confirmed order: its tickets are voided, its seats
// become available and booking.canceled goes to the outbox, in one
// transaction. Cancelling a canceled order answers it again.
func (o *orderRules) cancelOrder(ctx context.Context, userID int64, orderID, key string) (answer, error) {
	const scope = "cancel"
	prev, replay, err := o.pg.claimKey(ctx, userID, scope, key, requestHash("cancel", orderID), o.claimStale(0))
	if err != nil || replay {
		return prev, err
	}
	eventID, err := o.pg.orderEvent(ctx, userID, orderID)
	var ev *eventInfo
	if err == nil {
		// Resolved before the transaction, so a cold event cache never
		// needs a second connection while the transaction holds one.
		ev, err = o.events.get(ctx, eventID)
	}
	if err != nil {
		o.abandon(ctx, userID, scope, key)
		return answer{}, err
	}
	a, seats, err := o.pg.cancelTx(ctx, ev, userID, orderID, key, o.now())
	if errors.Is(err, errClaimLost) {
		return answer{}, err
	}
	if err != nil {
		o.abandon(ctx, userID, scope, key)
		return answer{}, err
	}
	if len(seats) > 0 {
		cancellationsTotal.Inc()
		if err := o.redis.SetBits(ctx, eventID, seats, false, nil); err != nil {
			o.log.Debug().Err(err).Msg("clearing bits of a canceled order; the next snapshot repairs them")
		}
	}
	return a, nil
}

// listOrders returns the fan's orders, newest first (the latest 100).
func (o *orderRules) listOrders(ctx context.Context, userID int64) ([]orderJSON, error) {
	all, err := o.pg.listOrders(ctx, userID)
	if err != nil {
		return nil, err
	}
	// Events are looked up once the rows are read, so a cold event cache
	// never needs a second connection while this one is held.
	out := make([]orderJSON, 0, len(all))
	for _, l := range all {
		ord := l.order
		ev, err := o.events.get(ctx, ord.EventID)
		if err != nil {
			return nil, err
		}
		ord.EventName, ord.Currency, ord.CreatedAt = ev.Name, ev.Currency, ord.CreatedAt.UTC()
		ord.Tickets = make([]ticketJSON, len(l.ticketIDs))
		for i := range l.ticketIDs {
			ord.Tickets[i] = ev.ticketView(l.ticketIDs[i], int(l.seats[i]))
		}
		out = append(out, ord)
	}
	return out, nil
}
