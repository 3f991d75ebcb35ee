// Package bookingevent is the contract between the booker, which writes
// booking events to its outbox, and the notifier, which consumes them from
// the booking.events topic. Each event is self-contained: it carries what
// the confirmation mail shows, as it was when the order changed, so the
// notifier never reads the booker's tables.
package bookingevent

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Types of booking event; the type is also the Kafka record's "type" header.
const (
	Confirmed = "booking.confirmed"
	Canceled  = "booking.canceled"
)

// Event is one booking event, keyed by OrderID on the topic.
type Event struct {
	Type       string    `json:"type"`
	OrderID    string    `json:"order_id"`
	OccurredAt time.Time `json:"occurred_at"`
	Buyer      Buyer     `json:"buyer"`
	Show       Show      `json:"show"`
	Tickets    []Ticket  `json:"tickets"`
	TotalCents int64     `json:"total_cents"`
	Currency   string    `json:"currency"`
}

// Buyer is who bought.
type Buyer struct {
	UserID int64  `json:"user_id"`
	Email  string `json:"email"`
	Name   string `json:"name"`
}

// Show is the event the tickets are for.
type Show struct {
	EventID  int64     `json:"event_id"`
	Name     string    `json:"name"`
	StartsAt time.Time `json:"starts_at"`
	Venue    string    `json:"venue"`
	City     string    `json:"city"`
	Timezone string    `json:"timezone"`
}

// Ticket is one seat of the order.
type Ticket struct {
	ID         string `json:"id"`
	SeatNo     int    `json:"seat_no"`
	Section    string `json:"section"`
	Row        string `json:"row"`
	Number     int    `json:"number"`
	PriceCents int64  `json:"price_cents"`
}

// Decode parses and checks an event; a record that fails here is poison and
// goes to the dead-letter topic.
func Decode(b []byte) (Event, error) {
	var e Event
	if err := json.Unmarshal(b, &e); err != nil {
		return Event{}, fmt.Errorf("decoding booking event: %w", err)
	}
	return e, e.Validate()
}

// Validate checks that the event has what a mail needs.
func (e Event) Validate() error {
	switch {
	case e.Type != Confirmed && e.Type != Canceled:
		return fmt.Errorf("booking event: unknown type %q", e.Type)
	case e.OrderID == "":
		return errors.New("booking event: no order_id")
	case e.Buyer.Email == "":
		return errors.New("booking event: no buyer email")
	case len(e.Tickets) == 0:
		return errors.New("booking event: no tickets")
	}
	return nil
}
