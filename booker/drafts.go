package booker

import (
	"context"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/ticketvelo/ticketvelo/booker/pgstore"
	"github.com/ticketvelo/ticketvelo/internal/bookingevent"
)

// What the rules hand the Postgres store: drafts of what to write, built
// from a request and the event in memory, with the answers the store
// records; and what its verdicts mean to the fan.

// holdDraft is a hold about to be written, with its view.
type holdDraft struct {
	pg      pgstore.HoldDraft
	view    holdJSON
	created answer // the 201, recorded in the transaction
}

func newHoldDraft(req *holdRequest, seats []int, expires time.Time) *holdDraft {
	ev := req.ev
	d := &holdDraft{pg: pgstore.HoldDraft{ID: newUUID(), EventID: ev.ID, UserID: req.userID, Key: req.key, Hash: req.hash,
		Seats: seats, Expected: make([]int64, len(seats)), MaxPerFan: ev.MaxPerFan, Expires: expires, AdmissionExp: req.admissionExp}}
	d.view = ev.holdView(d.pg.ID, "active", seats, expires)
	d.created = jsonAnswer(fasthttp.StatusCreated, map[string]any{"hold": d.view})
	d.pg.TotalCents, d.pg.Created = d.view.TotalCents, d.created.kept()
	for i, no := range seats {
		d.pg.Expected[i] = ev.versions[no].Load()
	}
	return d
}

// holdTx runs the hold's one Postgres transaction (pgstore.Store.Hold) and
// says what it decided, remembering the seat versions it saw.
func (h *holdRules) holdTx(ctx context.Context, req *holdRequest, seats []int, expires time.Time) (holdOutcome, error) {
	d := newHoldDraft(req, seats, expires)
	res, err := h.pg.Hold(ctx, d.pg)
	req.ev.remember(res.Seen)
	if err != nil {
		return holdOutcome{}, err
	}
	switch res.Verdict {
	case pgstore.HoldCreated:
		return holdOutcome{created: &d.view, body: d.created.body, decidedBy: layerPostgres}, nil
	case pgstore.HoldOverLimit:
		return holdOutcome{limit: true, decidedBy: layerPostgres}, nil
	case pgstore.HoldReplayed:
		return replayFirst(req, res.First), nil
	}
	return holdOutcome{taken: res.Taken, decidedBy: layerPostgres}, nil
}

// replayFirst answers a request whose key Postgres had answered already: a
// created hold, made before Redis lost its copy, or by a duplicate that ran
// while Redis was away. A request other than the first gets 422; the Redis
// record stays the first request's.
func replayFirst(req *holdRequest, first pgstore.Recorded) holdOutcome {
	a := replayOf(first.Answer)
	rec := doneRecord(first.Hash, a)
	if first.Hash != req.hash {
		a = errorAnswer(errKeyReused, req.requestID)
	}
	return holdOutcome{replay: &a, record: rec}
}

// newOrderDraft drafts the order of a paid hold, its tickets, its
// booking.confirmed event and its 201.
func newOrderDraft(ev *eventInfo, h pgstore.Hold, key, paymentRef string, now time.Time) *pgstore.OrderDraft {
	o := &pgstore.OrderDraft{ID: newUUID(), Hold: h, Key: key, PaymentRef: paymentRef, At: now,
		TicketIDs: make([]string, len(h.Seats)), Prices: make([]int64, len(h.Seats))}
	view := orderJSON{ID: o.ID, EventID: ev.ID, EventName: ev.Name, Status: "confirmed", Currency: ev.Currency,
		TotalCents: h.TotalCents, CreatedAt: now.UTC(), Tickets: make([]ticketJSON, len(h.Seats))}
	for i, no := range h.Seats {
		o.TicketIDs[i] = newUUID()
		view.Tickets[i] = ev.ticketView(o.TicketIDs[i], no)
		o.Prices[i] = view.Tickets[i].PriceCents
	}
	o.Event = bookingEvent(ev, bookingevent.Confirmed, o.ID, view.Tickets, h.TotalCents, now)
	o.Created = jsonAnswer(fasthttp.StatusCreated, map[string]any{"order": view}).kept()
	return o
}

// holdGoneAnswer is the answer when the order found its hold no longer
// active (status, "" when unknown): the sweeper or a parallel request got
// there first.
func holdGoneAnswer(status, requestID string) answer {
	if status != "" && status != "expired" && status != "active" {
		return errorAnswer(errHoldNotActive.Withf("the hold is %s", status), requestID)
	}
	return errorAnswer(errHoldExpired, requestID)
}

// newCancelDraft drafts the cancel of the fan's order: its answer and its
// booking.canceled event are described from the order as the transaction
// finds it.
func newCancelDraft(ev *eventInfo, userID int64, orderID, key string, now time.Time) pgstore.CancelDraft {
	return pgstore.CancelDraft{EventID: ev.ID, UserID: userID, OrderID: orderID, Key: key, At: now,
		Describe: func(o pgstore.Order) (pgstore.Answer, bookingevent.Event) {
			view := ev.orderView(o)
			a := jsonAnswer(fasthttp.StatusOK, map[string]any{"order": view})
			return a.kept(), bookingEvent(ev, bookingevent.Canceled, orderID, view.Tickets, view.TotalCents, now)
		}}
}

// bookingEvent is the booking event of an order, but its buyer, which the
// store reads in the order's transaction.
func bookingEvent(ev *eventInfo, typ, orderID string, tickets []ticketJSON, total int64, at time.Time) bookingevent.Event {
	e := bookingevent.Event{
		Type: typ, OrderID: orderID, OccurredAt: at.UTC(), TotalCents: total, Currency: ev.Currency,
		Show: bookingevent.Show{EventID: ev.ID, Name: ev.Name, StartsAt: ev.StartsAt.UTC(), Venue: ev.Venue, City: ev.City, Timezone: ev.Timezone},
	}
	for _, t := range tickets {
		e.Tickets = append(e.Tickets, bookingevent.Ticket{ID: t.ID, SeatNo: t.SeatID, Section: t.Section, Row: t.Row, Number: t.Number, PriceCents: t.PriceCents})
	}
	return e
}
