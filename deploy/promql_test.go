package deploy

import (
	"slices"
	"testing"
)

// TestPromQLMetrics pins down which names promqlMetrics finds, since the
// dashboard and rule checks are only as good as it is.
func TestPromQLMetrics(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, expr string
		want       []string
	}{
		{"bare selector", `up`, []string{"up"}},
		{"matchers hide label names and values", `up{job=~"gateway|booker", instance!="x"} == 0`, []string{"up"}},
		{"rate and range", `rate(ticketvelo_http_requests_total[5m])`, []string{"ticketvelo_http_requests_total"}},
		{"grouping labels are not metrics", `sum by (job, route) (rate(a_total{status=~"5.."}[2m])) / sum without (instance) (rate(b_total[2m]))`,
			[]string{"a_total", "b_total"}},
		{"postfix grouping", `sum(rate(a_total[1m])) by (le)`, []string{"a_total"}},
		{"vector matching", `a unless on (job, instance) b > 0 and ignoring (x) group_left (y) c`, []string{"a", "b", "c"}},
		{"histogram quantile", `histogram_quantile(0.99, sum by (le) (rate(h_bucket{route=~"/api/.*"}[$__rate_interval])))`, []string{"h_bucket"}},
		{"grafana variables", `sum(increase(x_total{job=~"$job"}[$__range])) offset 5m`, []string{"x_total"}},
		{"strings with braces and keywords", `count(y{route="/a/{id}/and or"})`, []string{"y"}},
		{"numbers and durations", `max(z) > 1e3 and z < 0.5 or z[5m:30s] > 2`, []string{"z"}},
		{"repeated names counted once", `a / a`, []string{"a"}},
		{"function with a space", `sum (rate (c_total[1m]))`, []string{"c_total"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := promqlMetrics(tt.expr); !slices.Equal(got, tt.want) {
				t.Errorf("promqlMetrics(%q) = %q, want %q", tt.expr, got, tt.want)
			}
		})
	}
}

func TestMetricExists(t *testing.T) {
	t.Parallel()
	for _, name := range []string{
		"ticketvelo_http_requests_total",
		"ticketvelo_http_request_duration_seconds_bucket", // a histogram's series
		"ticketvelo_http_request_duration_seconds_count",
		"go_goroutines", // written by VictoriaMetrics/metrics with the process metrics
		"up",            // added by Prometheus to every target
	} {
		if !metricExists(t, name) {
			t.Errorf("metricExists(%s) = false, want true", name)
		}
	}
	for _, name := range []string{"ticketvelo_no_such_metric", "ticketvelo_http_requests", "http_requests_total", "ticketvelo_http_requests_total_bucket"} {
		if metricExists(t, name) {
			t.Errorf("metricExists(%s) = true, want false", name)
		}
	}
}
