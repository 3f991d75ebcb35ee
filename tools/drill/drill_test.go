package drill

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ticketvelo/ticketvelo/tools/apiclient"
)

func TestRecoveryIsTheLastFailureAfterTheFault(t *testing.T) {
	fault := time.Unix(100, 0)
	at := func(s float64) time.Time { return fault.Add(time.Duration(s * float64(time.Second))) }
	cases := []struct {
		name     string
		failures []time.Time
		want     time.Duration
	}{
		{"none", nil, 0},
		{"only before the fault", []time.Time{at(-3), at(-1)}, 0},
		{"the last one of the burst counts", []time.Time{at(-1), at(4.5), at(0.2), at(2)}, 4500 * time.Millisecond},
		{"a failure after a quiet spell is not the fault's", []time.Time{at(0.5), at(2.5), at(9)}, 2500 * time.Millisecond},
		{"the first failure may come late", []time.Time{at(3.5), at(4)}, 4 * time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := recovery(tc.failures, fault); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
	if got := recovery([]time.Time{at(1)}, time.Time{}); got != 0 {
		t.Errorf("no fault struck: got %s, want 0", got)
	}
}

func TestParseMetricsSumsSeriesByName(t *testing.T) {
	m := sumByName(apiclient.ParseMetrics(strings.NewReader(`# HELP go_goroutines Number of goroutines
go_goroutines 57
ticketvelo_notifier_consumer_lag{partition="0"} 3
ticketvelo_notifier_consumer_lag{partition="1"} 4
process_resident_memory_bytes 1.2e+08
bad line
`)))
	if m["go_goroutines"] != 57 || m["ticketvelo_notifier_consumer_lag"] != 7 || m["process_resident_memory_bytes"] != 1.2e8 {
		t.Errorf("got %v", m)
	}
}

// TestMailWatchCountsEachDelivery writes mail files as the notifier does
// (a temporary file renamed over the Message-ID's name) and checks that a
// second delivery, in the same directory or the other notifier's, counts.
func TestMailWatchCountsEachDelivery(t *testing.T) {
	one, two := t.TempDir(), t.TempDir()
	deliver := func(dir, order string) {
		t.Helper()
		tmp := filepath.Join(dir, ".mail-tmp")
		if err := os.WriteFile(tmp, []byte("mail"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, "confirmed."+order+"@ticketvelo.local.eml")); err != nil {
			t.Fatal(err)
		}
	}
	w := newMailWatch([]string{one, two, filepath.Join(one, "missing")})
	deliver(one, "a")
	deliver(one, "b")
	deliver(one, "c")
	w.scan()
	w.scan() // an unchanged file is not counted again
	deliver(one, "b")
	deliver(two, "c")
	if err := os.WriteFile(filepath.Join(one, "canceled.d@ticketvelo.local.eml"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	w.scan()
	for order, want := range map[string]int{"a": 1, "b": 2, "c": 2} {
		if d, ok := w.of(order); !ok || d.copies != want {
			t.Errorf("order %s: got %d copies (seen %v), want %d", order, d.copies, ok, want)
		}
	}
	if _, ok := w.of("d"); ok {
		t.Error("a cancellation mail counted as a confirmation")
	}
}
