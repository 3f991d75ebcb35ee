package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/ticketvelo/ticketvelo/internal/config"
	"github.com/ticketvelo/ticketvelo/internal/tokens"
)

// ticketVerifyCommand checks a ticket code the way a door scanner does:
// offline, with the public keys of the key file (a file holding only public
// keys, as a scanner would get it, works too). It never creates a key.
func ticketVerifyCommand(fs *flag.FlagSet) mainFunc {
	code := fs.String("code", "", "the ticket code, as read from the QR code of a confirmation mail")
	return func(_ context.Context, e env, cfg config.Config) error {
		if *code == "" {
			return errors.New("--code: expected the ticket code of a QR code")
		}
		data, err := os.ReadFile(cfg.KeyPath())
		if err != nil {
			return fmt.Errorf("reading the keys that verify ticket codes: %w", err)
		}
		keys, err := tokens.ParsePEM(data)
		if err != nil {
			return fmt.Errorf("key file %s: %w", cfg.KeyPath(), err)
		}
		ring, err := tokens.NewRing(keys...)
		if err != nil {
			return err
		}
		t, err := ring.VerifyTicket(*code, time.Now())
		if err != nil {
			return fmt.Errorf("ticket code refused: %w", err)
		}
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{
			"valid": true, "ticket_id": t.TicketID, "order_id": t.OrderID, "event_id": t.EventID,
			"seat": t.Seat, "valid_until": t.ValidUntil.UTC().Format(time.RFC3339),
		})
	}
}
