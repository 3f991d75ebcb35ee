package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"
)

type httpAnswer struct {
	status int
	body   []byte
}

func httpGet(ctx context.Context, u string) (httpAnswer, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", u, nil)
	if err != nil {
		return httpAnswer{}, err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return httpAnswer{}, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return httpAnswer{status: res.StatusCode, body: b}, err
}

type statusError struct {
	url    string
	status int
	body   string
}

func (e *statusError) Error() string { return fmt.Sprintf("%s: %d %s", e.url, e.status, e.body) }

// promAPI asks a running Prometheus through its HTTP API.
type promAPI struct {
	t    *testing.T
	base string
}

// series is one series of a query's answer: its labels and its values
// (one for an instant query, one per step for a range query).
type series struct {
	Metric map[string]string `json:"metric"`
	Value  []any             `json:"value"`
	Values [][]any           `json:"values"`
}

// max is the series' highest value.
func (s series) max() float64 {
	points := s.Values
	if s.Value != nil {
		points = append(points, s.Value)
	}
	best := 0.0
	for i, p := range points {
		v, _ := strconv.ParseFloat(fmt.Sprint(p[1]), 64)
		if i == 0 || v > best {
			best = v
		}
	}
	return best
}

// get calls path with params and decodes the answer's data into out; a
// query Prometheus refuses is an error naming it.
func (p *promAPI) get(path string, params url.Values, out any) error {
	res, err := httpGet(context.Background(), p.base+path+"?"+params.Encode())
	if err != nil {
		return err
	}
	var env struct {
		Status string          `json:"status"`
		Error  string          `json:"error"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(res.body, &env); err != nil || env.Status != "success" {
		return fmt.Errorf("%s %v: %d %s %s", path, params, res.status, env.Error, res.body)
	}
	return json.Unmarshal(env.Data, out)
}

// rangeQuery evaluates expr each second over [from, to].
func (p *promAPI) rangeQuery(expr string, from, to time.Time) ([]series, error) {
	var data struct{ Result []series }
	err := p.get("/api/v1/query_range", url.Values{"query": {expr}, "start": {unix(from)}, "end": {unix(to)}, "step": {"1"}}, &data)
	return data.Result, err
}

// instant evaluates expr at at.
func (p *promAPI) instant(expr string, at time.Time) ([]series, error) {
	var data struct{ Result []series }
	err := p.get("/api/v1/query", url.Values{"query": {expr}, "time": {unix(at)}}, &data)
	return data.Result, err
}

// labelValues is Grafana's label_values(selector, label) over [from, to].
func (p *promAPI) labelValues(selector, label string, from, to time.Time) ([]string, error) {
	var values []string
	err := p.get("/api/v1/label/"+label+"/values", url.Values{"match[]": {selector}, "start": {unix(from)}, "end": {unix(to)}}, &values)
	return values, err
}

// alert is one alert of /api/v1/alerts.
type alert struct {
	Labels map[string]string `json:"labels"`
	State  string            `json:"state"`
}

func (p *promAPI) alerts() ([]alert, error) {
	var data struct{ Alerts []alert }
	err := p.get("/api/v1/alerts", url.Values{}, &data)
	return data.Alerts, err
}

// ruleHealth maps every rule Prometheus loaded to its health and last error.
func (p *promAPI) ruleHealth() (map[string]string, error) {
	var data struct {
		Groups []struct {
			Rules []struct {
				Name, Health, LastError string
			}
		}
	}
	if err := p.get("/api/v1/rules", url.Values{}, &data); err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, g := range data.Groups {
		for _, r := range g.Rules {
			out[r.Name] = r.Health + " " + r.LastError
		}
	}
	return out, nil
}

func unix(t time.Time) string { return strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', 3, 64) }
