package booker

import (
	"context"
	"errors"
	"time"

	"github.com/rs/zerolog"
	"github.com/valyala/fasthttp"

	"github.com/ticketvelo/ticketvelo/booker/pgstore"
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

// errClaimLost: the key got its answer from another request (one that took
// over this request's claim) before this one could record its own; a
// retry replays that answer.
var errClaimLost = errInFlight.Withf("another request with this Idempotency-Key answered first; retry to see its answer")

// orderRules decide what happens to a hold after it is made (read,
// released, confirmed into an order) and to orders (listed, canceled).
type orderRules struct {
	pg     orderPostgres
	redis  bitClearer
	events *eventCache
	expiry *sweeper
	cfg    Config
	// storeTimeout bounds a request's store work (see claimStale).
	storeTimeout time.Duration
	now          func() time.Time
	log          zerolog.Logger
}

// orderPostgres is what the order rules need of Postgres.
type orderPostgres interface {
	ReadHold(ctx context.Context, id string) (_ pgstore.Hold, found bool, _ error)
	ReleaseHold(ctx context.Context, userID int64, id string) (pgstore.Hold, pgstore.Release, error)
	ExpireHold(ctx context.Context, id string) (done bool, err error)
	ClaimKey(ctx context.Context, k pgstore.Key, hash string, staleAfter time.Duration) (pgstore.Claim, error)
	FinishKey(ctx context.Context, k pgstore.Key, a pgstore.Answer) error
	AbandonKey(ctx context.Context, k pgstore.Key) error
	Order(ctx context.Context, d *pgstore.OrderDraft) (pgstore.OrderResult, error)
	OrderEvent(ctx context.Context, userID int64, orderID string) (eventID int64, found bool, err error)
	Cancel(ctx context.Context, d pgstore.CancelDraft) (pgstore.CancelResult, error)
	ListOrders(ctx context.Context, userID int64) ([]pgstore.Order, error)
}

// bitClearer is what the order rules and the sweeper need of Redis: the
// taken-seat bits of seats freed in Postgres cleared.
type bitClearer interface {
	SetBits(ctx context.Context, eventID int64, seats []int, taken bool, w *redisstore.Write) error
}

var (
	_ orderPostgres = (*pgstore.Store)(nil)
	_ bitClearer    = (*redisstore.Store)(nil)
)

// visibleStatus is the hold's status as a fan sees it: an active hold past
// its expiry is expired even before the sweeper gets to it.
func (o *orderRules) visibleStatus(h pgstore.Hold) string {
	if h.Status == "active" && !o.now().Before(h.ExpiresAt) {
		return "expired"
	}
	return h.Status
}

// readHold reads the fan's hold: errHoldNotFound when there is none,
// errNotYourHold when it is another's.
func (o *orderRules) readHold(ctx context.Context, userID int64, id string) (pgstore.Hold, error) {
	h, found, err := o.pg.ReadHold(ctx, id)
	switch {
	case err != nil:
		return pgstore.Hold{}, err
	case !found:
		return pgstore.Hold{}, errHoldNotFound
	case h.UserID != userID:
		return pgstore.Hold{}, errNotYourHold
	}
	return h, nil
}

// getHold answers GET /holds/{id} for its buyer.
func (o *orderRules) getHold(ctx context.Context, userID int64, id string) (holdJSON, error) {
	h, err := o.readHold(ctx, userID, id)
	if err != nil {
		return holdJSON{}, err
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
	h, res, err := o.pg.ReleaseHold(ctx, userID, id)
	switch {
	case err != nil:
		return err
	case res == pgstore.ReleaseNoHold:
		return errHoldNotFound
	case res == pgstore.ReleaseNotYours:
		return errNotYourHold
	case res == pgstore.ReleaseConfirmed:
		return errHoldNotActive
	case res != pgstore.Released:
		return nil
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
	return o.storeTimeout + extra + pgstore.AbandonGrace + 700*time.Millisecond
}

// claim takes the request's key in Postgres. It returns the earlier answer
// to replay (replay true), or replay false when this request owns the key
// now.
func (o *orderRules) claim(ctx context.Context, k pgstore.Key, hash string, staleAfter time.Duration) (prev answer, replay bool, err error) {
	c, err := o.pg.ClaimKey(ctx, k, hash, staleAfter)
	switch {
	case err != nil:
		return answer{}, false, err
	case c.State == pgstore.Answered:
		return replayOf(c.Answer), true, nil
	case c.State == pgstore.OtherRequest:
		return answer{}, false, errKeyReused
	case c.State == pgstore.InFlight:
		return answer{}, false, errInFlight
	}
	return answer{}, false, nil
}

// finish records the answer of a claimed key.
func (o *orderRules) finish(ctx context.Context, k pgstore.Key, a answer) error {
	err := o.pg.FinishKey(ctx, k, a.kept())
	if errors.Is(err, pgstore.ErrClaimLost) {
		return errClaimLost
	}
	return err
}

// abandon gives the claim of a failed request back (see
// pgstore.Store.AbandonKey).
func (o *orderRules) abandon(ctx context.Context, k pgstore.Key) {
	if err := o.pg.AbandonKey(ctx, k); err != nil {
		o.log.Warn().Err(err).Str("scope", k.Scope).Msg("releasing idempotency key; it frees itself when stale")
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
	k := pgstore.Key{UserID: userID, Scope: pgstore.ScopeConfirm, Key: key}
	prev, replay, err := o.claim(ctx, k, requestHash("confirm", holdID, payment), o.claimStale(o.paymentWait(payment)))
	if err != nil || replay {
		return prev, err
	}
	a, err := o.confirmClaimed(ctx, userID, holdID, key, payment, requestID)
	if err == nil && a.status >= 500 {
		// A timed-out payment is not an answer to keep: the same key may
		// try again.
		o.abandon(ctx, k)
		return a, nil
	}
	if err == nil && a.status != fasthttp.StatusCreated {
		err = o.finish(ctx, k, a)
	}
	switch {
	case errors.Is(err, errClaimLost):
		return answer{}, err // the key is another request's now: not ours to give back
	case err != nil:
		o.abandon(ctx, k)
		return answer{}, err
	}
	return a, nil
}

func (o *orderRules) confirmClaimed(ctx context.Context, userID int64, holdID, key, payment, requestID string) (answer, error) {
	h, err := o.readHold(ctx, userID, holdID)
	if err != nil {
		return answer{}, err
	}
	if a, over := o.notActive(ctx, h, requestID); over {
		return a, nil
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
		// Another request of the fan's may have paid for the hold
		// meanwhile: then it is not "still active, retry".
		if h, err := o.readHold(ctx, userID, holdID); err == nil {
			if a, over := o.notActive(ctx, h, requestID); over {
				return a, nil
			}
		}
		a := errorAnswer(errPaymentTimeout, requestID)
		a.upstream = true // the provider failed, not the booker
		return a, nil
	}
	return o.placeOrder(ctx, ev, h, key, "pay_"+redisstore.NewOwner()[:24], requestID)
}

// notActive is the answer to confirming a hold that can no longer be
// paid for (over): it expired, or was paid for or released.
func (o *orderRules) notActive(ctx context.Context, h pgstore.Hold, requestID string) (a answer, over bool) {
	switch o.visibleStatus(h) {
	case "active":
		return answer{}, false
	case "expired":
		o.expireNow(ctx, h)
		ordersTotal("expired").Inc()
		return errorAnswer(errHoldExpired, requestID), true
	default:
		return errorAnswer(errHoldNotActive.Withf("the hold is %s", h.Status), requestID), true
	}
}

// placeOrder writes the order of a paid hold.
func (o *orderRules) placeOrder(ctx context.Context, ev *eventInfo, h pgstore.Hold, key, paymentRef, requestID string) (answer, error) {
	d := newOrderDraft(ev, h, key, paymentRef, o.now())
	res, err := o.pg.Order(ctx, d)
	switch {
	case errors.Is(err, pgstore.ErrClaimLost):
		return answer{}, errClaimLost
	case err != nil:
		return answer{}, err
	case res.Verdict == pgstore.OrderSeatSold:
		// The last line of defence held: something upstream let two holds
		// own one seat. Refuse the sale; the metric should stay at zero.
		lastDefenceTotal.Inc()
		o.log.Error().Str("hold_id", h.ID).Msg("unique ticket index refused a second sale of a seat")
		return errorAnswer(errSeatTaken.Withf("a seat of this hold was sold to someone else"), requestID), nil
	case res.Verdict == pgstore.OrderHoldGone:
		return holdGoneAnswer(res.HoldStatus, requestID), nil
	}
	ordersTotal("confirmed").Inc()
	o.expiry.admissionDone(ctx, ev.ID, h.UserID, h.Admission)
	return answerOf(d.Created), nil
}

// expireNow releases a hold found past its expiry before the sweeper got to
// it, so a confirm that fails with 410 leaves the seats free at once.
func (o *orderRules) expireNow(ctx context.Context, h pgstore.Hold) {
	done, err := o.pg.ExpireHold(ctx, h.ID)
	if err != nil {
		o.log.Warn().Err(err).Str("hold_id", h.ID).Msg("expiring hold on confirm; the sweeper will")
		return
	}
	if done {
		o.expiry.afterExpiry(ctx, []pgstore.ExpiredHold{{ID: h.ID, EventID: h.EventID, UserID: h.UserID, Seats: h.Seats, Admission: h.Admission}})
	}
}

// cancelOrder cancels a confirmed order: its tickets are voided, its seats
// become available and booking.canceled goes to the outbox, in one
// transaction. Cancelling a canceled order answers it again.
func (o *orderRules) cancelOrder(ctx context.Context, userID int64, orderID, key string) (answer, error) {
	k := pgstore.Key{UserID: userID, Scope: pgstore.ScopeCancel, Key: key}
	prev, replay, err := o.claim(ctx, k, requestHash("cancel", orderID), o.claimStale(0))
	if err != nil || replay {
		return prev, err
	}
	ev, err := o.orderEvent(ctx, userID, orderID)
	if err != nil {
		o.abandon(ctx, k)
		return answer{}, err
	}
	res, err := o.pg.Cancel(ctx, newCancelDraft(ev, userID, orderID, key, o.now()))
	switch {
	case errors.Is(err, pgstore.ErrClaimLost):
		return answer{}, errClaimLost
	case err == nil && !res.Found:
		err = errOrderNotFound
	}
	if err != nil {
		o.abandon(ctx, k)
		return answer{}, err
	}
	if len(res.Freed) > 0 {
		cancellationsTotal.Inc()
		if err := o.redis.SetBits(ctx, ev.ID, res.Freed, false, nil); err != nil {
			o.log.Debug().Err(err).Msg("clearing bits of a canceled order; the next snapshot repairs them")
		}
	}
	return answerOf(res.Answer), nil
}

// orderEvent is the event of the fan's order, resolved before the cancel's
// transaction, so a cold event cache never needs a second connection while
// the transaction holds one.
func (o *orderRules) orderEvent(ctx context.Context, userID int64, orderID string) (*eventInfo, error) {
	eventID, found, err := o.pg.OrderEvent(ctx, userID, orderID)
	switch {
	case err != nil:
		return nil, err
	case !found:
		return nil, errOrderNotFound
	}
	return o.events.get(ctx, eventID)
}

// listOrders returns the fan's orders, newest first (the latest 100).
func (o *orderRules) listOrders(ctx context.Context, userID int64) ([]orderJSON, error) {
	all, err := o.pg.ListOrders(ctx, userID)
	if err != nil {
		return nil, err
	}
	// Events are looked up once the rows are read, so a cold event cache
	// never needs a second connection while this one is held.
	out := make([]orderJSON, 0, len(all))
	for _, ord := range all {
		ev, err := o.events.get(ctx, ord.EventID)
		if err != nil {
			return nil, err
		}
		out = append(out, ev.orderView(ord))
	}
	return out, nil
}
