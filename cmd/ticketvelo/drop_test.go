package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/ticketvelo/ticketvelo/internal/testenv"
)

// TestDropSellsOutWithoutOverselling runs the drop simulator against the
// real program: more fans than seats, arriving before and after the
// opening. The simulator itself fails when Postgres shows a seat sold twice,
// sold seats that don't match tickets, or a 5xx.
func TestDropSellsOutWithoutOverselling(t *testing.T) {
	t.Parallel()
	_, report := startAndDrop(t, "--fans", "400", "--seats", "150", "--prequeue", "2s", "--arrivals", "4s",
		"--rate", "200", "--max-active", "100", "--max-tickets", "3", "--max-poll", "300ms", "--timeout", "90s")
	for _, want := range []string{"seats sold: 150 ", "sold out", "invariants: OK", "measured on the server's admission order", "server errors (5xx other than 503): 0"} {
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

// TestDropThroughAPostgresOutage cuts the program's PostgreSQL away for
// three seconds just after the sale opens, as a restart would, while 400
// fans buy 150 seats. The fans meet 503s, send them again after
// Retry-After with the same keys, and still sell the event out: no 500, no
// seat sold twice, every fan told they bought has an order, and nothing
// was restarted.
func TestDropThroughAPostgresOutage(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.env["TICKETVELO_SEED"] = "false"
	// The program reaches Postgres through the proxy; the simulator, an
	// operator's tool making fans and checking the outcome, does not.
	url, proxy := testenv.ProxyPostgres(t, w.env["DATABASE_URL"])
	w.startWith(t, map[string]string{"DATABASE_URL": url}, "all")
	w.waitReady(t, 30*time.Second)
	go func() {
		time.Sleep(2500 * time.Millisecond) // the drop prepares, the sale opens 2 s in
		proxy.Cut()
		time.Sleep(3 * time.Second)
		if err := proxy.Restore(); err != nil {
			t.Error(err)
		}
	}()
	var out bytes.Buffer
	err := run(t.Context(), []string{"drop", "--target", w.base, "--fans", "400", "--seats", "150", "--prequeue", "2s", "--arrivals", "4s",
		"--rate", "200", "--max-active", "100", "--max-tickets", "3", "--max-poll", "300ms", "--timeout", "90s"},
		&out, &lockedWriter{w: &bytes.Buffer{}}, w.getenv)
	report := out.String()
	t.Log("\n" + report)
	if err != nil {
		t.Fatalf("drop: %v", err)
	}
	for _, want := range []string{"seats sold: 150 ", "invariants: OK", "server errors (5xx other than 503): 0"} {
		if !strings.Contains(report, want) {
			t.Errorf("the report lacks %q", want)
		}
	}
	if strings.Contains(report, "unavailable (503, sent again after Retry-After): 0\n") {
		t.Errorf("no 503 in the report: the outage was not felt")
	}
}
