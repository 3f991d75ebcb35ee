package gateway

import (
	"errors"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/ticketvelo/ticketvelo/admission"
	"github.com/ticketvelo/ticketvelo/catalog"
)

// The queue routes are the drop's hot path: every waiting fan polls every
// few seconds. A poll verifies the access token from a cache, reads the
// event and its waiting-room overview from memory, answers a fan far from
// the front from memory too (admission.Room.Status), others with one Redis
// round trip, and writes its JSON by hand, without reflection.

func (g *Gateway) joinQueue(ctx *fasthttp.RequestCtx) error {
	now := g.d.Now()
	a, err := g.fanAt(ctx, now)
	if err != nil {
		return err
	}
	ev, err := g.event(ctx)
	if err != nil {
		return err
	}
	st, created, err := g.d.Room.Join(ctx, ev.ID, a.UserID, ev.SaleOpensAt, now, admission.JoinLimits{
		Address: g.clientIP(ctx), PerAccount: g.cfg.JoinPerAccount, PerAddress: g.cfg.JoinPerIP,
	})
	if err != nil {
		return err
	}
	status := fasthttp.StatusOK
	if created {
		status = fasthttp.StatusCreated
	}
	return g.writeStatus(ctx, status, ev, a.UserID, st, now)
}

func (g *Gateway) queueStatus(ctx *fasthttp.RequestCtx) error {
	now := g.d.Now()
	a, err := g.fanAt(ctx, now)
	if err != nil {
		return err
	}
	ev, err := g.event(ctx)
	if err != nil {
		return err
	}
	st, err := g.d.Room.Status(ctx, ev.ID, a.UserID, now)
	if receipt := ctx.Request.Header.Peek(placeReceiptHeader); errors.Is(err, admission.ErrNotInQueue) && len(receipt) > 0 {
		st, err = g.d.Room.Restore(ctx, ev.ID, a.UserID, string(receipt), now)
	}
	if err != nil {
		return err
	}
	return g.writeStatus(ctx, fasthttp.StatusOK, ev, a.UserID, st, now)
}

// placeReceiptHeader carries the place receipt a join gave the fan
// (docs/API.md): a fan the waiting room lost gets their place back with it.
const placeReceiptHeader = "X-Place-Receipt"

func (g *Gateway) leaveQueue(ctx *fasthttp.RequestCtx) error {
	a, err := g.fan(ctx)
	if err != nil {
		return err
	}
	ev, err := g.event(ctx)
	if err != nil {
		return err
	}
	if err := g.d.Room.Leave(ctx, ev.ID, a.UserID); err != nil {
		return err
	}
	ctx.SetStatusCode(fasthttp.StatusNoContent)
	return nil
}

// writeStatus answers a QueueStatus (docs/API.md).
func (g *Gateway) writeStatus(ctx *fasthttp.RequestCtx, status int, ev catalog.EventDetail, userID int64, st admission.Status, now time.Time) error {
	var (
		eta      time.Duration
		etaKnown bool
		o        admission.Overview
		err      error
	)
	if st.State == admission.Waiting {
		if o, err = g.d.Room.RecentOverview(ctx, ev.ID, now); err != nil {
			return err
		}
		eta, etaKnown = o.ETA(st.Ahead)
	}
	poll := admission.PollAfter(st, eta, etaKnown, ev.SaleOpensAt.Sub(now), g.cfg.Admission.GracePeriod, userID)

	ctx.Response.Header.SetContentType("application/json")
	ctx.Response.Header.SetCanonical(cacheControl, noStore)
	ctx.SetStatusCode(status)
	body := ctx.Response.SwapBody(nil)
	body = appendStatus(body[:0], ev.ID, ev.SaleOpensAt, st, queueNews{eta, etaKnown, o.Settings.Paused, o.SoldOut}, poll)
	ctx.Response.SwapBody(body)
	return nil
}

// The Cache-Control of every queue answer, in fasthttp's form.
var cacheControl, noStore = []byte(fasthttp.HeaderCacheControl), []byte("no-store")

// queueNews is what a waiting fan hears about the whole queue.
type queueNews struct {
	eta      time.Duration
	etaKnown bool
	paused   bool // by ops
	soldOut  bool // no seat left: admission waits for one to come back
}

// appendStatus appends the QueueStatus JSON. Every string it writes is
// JSON-safe without escaping: state and reason names, RFC 3339 times, and
// the admission token and place receipt, which are base64url, digits and
// dots.
func appendStatus(b []byte, eventID int64, opensAt time.Time, st admission.Status, q queueNews, poll time.Duration) []byte {
	b = append(b, `{"state":"`...)
	b = append(b, st.State.String()...)
	b = append(b, `","event_id":`...)
	b = strconv.AppendInt(b, eventID, 10)
	if st.State == admission.Waiting {
		b = append(b, `,"position":`...)
		b = strconv.AppendInt(b, st.Ahead+1, 10)
		b = append(b, `,"ahead":`...)
		b = strconv.AppendInt(b, st.Ahead, 10)
		if q.etaKnown {
			b = append(b, `,"eta_seconds":`...)
			b = strconv.AppendInt(b, int64(q.eta/time.Second), 10)
		}
		b = append(b, `,"paused":`...)
		b = strconv.AppendBool(b, q.paused)
		b = append(b, `,"sold_out":`...)
		b = strconv.AppendBool(b, q.soldOut)
	}
	b = append(b, `,"poll_after_ms":`...)
	b = strconv.AppendInt(b, poll.Milliseconds(), 10)
	b = append(b, `,"sale_opens_at":"`...)
	b = opensAt.UTC().AppendFormat(b, time.RFC3339)
	b = append(b, '"')
	switch st.State {
	case admission.Admitted:
		b = append(b, `,"admission_token":"`...)
		b = append(b, st.Token...)
		b = append(b, `","admission_expires_at":"`...)
		b = st.ExpiresAt.UTC().AppendFormat(b, time.RFC3339)
		b = append(b, '"')
	case admission.Expired:
		b = append(b, `,"reason":"`...)
		b = append(b, st.Reason...)
		b = append(b, '"')
	}
	if st.Receipt != "" {
		b = append(b, `,"place_receipt":"`...)
		b = append(b, st.Receipt...)
		b = append(b, '"')
	}
	return append(b, '}')
}
