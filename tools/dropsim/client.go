package dropsim

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// client speaks the public API over keep-alive connections.
type client struct {
	base string
	http *fasthttp.Client

	mu         sync.Mutex
	sectionsAt time.Time
	sectionsOf []string
}

func newClient(base string, conns int) *client {
	return &client{
		base: strings.TrimRight(base, "/"),
		http: &fasthttp.Client{
			MaxConnsPerHost:     max(64, min(conns, 4096)),
			MaxConnWaitTimeout:  30 * time.Second,
			ReadTimeout:         30 * time.Second,
			WriteTimeout:        30 * time.Second,
			MaxIdleConnDuration: time.Minute,
		},
	}
}

// result is what one request did.
type result struct {
	status     int
	code       string // the error code of a JSON error answer
	took       time.Duration
	retryAfter time.Duration
}

// call sends a JSON request with a bearer token (and an Idempotency-Key when
// key is set) and decodes a 2xx body into out.
func (c *client) call(ctx context.Context, method, path, token, key string, in, out any) (result, error) {
	return c.callFrom(ctx, "", method, path, token, key, in, out)
}

// callFrom is call on behalf of a fan at address ip, sent as X-Forwarded-For:
// the server believes it when TICKETVELO_TRUSTED_PROXIES covers the
// simulator, so per-address limits see many fans instead of one machine.
// Headers in extra, name then value, go along (a poll's place receipt).
func (c *client) callFrom(ctx context.Context, ip, method, path, token, key string, in, out any, extra ...string) (result, error) {
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.Header.SetMethod(method)
	req.SetRequestURI(c.base + path)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	if ip != "" {
		req.Header.Set("X-Forwarded-For", ip)
	}
	for i := 0; i+1 < len(extra); i += 2 {
		req.Header.Set(extra[i], extra[i+1])
	}
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return result{}, err
		}
		req.Header.SetContentType("application/json")
		req.SetBody(b)
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(30 * time.Second)
	}
	start := time.Now()
	err := c.http.DoDeadline(req, resp, deadline)
	res := result{took: time.Since(start)}
	if err != nil {
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		return res, fmt.Errorf("%s %s: %w", method, path, err)
	}
	res.status = resp.StatusCode()
	if s, err := strconv.Atoi(string(resp.Header.Peek("Retry-After"))); err == nil {
		res.retryAfter = time.Duration(s) * time.Second
	}
	if out != nil && res.status >= 200 && res.status < 300 {
		if err := json.Unmarshal(resp.Body(), out); err != nil {
			return res, fmt.Errorf("%s %s: decoding %d answer: %w", method, path, res.status, err)
		}
	}
	if res.status >= 400 {
		var e struct {
			Error struct {
				Code string `json:"code"`
			} `json:"error"`
		}
		if json.Unmarshal(resp.Body(), &e) == nil {
			res.code = e.Error.Code
		}
	}
	return res, nil
}

// sections lists the event's sections with seats left, refreshed at most
// once a second for all fans together, as a busy event page would be.
func (c *client) sections(ctx context.Context, eventID int64) ([]string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if time.Since(c.sectionsAt) < time.Second && c.sectionsOf != nil {
		return c.sectionsOf, nil
	}
	var ev struct {
		Event struct {
			Sections []struct {
				Name      string `json:"name"`
				SeatsLeft int    `json:"seats_left"`
			} `json:"sections"`
		} `json:"event"`
	}
	res, err := c.call(ctx, "GET", fmt.Sprintf("/api/v1/events/%d", eventID), "", "", nil, &ev)
	if err != nil {
		return nil, err
	}
	if res.status == 503 {
		return nil, &unavailableError{retryAfter: res.retryAfter}
	}
	if res.status != 200 {
		return nil, fmt.Errorf("event %d: status %d", eventID, res.status)
	}
	// A fresh slice: fans may still be reading the previous one.
	var open []string
	for _, s := range ev.Event.Sections {
		if s.SeatsLeft > 0 {
			open = append(open, s.Name)
		}
	}
	c.sectionsOf = open
	c.sectionsAt = time.Now()
	return c.sectionsOf, nil
}

// unavailableError is a 503: try again after retryAfter.
type unavailableError struct{ retryAfter time.Duration }

func (e *unavailableError) Error() string { return "unavailable (503)" }

func newKey() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
