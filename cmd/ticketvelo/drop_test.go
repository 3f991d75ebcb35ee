package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// TestDropSellsOutWithoutOverselling runs the drop simulator against the
// real program: more fans than seats, arriving before and after the
// opening. The simulator itself fails when Postgres shows a seat sold twice,
// sold seats that don't match tickets, or a 5xx.
func TestDropSellsOutWithoutOverselling(t *testing.T) {
	t.Parallel()
	_, report := startAndDrop(t, "--fans", "400", "--seats", "150", "--prequeue", "2s", "--arrivals", "4s",
		"--rate", "200", "--max-active", "100", "--max-tickets", "3", "--max-poll", "300ms", "--timeout", "90s")
	for _, want := range []string{"seats sold: 150 ", "sold out", "invariants: OK", "server errors (5xx other than 503): 0"} {
		if !strings.Contains(report, want) {
			t.Errorf("the report lacks %q", want)
		}
	}
}

// startAndDrop runs 'all' in a world of its own, without the demo data, then
// a drop against it with the given flags, and returns the drop's report.
func startAndDrop(t *testing.T, flags ...string) (*world, string) {
	t.Helper()
	w := newWorld(t)
	w.env["TICKETVELO_SEED"] = "false"
	w.start(t, "all")
	w.waitReady(t, 30*time.Second)
	var out bytes.Buffer
	err := run(t.Context(), append([]string{"drop", "--target", w.base}, flags...), &out, &lockedWriter{w: &bytes.Buffer{}}, w.getenv)
	t.Log("\n" + out.String())
	if err != nil {
		t.Fatalf("drop: %v", err)
	}
	return w, out.String()
}
