package notifier

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"net/mail"
	"strconv"
	"strings"
	texttemplate "text/template"
	"time"
	_ "time/tzdata" // venue time zones must resolve in a distroless image too

	"github.com/ticketvelo/ticketvelo/internal/bookingevent"
	"github.com/ticketvelo/ticketvelo/internal/tokens"
)

// Message is one rendered mail, ready for any Mailer.
type Message struct {
	// ID is the Message-ID without angle brackets. It is derived from the
	// order and the kind of mail, so every delivery of one mail carries the
	// same id and mail clients show a duplicate delivery once.
	ID string
	// From and To are the envelope addresses.
	From, To string
	// Data is the whole RFC 5322 message.
	Data []byte
}

//go:embed templates
var templateFiles embed.FS

var (
	htmlTemplates = htmltemplate.Must(htmltemplate.ParseFS(templateFiles, "templates/*.html"))
	textTemplates = texttemplate.Must(texttemplate.ParseFS(templateFiles, "templates/*.txt"))
)

// mailView is what the templates show.
type mailView struct {
	Subject   string
	BuyerName string
	ShowName  string
	When      string
	Venue     string
	OrderID   string
	Total     string
	Tickets   []ticketView
}

type ticketView struct {
	ID      string
	Seat    string
	Price   string
	ImageID string // Content-ID of its QR code; confirmations only
	qrPNG   []byte
}

// renderer turns booking events into mail.
type renderer struct {
	ring *tokens.Ring
	from *mail.Address
	// domain is the right-hand side of Message-IDs: the sender's domain.
	domain string
}

func newRenderer(ring *tokens.Ring, from string) (*renderer, error) {
	addr, err := mail.ParseAddress(from)
	if err != nil {
		return nil, fmt.Errorf("TICKETVELO_MAIL_FROM %q: %w", from, err)
	}
	_, domain, _ := strings.Cut(addr.Address, "@")
	if domain == "" {
		return nil, fmt.Errorf("TICKETVELO_MAIL_FROM %q: expected an address with a domain", from)
	}
	return &renderer{ring: ring, from: addr, domain: domain}, nil
}

// messageID is the Message-ID of the mail of one kind about one order.
func (r *renderer) messageID(kind, orderID string) string {
	return strings.TrimPrefix(kind, "booking.") + "." + orderID + "@" + r.domain
}

// errUnrenderable marks an event no mail can be made of; retrying cannot
// help, so it goes to the dead-letter topic at once.
var errUnrenderable = errors.New("event cannot be rendered")

// render makes the mail of an event that passed bookingevent's checks.
func (r *renderer) render(ev bookingevent.Event, now time.Time) (*Message, error) {
	to, err := mail.ParseAddress(ev.Buyer.Email)
	if err != nil {
		return nil, fmt.Errorf("%w: buyer email %q: %v", errUnrenderable, ev.Buyer.Email, err)
	}
	if ev.Buyer.Name != "" {
		to.Name = ev.Buyer.Name
	}
	if ev.Show.Name == "" || ev.Show.StartsAt.IsZero() {
		return nil, fmt.Errorf("%w: the event has no show name or start time", errUnrenderable)
	}
	v := mailView{
		BuyerName: firstNonEmpty(ev.Buyer.Name, "there"),
		ShowName:  ev.Show.Name,
		When:      showTime(ev.Show),
		Venue:     strings.Join(nonEmpty(ev.Show.Venue, ev.Show.City), ", "),
		OrderID:   ev.OrderID,
		Total:     money(ev.TotalCents, ev.Currency),
	}
	confirmed := ev.Type == bookingevent.Confirmed
	if confirmed {
		v.Subject = "Your tickets: " + ev.Show.Name
	} else {
		v.Subject = "Order canceled: " + ev.Show.Name
	}
	id := r.messageID(ev.Type, ev.OrderID)
	for i, t := range ev.Tickets {
		tv := ticketView{ID: t.ID, Seat: seatLabel(t), Price: money(t.PriceCents, ev.Currency)}
		if confirmed {
			if tv.qrPNG, err = r.ticketQR(ev, t, tv.Seat); err != nil {
				return nil, err
			}
			tv.ImageID = "ticket-" + strconv.Itoa(i+1) + "." + id
		}
		v.Tickets = append(v.Tickets, tv)
	}

	tmpl := strings.TrimPrefix(ev.Type, "booking.")
	var text, html bytes.Buffer
	if err := textTemplates.ExecuteTemplate(&text, tmpl+".txt", v); err != nil {
		return nil, fmt.Errorf("rendering the text of %s: %w", id, err)
	}
	if err := htmlTemplates.ExecuteTemplate(&html, tmpl+".html", v); err != nil {
		return nil, fmt.Errorf("rendering the HTML of %s: %w", id, err)
	}
	data, err := compose(envelope{id: id, from: r.from, to: to, subject: v.Subject, date: now}, text.Bytes(), html.Bytes(), v.Tickets)
	if err != nil {
		return nil, err
	}
	return &Message{ID: id, From: r.from.Address, To: to.Address, Data: data}, nil
}

// ticketQR is the PNG QR code of a ticket's signed code.
func (r *renderer) ticketQR(ev bookingevent.Event, t bookingevent.Ticket, seat string) ([]byte, error) {
	if t.ID == "" {
		return nil, fmt.Errorf("%w: a ticket of order %s has no id", errUnrenderable, ev.OrderID)
	}
	code, err := r.ring.IssueTicket(tokens.TicketCode{TicketID: t.ID, OrderID: ev.OrderID, EventID: ev.Show.EventID, Seat: seat}, ev.Show.StartsAt)
	if err != nil {
		return nil, fmt.Errorf("signing ticket %s: %w", t.ID, err)
	}
	png, err := qrPNG(code)
	if err != nil {
		return nil, fmt.Errorf("encoding the QR code of ticket %s: %w", t.ID, err)
	}
	return png, nil
}

// showTime is when the show starts, on the venue's clock; an unknown zone
// falls back to UTC, named, rather than withholding the mail.
func showTime(s bookingevent.Show) string {
	loc, err := time.LoadLocation(s.Timezone)
	if err != nil || s.Timezone == "" {
		loc = time.UTC
	}
	return s.StartsAt.In(loc).Format("Monday 2 January 2006, 15:04 MST")
}

func seatLabel(t bookingevent.Ticket) string {
	return fmt.Sprintf("%s, row %s, seat %d", t.Section, t.Row, t.Number)
}

var currencySymbols = map[string]string{"GBP": "£", "EUR": "€", "USD": "$"}

// money formats cents as the buyer reads them: £1,234.50, or CHF 12.00 for
// currencies without a symbol here.
func money(cents int64, currency string) string {
	sign := ""
	if cents < 0 {
		sign, cents = "-", -cents
	}
	units := strconv.FormatInt(cents/100, 10)
	var grouped strings.Builder
	for i, d := range units {
		if i > 0 && (len(units)-i)%3 == 0 {
			grouped.WriteByte(',')
		}
		grouped.WriteRune(d)
	}
	amount := fmt.Sprintf("%s.%02d", grouped.String(), cents%100)
	if sym, ok := currencySymbols[currency]; ok {
		return sign + sym + amount
	}
	return strings.TrimSpace(sign + currency + " " + amount)
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

func nonEmpty(s ...string) []string {
	out := s[:0:0]
	for _, v := range s {
		if v != "" {
			out = append(out, v)
		}
	}
	return out
}
