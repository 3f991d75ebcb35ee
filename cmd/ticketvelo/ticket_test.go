package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ticketvelo/ticketvelo/internal/tokens"
)

func TestTicketVerifyChecksCodesOffline(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ring, err := tokens.LoadOrCreate(filepath.Join(dir, "keys.pem"))
	if err != nil {
		t.Fatal(err)
	}
	want := tokens.TicketCode{TicketID: "t-1", OrderID: "o-1", EventID: 9, Seat: "Floor A, row 1, seat 2"}
	code, err := ring.IssueTicket(want, time.Now().Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	getenv := func(string) string { return "" }

	var out, errOut bytes.Buffer
	if err := run(t.Context(), []string{"ticket", "verify", "--data-dir", dir, "--code", code}, &out, &errOut, getenv); err != nil {
		t.Fatalf("verifying a genuine code: %v (%s)", err, errOut.String())
	}
	var got struct {
		Valid    bool   `json:"valid"`
		TicketID string `json:"ticket_id"`
		Seat     string `json:"seat"`
		EventID  int64  `json:"event_id"`
	}
	if err := json.Unmarshal(out.Bytes(), &got); err != nil || !got.Valid || got.TicketID != want.TicketID || got.Seat != want.Seat || got.EventID != 9 {
		t.Errorf("ticket verify printed %s (%v), want the ticket %+v", out.String(), err, want)
	}

	forged := code[:len(code)-4] + "AAAA"
	err = run(t.Context(), []string{"ticket", "verify", "--data-dir", dir, "--code", forged}, &out, &errOut, getenv)
	if err == nil || !strings.Contains(err.Error(), "token_signature") {
		t.Errorf("verifying a forged code: %v, want a token_signature refusal", err)
	}
	err = run(t.Context(), []string{"ticket", "verify", "--data-dir", t.TempDir(), "--code", code}, &out, &errOut, getenv)
	if err == nil || !strings.Contains(err.Error(), "reading the keys") {
		t.Errorf("verifying without a key file: %v, want a clear error (and no key created)", err)
	}
}
