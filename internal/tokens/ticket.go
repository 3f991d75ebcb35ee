package tokens

import (
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// AudienceDoor is the audience of ticket codes: the scanners at the venue
// doors, which verify them offline with the public keys (JWKS).
const AudienceDoor = "door"

// TicketValidity is how long after the show starts its ticket codes still
// verify, so late arrivals and multi-day shows get in.
const TicketValidity = 24 * time.Hour

// TicketCode is what the QR code of one ticket says: which seat of which
// show it admits. A scanner trusts it because the signature verifies, without
// asking any server; a canceled ticket stays valid offline until the scanner
// syncs the list of canceled ticket ids.
type TicketCode struct {
	TicketID string
	OrderID  string
	EventID  int64
	// Seat is the seat as the steward reads it ("Floor A, row 1, seat 13").
	Seat string
	// ValidUntil is when the code stops verifying: TicketValidity after the
	// show starts.
	ValidUntil time.Time
}

type ticketClaims struct {
	Order string `json:"ord"`
	Event int64  `json:"evt"`
	Seat  string `json:"seat"`
	jwt.RegisteredClaims
}

// IssueTicket signs the code of one ticket for a show starting at startsAt.
// The code is an EdDSA JWT kept compact (no "typ" header, no iat, no jti:
// the ticket id is its subject) so its QR code stays small enough to scan
// from a phone screen.
func (r *Ring) IssueTicket(t TicketCode, startsAt time.Time) (string, error) {
	k, err := r.Signer()
	if err != nil {
		return "", err
	}
	exp := startsAt.Add(TicketValidity).Truncate(time.Second)
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, &ticketClaims{
		Order: t.OrderID,
		Event: t.EventID,
		Seat:  t.Seat,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    Issuer,
			Subject:   t.TicketID,
			Audience:  jwt.ClaimStrings{AudienceDoor},
			ExpiresAt: jwt.NewNumericDate(exp),
		},
	})
	delete(tok.Header, "typ")
	tok.Header["kid"] = k.ID
	return tok.SignedString(k.Private)
}

// VerifyTicket checks a ticket code's signature, audience and validity, as a
// door scanner does offline: a ring holding only public keys is enough.
func (r *Ring) VerifyTicket(code string, now time.Time) (TicketCode, error) {
	var c ticketClaims
	if err := r.parse(code, AudienceDoor, now, &c, jwt.SigningMethodEdDSA); err != nil {
		return TicketCode{}, err
	}
	if c.Subject == "" || c.Order == "" || c.Event <= 0 || c.Seat == "" {
		return TicketCode{}, rejected(ErrClaims)
	}
	return TicketCode{TicketID: c.Subject, OrderID: c.Order, EventID: c.Event, Seat: c.Seat, ValidUntil: c.ExpiresAt.Time}, nil
}
