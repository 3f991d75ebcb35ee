package notifier

import (
	"bytes"
	"encoding/json"
	"errors"
	"mime"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/ticketvelo/ticketvelo/internal/bookingevent"
	"github.com/ticketvelo/ticketvelo/internal/uuidtext"
)

var renderNow = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

// sampleEvent is a confirmation of two seats at a London venue.
func sampleEvent(orderID, email string) bookingevent.Event {
	return bookingevent.Event{
		Type: bookingevent.Confirmed, OrderID: orderID, OccurredAt: renderNow,
		Buyer: bookingevent.Buyer{UserID: 7, Email: email, Name: "Ana Lima"},
		Show: bookingevent.Show{
			EventID: 42, Name: "Aurora Skies — World Tour",
			// 19:30 UTC is 19:30 GMT in March (before the clocks change).
			StartsAt: time.Date(2027, 3, 14, 19, 30, 0, 0, time.UTC),
			Venue:    "Northgate Arena", City: "Manchester", Timezone: "Europe/London",
		},
		Tickets: []bookingevent.Ticket{
			{ID: "a1b2c3d4-0000-4000-8000-000000000012", SeatNo: 12, Section: "Floor A", Row: "1", Number: 13, PriceCents: 18900},
			{ID: "a1b2c3d4-0000-4000-8000-000000000013", SeatNo: 13, Section: "Floor A", Row: "1", Number: 14, PriceCents: 18900},
		},
		TotalCents: 37800, Currency: "GBP",
	}
}

const sampleOrder = "6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f"

func TestConfirmationMailShowsTheOrderAndVerifiableQRCodes(t *testing.T) {
	t.Parallel()
	signer, scanner := testRing(t)
	r, err := newRenderer(signer, "TicketVelo <tickets@ticketvelo.test>")
	if err != nil {
		t.Fatal(err)
	}
	ev := sampleEvent(sampleOrder, "ana@example.com")
	msg, err := r.render(ev, renderNow)
	if err != nil {
		t.Fatal(err)
	}
	if msg.ID != "confirmed."+sampleOrder+"@ticketvelo.test" || msg.From != "tickets@ticketvelo.test" || msg.To != "ana@example.com" {
		t.Errorf("message id/from/to = %q %q %q", msg.ID, msg.From, msg.To)
	}
	p := parseMail(t, msg.Data)
	subject, err := new(mime.WordDecoder).DecodeHeader(p.Header.Get("Subject"))
	if err != nil || subject != "Your tickets: Aurora Skies — World Tour" {
		t.Errorf("Subject = %q (%v)", subject, err)
	}
	if got := p.Header.Get("Message-ID"); got != "<"+msg.ID+">" {
		t.Errorf("Message-ID header = %q, want <%s>", got, msg.ID)
	}
	to, err := mail.ParseAddress(p.Header.Get("To"))
	if err != nil || to.Name != "Ana Lima" || to.Address != "ana@example.com" {
		t.Errorf("To = %v (%v)", to, err)
	}
	for name, body := range map[string]string{"text": p.Text, "html": p.HTML} {
		for _, want := range []string{
			"Aurora Skies — World Tour", "Sunday 14 March 2027, 19:30 GMT", "Northgate Arena, Manchester",
			"Floor A, row 1, seat 13", "Floor A, row 1, seat 14", "£189.00", "£378.00", sampleOrder,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("%s part lacks %q", name, want)
			}
		}
	}
	if len(p.Images) != 2 {
		t.Fatalf("got %d inline images, want one per ticket (2)", len(p.Images))
	}
	seen := map[string]bool{}
	for cid, img := range p.Images {
		if !strings.Contains(p.HTML, `src="cid:`+cid+`"`) {
			t.Errorf("HTML does not show image %s", cid)
		}
		code, err := scanner.VerifyTicket(decodeQR(t, img), renderNow)
		if err != nil {
			t.Fatalf("QR code %s does not verify with the public key: %v", cid, err)
		}
		if code.OrderID != sampleOrder || code.EventID != 42 {
			t.Errorf("ticket code %+v is for another order or event", code)
		}
		seen[code.TicketID+" "+code.Seat] = true
	}
	for _, tk := range ev.Tickets {
		if !seen[tk.ID+" "+seatLabel(tk)] {
			t.Errorf("no QR code for ticket %s (%s); got %v", tk.ID, seatLabel(tk), seen)
		}
	}
}

func TestCancellationMailHasNoTicketCodes(t *testing.T) {
	t.Parallel()
	signer, _ := testRing(t)
	r, err := newRenderer(signer, "tickets@ticketvelo.test")
	if err != nil {
		t.Fatal(err)
	}
	ev := sampleEvent(sampleOrder, "ana@example.com")
	ev.Type = bookingevent.Canceled
	msg, err := r.render(ev, renderNow)
	if err != nil {
		t.Fatal(err)
	}
	p := parseMail(t, msg.Data)
	if len(p.Images) != 0 {
		t.Errorf("a cancellation carries %d QR codes, want none", len(p.Images))
	}
	if !strings.HasPrefix(msg.ID, "canceled.") {
		t.Errorf("Message-ID %q should differ from the confirmation's", msg.ID)
	}
	for _, want := range []string{"canceled", "Refund: £378.00", "Floor A, row 1, seat 13"} {
		if !strings.Contains(p.Text, want) || !strings.Contains(p.HTML, want) {
			t.Errorf("cancellation lacks %q", want)
		}
	}
}

func TestRenderRejectsEventsNoMailCanBeMadeOf(t *testing.T) {
	t.Parallel()
	signer, _ := testRing(t)
	r, err := newRenderer(signer, "tickets@ticketvelo.test")
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]func(*bookingevent.Event){
		"bad email":         func(e *bookingevent.Event) { e.Buyer.Email = "not an address" },
		"no show time":      func(e *bookingevent.Event) { e.Show.StartsAt = time.Time{} },
		"no show name":      func(e *bookingevent.Event) { e.Show.Name = "" },
		"ticket with no id": func(e *bookingevent.Event) { e.Tickets[1].ID = "" },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			ev := sampleEvent(sampleOrder, "ana@example.com")
			mutate(&ev)
			if _, err := r.render(ev, renderNow); !errors.Is(err, errUnrenderable) {
				t.Errorf("render error = %v, want errUnrenderable", err)
			}
		})
	}
}

func TestShowTimeIsOnTheVenueClock(t *testing.T) {
	t.Parallel()
	starts := time.Date(2027, 7, 1, 18, 0, 0, 0, time.UTC)
	cases := map[string]string{
		"Europe/London":    "Thursday 1 July 2027, 19:00 BST",
		"America/New_York": "Thursday 1 July 2027, 14:00 EDT",
		"Not/AZone":        "Thursday 1 July 2027, 18:00 UTC",
		"":                 "Thursday 1 July 2027, 18:00 UTC",
	}
	for tz, want := range cases {
		if got := showTime(bookingevent.Show{StartsAt: starts, Timezone: tz}); got != want {
			t.Errorf("showTime(%q) = %q, want %q", tz, got, want)
		}
	}
}

func TestMoney(t *testing.T) {
	t.Parallel()
	cases := []struct {
		cents    int64
		currency string
		want     string
	}{
		{0, "GBP", "£0.00"},
		{5, "EUR", "€0.05"},
		{37800, "GBP", "£378.00"},
		{123456789, "USD", "$1,234,567.89"},
		{100000, "CHF", "CHF 1,000.00"},
		{-250, "GBP", "-£2.50"},
	}
	for _, c := range cases {
		if got := money(c.cents, c.currency); got != c.want {
			t.Errorf("money(%d, %s) = %q, want %q", c.cents, c.currency, got, c.want)
		}
	}
}

// FuzzRender feeds arbitrary event JSON through the notifier's own checks:
// whatever passes them renders to a message that parses, and nothing panics.
func FuzzRender(f *testing.F) {
	seed, err := json.Marshal(sampleEvent(sampleOrder, "ana@example.com"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	signer, _ := testRing(f)
	r, err := newRenderer(signer, "tickets@ticketvelo.test")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ev, err := bookingevent.Decode(data)
		if err != nil || !uuidtext.Valid(ev.OrderID) {
			return
		}
		msg, err := r.render(ev, renderNow)
		if err != nil {
			if !errors.Is(err, errUnrenderable) {
				t.Fatalf("render failed without saying the event is unrenderable: %v", err)
			}
			return
		}
		m, err := mail.ReadMessage(bytes.NewReader(msg.Data))
		if err != nil {
			t.Fatalf("rendered an unreadable message: %v", err)
		}
		for _, line := range bytes.Split(msg.Data, []byte("\r\n")) {
			if len(line) > 998 {
				t.Fatalf("rendered a line of %d octets, over RFC 5322's 998", len(line))
			}
		}
		// Event fields must not smuggle headers in (a name with CRLF).
		for k := range m.Header {
			switch k {
			case "From", "To", "Subject", "Date", "Message-Id", "Mime-Version", "Auto-Submitted", "Content-Type":
			default:
				t.Fatalf("rendered an unexpected header %q", k)
			}
		}
	})
}

// TestHeadersHoldAnyNameSafely: names come from accounts and events made
// before the edge refused control characters, so the mail writer must
// encode whatever it gets: a CR LF in a name never starts a header, and a
// long name of non-ASCII text is folded so no line passes the 998 octets
// RFC 5322 allows (servers refuse or cut longer ones), while the headers
// still decode to the names.
func TestHeadersHoldAnyNameSafely(t *testing.T) {
	t.Parallel()
	signer, _ := testRing(t)
	r, err := newRenderer(signer, "TicketVelo <tickets@ticketvelo.test>")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct{ what, buyer, show string }{
		{"CR LF", "Ana\r\nBcc: evil@example.com", "Night\r\nBcc: evil@example.com"},
		{"lone CR and LF", "Ana\rBcc: a@example.com", "Night\nBcc: b@example.com"},
		{"quotes and brackets", `Ana "the <fan>", (x)`, `"Night" <show> (live)`},
		{"long non-ASCII", strings.Repeat("é", 100), strings.Repeat("🎫", 200)},
		{"long ASCII", strings.Repeat("a", 100), strings.TrimSpace(strings.Repeat("Night ", 33))},
		{"long with no spaces", strings.Repeat("x", 100), strings.Repeat("y", 200)},
	}
	for _, c := range cases {
		t.Run(c.what, func(t *testing.T) {
			ev := sampleEvent(sampleOrder, "ana@example.com")
			ev.Type, ev.Buyer.Name, ev.Show.Name = bookingevent.Canceled, c.buyer, c.show
			msg, err := r.render(ev, renderNow)
			if err != nil {
				t.Fatal(err)
			}
			for i, line := range bytes.Split(msg.Data, []byte("\r\n")) {
				if len(line) > 998 {
					t.Errorf("line %d has %d octets, over RFC 5322's 998: %.80q...", i+1, len(line), line)
				}
			}
			m, err := mail.ReadMessage(bytes.NewReader(msg.Data))
			if err != nil {
				t.Fatal(err)
			}
			for k := range m.Header {
				switch k {
				case "From", "To", "Subject", "Date", "Message-Id", "Mime-Version", "Auto-Submitted", "Content-Type":
				default:
					t.Errorf("a name smuggled in the header %q", k)
				}
			}
			dec := new(mime.WordDecoder)
			if subject, err := dec.DecodeHeader(m.Header.Get("Subject")); err != nil || subject != "Order canceled: "+c.show {
				t.Errorf("Subject decodes to %q (%v), want the show's name", subject, err)
			}
			to, err := (&mail.AddressParser{WordDecoder: dec}).Parse(m.Header.Get("To"))
			if err != nil || to.Name != c.buyer || to.Address != "ana@example.com" {
				t.Errorf("To decodes to %+v (%v), want the buyer's name and address", to, err)
			}
		})
	}
}
