package booker

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/ticketvelo/ticketvelo/internal/apperr"
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

// newUUID returns a random (version 4) UUID.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:], b[10:])
	return string(out[:])
}

// validUUID reports whether s is a UUID in its canonical text form, so a
// malformed id is a 404 and never reaches Postgres as a cast error.
func validUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range []byte(s) {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// errorJSON mirrors httpapi's error shape for answers the booker stores
// and replays byte for byte.
type errorJSON struct {
	Error struct {
		Code      string         `json:"code"`
		Message   string         `json:"message"`
		Details   map[string]any `json:"details,omitempty"`
		RequestID string         `json:"request_id,omitempty"`
	} `json:"error"`
}

// errorAnswer is e as a stored answer, with the status of its kind.
func errorAnswer(e *apperr.Error, status int, requestID string) answer {
	var body errorJSON
	body.Error.Code, body.Error.Message, body.Error.Details, body.Error.RequestID = e.Code, e.Message, e.Details, requestID
	b, _ := json.Marshal(body)
	return answer{status: status, body: append(b, '\n'), retryAfter: e.RetryAfter}
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
