package promtext_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/VictoriaMetrics/metrics"

	"github.com/ticketvelo/ticketvelo/internal/promtext"
	"github.com/ticketvelo/ticketvelo/internal/testenv"
)

func TestWriteGivesEveryFamilyItsHelpAndType(t *testing.T) {
	metrics.NewCounter(promtext.Help("promtext_test_events_total", "Events the test counted.")).Add(3)
	metrics.GetOrCreateGauge(promtext.Help("promtext_test_depth", "Depth the test set.")+`{queue="a"}`, nil).Set(2)
	metrics.NewPrometheusHistogram(promtext.Help("promtext_test_wait_seconds", "Waits the test timed.")).Update(0.2)
	var buf bytes.Buffer
	if err := promtext.Write(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"# HELP promtext_test_events_total Events the test counted.\n# TYPE promtext_test_events_total counter\npromtext_test_events_total 3\n",
		"# HELP promtext_test_depth Depth the test set.\n# TYPE promtext_test_depth gauge\n",
		"# TYPE promtext_test_wait_seconds histogram\n",
		"# TYPE process_io_read_bytes_total counter\n", // mended from the library's gauge
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the exposition lacks %q", want)
		}
	}
	if strings.Contains(out, "go_cgo_calls_count") {
		t.Error("go_cgo_calls_count, a counter named like a histogram's count, is still written")
	}
	testenv.CheckExposition(t, buf.Bytes())
}

func TestHelpTwicePanics(t *testing.T) {
	promtext.Help("promtext_test_once_total", "Once.")
	defer func() {
		if recover() == nil {
			t.Error("describing a family twice did not panic")
		}
	}()
	promtext.Help("promtext_test_once_total{x=\"y\"}", "Again.")
}
