package deploy

import (
	"net"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// promConfig is the part of prometheus.yml these checks read; readYAML
// decodes strictly, so a key Prometheus would not know fails here too.
type promConfig struct {
	Global struct {
		ScrapeInterval     string            `yaml:"scrape_interval"`
		ScrapeTimeout      string            `yaml:"scrape_timeout"`
		EvaluationInterval string            `yaml:"evaluation_interval"`
		ExternalLabels     map[string]string `yaml:"external_labels"`
	} `yaml:"global"`
	RuleFiles     []string `yaml:"rule_files"`
	ScrapeConfigs []struct {
		JobName       string `yaml:"job_name"`
		StaticConfigs []struct {
			Targets []string `yaml:"targets"`
		} `yaml:"static_configs"`
		RelabelConfigs []map[string]any `yaml:"relabel_configs"`
	} `yaml:"scrape_configs"`
}

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []rule `yaml:"rules"`
	} `yaml:"groups"`
}

func prometheusConfig(t *testing.T) promConfig {
	t.Helper()
	var c promConfig
	readYAML(t, &c, "prometheus", "prometheus.yml")
	return c
}

func ruleFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	for _, pattern := range prometheusConfig(t).RuleFiles {
		matches, err := filepath.Glob(repoPath("prometheus", pattern))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, matches...)
	}
	if len(files) == 0 {
		t.Fatal("prometheus.yml's rule_files match no file")
	}
	return files
}

// rule is one alerting or recording rule of prometheus/rules.
type rule = struct {
	Alert       string            `yaml:"alert"`
	Record      string            `yaml:"record"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

// rules is every rule of every rule file.
func rules(t *testing.T) []rule {
	t.Helper()
	var all []rule
	for _, f := range ruleFiles(t) {
		rel, _ := filepath.Rel(root, f)
		var rf ruleFile
		readYAML(t, &rf, rel)
		for _, g := range rf.Groups {
			all = append(all, g.Rules...)
		}
	}
	return all
}

// TestPrometheusScrapesEveryService checks each long-running TicketVelo
// service of docker-compose.yml is a target, on its TICKETVELO_ADDR port,
// in the job named after its role (the rules and dashboards select by
// job="booker" and so on), and that nothing else is.
func TestPrometheusScrapesEveryService(t *testing.T) {
	t.Parallel()
	c := prometheusConfig(t)
	got := map[string]string{} // target -> job
	for _, sc := range c.ScrapeConfigs {
		for _, st := range sc.StaticConfigs {
			for _, target := range st.Targets {
				if _, dup := got[target]; dup {
					t.Errorf("target %s is scraped twice", target)
				}
				got[target] = sc.JobName
			}
		}
	}
	for _, s := range ticketveloServices(t, true) {
		_, port, _ := net.SplitHostPort(env(s, "TICKETVELO_ADDR"))
		target := s.Name + ":" + port
		if job, ok := got[target]; !ok {
			t.Errorf("service %s (%s) is not scraped", s.Name, target)
		} else if job != s.role {
			t.Errorf("target %s is in job %q, want %q", target, job, s.role)
		}
		delete(got, target)
	}
	delete(got, "localhost:9090") // Prometheus itself
	for target, job := range got {
		t.Errorf("job %s scrapes %s, which is no service of docker-compose.yml", job, target)
	}

	scrape, err1 := time.ParseDuration(c.Global.ScrapeInterval)
	timeout, err2 := time.ParseDuration(c.Global.ScrapeTimeout)
	if err1 != nil || err2 != nil || timeout >= scrape {
		t.Errorf("scrape_interval %q and scrape_timeout %q: want durations with the timeout shorter", c.Global.ScrapeInterval, c.Global.ScrapeTimeout)
	}
	p := project(t)
	var mounted bool
	for _, v := range p.Services["prometheus"].Volumes {
		mounted = mounted || (v.Source == repoPath("prometheus") && v.Target == "/etc/prometheus")
	}
	if !mounted {
		t.Error("the prometheus service does not mount ./prometheus at /etc/prometheus, where its --config.file and rule_files are")
	}
	if !slices.Contains(p.Services["prometheus"].Command, "--config.file=/etc/prometheus/prometheus.yml") {
		t.Errorf("prometheus command %q does not load /etc/prometheus/prometheus.yml", p.Services["prometheus"].Command)
	}
}

// TestPrometheusRules checks each alert is complete (severity, summary,
// description) and has a promtool unit test in prometheus/tests. Whether
// the expressions parse is promtool's to say (TestPromtool), and whether
// the metrics they read exist the real Prometheus's, during a drop
// (TestDashboardsAndAlertsOnALiveDrop).
func TestPrometheusRules(t *testing.T) {
	t.Parallel()
	tested := map[string]bool{}
	testFiles, _ := filepath.Glob(repoPath("prometheus", "tests", "*.yml"))
	for _, f := range testFiles {
		var tf struct {
			RuleFiles          []string `yaml:"rule_files"`
			EvaluationInterval string   `yaml:"evaluation_interval"`
			Tests              []struct {
				Name          string           `yaml:"name"`
				Interval      string           `yaml:"interval"`
				InputSeries   []map[string]any `yaml:"input_series"`
				AlertRuleTest []struct {
					Alertname string `yaml:"alertname"`
					EvalTime  string `yaml:"eval_time"`
					ExpAlerts []any  `yaml:"exp_alerts"`
				} `yaml:"alert_rule_test"`
				PromQLExprTest []map[string]any `yaml:"promql_expr_test"`
			} `yaml:"tests"`
		}
		rel, _ := filepath.Rel(root, f)
		readYAML(t, &tf, rel)
		for _, tc := range tf.Tests {
			for _, a := range tc.AlertRuleTest {
				// Only a test that expects the alert to fire proves it can.
				if len(a.ExpAlerts) > 0 {
					tested[a.Alertname] = true
				}
			}
		}
	}

	seen := map[string]bool{}
	for _, f := range ruleFiles(t) {
		rel, _ := filepath.Rel(root, f)
		var rf ruleFile
		readYAML(t, &rf, rel)
		for _, g := range rf.Groups {
			for _, r := range g.Rules {
				where := rel + ": " + r.Alert + r.Record
				if r.Record != "" {
					continue
				}
				if seen[r.Alert] {
					t.Errorf("%s: alert name used twice", where)
				}
				seen[r.Alert] = true
				if !strings.HasPrefix(r.Alert, "TicketVelo") {
					t.Errorf("%s: alert names start with TicketVelo so they sort together", where)
				}
				// An alert on a counted event (increase > 0) fires at once;
				// one that pages must have held for a while.
				if _, err := time.ParseDuration(r.For); r.For != "" && err != nil {
					t.Errorf("%s: for %q is not a duration", where, r.For)
				} else if r.For == "" && r.Labels["severity"] == "page" {
					t.Errorf("%s: pages without a `for`, so one bad scrape would wake someone", where)
				}
				if sev := r.Labels["severity"]; !slices.Contains([]string{"page", "ticket", "info"}, sev) {
					t.Errorf("%s: severity %q, want page, ticket or info", where, sev)
				}
				if r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
					t.Errorf("%s: needs a summary and a description", where)
				}
				if !tested[r.Alert] {
					t.Errorf("%s: no promtool test in prometheus/tests expects it to fire", where)
				}
			}
		}
	}
	for name := range tested {
		if !seen[name] {
			t.Errorf("prometheus/tests tests alert %s, which no rule defines", name)
		}
	}
	for _, want := range []string{"TicketVeloServiceDown", "TicketVeloNotReady", "TicketVeloHighErrorRatio", "TicketVeloBookerSlow"} {
		if !seen[want] {
			t.Errorf("alert %s is missing", want)
		}
	}
}

// TestPromtool runs Prometheus's own checker and the alert unit tests. It
// runs only where promtool is on PATH (apt-get install --no-install-recommends
// prometheus); elsewhere the checks above still parse the same files.
func TestPromtool(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool is not installed (apt-get install --no-install-recommends prometheus): config and rules were checked by the YAML tests only")
	}
	t.Parallel()
	tests, _ := filepath.Glob(repoPath("prometheus", "tests", "*.yml"))
	rules := ruleFiles(t)
	sort.Strings(rules)
	for _, args := range [][]string{
		{"check", "config", repoPath("prometheus", "prometheus.yml")},
		append([]string{"check", "rules"}, rules...),
		append([]string{"test", "rules"}, tests...),
	} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = repoPath("prometheus")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args[:2], " "), err, out)
		}
	}
}
