package gateway_test

import (
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
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
