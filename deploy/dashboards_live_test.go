package deploy

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql/parser"

	"github.com/ticketvelo/ticketvelo/internal/testenv"
)

// TestDashboardsAndAlertsOnALiveDrop runs Debian's prometheus against the
// real services split into processes during a drop, and asks it what the
// dashboards and alerts would show: every panel query (its template
// variables filled in from label_values) returns series, every metric an
// alert reads exists and every rule evaluates cleanly; the 409 panel
// rises when many fans go for the same few seats; a stuck outbox and a
// booker down fire their alerts. It also pipes each service's real
// /metrics through promtool check metrics.
func TestDashboardsAndAlertsOnALiveDrop(t *testing.T) {
	t.Parallel()
	s := startSystem(t)
	prom := startPrometheus(t, s)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.probe(ctx)

	for role, addr := range s.addrs {
		res, err := httpGet(ctx, "http://"+addr+"/metrics")
		if err != nil {
			t.Fatal(err)
		}
		t.Run("exposition of "+role, func(t *testing.T) { testenv.CheckExposition(t, res.body) })
	}

	from := time.Now()
	s.drop(t, "--fans", "300", "--seats", "150", "--prequeue", "2s", "--arrivals", "3s",
		"--rate", "200", "--max-active", "100", "--max-tickets", "3", "--max-poll", "300ms", "--timeout", "60s")
	time.Sleep(2 * time.Second) // the last scrape and rule evaluation of the drop
	to := time.Now()
	checkPanels(t, prom, from, to)
	checkRules(t, prom, from, to)

	// A stuck outbox: the broker goes away, then a hot-seat burst makes
	// orders whose events cannot leave, and 409s as many fans go for the
	// same few seats at once.
	s.broker.stop(syscall.SIGKILL)
	// Past the first drop's last 409s and the 4 s rate window after them.
	time.Sleep(time.Until(to.Add(3 * time.Second)))
	quiet := time.Now()
	s.drop(t, "--fans", "200", "--seats", "12", "--prequeue", "1s", "--arrivals", "1s",
		"--rate", "1000", "--max-active", "200", "--max-tickets", "2", "--max-poll", "200ms", "--timeout", "40s")
	check409Rises(t, prom, quiet, time.Now().Add(2*time.Second))
	waitFiring(t, prom, "TicketVeloOutboxPublishFailing", "booker", 40*time.Second)

	s.booker.stop(syscall.SIGKILL)
	waitFiring(t, prom, "TicketVeloTargetDown", "booker", 20*time.Second)
	waitFiring(t, prom, "TicketVeloServiceDown", "booker", 20*time.Second)
}

// grafanaVars are Grafana's built-in variables as a test evaluates them:
// the scrape interval is a second, so $__rate_interval is four.
func grafanaVars(from, to time.Time) map[string]string {
	return map[string]string{
		"$__rate_interval": "4s",
		"$__interval":      "1s",
		"$__range":         fmt.Sprintf("%ds", int(to.Sub(from).Seconds())),
	}
}

// substitute fills the variables into expr, the longest names first so
// $instance is not read as $i followed by nstance.
func substitute(expr string, vars map[string]string) string {
	for range len(vars) {
		longest := ""
		for name := range vars {
			if strings.Contains(expr, name) && len(name) > len(longest) {
				longest = name
			}
		}
		if longest == "" {
			break
		}
		expr = strings.ReplaceAll(expr, longest, vars[longest])
	}
	return expr
}

// checkPanels evaluates every query of every dashboard over the drop.
func checkPanels(t *testing.T, prom *promAPI, from, to time.Time) {
	t.Helper()
	for file, d := range dashboards(t) {
		vars := grafanaVars(from, to)
		for _, v := range d.Templating.List {
			m := labelValues.FindStringSubmatch(v.Definition)
			if v.Type != "query" || m == nil {
				t.Errorf("%s: variable %s: want a label_values(selector, label) query, got %q", file, v.Name, v.Definition)
				continue
			}
			label := m[2]
			values, err := prom.labelValues(substitute(m[1], vars), label, from, to)
			if err != nil || len(values) == 0 {
				t.Errorf("%s: variable %s has no values during the drop (%v)", file, v.Name, err)
			}
			for i, val := range values {
				// Escaped for the regex, then for PromQL's double-quoted string.
				values[i] = strings.ReplaceAll(regexp.QuoteMeta(val), `\`, `\\`)
			}
			vars["$"+v.Name] = strings.Join(values, "|") // as Grafana fills a multi-value variable in a regex
		}
		for _, p := range allPanels(d) {
			for _, q := range p.Targets {
				expr := substitute(q.Expr, vars)
				got, err := prom.rangeQuery(expr, from, to)
				if err != nil || len(got) == 0 {
					t.Errorf("%s: panel %q query %s returned no series during the drop (%v): %s", file, p.Title, q.RefID, err, expr)
				}
			}
		}
	}
}

// allPanels is the dashboard's panels, those in collapsed rows included.
func allPanels(d dashboard) []panel {
	var all []panel
	for _, p := range d.Panels {
		all = append(all, p)
		all = append(all, p.Panels...)
	}
	return all
}

// checkRules checks each rule evaluated without error during the drop and
// each metric it reads had series: thresholds are for faults, but what they
// watch must be there when all is well.
func checkRules(t *testing.T, prom *promAPI, from, to time.Time) {
	t.Helper()
	health, err := prom.ruleHealth()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rules(t) {
		name := r.Alert + r.Record
		if h := health[name]; h != "ok " {
			t.Errorf("rule %s: health %q during the drop, want ok", name, h)
		}
		expr, err := parser.ParseExpr(r.Expr)
		if err != nil {
			t.Errorf("rule %s: %v", name, err)
			continue
		}
		parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
			vs, ok := n.(*parser.VectorSelector)
			if !ok {
				return nil
			}
			got, err := prom.rangeQuery(fmt.Sprintf(`count({__name__=%q})`, vs.Name), from, to)
			if err != nil || len(got) == 0 {
				t.Errorf("rule %s reads %s, which had no series during the drop (%v)", name, vs.Name, err)
			}
			return nil
		})
	}
}

// check409Rises checks the dashboard's hold panel shows 409s during the
// burst in (quiet, to] and none at quiet, after the first drop ended.
func check409Rises(t *testing.T, prom *promAPI, quiet, to time.Time) {
	t.Helper()
	time.Sleep(time.Until(to))
	var expr string
	for _, d := range dashboards(t) {
		for _, p := range allPanels(d) {
			if p.Title == "Hold requests by status" && len(p.Targets) > 0 {
				expr = substitute(p.Targets[0].Expr, grafanaVars(quiet, to))
			}
		}
	}
	if expr == "" {
		t.Fatal(`no panel "Hold requests by status"`)
	}
	peak := func(from, to time.Time) float64 {
		got, err := prom.rangeQuery(expr, from, to)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range got {
			if s.Metric["status"] == "409" {
				return s.max()
			}
		}
		return 0
	}
	before, during := peak(quiet, quiet), peak(quiet.Add(time.Second), to)
	t.Logf("409 holds/s on the dashboard: %.1f before the burst, %.1f at its peak", before, during)
	if during <= before || during < 1 {
		t.Errorf("the 409 panel did not rise in the hot-seat burst: %.2f/s before, %.2f/s during", before, during)
	}
}

// waitFiring waits until the alert name fires for job.
func waitFiring(t *testing.T, prom *promAPI, name, job string, within time.Duration) {
	t.Helper()
	start := time.Now()
	testenv.Eventually(t, within, func() error {
		alerts, err := prom.alerts()
		if err != nil {
			return err
		}
		for _, a := range alerts {
			if a.Labels["alertname"] == name && a.Labels["job"] == job && a.State == "firing" {
				return nil
			}
		}
		return fmt.Errorf("%s is not firing for job %s; alerts: %v", name, job, alerts)
	})
	t.Logf("%s fired for %s after %s", name, job, time.Since(start).Round(100*time.Millisecond))
}
