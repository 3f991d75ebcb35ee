package tokens_test

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ticketvelo/ticketvelo/internal/tokens"
)

func newRing(tb testing.TB) (*tokens.Ring, tokens.Key) {
	tb.Helper()
	k, err := tokens.GenerateKey()
	if err != nil {
		tb.Fatal(err)
	}
	r, err := tokens.NewRing(k)
	if err != nil {
		tb.Fatal(err)
	}
	return r, k
}

// scannerRing is what a door scanner holds: the public key only, read from
// PEM as it would be from a file.
func scannerRing(tb testing.TB, k tokens.Key) *tokens.Ring {
	tb.Helper()
	block, err := tokens.EncodePEM(tokens.Key{ID: k.ID, Public: k.Public})
	if err != nil {
		tb.Fatal(err)
	}
	keys, err := tokens.ParsePEM(block)
	if err != nil {
		tb.Fatal(err)
	}
	r, err := tokens.NewRing(keys...)
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

var (
	showStart = time.Date(2027, 3, 14, 19, 30, 0, 0, time.UTC)
	issuedAt  = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	ticket    = tokens.TicketCode{
		TicketID: "0b8f7f57-8a4e-4b5e-9d41-3f1f0c2a6e11",
		OrderID:  "6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f",
		EventID:  42,
		Seat:     "Floor A, row 1, seat 13",
	}
)

func TestTicketCodeVerifiesOfflineWithThePublicKey(t *testing.T) {
	t.Parallel()
	signer, k := newRing(t)
	code, err := signer.IssueTicket(ticket, showStart)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("ticket code: %d characters", len(code))
	if len(code) > 400 {
		t.Errorf("code is %d characters, want at most 400 so the QR code stays small", len(code))
	}
	got, err := scannerRing(t, k).VerifyTicket(code, showStart.Add(-time.Hour))
	if err != nil {
		t.Fatalf("verifying with the public key: %v", err)
	}
	want := ticket
	want.ValidUntil = showStart.Add(tokens.TicketValidity)
	if !got.ValidUntil.Equal(want.ValidUntil) {
		t.Errorf("ValidUntil = %v, want %v", got.ValidUntil, want.ValidUntil)
	}
	got.ValidUntil = want.ValidUntil
	if got != want {
		t.Errorf("VerifyTicket = %+v, want %+v", got, want)
	}
}

func TestTicketCodeRejections(t *testing.T) {
	t.Parallel()
	signer, k := newRing(t)
	other, _ := newRing(t)
	scanner := scannerRing(t, k)
	code, err := signer.IssueTicket(ticket, showStart)
	if err != nil {
		t.Fatal(err)
	}
	forged, err := other.IssueTicket(ticket, showStart)
	if err != nil {
		t.Fatal(err)
	}
	admission, _, err := signer.IssueAdmission(7, 1, time.Hour, issuedAt)
	if err != nil {
		t.Fatal(err)
	}
	access, _, err := signer.IssueAccess(7, tokens.RoleFan, time.Hour, issuedAt)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(code, ".")
	seatSwapped := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"ord":"x","evt":42,"seat":"Royal box","iss":"ticketvelo","sub":"t","aud":["door"],"exp":4102444800}`)) + "." + parts[2]
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + "."
	noSeat, err := signer.IssueTicket(tokens.TicketCode{TicketID: "t", OrderID: "o", EventID: 1}, showStart)
	if err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name string
		code string
		now  time.Time
		want error
	}{
		{"empty", "", issuedAt, tokens.ErrMissing},
		{"garbage", "not-a-ticket", issuedAt, tokens.ErrMalformed},
		{"signed by another key", forged, issuedAt, tokens.ErrKid},
		{"seat swapped after signing", seatSwapped, issuedAt, tokens.ErrSignature},
		{"alg none", none, issuedAt, tokens.ErrAlg},
		{"a day after the show", code, showStart.Add(tokens.TicketValidity + time.Second), tokens.ErrExpired},
		// The door has public keys only: it cannot check an HS256 access
		// token, which is no kind of token it takes.
		{"access token shown at the door", access, issuedAt, tokens.ErrAlg},
		{"admission token shown at the door", admission, issuedAt, tokens.ErrAudience},
		{"missing seat", noSeat, issuedAt, tokens.ErrClaims},
		{"oversized", strings.Repeat("a", 5000), issuedAt, tokens.ErrMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := scanner.VerifyTicket(c.code, c.now)
			if !errors.Is(err, c.want) {
				t.Errorf("VerifyTicket error = %v, want %v", err, c.want)
			}
		})
	}

	t.Run("ticket code is no access token", func(t *testing.T) {
		if _, err := signer.VerifyAccess(code, issuedAt); !errors.Is(err, tokens.ErrAudience) {
			t.Errorf("VerifyAccess(ticket code) error = %v, want %v", err, tokens.ErrAudience)
		}
	})
}

// FuzzVerifyTicket feeds the scanner arbitrary codes: it must never panic,
// and whatever it accepts must carry every claim a steward needs.
func FuzzVerifyTicket(f *testing.F) {
	signer, _ := newRing(f)
	code, err := signer.IssueTicket(ticket, showStart)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(code)
	f.Fuzz(func(t *testing.T, code string) {
		got, err := signer.VerifyTicket(code, issuedAt)
		if err != nil {
			return
		}
		if got.TicketID == "" || got.OrderID == "" || got.EventID <= 0 || got.Seat == "" || got.ValidUntil.IsZero() {
			t.Errorf("accepted a code with missing claims: %+v", got)
		}
	})
}
