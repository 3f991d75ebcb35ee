package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/rs/zerolog"
	"github.com/valyala/fasthttp"

	"github.com/ticketvelo/ticketvelo/internal/apperr"
	"github.com/ticketvelo/ticketvelo/internal/httpapi"
)

// serve starts srv on a loopback port and returns its base URL and a
// function that begins the shutdown and waits for Serve to return.
func serve(t *testing.T, srv *httpapi.Server) (string, func() error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	stopped := false
	stop := func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		return <-done
	}
	t.Cleanup(func() { _ = stop() })
	return "http://" + ln.Addr().String(), stop
}

func newServer(opts httpapi.Options) *httpapi.Server {
	if opts.MaxBodyBytes == 0 {
		opts.MaxBodyBytes = 1024
	}
	if opts.ShutdownTimeout == 0 {
		opts.ShutdownTimeout = 5 * time.Second
	}
	return httpapi.NewServer(opts, zerolog.Nop())
}

type errorBody struct {
	Error struct {
		Code      string         `json:"code"`
		Message   string         `json:"message"`
		Details   map[string]any `json:"details"`
		RequestID string         `json:"request_id"`
	} `json:"error"`
}

func do(t *testing.T, method, url, body string, header map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func TestErrorsAreJSON(t *testing.T) {
	t.Parallel()
	srv := newServer(httpapi.Options{})
	srv.Router.POST("/echo", httpapi.Handle(func(ctx *fasthttp.RequestCtx) error {
		var in struct {
			Name string `json:"name"`
		}
		if err := httpapi.DecodeJSON(ctx, &in); err != nil {
			return err
		}
		httpapi.WriteJSON(ctx, 200, in)
		return nil
	}))
	srv.Router.GET("/boom", httpapi.Handle(func(*fasthttp.RequestCtx) error { return errors.New("secret database detail") }))
	srv.Router.GET("/panic", func(*fasthttp.RequestCtx) { panic("oops") })
	srv.Router.GET("/restart", httpapi.Handle(func(*fasthttp.RequestCtx) error {
		return fmt.Errorf("confirming secret hold: %w", &pgconn.PgError{Code: "57P01", Message: "terminating connection due to administrator command"})
	}))
	srv.Router.GET("/refused", httpapi.Handle(func(*fasthttp.RequestCtx) error {
		return fmt.Errorf("reading secret: %w", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED})
	}))
	srv.Router.GET("/slow", httpapi.Handle(func(*fasthttp.RequestCtx) error {
		return fmt.Errorf("reading secret: %w", context.DeadlineExceeded)
	}))
	base, _ := serve(t, srv)

	cases := []struct {
		name, method, path, body, contentType string
		status                                int
		code                                  string
	}{
		{"unknown route", "GET", "/nope", "", "", 404, "not_found"},
		{"wrong method", "DELETE", "/echo", "", "", 405, "method_not_allowed"},
		{"body over the limit", "POST", "/echo", `{"name":"` + strings.Repeat("x", 4096) + `"}`, "application/json", 413, "body_too_large"},
		{"not JSON content type", "POST", "/echo", `{"name":"a"}`, "text/plain", 415, "unsupported_media_type"},
		{"JSON of another charset", "POST", "/echo", `{"name":"a"}`, "application/json; charset=latin1", 415, "unsupported_media_type"},
		{"JSON-like type", "POST", "/echo", `{"name":"a"}`, "application/jsonx", 415, "unsupported_media_type"},
		{"malformed JSON", "POST", "/echo", `{"name":`, "application/json", 400, "malformed_json"},
		{"empty body", "POST", "/echo", ``, "application/json", 400, "malformed_json"},
		{"unknown field", "POST", "/echo", `{"name":"a","admin":true}`, "application/json", 422, "unknown_field"},
		{"wrong type", "POST", "/echo", `{"name":5}`, "application/json", 422, "invalid_field"},
		{"array not object", "POST", "/echo", `[1,2]`, "application/json", 400, "malformed_json"},
		{"trailing data", "POST", "/echo", `{"name":"a"} {"name":"b"}`, "application/json", 400, "malformed_json"},
		{"not UTF-8", "POST", "/echo", "{\"name\":\"a\xff\xfe\"}", "application/json", 400, "malformed_json"},
		{"null", "POST", "/echo", `{"name":null}`, "application/json", 422, "invalid_field"},
		{"internal error hides its cause", "GET", "/boom", "", "", 500, "internal"},
		{"panic", "GET", "/panic", "", "", 500, "internal"},
		{"Postgres restarting is 503", "GET", "/restart", "", "", 503, "unavailable"},
		{"a refused connection is 503", "GET", "/refused", "", "", 503, "unavailable"},
		{"a store call out of time is 503", "GET", "/slow", "", "", 503, "unavailable"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, b := do(t, tc.method, base+tc.path, tc.body, map[string]string{"Content-Type": tc.contentType})
			if resp.StatusCode != tc.status {
				t.Errorf("status: got %d, want %d (body %s)", resp.StatusCode, tc.status, b)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("content type: got %q, want application/json", ct)
			}
			if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options: got %q, want nosniff", got)
			}
			var e errorBody
			if err := json.Unmarshal(b, &e); err != nil {
				t.Fatalf("body %q is not JSON: %v", b, err)
			}
			if e.Error.Code != tc.code || e.Error.Message == "" {
				t.Errorf("error: got code %q message %q, want code %q and a message", e.Error.Code, e.Error.Message, tc.code)
			}
			if strings.Contains(string(b), "secret") {
				t.Errorf("the body leaks an internal error: %s", b)
			}
			if tc.status == 503 && resp.Header.Get("Retry-After") == "" {
				t.Errorf("503 without Retry-After")
			}
			if id := resp.Header.Get("X-Request-Id"); id == "" || id != e.Error.RequestID {
				t.Errorf("request id: header %q, body %q, want the same non-empty id", id, e.Error.RequestID)
			}
		})
	}
}

// TestDecodeJSONRefusesNullsWherever: a null at any depth is refused and
// named by the top-level field that holds it; "null" as text is not one.
func TestDecodeJSONRefusesNullsWherever(t *testing.T) {
	t.Parallel()
	type body struct {
		Name string         `json:"name"`
		IDs  []int          `json:"ids"`
		Obj  map[string]any `json:"obj"`
	}
	for in, want := range map[string]string{
		`{"ids":[1,null]}`:                             "ids",
		`{"name":"a","obj":{"k":[{"x":null}]}}`:        "obj",
		`{"obj":{"null":1},"ids":[null]}`:              "ids",
		`{"name":"null","obj":{"k":"null"}}`:           "",
		`{"ids":[],"obj":{"a":[[]],"b":{}},"name":""}`: "",
	} {
		var b body
		err := httpapi.DecodeJSONBytes([]byte(in), &b)
		var e *apperr.Error
		switch {
		case want == "" && err != nil:
			t.Errorf("%s: got %v, want it accepted", in, err)
		case want != "" && (!errors.As(err, &e) || e.Code != "invalid_field" || e.Details["field"] != want):
			t.Errorf("%s: got %v, want invalid_field naming %q", in, err, want)
		}
	}
}

func TestDecodeJSONAcceptsAValidBody(t *testing.T) {
	t.Parallel()
	srv := newServer(httpapi.Options{})
	srv.Router.POST("/echo", httpapi.Handle(func(ctx *fasthttp.RequestCtx) error {
		var in struct {
			Name string `json:"name"`
		}
		if err := httpapi.DecodeJSON(ctx, &in); err != nil {
			return err
		}
		httpapi.WriteJSON(ctx, 200, in)
		return nil
	}))
	base, _ := serve(t, srv)
	for _, ct := range []string{"application/json; charset=utf-8", "Application/JSON;charset=\"UTF-8\"", "application/json", "application/json;"} {
		resp, b := do(t, "POST", base+"/echo", `{"name":"Ana"}`, map[string]string{"Content-Type": ct})
		if resp.StatusCode != 200 || strings.TrimSpace(string(b)) != `{"name":"Ana"}` {
			t.Errorf("%s: got %d %s, want 200 {\"name\":\"Ana\"}", ct, resp.StatusCode, b)
		}
	}
}

func TestRequestIDIsKeptWhenPlainAndReplacedWhenNot(t *testing.T) {
	t.Parallel()
	base, _ := serve(t, newServer(httpapi.Options{}))
	resp, _ := do(t, "GET", base+"/healthz", "", map[string]string{"X-Request-Id": "abc-123"})
	if got := resp.Header.Get("X-Request-Id"); got != "abc-123" {
		t.Errorf("plain id: got %q, want abc-123", got)
	}
	resp, _ = do(t, "GET", base+"/healthz", "", map[string]string{"X-Request-Id": "evil\"id with spaces"})
	if got := resp.Header.Get("X-Request-Id"); got == "" || strings.ContainsAny(got, "\" ") {
		t.Errorf("unsafe id: got %q, want a generated one", got)
	}
}

// TestReadinessNamesTheFailingCheck: /readyz is public (the proxy sends it
// on), so a failing dependency is named but its error, which holds
// addresses and driver details, goes to the log only: once when the check
// starts failing, not on every probe.
func TestReadinessNamesTheFailingCheck(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	srv := httpapi.NewServer(httpapi.Options{MaxBodyBytes: 1024, ShutdownTimeout: 5 * time.Second}, zerolog.New(&logs))
	var redisDown atomic.Bool
	const cause = "dial tcp 10.1.2.3:6379: connect: connection refused"
	srv.AddCheck("postgres", func(context.Context) error { return nil })
	srv.AddCheck("redis", func(context.Context) error {
		if redisDown.Load() {
			return errors.New(cause)
		}
		return nil
	})
	base, _ := serve(t, srv)
	resp, b := do(t, "GET", base+"/readyz", "", nil)
	if resp.StatusCode != 200 || string(b) != `{"checks":{"postgres":"ok","redis":"ok"},"status":"ready"}`+"\n" {
		t.Fatalf("healthy: got %d %s, want 200 with every check ok", resp.StatusCode, b)
	}
	redisDown.Store(true)
	for range 3 {
		resp, b = do(t, "GET", base+"/readyz", "", nil)
		want := `{"checks":{"postgres":"ok","redis":"failing"},"failing":["redis"],"status":"unavailable"}` + "\n"
		if resp.StatusCode != 503 || string(b) != want {
			t.Fatalf("redis down: got %d %s, want 503 %s", resp.StatusCode, b, want)
		}
	}
	if n := strings.Count(logs.String(), cause); n != 1 {
		t.Errorf("the cause was logged %d times over three failed probes, want once:\n%s", n, logs.String())
	}
	resp, _ = do(t, "GET", base+"/healthz", "", nil)
	if resp.StatusCode != 200 {
		t.Errorf("healthz while redis is down: got %d, want 200 (the process is up)", resp.StatusCode)
	}
	redisDown.Store(false)
	if resp, b = do(t, "GET", base+"/readyz", "", nil); resp.StatusCode != 200 {
		t.Errorf("redis back: got %d %s, want 200", resp.StatusCode, b)
	}
	if !strings.Contains(logs.String(), `"check":"redis"`) || !strings.Contains(logs.String(), "passes again") {
		t.Errorf("the recovery was not logged:\n%s", logs.String())
	}
}

// syncBuffer is a log destination the server's goroutines share.
type syncBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestShutdownFailsReadinessFirstAndFinishesInFlight(t *testing.T) {
	t.Parallel()
	srv := newServer(httpapi.Options{ShutdownDelay: 300 * time.Millisecond, ShutdownTimeout: 5 * time.Second})
	started := make(chan struct{})
	srv.Router.GET("/slow", func(ctx *fasthttp.RequestCtx) {
		close(started)
		time.Sleep(700 * time.Millisecond)
		httpapi.WriteJSON(ctx, 200, map[string]string{"done": "yes"})
	})
	base, stop := serve(t, srv)

	slow := make(chan int, 1)
	go func() {
		resp, err := http.Get(base + "/slow")
		if err != nil {
			slow <- -1
			return
		}
		resp.Body.Close()
		slow <- resp.StatusCode
	}()
	<-started
	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()

	time.Sleep(100 * time.Millisecond) // inside the shutdown delay
	resp, b := do(t, "GET", base+"/readyz", "", nil)
	if resp.StatusCode != 503 || !strings.Contains(string(b), "shutting_down") {
		t.Errorf("readiness during shutdown: got %d %s, want 503 shutting_down", resp.StatusCode, b)
	}
	if code := <-slow; code != 200 {
		t.Errorf("in-flight request: got %d, want 200", code)
	}
	if err := <-stopped; err != nil {
		t.Errorf("Serve returned %v after a clean shutdown", err)
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Error("the listener still answers after shutdown")
	}
}

func TestMetricsCountRequestsByRouteAndStatus(t *testing.T) {
	t.Parallel()
	srv := newServer(httpapi.Options{})
	srv.Router.GET("/api/v1/things/{id}", func(ctx *fasthttp.RequestCtx) { httpapi.WriteJSON(ctx, 200, "ok") })
	base, _ := serve(t, srv)
	for range 3 {
		do(t, "GET", base+"/api/v1/things/7", "", nil)
	}
	_, b := do(t, "GET", base+"/metrics", "", nil)
	want := `ticketvelo_http_requests_total{route="/api/v1/things/{id}",method="GET",status="200"} 3`
	if !strings.Contains(string(b), want) {
		t.Errorf("metrics lack %s", want)
	}
	if !strings.Contains(string(b), `ticketvelo_http_request_duration_seconds_bucket{route="/api/v1/things/{id}",method="GET",status="200",le="`) {
		t.Error("metrics lack the latency histogram of the route")
	}
}

func TestClientIPBelievesOnlyTrustedProxies(t *testing.T) {
	_, proxies, _ := net.ParseCIDR("10.0.0.0/8")
	cases := []struct {
		name, remote, xff string
		trusted           []*net.IPNet
		want              string
	}{
		{"no proxies configured", "10.1.1.1", "1.2.3.4", nil, "10.1.1.1"},
		{"untrusted peer", "8.8.8.8", "1.2.3.4", []*net.IPNet{proxies}, "8.8.8.8"},
		{"trusted peer", "10.1.1.1", "1.2.3.4", []*net.IPNet{proxies}, "1.2.3.4"},
		{"spoofed left entries are ignored", "10.1.1.1", "6.6.6.6, 1.2.3.4, 10.2.2.2", []*net.IPNet{proxies}, "1.2.3.4"},
		{"garbage header", "10.1.1.1", "not-an-ip", []*net.IPNet{proxies}, "10.1.1.1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var ctx fasthttp.RequestCtx
			ctx.Init(&fasthttp.Request{}, &net.TCPAddr{IP: net.ParseIP(tc.remote), Port: 1}, nil)
			ctx.Request.Header.Set("X-Forwarded-For", tc.xff)
			if got := httpapi.ClientIP(&ctx, tc.trusted).String(); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func TestBearerToken(t *testing.T) {
	cases := map[string]string{"Bearer abc": "abc", "bearer  abc ": "abc", "Basic abc": "", "Bearer": "", "": ""}
	for header, want := range cases {
		var ctx fasthttp.RequestCtx
		ctx.Request.Header.Set("Authorization", header)
		if got := httpapi.BearerToken(&ctx); got != want {
			t.Errorf("%q: got %q, want %q", header, got, want)
		}
	}
}

func TestStatusTable(t *testing.T) {
	cases := map[apperr.Kind]int{apperr.Invalid: 422, apperr.Conflict: 409, apperr.RateLimited: 429, apperr.Unauthenticated: 401, apperr.PaymentRequired: 402}
	for kind, want := range cases {
		if got := httpapi.StatusOf(apperr.New(kind, "x", "x")); got != want {
			t.Errorf("kind %d: got %d, want %d", kind, got, want)
		}
	}
	if got := httpapi.StatusOf(errors.New("plain")); got != 500 {
		t.Errorf("a plain error: got %d, want 500", got)
	}
}

// TestHeadIsGetWithoutTheBody: every GET route answers HEAD with the GET's
// status and headers and no body; a path that differs only in case is not
// redirected (a Location built from the Host header) but not found.
func TestHeadIsGetWithoutTheBody(t *testing.T) {
	t.Parallel()
	srv := newServer(httpapi.Options{})
	base, _ := serve(t, srv)
	get, body := do(t, "GET", base+"/healthz", "", nil)
	head, none := do(t, "HEAD", base+"/healthz", "", nil)
	if head.StatusCode != 200 || len(none) != 0 || head.Header.Get("Content-Type") != get.Header.Get("Content-Type") ||
		head.Header.Get("Content-Length") != strconv.Itoa(len(body)) {
		t.Errorf("HEAD /healthz: %d %v %q, want GET's 200 and headers (%v, %d bytes) without the body", head.StatusCode, head.Header, none, get.Header, len(body))
	}
	if r, _ := do(t, "HEAD", base+"/nope", "", nil); r.StatusCode != 404 {
		t.Errorf("HEAD of no route: %d, want 404", r.StatusCode)
	}
	if r, b := do(t, "GET", base+"/HEALTHZ", "", map[string]string{"Host": "evil.example"}); r.StatusCode != 404 || r.Header.Get("Content-Type") != "application/json" {
		t.Errorf("GET /HEALTHZ: %d %s, want a JSON 404, not a redirect", r.StatusCode, b)
	}
}

func TestParseIDTakesOnlyTheIDsOwnSpelling(t *testing.T) {
	t.Parallel()
	for raw, want := range map[string]int64{"1": 1, "42": 42, "9223372036854775807": 1<<63 - 1,
		"01": 0, "+1": 0, "-1": 0, "0": 0, "": 0, "1a": 0, " 1": 0, "9223372036854775808": 0} {
		var ctx fasthttp.RequestCtx
		ctx.SetUserValue("id", raw)
		got, err := httpapi.ParseID(&ctx, "id")
		if got != want || (want == 0) != (err != nil) {
			t.Errorf("ParseID(%q) = %d, %v; want %d", raw, got, err, want)
		}
	}
}

func TestNoneMatchComparesWeakly(t *testing.T) {
	t.Parallel()
	const etag = `"2-abc"`
	for header, want := range map[string]bool{
		`"2-abc"`: true, `W/"2-abc"`: true, `*`: true, `"x", "2-abc"`: true, `"x",W/"2-abc"`: true, ` "2-abc" `: true,
		`"a,b", "2-abc"`: true,
		``:               false, `"2-abd"`: false, `2-abc`: false, `"2-abc`: false, `W/`: false, `"x", 2-abc`: false, `"2-ab"c"`: false, `W/W/"2-abc"`: false,
	} {
		if got := httpapi.NoneMatch([]byte(header), etag); got != want {
			t.Errorf("NoneMatch(%q, %s) = %v, want %v", header, etag, got, want)
		}
	}
}

// TestHeadersTooLargeIsAJSONErrorWithItsRequestID: a request fasthttp
// cannot read gets the same error shape as any other, request id included.
func TestHeadersTooLargeIsAJSONErrorWithItsRequestID(t *testing.T) {
	t.Parallel()
	base, _ := serve(t, newServer(httpapi.Options{}))
	resp, b := do(t, "GET", base+"/healthz", "", map[string]string{"X-Big": strings.Repeat("x", 64<<10)})
	var e errorBody
	if err := json.Unmarshal(b, &e); err != nil || resp.StatusCode != 431 || e.Error.Code != "headers_too_large" ||
		e.Error.RequestID == "" || e.Error.RequestID != resp.Header.Get("X-Request-Id") {
		t.Errorf("got %d %s (%v), want 431 headers_too_large carrying the X-Request-Id %q", resp.StatusCode, b, err, resp.Header.Get("X-Request-Id"))
	}
}
