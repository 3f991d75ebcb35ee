package booker

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/ticketvelo/ticketvelo/booker/pgstore"
	"github.com/ticketvelo/ticketvelo/internal/apperr"
	"github.com/ticketvelo/ticketvelo/internal/httpapi"
	"github.com/ticketvelo/ticketvelo/internal/uuidtext"
)

// holdJSON is a hold as docs/API.md shows it.
type holdJSON struct {
	ID         string         `json:"id"`
	EventID    int64          `json:"event_id"`
	Status     string         `json:"status"`
	Seats      []seatLineJSON `json:"seats"`
	TotalCents int64          `json:"total_cents"`
	Currency   string         `json:"currency"`
	ExpiresAt  time.Time      `json:"expires_at"`
}

type seatLineJSON struct {
	ID         int    `json:"id"`
	Section    string `json:"section"`
	Row        string `json:"row"`
	Number     int    `json:"number"`
	PriceCents int64  `json:"price_cents"`
}

// orderJSON is an order as docs/API.md shows it.
type orderJSON struct {
	ID         string       `json:"id"`
	EventID    int64        `json:"event_id"`
	EventName  string       `json:"event_name"`
	Status     string       `json:"status"`
	Tickets    []ticketJSON `json:"tickets"`
	TotalCents int64        `json:"total_cents"`
	Currency   string       `json:"currency"`
	CreatedAt  time.Time    `json:"created_at"`
	CanceledAt *time.Time   `json:"canceled_at"`
}

type ticketJSON struct {
	ID         string `json:"id"`
	SeatID     int    `json:"seat_id"`
	Section    string `json:"section"`
	Row        string `json:"row"`
	Number     int    `json:"number"`
	PriceCents int64  `json:"price_cents"`
}

func (ev *eventInfo) seatLine(no int) seatLineJSON {
	si := ev.seats[no]
	sec := &ev.sections[si.Section]
	return seatLineJSON{ID: no, Section: sec.Name, Row: sec.Rows[si.Row].Label, Number: int(si.Number), PriceCents: int64(si.PriceCents)}
}

func (ev *eventInfo) holdView(id, status string, seats []int, expires time.Time) holdJSON {
	h := holdJSON{ID: id, EventID: ev.ID, Status: status, Currency: ev.Currency, ExpiresAt: expires.UTC(), Seats: make([]seatLineJSON, len(seats))}
	for i, no := range seats {
		h.Seats[i] = ev.seatLine(no)
		h.TotalCents += h.Seats[i].PriceCents
	}
	return h
}

func (ev *eventInfo) ticketView(id string, seat int) ticketJSON {
	l := ev.seatLine(seat)
	return ticketJSON{ID: id, SeatID: seat, Section: l.Section, Row: l.Row, Number: l.Number, PriceCents: l.PriceCents}
}

// orderView is an order as docs/API.md shows it.
func (ev *eventInfo) orderView(o pgstore.Order) orderJSON {
	v := orderJSON{ID: o.ID, EventID: ev.ID, EventName: ev.Name, Status: o.Status, Currency: ev.Currency,
		TotalCents: o.TotalCents, CreatedAt: o.CreatedAt.UTC(), CanceledAt: o.CanceledAt, Tickets: make([]ticketJSON, len(o.Tickets))}
	for i, t := range o.Tickets {
		v.Tickets[i] = ev.ticketView(t.ID, t.Seat)
	}
	return v
}

// newUUID returns a random (version 4) UUID.
func newUUID() string { return uuidtext.New() }

// errorAnswer is e as an answer the booker stores and replays byte for
// byte, with the status of its kind, in httpapi's one error shape.
func errorAnswer(e *apperr.Error, requestID string) answer {
	return answer{status: httpapi.StatusOf(e), body: httpapi.ErrorBody(e, requestID), retryAfter: e.RetryAfter}
}

func jsonAnswer(status int, v any) answer {
	b, _ := json.Marshal(v)
	return answer{status: status, body: append(b, '\n')}
}

// seatList names seats for a message: "12, 13".
func seatList(seats []int) string {
	var b strings.Builder
	for i, s := range seats {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Itoa(s))
	}
	return b.String()
}
