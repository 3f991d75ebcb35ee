// Package apiclient speaks TicketVelo's public HTTP API for the tools that
// drive it from outside (the drop simulator, the fault drill, the
// benchmarks): over fasthttp keep-alive connections, one JSON call that
// reports what a fan's client acts on (status, error code, Retry-After) and
// how long it took, and the calls more than one tool makes. The load
// generators' hot loops build raw fasthttp requests for speed, through a
// HostClient of the same settings (Options.HostClient).
package apiclient

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
)

// DefaultTimeout is Options.Timeout when it is 0.
const DefaultTimeout = 30 * time.Second

// Options shape a client's connections.
type Options struct {
	// Conns bounds the connections to one host; 0 is fasthttp's default.
	Conns int
	// Timeout bounds writing a request, reading its answer and waiting for
	// a free connection, and is the deadline of a call whose context has
	// none; 0 is DefaultTimeout.
	Timeout time.Duration
	// Once sends every request once. Otherwise fasthttp sends an
	// idempotent request again when a kept-alive connection turns out
	// closed, as a browser does; a load generator counts the failure
	// instead.
	Once bool
}

func (o Options) timeout() time.Duration {
	if o.Timeout <= 0 {
		return DefaultTimeout
	}
	return o.Timeout
}

func (o Options) attempts() int {
	if o.Once {
		return 1
	}
	return 0 // fasthttp's default
}

// HostClient is a client of one address with these settings, for raw
// fasthttp requests in a load generator's loop.
func (o Options) HostClient(addr string) *fasthttp.HostClient {
	t := o.timeout()
	return &fasthttp.HostClient{
		Addr: addr, MaxConns: o.Conns, ReadTimeout: t, WriteTimeout: t, MaxConnWaitTimeout: t,
		MaxIdleConnDuration: time.Minute, MaxIdemponentCallAttempts: o.attempts(), NoDefaultUserAgentHeader: true,
	}
}

// Client calls one TicketVelo (or one of its processes) at a base URL.
type Client struct {
	base    string
	http    *fasthttp.Client
	timeout time.Duration
}

// New is a client of the API at base, such as http://127.0.0.1:8080.
func New(base string, o Options) *Client {
	t := o.timeout()
	return &Client{
		base: strings.TrimRight(base, "/"),
		http: &fasthttp.Client{
			MaxConnsPerHost: o.Conns, ReadTimeout: t, WriteTimeout: t, MaxConnWaitTimeout: t,
			MaxIdleConnDuration: time.Minute, MaxIdemponentCallAttempts: o.attempts(), NoDefaultUserAgentHeader: true,
		},
		timeout: t,
	}
}

// At is a client of another base URL that shares this one's connections
// and settings, for a tool that talks to several processes.
func (c *Client) At(base string) *Client {
	at := *c
	at.base = strings.TrimRight(base, "/")
	return &at
}

// Request is one call of the API.
type Request struct {
	Method, Path string
	// Token is sent as "Authorization: Bearer <Token>" when set.
	Token string
	// Key is sent as the Idempotency-Key when set.
	Key string
	// From is sent as X-Forwarded-For when set: the server believes it
	// when TICKETVELO_TRUSTED_PROXIES covers the tool, so per-address
	// limits see many fans instead of one machine.
	From string
	// Header holds more headers, name then value (a poll's place receipt).
	Header []string
	// Body is sent as JSON when not nil.
	Body any
}

// Result is what one call did.
type Result struct {
	Status int
	// Code is the error code of a JSON error answer (status 400 or more).
	Code       string
	RetryAfter time.Duration
	Took       time.Duration
}

// Do sends the request and decodes a 2xx answer's JSON body into out
// (unless out is nil). An answer of any status is a Result, not an error;
// the error is a request that got no answer, or one that could not be
// decoded.
func (c *Client) Do(ctx context.Context, r Request, out any) (Result, error) {
	return c.exchange(ctx, r, func(res Result, body []byte) error {
		if out == nil || res.Status < 200 || res.Status >= 300 {
			return nil
		}
		if err := json.Unmarshal(body, out); err != nil {
			return fmt.Errorf("decoding %d answer: %w", res.Status, err)
		}
		return nil
	})
}

// exchange sends r and hands the answer's body to read, which must not
// keep it.
func (c *Client) exchange(ctx context.Context, r Request, read func(Result, []byte) error) (Result, error) {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	if err := c.build(req, r); err != nil {
		return Result{}, err
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(c.timeout)
	}
	start := time.Now()
	err := c.http.DoDeadline(req, resp, deadline)
	res := Result{Took: time.Since(start)}
	if err != nil {
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		return res, fmt.Errorf("%s %s: %w", r.Method, r.Path, err)
	}
	res.Status = resp.StatusCode()
	if s, err := strconv.Atoi(string(resp.Header.Peek("Retry-After"))); err == nil {
		res.RetryAfter = time.Duration(s) * time.Second
	}
	if res.Status >= 400 {
		res.Code = errorCode(resp.Body())
	}
	if err := read(res, resp.Body()); err != nil {
		return res, fmt.Errorf("%s %s: %w", r.Method, r.Path, err)
	}
	return res, nil
}

func (c *Client) build(req *fasthttp.Request, r Request) error {
	req.Header.SetMethod(r.Method)
	req.SetRequestURI(c.base + r.Path)
	for _, h := range [][2]string{{"Authorization", bearer(r.Token)}, {"Idempotency-Key", r.Key}, {"X-Forwarded-For", r.From}} {
		if h[1] != "" {
			req.Header.Set(h[0], h[1])
		}
	}
	for i := 0; i+1 < len(r.Header); i += 2 {
		req.Header.Set(r.Header[i], r.Header[i+1])
	}
	if r.Body == nil {
		return nil
	}
	b, err := json.Marshal(r.Body)
	if err != nil {
		return fmt.Errorf("%s %s: encoding the body: %w", r.Method, r.Path, err)
	}
	req.Header.SetContentType("application/json")
	req.SetBody(b)
	return nil
}

func bearer(token string) string {
	if token == "" {
		return ""
	}
	return "Bearer " + token
}

// errorCode is the code of a JSON error answer, "" when it is none.
func errorCode(body []byte) string {
	var e struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	_ = json.Unmarshal(body, &e)
	return e.Error.Code
}

// NewKey is a fresh Idempotency-Key.
func NewKey() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
