package deploy

import (
	"bytes"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/promql/parser"
)

type grafanaDatasources struct {
	APIVersion  int `yaml:"apiVersion"`
	Datasources []struct {
		Name      string         `yaml:"name"`
		UID       string         `yaml:"uid"`
		Type      string         `yaml:"type"`
		Access    string         `yaml:"access"`
		URL       string         `yaml:"url"`
		IsDefault bool           `yaml:"isDefault"`
		Editable  bool           `yaml:"editable"`
		JSONData  map[string]any `yaml:"jsonData"`
	} `yaml:"datasources"`
}

type grafanaProviders struct {
	APIVersion int `yaml:"apiVersion"`
	Providers  []struct {
		Name                  string `yaml:"name"`
		Folder                string `yaml:"folder"`
		Type                  string `yaml:"type"`
		DisableDeletion       bool   `yaml:"disableDeletion"`
		AllowUIUpdates        bool   `yaml:"allowUiUpdates"`
		UpdateIntervalSeconds int    `yaml:"updateIntervalSeconds"`
		Options               struct {
			Path                      string `yaml:"path"`
			FoldersFromFilesStructure bool   `yaml:"foldersFromFilesStructure"`
		} `yaml:"options"`
	} `yaml:"providers"`
}

// The dashboard JSON, as much of it as the checks read.
type dashboard struct {
	UID, Title    string
	SchemaVersion int
	Panels        []panel
	Templating    struct {
		List []struct {
			Name       string
			Type       string
			Datasource *datasourceRef
			Query      json.RawMessage
			Definition string
		}
	}
}

type panel struct {
	ID          int
	Type        string
	Title       string
	Description string
	GridPos     struct{ H, W, X, Y int }
	Datasource  *datasourceRef
	Targets     []struct {
		RefID      string `json:"refId"`
		Expr       string
		Datasource *datasourceRef
	}
	Panels []panel // a collapsed row's panels
}

type datasourceRef struct{ Type, UID string }

// labelValues reads Grafana's label_values(selector, label).
var labelValues = regexp.MustCompile(`^label_values\((.+),\s*(\w+)\)$`)

// provisionedDatasource is the one datasource Grafana is given.
func provisionedDatasource(t *testing.T) (uid, typ string) {
	t.Helper()
	var ds grafanaDatasources
	readYAML(t, &ds, "grafana", "provisioning", "datasources", "prometheus.yml")
	if len(ds.Datasources) != 1 {
		t.Fatalf("want one provisioned datasource, got %d", len(ds.Datasources))
	}
	return ds.Datasources[0].UID, ds.Datasources[0].Type
}

func TestGrafanaDatasource(t *testing.T) {
	t.Parallel()
	var ds grafanaDatasources
	readYAML(t, &ds, "grafana", "provisioning", "datasources", "prometheus.yml")
	d := ds.Datasources[0]
	if ds.APIVersion != 1 || d.Type != "prometheus" || d.UID == "" || d.Access != "proxy" || !d.IsDefault {
		t.Errorf("datasource %+v: want apiVersion 1, a default prometheus datasource with a fixed uid, accessed through Grafana (proxy)", d)
	}
	u, err := url.Parse(d.URL)
	if err != nil || u.Hostname() != "prometheus" || u.Port() != "9090" {
		t.Errorf("datasource url %q, want the prometheus service on 9090", d.URL)
	}
	if p := mustService(t, "prometheus"); len(p.Ports) == 0 || p.Ports[0].Target != 9090 {
		t.Errorf("the prometheus service does not serve on 9090: %+v", p.Ports)
	}
	// $__rate_interval is four times this; it must be the real scrape
	// interval or rate() windows hold too few samples.
	if got, want := d.JSONData["timeInterval"], prometheusConfig(t).Global.ScrapeInterval; got != want {
		t.Errorf("datasource timeInterval %v, want Prometheus's scrape_interval %s", got, want)
	}
}

func TestGrafanaMounts(t *testing.T) {
	t.Parallel()
	var pr grafanaProviders
	readYAML(t, &pr, "grafana", "provisioning", "dashboards", "ticketvelo.yml")
	if len(pr.Providers) != 1 || pr.Providers[0].Type != "file" {
		t.Fatalf("want one file provider, got %+v", pr.Providers)
	}
	mounts := map[string]string{}
	g := mustService(t, "grafana")
	for _, v := range g.Volumes {
		mounts[v.Target] = v.Source
	}
	if mounts["/etc/grafana/provisioning"] != repoPath("grafana", "provisioning") {
		t.Errorf("grafana mounts %q at /etc/grafana/provisioning, want ./grafana/provisioning", mounts["/etc/grafana/provisioning"])
	}
	path := pr.Providers[0].Options.Path
	if mounts[path] != repoPath("grafana", "dashboards") {
		t.Errorf("the dashboard provider reads %s, where grafana mounts %q; want ./grafana/dashboards there", path, mounts[path])
	}
	home := env(g, "GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH")
	if rel, ok := strings.CutPrefix(home, path+"/"); !ok {
		t.Errorf("home dashboard %q is not under the provider's path %s", home, path)
	} else if _, err := os.Stat(repoPath("grafana", "dashboards", rel)); err != nil {
		t.Errorf("home dashboard: %v", err)
	}
}

func dashboards(t *testing.T) map[string]dashboard {
	t.Helper()
	files, err := filepath.Glob(repoPath("grafana", "dashboards", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no dashboards in grafana/dashboards: %v", err)
	}
	out := map[string]dashboard{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d dashboard
		dec := json.NewDecoder(bytes.NewReader(data))
		if err := dec.Decode(&d); err != nil {
			t.Fatalf("%s is not valid dashboard JSON: %v", filepath.Base(f), err)
		}
		out[filepath.Base(f)] = d
	}
	return out
}

// placeholderVars stand in for Grafana's variables when a query is only
// parsed; TestDashboardsAndAlertsOnALiveDrop fills in the real values.
var placeholderVars = map[string]string{
	"$__rate_interval": "1m", "$__interval": "15s", "$__range": "1h", "$job": ".*", "$instance": ".*",
}

// TestGrafanaDashboards checks each dashboard file: identity, layout, and
// that every query runs against the provisioned datasource and parses as
// Prometheus's own parser (of the version Debian ships) reads PromQL.
// Whether the queries return series is asked of a real Prometheus in
// TestDashboardsAndAlertsOnALiveDrop.
func TestGrafanaDashboards(t *testing.T) {
	t.Parallel()
	uid, typ := provisionedDatasource(t)
	uids := map[string]string{}
	for file, d := range dashboards(t) {
		if d.UID == "" || d.Title == "" || d.SchemaVersion < 30 {
			t.Errorf("%s: needs a uid, a title and a current schemaVersion (got %q, %q, %d)", file, d.UID, d.Title, d.SchemaVersion)
		}
		if other, dup := uids[d.UID]; dup {
			t.Errorf("%s and %s share uid %s", file, other, d.UID)
		}
		uids[d.UID] = file
		checkDatasource := func(where string, ref *datasourceRef) {
			if ref == nil || ref.UID != uid || ref.Type != typ {
				t.Errorf("%s: datasource %+v, want the provisioned %s %q", where, ref, typ, uid)
			}
		}
		for _, v := range d.Templating.List {
			if v.Type != "query" {
				continue
			}
			checkDatasource(file+": variable "+v.Name, v.Datasource)
			m := labelValues.FindStringSubmatch(v.Definition)
			if m == nil {
				t.Errorf("%s: variable %s: want label_values(selector, label), got %q", file, v.Name, v.Definition)
				continue
			}
			if _, err := parser.ParseMetricSelector(substitute(m[1], placeholderVars)); err != nil {
				t.Errorf("%s: variable %s: %v", file, v.Name, err)
			}
		}
		ids := map[int]bool{}
		var all []panel
		for _, p := range d.Panels {
			all = append(all, p)
			all = append(all, p.Panels...)
		}
		for _, p := range all {
			where := file + ": panel " + p.Title
			if p.ID == 0 || ids[p.ID] {
				t.Errorf("%s: id %d is missing or used twice", where, p.ID)
			}
			ids[p.ID] = true
			g := p.GridPos
			if g.W < 1 || g.H < 1 || g.X < 0 || g.X+g.W > 24 || g.Y < 0 {
				t.Errorf("%s: gridPos %+v is off the 24-column grid", where, g)
			}
			if p.Type == "row" {
				continue
			}
			if p.Title == "" || p.Description == "" {
				t.Errorf("%s: every panel needs a title and a description saying what to read from it", where)
			}
			checkDatasource(where, p.Datasource)
			if len(p.Targets) == 0 {
				t.Errorf("%s: no queries", where)
			}
			refs := map[string]bool{}
			for _, q := range p.Targets {
				if refs[q.RefID] || q.RefID == "" {
					t.Errorf("%s: refId %q missing or used twice", where, q.RefID)
				}
				refs[q.RefID] = true
				checkDatasource(where+" query "+q.RefID, q.Datasource)
				if _, err := parser.ParseExpr(substitute(q.Expr, placeholderVars)); err != nil {
					t.Errorf("%s query %s: %v", where, q.RefID, err)
				}
			}
		}
		checkNoOverlap(t, file, all)
	}
}

// checkNoOverlap fails for two panels drawn over each other.
func checkNoOverlap(t *testing.T, file string, panels []panel) {
	t.Helper()
	for i, a := range panels {
		for _, b := range panels[i+1:] {
			ga, gb := a.GridPos, b.GridPos
			if ga.X < gb.X+gb.W && gb.X < ga.X+ga.W && ga.Y < gb.Y+gb.H && gb.Y < ga.Y+ga.H {
				t.Errorf("%s: panels %q and %q overlap (%+v, %+v)", file, a.Title, b.Title, ga, gb)
			}
		}
	}
}

// TestDropDayDashboard checks the dashboard the issue asks for has its
// rows and the HTTP rate and p50/p99 latency by route.
func TestDropDayDashboard(t *testing.T) {
	t.Parallel()
	d, ok := dashboards(t)["ticketvelo-drop-day.json"]
	if !ok || d.Title != "TicketVelo drop day" {
		t.Fatalf("grafana/dashboards/ticketvelo-drop-day.json missing or titled %q", d.Title)
	}
	var rows []string
	var exprs []string
	for _, p := range d.Panels {
		if p.Type == "row" {
			rows = append(rows, p.Title)
		}
		for _, q := range p.Targets {
			exprs = append(exprs, q.Expr)
		}
	}
	for _, want := range []string{"Waiting room", "Booker", "Notifier"} {
		if !slices.Contains(rows, want) {
			t.Errorf("no %q row; rows are %v", want, rows)
		}
	}
	has := func(parts ...string) bool {
		return slices.ContainsFunc(exprs, func(e string) bool {
			for _, p := range parts {
				if !strings.Contains(e, p) {
					return false
				}
			}
			return true
		})
	}
	if !has("sum by (route)", "rate(ticketvelo_http_requests_total") {
		t.Error("no panel of the request rate by route")
	}
	for _, q := range []string{"histogram_quantile(0.5,", "histogram_quantile(0.99,"} {
		if !has(q, "by (le, route)", "ticketvelo_http_request_duration_seconds_bucket") {
			t.Errorf("no panel of %s ...) by route", q)
		}
	}
	if !has("$__rate_interval") {
		t.Error("queries should use $__rate_interval, which follows the scrape interval")
	}
}
