package apiclient

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// serve answers each request with handler on a loopback port and returns
// the base URL.
func serve(t *testing.T, handler fasthttp.RequestHandler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: handler}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Shutdown() })
	return "http://" + ln.Addr().String()
}

func TestDoSendsTheHeadersAndReadsTheAnswer(t *testing.T) {
	t.Parallel()
	var got fasthttp.RequestHeader
	var body string
	base := serve(t, func(ctx *fasthttp.RequestCtx) {
		ctx.Request.Header.CopyTo(&got)
		body = string(ctx.PostBody())
		ctx.SetContentType("application/json")
		if string(ctx.Path()) == "/busy" {
			ctx.Response.Header.Set("Retry-After", "3")
			ctx.SetStatusCode(503)
			ctx.SetBodyString(`{"error":{"code":"unavailable","message":"x"}}`)
			return
		}
		ctx.SetStatusCode(201)
		ctx.SetBodyString(`{"state":"waiting"}`)
	})
	c := New(base+"/", Options{Conns: 4})
	var out struct{ State string }
	res, err := c.Do(context.Background(), Request{Method: "POST", Path: "/q", Token: "tok", Key: "k1", From: "10.0.0.9",
		Header: []string{"X-Place-Receipt", "r1"}, Body: map[string]int{"n": 1}}, &out)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != 201 || out.State != "waiting" || res.Code != "" || res.Took <= 0 {
		t.Errorf("got %+v and %+v, want 201 waiting, no code and a latency", res, out)
	}
	for name, want := range map[string]string{"Authorization": "Bearer tok", "Idempotency-Key": "k1", "X-Forwarded-For": "10.0.0.9",
		"X-Place-Receipt": "r1", "Content-Type": "application/json"} {
		if v := string(got.Peek(name)); v != want {
			t.Errorf("%s: got %q, want %q", name, v, want)
		}
	}
	if body != `{"n":1}` || string(got.Method()) != "POST" {
		t.Errorf("got %s with body %q, want POST {\"n\":1}", got.Method(), body)
	}

	res, err = c.Do(context.Background(), Request{Method: "GET", Path: "/busy"}, &out)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != 503 || res.Code != "unavailable" || res.RetryAfter != 3*time.Second {
		t.Errorf("got %+v, want 503 unavailable after 3s", res)
	}
	if a := got.Peek("Authorization"); a != nil {
		t.Errorf("a call without a token sent Authorization %q", a)
	}
}

func TestAnswerlessCallsAreErrors(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c := New("http://"+addr, Options{Timeout: time.Second})
	if _, err := c.Do(context.Background(), Request{Method: "GET", Path: "/x"}, nil); err == nil || !strings.Contains(err.Error(), "GET /x") {
		t.Errorf("nobody listening: got %v, want an error naming the request", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Do(ctx, Request{Method: "GET", Path: "/x"}, nil); err != context.Canceled {
		t.Errorf("cancelled: got %v, want context.Canceled", err)
	}
}

func TestEventAdmissionAndMetrics(t *testing.T) {
	t.Parallel()
	var admission string
	base := serve(t, func(ctx *fasthttp.RequestCtx) {
		switch string(ctx.Path()) {
		case EventPath(7):
			ctx.SetBodyString(`{"event":{"id":7,"sections":[{"name":"Floor","seats_left":3}],"waiting_room":{"state":"paused"}}}`)
		case AdmissionPath(7):
			admission = string(ctx.Request.Header.Method()) + " " + string(ctx.PostBody())
		case "/metrics":
			ctx.SetBodyString("# HELP a x\na 1\nb{route=\"/x y\"} 2.5\nbad line\n")
		default:
			ctx.SetStatusCode(403)
			ctx.SetBodyString(`{"error":{"code":"forbidden","message":"x"}}`)
		}
	})
	c := New(base, Options{})
	ctx := context.Background()
	ev, res, err := c.Event(ctx, 7)
	if err != nil || res.Status != 200 || ev.WaitingRoom.State != "paused" || len(ev.Sections) != 1 || ev.Sections[0] != (Section{"Floor", 3}) {
		t.Errorf("Event: got %+v, %+v, %v", ev, res, err)
	}
	if err := c.SetAdmission(ctx, 7, "ops", Admission{RatePerSecond: 50, MaxActive: 500, Paused: true}); err != nil {
		t.Fatal(err)
	}
	if want := `PUT {"rate_per_second":50,"max_active":500,"paused":true,"auto":false}`; admission != want {
		t.Errorf("SetAdmission sent %q, want %q", admission, want)
	}
	if err := c.SetAdmission(ctx, 8, "ops", Admission{}); err == nil || !strings.Contains(err.Error(), "403 forbidden") {
		t.Errorf("SetAdmission answered 403: got %v, want an error with the status", err)
	}
	m, err := c.Metrics(ctx)
	if err != nil || len(m) != 2 || m["a"] != 1 || m[`b{route="/x y"}`] != 2.5 {
		t.Errorf("Metrics: got %v, %v, want the two series", m, err)
	}
	if _, err := c.At(base + "/nothing").Metrics(ctx); err == nil {
		t.Error("Metrics answered 403: got no error")
	}
}

func TestHostClientSharesTheSettings(t *testing.T) {
	t.Parallel()
	h := Options{Conns: 8, Timeout: 10 * time.Second, Once: true}.HostClient("127.0.0.1:1")
	if h.MaxConns != 8 || h.ReadTimeout != 10*time.Second || h.WriteTimeout != 10*time.Second || h.MaxIdemponentCallAttempts != 1 {
		t.Errorf("got %+v", h)
	}
	if d := (Options{}).HostClient("127.0.0.1:1"); d.ReadTimeout != DefaultTimeout || d.MaxIdemponentCallAttempts != 0 {
		t.Errorf("defaults: got timeout %s and %d attempts, want %s and fasthttp's default", d.ReadTimeout, d.MaxIdemponentCallAttempts, DefaultTimeout)
	}
}
