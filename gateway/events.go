package gateway

import (
	"encoding/json"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/ticketvelo/ticketvelo/admission"
	"github.com/ticketvelo/ticketvelo/catalog"
	"github.com/ticketvelo/ticketvelo/internal/apperr"
	"github.com/ticketvelo/ticketvelo/internal/httpapi"
)

type venueJSON struct {
	ID       int64  `json:"id"`
	Name     string `json:"name"`
	City     string `json:"city"`
	Timezone string `json:"timezone"`
}

type sectionJSON struct {
	Name          string `json:"name"`
	Tier          string `json:"tier"`
	Capacity      int    `json:"capacity"`
	SeatsLeft     int    `json:"seats_left"`
	MinPriceCents int    `json:"min_price_cents"`
	MaxPriceCents int    `json:"max_price_cents"`
}

type waitingRoomJSON struct {
	State       string `json:"state"`
	QueueLength int64  `json:"queue_length"`
	DrawSeed    string `json:"draw_seed,omitempty"`
}

type eventJSON struct {
	ID               int64            `json:"id"`
	Slug             string           `json:"slug"`
	Name             string           `json:"name"`
	Venue            venueJSON        `json:"venue"`
	StartsAt         time.Time        `json:"starts_at"`
	SaleOpensAt      time.Time        `json:"sale_opens_at"`
	MaxTicketsPerFan int              `json:"max_tickets_per_fan"`
	Currency         string           `json:"currency"`
	Capacity         int              `json:"capacity"`
	SeatsLeft        int              `json:"seats_left"`
	SaleState        string           `json:"sale_state"`
	Sections         []sectionJSON    `json:"sections,omitempty"`
	WaitingRoom      *waitingRoomJSON `json:"waiting_room,omitempty"`
}

func eventOf(e catalog.EventInfo, now time.Time) eventJSON {
	return eventJSON{
		ID: e.ID, Slug: e.Slug, Name: e.Name,
		Venue:    venueJSON{ID: e.Venue.ID, Name: e.Venue.Name, City: e.Venue.City, Timezone: e.Venue.Timezone},
		StartsAt: e.StartsAt.UTC(), SaleOpensAt: e.SaleOpensAt.UTC(), MaxTicketsPerFan: e.MaxTicketsPerFan,
		Currency: e.Currency, Capacity: e.Capacity, SeatsLeft: e.SeatsLeft, SaleState: e.SaleState(now),
	}
}

func detailOf(d catalog.EventDetail, o admission.Overview, now time.Time) eventJSON {
	ev := eventOf(d.EventInfo, now)
	ev.Sections = make([]sectionJSON, len(d.Sections))
	for i, s := range d.Sections {
		ev.Sections[i] = sectionJSON(s)
	}
	ev.WaitingRoom = &waitingRoomJSON{State: roomState(o), QueueLength: o.QueueLength + o.PrequeueLength}
	if o.Draw != admission.DrawPending {
		ev.WaitingRoom.DrawSeed = o.Seed
	}
	return ev
}

// roomState is the waiting room as event pages show it: "prequeue" until
// the draw placed the pre-queue, then "open", "paused" (by ops) or
// "sold_out" (no seat left: admission waits for one to come back).
func roomState(o admission.Overview) string {
	switch {
	case o.Draw != admission.DrawDone:
		return "prequeue"
	case o.Settings.Paused:
		return "paused"
	case o.SoldOut:
		return "sold_out"
	default:
		return "open"
	}
}

func (g *Gateway) listEvents(ctx *fasthttp.RequestCtx) error {
	events, err := g.d.Events.UpcomingEvents(ctx)
	if err != nil {
		return err
	}
	now := g.d.Now()
	out := make([]eventJSON, len(events))
	for i, e := range events {
		out[i] = eventOf(e, now)
	}
	httpapi.WriteJSON(ctx, fasthttp.StatusOK, map[string][]eventJSON{"events": out})
	return nil
}

// event is the event of the {id} path parameter, from the cache.
func (g *Gateway) event(ctx *fasthttp.RequestCtx) (catalog.EventDetail, error) {
	id, err := httpapi.ParseID(ctx, "id")
	if err != nil {
		return catalog.EventDetail{}, catalog.ErrEventNotFound
	}
	return g.d.Events.Event(ctx, id)
}

func (g *Gateway) getEvent(ctx *fasthttp.RequestCtx) error {
	d, err := g.event(ctx)
	if err != nil {
		return err
	}
	now := g.d.Now()
	o, err := g.d.Room.RecentOverview(ctx, d.ID, now)
	if err != nil {
		return err
	}
	ctx.Response.Header.SetContentType("application/json")
	ctx.Response.Header.Set(fasthttp.HeaderCacheControl, "no-store")
	ctx.SetBody(g.pages.body(d, o, now))
	return nil
}

// eventPages keeps each event's page as JSON for as long as what it says
// stays the same. Every fan's browser refreshes the page every few
// seconds, so on drop day it is as hot as the queue, and encoding its 44
// sections with encoding/json took half of the route's CPU.
type eventPages struct{ m sync.Map } // event id -> *eventPage

type eventPage struct {
	key  pageKey
	body []byte
}

// pageKey is everything an event page shows that can change while the
// event's catalog entry and waiting-room overview are cached: the entry
// itself (its sections' backing array is replaced when it is read again),
// the waiting room, and the sale's state at now.
type pageKey struct {
	sections         *catalog.SectionLeft
	seatsLeft        int
	room, seed, sale string
	queued           int64
}

func (p *eventPages) body(d catalog.EventDetail, o admission.Overview, now time.Time) []byte {
	key := pageKey{seatsLeft: d.SeatsLeft, room: roomState(o), queued: o.QueueLength + o.PrequeueLength, sale: d.SaleState(now)}
	if len(d.Sections) > 0 {
		key.sections = &d.Sections[0]
	}
	if o.Draw != admission.DrawPending {
		key.seed = o.Seed
	}
	if v, ok := p.m.Load(d.ID); ok && v.(*eventPage).key == key {
		return v.(*eventPage).body
	}
	body, _ := json.Marshal(map[string]eventJSON{"event": detailOf(d, o, now)})
	p.m.Store(d.ID, &eventPage{key: key, body: body})
	return body
}

type venueSummaryJSON struct {
	ID       int64  `json:"id"`
	Slug     string `json:"slug"`
	Name     string `json:"name"`
	City     string `json:"city"`
	Timezone string `json:"timezone"`
	Capacity int    `json:"capacity"`
}

func (g *Gateway) listVenues(ctx *fasthttp.RequestCtx) error {
	if _, err := g.ops(ctx); err != nil {
		return err
	}
	sctx, cancel := g.storeCtx(ctx, 0)
	defer cancel()
	venues, err := g.d.Catalog.Venues(sctx)
	if err != nil {
		return err
	}
	out := make([]venueSummaryJSON, len(venues))
	for i, v := range venues {
		out[i] = venueSummaryJSON(v)
	}
	httpapi.WriteJSON(ctx, fasthttp.StatusOK, map[string][]venueSummaryJSON{"venues": out})
	return nil
}

type createEventBody struct {
	VenueID          int64  `json:"venue_id"`
	Name             string `json:"name"`
	StartsAt         string `json:"starts_at"`
	SaleOpensAt      string `json:"sale_opens_at"`
	MaxTicketsPerFan int    `json:"max_tickets_per_fan"`
}

// parseTime reads an RFC 3339 time field.
func parseTime(field, v string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, apperr.New(apperr.Invalid, "invalid_field", "%s must be an RFC 3339 time such as 2026-12-01T19:30:00Z", field).
			With(map[string]any{"field": field})
	}
	return t, nil
}

func (g *Gateway) createEvent(ctx *fasthttp.RequestCtx) error {
	if _, err := g.ops(ctx); err != nil {
		return err
	}
	var b createEventBody
	if err := httpapi.DecodeJSON(ctx, &b); err != nil {
		return err
	}
	starts, err := parseTime("starts_at", b.StartsAt)
	if err != nil {
		return err
	}
	opens, err := parseTime("sale_opens_at", b.SaleOpensAt)
	if err != nil {
		return err
	}
	now := g.d.Now()
	sctx, cancel := g.storeCtx(ctx, 0)
	defer cancel()
	d, err := g.d.Catalog.CreateEvent(sctx, catalog.NewEvent{
		VenueID: b.VenueID, Name: b.Name, StartsAt: starts, SaleOpensAt: opens, MaxTicketsPerFan: b.MaxTicketsPerFan,
	}, now)
	if err != nil {
		return err
	}
	g.d.Events.Forget(d.ID)
	o, err := g.d.Room.RecentOverview(ctx, d.ID, now)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(ctx, fasthttp.StatusCreated, map[string]eventJSON{"event": detailOf(d, o, now)})
	return nil
}
