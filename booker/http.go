package booker

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/ticketvelo/ticketvelo/internal/apperr"
	"github.com/ticketvelo/ticketvelo/internal/httpapi"
	"github.com/ticketvelo/ticketvelo/internal/tokens"
	"github.com/ticketvelo/ticketvelo/internal/uuidtext"
)

// Which requests the health report covers.
type healthOp int

const (
	opOther healthOp = iota
	opHold
	opConfirm
)

// answering adapts a handler whose success is an answer (a hold, a
// confirm, a cancel): errors become JSON answers, and holds and confirms
// feed the health report and the ops console's figures. A 5xx counts against the booker unless the
// answer says the failure was upstream of it (the payment provider's
// timeout): the waiting room must not slow admission for that.
func (s *Service) answering(op healthOp, h func(ctx *fasthttp.RequestCtx) (answer, error)) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		start := time.Now()
		a, err := h(ctx)
		var failed bool
		if err != nil {
			httpapi.WriteError(ctx, err)
			failed = httpapi.StatusOf(err) >= 500
		} else {
			writeAnswer(ctx, a)
			failed = a.status >= 500 && !a.upstream
		}
		if op != opOther {
			d := time.Since(start)
			s.health.observe(d, failed)
			s.ops.observe(op, ctx, d, failed)
		}
	}
}

// storeCtx is the context of a request's store work: not tied to the
// connection, so a client that hangs up does not leave a half-done change,
// and bounded by the store timeout (plus extra, the simulated payment's
// wait), so a broken or overloaded store costs a fan a quick 503, not a
// long wait.
func (s *Service) storeCtx(extra time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), s.storeTimeout+extra)
}

func writeAnswer(ctx *fasthttp.RequestCtx, a answer) {
	ctx.Response.Header.SetContentType("application/json")
	ctx.Response.Header.Set("Cache-Control", "no-store")
	if a.retryAfter > 0 {
		ctx.Response.Header.Set("Retry-After", strconv.Itoa(a.retryAfter))
	}
	if a.replayed {
		ctx.Response.Header.Set("Idempotent-Replayed", "true")
	}
	ctx.SetStatusCode(a.status)
	ctx.SetBody(a.body)
}

// access verifies the fan's access token.
func (s *Service) access(ctx *fasthttp.RequestCtx) (tokens.Access, error) {
	return s.tokens.VerifyAccessBytes(httpapi.Bearer(ctx), s.now())
}

// handleSeatMap serves the seat map snapshot, gzip-compressed for clients
// that accept it, with an ETag so a client polling an unchanged map gets
// a 304.
func (s *Service) handleSeatMap(ctx *fasthttp.RequestCtx) {
	s.serveSnapshot(ctx, func(m *mapCopy) (string, body) { return m.etag, m.full })
}

// handleSeatStatus answers the status view: one letter per seat, for
// clients that poll a map they already have.
func (s *Service) handleSeatStatus(ctx *fasthttp.RequestCtx) {
	s.serveSnapshot(ctx, func(m *mapCopy) (string, body) { return "s" + m.etag, m.status })
}

// serveSnapshot answers one view of the event's seat map snapshot, gzipped
// when the client takes it, 304 when its ETag is the client's.
func (s *Service) serveSnapshot(ctx *fasthttp.RequestCtx, view func(*mapCopy) (string, body)) {
	eventID, err := httpapi.ParseID(ctx, "id")
	if err != nil {
		httpapi.WriteError(ctx, err)
		return
	}
	sctx, cancel := s.storeCtx(0)
	defer cancel()
	ev, err := s.events.get(sctx, eventID)
	if err != nil {
		httpapi.WriteError(ctx, err)
		return
	}
	m, err := s.snapshots.current(sctx, ev)
	if err != nil {
		httpapi.WriteError(ctx, err)
		return
	}
	tag, b := view(m)
	etag := `"` + tag + `"`
	ctx.Response.Header.Set("ETag", etag)
	ctx.Response.Header.Set("Cache-Control", "public, max-age=1")
	ctx.Response.Header.Set("Vary", "Accept-Encoding")
	if httpapi.NoneMatch(ctx.Request.Header.Peek("If-None-Match"), etag) {
		ctx.SetStatusCode(fasthttp.StatusNotModified)
		return
	}
	ctx.Response.Header.SetContentType("application/json")
	if ctx.Request.Header.HasAcceptEncoding("gzip") {
		ctx.Response.Header.Set("Content-Encoding", "gzip")
		ctx.SetBody(b.gz)
		return
	}
	ctx.SetBody(b.json)
}

// holdBody is the body of POST /events/{id}/holds: seat_ids, or section
// and quantity (and together) for best available.
type holdBody struct {
	SeatIDs  []int   `json:"seat_ids"`
	Section  *string `json:"section"`
	Quantity *int    `json:"quantity"`
	Together *bool   `json:"together"`
}

// maxSeatIDs caps the list a request may send before the per-fan limit is
// even looked at.
const maxSeatIDs = 100

// overMaxPerFan refuses a request that alone asks for more tickets than
// the event allows a fan: 422, as no wait would let it through (the 429
// ticket_limit is for a fan whose holds and orders make up the rest).
func overMaxPerFan(field string, max int) *apperr.Error {
	return apperr.New(apperr.Invalid, "ticket_limit", "at most %d tickets per fan for this event", max).
		With(map[string]any{"field": field, "max_tickets_per_fan": max})
}

func invalid(field, format string, args ...any) *apperr.Error {
	return apperr.New(apperr.Invalid, "invalid_field", format, args...).With(map[string]any{"field": field})
}

// parseHold validates a hold body against the event.
func parseHold(ev *eventInfo, body holdBody) (*holdRequest, error) {
	req := &holdRequest{ev: ev}
	switch {
	case body.SeatIDs != nil && (body.Section != nil || body.Quantity != nil || body.Together != nil),
		body.SeatIDs == nil && body.Section == nil:
		return nil, invalid("seat_ids", "send either seat_ids, or section and quantity (and together)")
	case body.SeatIDs != nil:
		if len(body.SeatIDs) == 0 || len(body.SeatIDs) > maxSeatIDs {
			return nil, invalid("seat_ids", "seat_ids must list 1 to %d seats", maxSeatIDs)
		}
		seats := slices.Clone(body.SeatIDs)
		slices.Sort(seats)
		seats = slices.Compact(seats)
		var bad []int
		for _, no := range seats {
			if no < 0 || no >= ev.capacity() {
				bad = append(bad, no)
			}
		}
		if len(bad) > 0 {
			return nil, invalid("seat_ids", "no seats %s in this event (seat ids run from 0 to %d)", seatList(bad), ev.capacity()-1).
				With(map[string]any{"field": "seat_ids", "seat_ids": bad})
		}
		if len(seats) > ev.MaxPerFan {
			return nil, overMaxPerFan("seat_ids", ev.MaxPerFan)
		}
		req.seats = seats
		req.hash = requestHash("hold", strconv.FormatInt(ev.ID, 10), seatList(seats))
	default:
		si, ok := ev.bySec[*body.Section]
		if !ok {
			return nil, invalid("section", "no section %q in this event", *body.Section)
		}
		if body.Quantity == nil || *body.Quantity < 1 {
			return nil, invalid("quantity", "quantity must be at least 1")
		}
		if *body.Quantity > ev.MaxPerFan {
			return nil, overMaxPerFan("quantity", ev.MaxPerFan)
		}
		req.best, req.section, req.quantity, req.together = true, si, *body.Quantity, true
		if body.Together != nil {
			req.together = *body.Together
		}
		req.hash = requestHash("best", strconv.FormatInt(ev.ID, 10), *body.Section, strconv.Itoa(req.quantity), strconv.FormatBool(req.together))
	}
	return req, nil
}

// handleCreateHold: POST /api/v1/events/{id}/holds with an admission token.
func (s *Service) handleCreateHold(ctx *fasthttp.RequestCtx) (answer, error) {
	eventID, err := httpapi.ParseID(ctx, "id")
	if err != nil {
		return answer{}, err
	}
	adm, err := s.tokens.VerifyAdmission(httpapi.BearerToken(ctx), eventID, s.now())
	if errors.Is(err, tokens.ErrExpired) {
		return s.replayExpired(ctx, eventID)
	}
	if err != nil {
		return answer{}, err
	}
	sctx, cancel := s.storeCtx(0)
	defer cancel()
	req, err := s.holdRequest(sctx, ctx, adm)
	if err != nil {
		return answer{}, err
	}
	s.snapshots.touch(req.ev.ID)
	return s.holds.createHold(sctx, req)
}

// replayExpired answers a hold request whose admission token is past its
// expiry (the admission's window passed): 410, unless it retries a request
// the token made while it lived, whose answer it replays: a client that
// lost a 201 has no other way to learn its hold.
func (s *Service) replayExpired(ctx *fasthttp.RequestCtx, eventID int64) (answer, error) {
	expired := admissionExpired("timeout")
	adm, err := s.tokens.VerifyAdmissionAsIssued(httpapi.BearerToken(ctx), eventID)
	if err != nil {
		return answer{}, expired
	}
	sctx, cancel := s.storeCtx(0)
	defer cancel()
	req, err := s.holdRequest(sctx, ctx, adm)
	if err != nil {
		return answer{}, expired
	}
	return s.holds.replayOnly(sctx, req, expired)
}

// holdRequest reads a hold request of the fan adm admits: its key and
// body, checked against the event.
func (s *Service) holdRequest(sctx context.Context, ctx *fasthttp.RequestCtx, adm tokens.Admission) (*holdRequest, error) {
	key, err := idempotencyKey(ctx)
	if err != nil {
		return nil, err
	}
	var body holdBody
	if err := httpapi.DecodeJSON(ctx, &body); err != nil {
		return nil, err
	}
	ev, err := s.events.get(sctx, adm.EventID)
	if err != nil {
		return nil, err
	}
	if s.now().Before(ev.SaleOpensAt) {
		return nil, errSaleNotOpen.Withf("the sale opens at %s", ev.SaleOpensAt.UTC().Format(time.RFC3339))
	}
	req, err := parseHold(ev, body)
	if err != nil {
		return nil, err
	}
	req.userID, req.key, req.requestID, req.admissionExp = adm.UserID, key, httpapi.RequestID(ctx), adm.ExpiresAt
	return req, nil
}

// holdID reads the {id} of a hold; a malformed one is simply not found.
func holdID(ctx *fasthttp.RequestCtx) (string, error) {
	id := httpapi.Param(ctx, "id")
	if !uuidtext.Valid(id) {
		return "", errHoldNotFound
	}
	return id, nil
}

func (s *Service) handleGetHold(ctx *fasthttp.RequestCtx) error {
	acc, err := s.access(ctx)
	if err != nil {
		return err
	}
	id, err := holdID(ctx)
	if err != nil {
		return err
	}
	sctx, cancel := s.storeCtx(0)
	defer cancel()
	h, err := s.orders.getHold(sctx, acc.UserID, id)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(ctx, fasthttp.StatusOK, map[string]any{"hold": h})
	return nil
}

// confirmBody is the body of POST /holds/{id}/confirm.
type confirmBody struct {
	PaymentToken string `json:"payment_token"`
}

func (s *Service) handleConfirm(ctx *fasthttp.RequestCtx) (answer, error) {
	acc, err := s.access(ctx)
	if err != nil {
		return answer{}, err
	}
	id, err := holdID(ctx)
	if err != nil {
		return answer{}, err
	}
	key, err := idempotencyKey(ctx)
	if err != nil {
		return answer{}, err
	}
	var body confirmBody
	if err := httpapi.DecodeJSON(ctx, &body); err != nil {
		return answer{}, err
	}
	switch body.PaymentToken {
	case payOK, payDeclined, payTimeout:
	default:
		return answer{}, invalid("payment_token", "payment_token must be tok_visa, tok_declined or tok_timeout")
	}
	sctx, cancel := s.storeCtx(s.orders.paymentWait(body.PaymentToken))
	defer cancel()
	return s.orders.confirm(sctx, acc.UserID, id, key, body.PaymentToken, httpapi.RequestID(ctx))
}

func (s *Service) handleReleaseHold(ctx *fasthttp.RequestCtx) error {
	acc, err := s.access(ctx)
	if err != nil {
		return err
	}
	id, err := holdID(ctx)
	if err != nil {
		return err
	}
	sctx, cancel := s.storeCtx(0)
	defer cancel()
	if err := s.orders.releaseHold(sctx, acc.UserID, id); err != nil {
		return err
	}
	ctx.SetStatusCode(fasthttp.StatusNoContent)
	return nil
}

func (s *Service) handleListOrders(ctx *fasthttp.RequestCtx) error {
	acc, err := s.access(ctx)
	if err != nil {
		return err
	}
	sctx, cancel := s.storeCtx(0)
	defer cancel()
	orders, err := s.orders.listOrders(sctx, acc.UserID)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(ctx, fasthttp.StatusOK, map[string]any{"orders": orders})
	return nil
}

func (s *Service) handleCancelOrder(ctx *fasthttp.RequestCtx) (answer, error) {
	acc, err := s.access(ctx)
	if err != nil {
		return answer{}, err
	}
	id := httpapi.Param(ctx, "id")
	if !uuidtext.Valid(id) {
		return answer{}, errOrderNotFound
	}
	key, err := idempotencyKey(ctx)
	if err != nil {
		return answer{}, err
	}
	// The body is optional; when sent it must be an empty JSON object.
	if len(bytes.TrimSpace(ctx.PostBody())) > 0 {
		var body struct{}
		if err := httpapi.DecodeJSON(ctx, &body); err != nil {
			return answer{}, err
		}
	}
	sctx, cancel := s.storeCtx(0)
	defer cancel()
	return s.orders.cancelOrder(sctx, acc.UserID, id, key)
}
