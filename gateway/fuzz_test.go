package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/ticketvelo/ticketvelo/internal/textfield"
)

// The fuzz targets drive the real handlers, middleware included, in memory:
// whatever the body or token, the answer is never a 5xx (a panic would be a
// 500 from the router's panic handler) and always JSON.

// serve runs one request through the edge's handler without a network.
func (e *edge) serve(method, path, token string, body []byte) *fasthttp.Response {
	var req fasthttp.Request
	req.Header.SetMethod(method)
	req.SetRequestURI(path)
	req.Header.SetContentType("application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.SetBody(body)
	var ctx fasthttp.RequestCtx
	ctx.Init(&req, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}, nil)
	e.srv.Handler()(&ctx)
	res := &fasthttp.Response{}
	ctx.Response.CopyTo(res)
	return res
}

func checkAnswer(t *testing.T, what string, in any, res *fasthttp.Response) {
	t.Helper()
	if res.StatusCode() >= 500 {
		t.Fatalf("%s %q: %d %s", what, in, res.StatusCode(), res.Body())
	}
	if len(res.Body()) > 0 && !json.Valid(res.Body()) {
		t.Fatalf("%s %q: the answer is not JSON: %s", what, in, res.Body())
	}
}

func FuzzRegisterBody(f *testing.F) {
	e := newEdge(f, edgeOptions{cfg: noLimits})
	f.Fuzz(func(t *testing.T, body []byte) {
		res := e.serve("POST", "/api/v1/auth/register", "", body)
		checkAnswer(t, "register", body, res)
		if res.StatusCode() == 201 {
			var s struct {
				User struct{ Email string } `json:"user"`
			}
			if err := json.Unmarshal(res.Body(), &s); err != nil || s.User.Email == "" {
				t.Fatalf("201 without a user: %s", res.Body())
			}
		}
	})
}

func FuzzLoginBody(f *testing.F) {
	e := newEdge(f, edgeOptions{cfg: noLimits})
	e.register(f, "known@example.com")
	f.Fuzz(func(t *testing.T, body []byte) {
		res := e.serve("POST", "/api/v1/auth/login", "", body)
		checkAnswer(t, "login", body, res)
	})
}

func FuzzCreateEventBody(f *testing.F) {
	e := newEdge(f, edgeOptions{cfg: noLimits})
	ops := e.opsToken(f)
	e.event(f, 20, time.Now())
	f.Fuzz(func(t *testing.T, body []byte) {
		res := e.serve("POST", "/api/v1/admin/events", ops, body)
		checkAnswer(t, "create event", body, res)
	})
}

func FuzzAdmissionSettingsBody(f *testing.F) {
	e := newEdge(f, edgeOptions{cfg: noLimits})
	ops := e.opsToken(f)
	id := e.event(f, 20, time.Now())
	path := fmt.Sprintf("/api/v1/admin/events/%d/admission", id)
	f.Fuzz(func(t *testing.T, body []byte) {
		before := e.serve("GET", path, ops, nil)
		res := e.serve("PUT", path, ops, body)
		checkAnswer(t, "settings", body, res)
		after := e.serve("GET", path, ops, nil)
		switch {
		case res.StatusCode() == 200 && string(after.Body()) != string(res.Body()):
			t.Fatalf("settings %q: PUT answered %s but GET reads %s", body, res.Body(), after.Body())
		case res.StatusCode() != 200 && string(after.Body()) != string(before.Body()):
			t.Fatalf("refused settings %q changed them from %s to %s", body, before.Body(), after.Body())
		}
	})
}

// FuzzAccessToken sends any token to a route that needs one: it is refused
// with a 401 and a reason, or it is a token the ring really signed.
func FuzzAccessToken(f *testing.F) {
	e := newEdge(f, edgeOptions{cfg: noLimits})
	id := e.event(f, 10, time.Now())
	path := fmt.Sprintf("/api/v1/events/%d/queue", id)
	f.Fuzz(func(t *testing.T, token string) {
		res := e.serve("GET", path, token, nil)
		checkAnswer(t, "token", token, res)
		if s := res.StatusCode(); s != 401 && s != 404 {
			t.Fatalf("token %q: %d %s, want 401 (or 404 not_in_queue for a genuine token)", token, s, res.Body())
		}
		if res.StatusCode() == 404 {
			if _, err := e.ring.VerifyAccess(strings.TrimSpace(token), time.Now()); err != nil {
				t.Fatalf("token %q passed the gateway but not the ring: %v", token, err)
			}
		}
	})
}

// FuzzTextFields puts any text in each free-text field a client sends: the
// ops event's name, and a registration's or login's name, email and
// password. Each goes in twice: JSON-escaped, so NUL and CR LF reach the
// handler, and pasted raw into the body, so bytes that are not UTF-8 and
// stray quotes reach the decoder. Whatever the text, the answer is never a
// 5xx; an escaped text that is refused is refused naming its own field;
// and a name or email that is accepted holds nothing textfield refuses.
// Each input costs ten requests, so fuzz it with -fuzzminimizetime=2s:
// minimising a large input at the default (60 s) stalls the run.
func FuzzTextFields(f *testing.F) {
	e := newEdge(f, edgeOptions{cfg: noLimits})
	ops := e.opsToken(f)
	e.event(f, 10, time.Now().Add(time.Hour))
	venues, err := e.catalog.Venues(context.Background())
	if err != nil || len(venues) != 1 {
		f.Fatalf("venues: %v, %v", venues, err)
	}
	starts := time.Now().Add(30 * 24 * time.Hour).UTC().Format(time.RFC3339)
	opens := time.Now().UTC().Format(time.RFC3339)
	var n atomic.Int64
	f.Fuzz(func(t *testing.T, text string) {
		email := func() string { return fmt.Sprintf("fuzz-%d@example.com", n.Add(1)) }
		for _, c := range []textCase{
			{"name", "/api/v1/admin/events", ops, map[string]any{"venue_id": venues[0].ID, "name": text, "starts_at": starts, "sale_opens_at": opens, "max_tickets_per_fan": 2}},
			{"name", "/api/v1/auth/register", "", map[string]any{"email": email(), "password": "a long passphrase", "name": text}},
			{"email", "/api/v1/auth/register", "", map[string]any{"email": text, "password": "a long passphrase", "name": "Fan"}},
			{"password", "/api/v1/auth/register", "", map[string]any{"email": email(), "password": text, "name": "Fan"}},
			{"email", "/api/v1/auth/login", "", map[string]any{"email": text, "password": "a long passphrase"}},
		} {
			e.checkTextCase(t, c, text)
		}
	})
}

// textCase is one field of one request body that FuzzTextFields fills.
type textCase struct {
	field, path, token string
	body               map[string]any // body[field] is the fuzzed text
}

func (e *edge) checkTextCase(t *testing.T, c textCase, text string) {
	t.Helper()
	escaped, err := json.Marshal(c.body)
	if err != nil {
		t.Fatal(err)
	}
	res := e.serve("POST", c.path, c.token, escaped)
	checkAnswer(t, c.path+" "+c.field, text, res)
	var r struct {
		Error struct {
			Code    string         `json:"code"`
			Details map[string]any `json:"details"`
		} `json:"error"`
		Event struct{ Name string }        `json:"event"`
		User  struct{ Name, Email string } `json:"user"`
	}
	_ = json.Unmarshal(res.Body(), &r)
	if r.Error.Code == "invalid_field" && r.Error.Details["field"] != c.field {
		t.Fatalf("%s with %s %q: refused naming %v: %s", c.path, c.field, text, r.Error.Details["field"], res.Body())
	}
	for _, stored := range []string{r.Event.Name, r.User.Name, r.User.Email} {
		if err := textfield.Check(c.field, stored); err != nil {
			t.Fatalf("%s with %s %q: accepted %q: %v", c.path, c.field, text, stored, err)
		}
	}

	// Raw: the text pasted between the quotes as it is.
	c.body[c.field] = "\x01TEXT\x01"
	tmpl, err := json.Marshal(c.body)
	if err != nil {
		t.Fatal(err)
	}
	raw := bytes.Replace(tmpl, []byte(`\u0001TEXT\u0001`), []byte(text), 1)
	checkAnswer(t, c.path+" "+c.field+" (raw)", text, e.serve("POST", c.path, c.token, raw))
}
