package gateway_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ticketvelo/ticketvelo/internal/textfield"
)

// TestTextFieldsRefuseControlCharacters: free text a client sends is
// stored and shown in pages and mail, so a control character, a line
// break or text that is not UTF-8 is a 422 naming the field, never a 500
// from Postgres (which refuses NUL) and never stored.
func TestTextFieldsRefuseControlCharacters(t *testing.T) {
	t.Parallel()
	e := newEdge(t, edgeOptions{cfg: noLimits})
	ops := e.opsToken(t)
	e.event(t, 10, time.Now().Add(time.Hour)) // makes a venue
	venues := e.call(t, "GET", "/api/v1/admin/venues", ops, nil)
	venueID := venues.get("venues").([]any)[0].(map[string]any)["id"]
	starts := time.Now().Add(30 * 24 * time.Hour).UTC().Format(time.RFC3339)
	opens := time.Now().UTC().Format(time.RFC3339)
	event := func(name string) map[string]any {
		return map[string]any{"venue_id": venueID, "name": name, "starts_at": starts, "sale_opens_at": opens, "max_tickets_per_fan": 2}
	}
	account := func(name string) map[string]any {
		return map[string]any{"email": "fan@example.com", "password": "a long passphrase", "name": name}
	}
	bad := map[string]string{
		"NUL":                    "Night\x00Show",
		"CR LF":                  "Night\r\nBcc: evil@example.com",
		"lone LF":                "Night\nShow",
		"tab":                    "Night\tShow",
		"escape":                 "Night\x1b[31mShow",
		"DEL":                    "Night\x7fShow",
		"C1 next line":           "Night\u0085Show",
		"line separator":         "Night\u2028Show",
		"right-to-left override": "Night\u202eShow",
		"only spaces":            "   ",
	}
	for what, text := range bad {
		if r := e.call(t, "POST", "/api/v1/admin/events", ops, event(text)); r.status != 422 || r.code() != "invalid_field" || r.str("error", "details", "field") != "name" {
			t.Errorf("event name with %s: got %d %s, want 422 invalid_field on name", what, r.status, r.raw)
		}
		if r := e.call(t, "POST", "/api/v1/auth/register", "", account(text)); r.status != 422 || r.code() != "invalid_field" || r.str("error", "details", "field") != "name" {
			t.Errorf("user name with %s: got %d %s, want 422 invalid_field on name", what, r.status, r.raw)
		}
	}
	// Raw bytes that are not UTF-8, and a lone surrogate (both of which
	// the JSON decoder would make U+FFFD), are refused, not stored.
	for _, bad := range []string{"Night\xff\xfe", `Night\ud800`} {
		raw := `{"venue_id":` + fmt.Sprint(venueID) + `,"name":"` + bad + `","starts_at":"` + starts + `","sale_opens_at":"` + opens + `","max_tickets_per_fan":2}`
		if r := e.call(t, "POST", "/api/v1/admin/events", ops, raw); r.status != 400 && r.status != 422 {
			t.Errorf("event name %q: %d %s, want 400 or 422", bad, r.status, r.raw)
		}
	}

	good := "Zoë & the Bänd — Live 🎫 (2027)"
	if r := e.call(t, "POST", "/api/v1/admin/events", ops, event("  "+good+" ")); r.status != 201 || r.str("event", "name") != good {
		t.Errorf("event name %q: got %d %s, want 201 with the name trimmed", good, r.status, r.raw)
	}
	if r := e.call(t, "POST", "/api/v1/auth/register", "", account(good)); r.status != 201 || r.str("user", "name") != good {
		t.Errorf("user name %q: got %d %s, want 201", good, r.status, r.raw)
	}
	for _, table := range []string{"events", "users"} {
		rows, err := e.pool.Query(t.Context(), `SELECT name FROM `+table)
		if err != nil {
			t.Fatal(err)
		}
		names, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			if strings.ContainsFunc(n, textfield.Forbidden) {
				t.Errorf("%s holds the name %q", table, n)
			}
		}
	}
}
