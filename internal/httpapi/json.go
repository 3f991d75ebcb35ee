package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/valyala/fasthttp"

	"github.com/ticketvelo/ticketvelo/internal/apperr"
	"github.com/ticketvelo/ticketvelo/internal/database"
	"github.com/ticketvelo/ticketvelo/internal/redisconn"
)

// statusOf is the one table from failure kind to HTTP status.
var statusOf = map[apperr.Kind]int{
	apperr.Internal:         fasthttp.StatusInternalServerError,
	apperr.Invalid:          fasthttp.StatusUnprocessableEntity,
	apperr.Malformed:        fasthttp.StatusBadRequest,
	apperr.Unauthenticated:  fasthttp.StatusUnauthorized,
	apperr.PaymentRequired:  fasthttp.StatusPaymentRequired,
	apperr.Forbidden:        fasthttp.StatusForbidden,
	apperr.NotFound:         fasthttp.StatusNotFound,
	apperr.MethodNotAllowed: fasthttp.StatusMethodNotAllowed,
	apperr.Conflict:         fasthttp.StatusConflict,
	apperr.Gone:             fasthttp.StatusGone,
	apperr.TooLarge:         fasthttp.StatusRequestEntityTooLarge,
	apperr.UnsupportedMedia: fasthttp.StatusUnsupportedMediaType,
	apperr.RateLimited:      fasthttp.StatusTooManyRequests,
	apperr.Unavailable:      fasthttp.StatusServiceUnavailable,
}

// StatusOf is the HTTP status for err.
func StatusOf(err error) int { return statusOf[classify(err).Kind] }

// errDependency answers a request that met a store fault on its way:
// Postgres or Redis away, restarting, failing over, timing out, or the
// connection pool exhausted. The client may retry in a second.
var errDependency = &apperr.Error{Kind: apperr.Unavailable, Code: "unavailable",
	Message: "a service this request needs is unavailable or too busy; retry shortly", RetryAfter: 1}

// classify is the one place a failure becomes an answer: an *apperr.Error
// is its own answer, a store fault is 503 unavailable, and anything else is
// a bug: 500, its text kept from the client. Handlers return store errors
// as they are (wrapped with context) and never sniff them themselves.
func classify(err error) *apperr.Error {
	var e *apperr.Error
	switch {
	case errors.As(err, &e):
		return e
	case database.IsUnavailable(err), redisconn.IsUnavailable(err):
		return errDependency
	}
	return apperr.As(err)
}

type errorBodyJSON struct {
	Error errorJSON `json:"error"`
}

type errorJSON struct {
	Code      string         `json:"code"`
	Message   string         `json:"message"`
	Details   map[string]any `json:"details,omitempty"`
	RequestID string         `json:"request_id,omitempty"`
}

// WriteError answers with err as {"error":{"code","message",...}}. Store
// faults become 503 unavailable with Retry-After; other errors that are not
// *apperr.Error become a 500. Neither leaks its text; the middleware logs it.
func WriteError(ctx *fasthttp.RequestCtx, err error) {
	e := classify(err)
	status := statusOf[e.Kind]
	if e.RetryAfter > 0 {
		ctx.Response.Header.Set("Retry-After", strconv.Itoa(e.RetryAfter))
	}
	if status == fasthttp.StatusUnauthorized {
		ctx.Response.Header.Set("WWW-Authenticate", `Bearer error="invalid_token", error_description="`+e.Code+`"`)
	}
	ctx.Response.Header.SetContentType("application/json")
	ctx.Response.Header.Set("Cache-Control", "no-store")
	ctx.SetStatusCode(status)
	ctx.SetBody(ErrorBody(e, RequestID(ctx)))
	if !errors.As(err, new(*apperr.Error)) {
		// Keep the real cause for the log line the middleware writes.
		ctx.SetUserValue(causeKey, err.Error())
	}
}

// ErrorBody is the one JSON encoding of an error answer,
// {"error":{"code","message","details","request_id"}} and a newline: what
// WriteError sends, and what a service that stores answers to replay them
// (the booker's idempotency records) stores.
func ErrorBody(e *apperr.Error, requestID string) []byte {
	b, err := json.Marshal(errorBodyJSON{errorJSON{Code: e.Code, Message: e.Message, Details: e.Details, RequestID: requestID}})
	if err != nil {
		return []byte(`{"error":{"code":"internal","message":"cannot encode response"}}` + "\n")
	}
	return append(b, '\n')
}

// WriteJSON answers with v encoded as JSON.
func WriteJSON(ctx *fasthttp.RequestCtx, status int, v any) {
	ctx.Response.Header.SetContentType("application/json")
	ctx.Response.Header.Set("Cache-Control", "no-store")
	ctx.SetStatusCode(status)
	enc := json.NewEncoder(ctx)
	if err := enc.Encode(v); err != nil {
		ctx.ResetBody()
		ctx.SetStatusCode(fasthttp.StatusInternalServerError)
		ctx.SetBodyString(`{"error":{"code":"internal","message":"cannot encode response"}}`)
	}
}

// Handle adapts a handler that returns an error to fasthttp: the error is
// written as JSON with its status.
func Handle(h func(ctx *fasthttp.RequestCtx) error) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		if err := h(ctx); err != nil {
			WriteError(ctx, err)
		}
	}
}

// DecodeJSON reads the body as one JSON object into dst and rejects what a
// lenient decoder would let through: another content type, unknown fields,
// trailing data. Its errors say what is wrong and where.
func DecodeJSON(ctx *fasthttp.RequestCtx, dst any) error {
	ct := string(ctx.Request.Header.ContentType())
	mt, params, err := mime.ParseMediaType(ct)
	if mt != "application/json" || (err != nil && !errors.Is(err, mime.ErrInvalidMediaParameter)) {
		return apperr.New(apperr.UnsupportedMedia, "unsupported_media_type", "send the body as application/json, not %q", ct)
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") && !strings.EqualFold(cs, "utf8") {
		// JSON is UTF-8; a body said to be another charset would be read
		// as what it is not.
		return apperr.New(apperr.UnsupportedMedia, "unsupported_media_type", "send the body as UTF-8, not charset %q", cs)
	}
	return DecodeJSONBytes(ctx.PostBody(), dst)
}

// DecodeJSONBytes is DecodeJSON on a body already read.
func DecodeJSONBytes(body []byte, dst any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return apperr.New(apperr.Malformed, "malformed_json", "the request body is empty; send a JSON object")
	}
	if !utf8.Valid(body) {
		// JSON is UTF-8 (RFC 8259); the decoder would store U+FFFD in
		// place of each bad byte instead of saying so.
		return apperr.New(apperr.Malformed, "malformed_json", "the body is not UTF-8 text")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return apperr.New(apperr.Malformed, "malformed_json", "the body has data after its JSON object")
	}
	if field, ok := firstNull(body); ok {
		// The decoder leaves a null as the zero value: seat 0, an empty
		// name. No field of ours means anything by null, so none gets one.
		return apperr.New(apperr.Invalid, "invalid_field", "%s must not be null; leave out a field you do not send", field).
			With(map[string]any{"field": field})
	}
	return nil
}

// firstNull finds a null anywhere in body, a JSON object, and names the
// top-level field that holds it.
func firstNull(body []byte) (field string, found bool) {
	if !bytes.Contains(body, []byte("null")) {
		return "", false
	}
	const (
		inArray = iota
		wantKey
		wantValue
	)
	var open []int // per open object or array: what its next token is
	dec := json.NewDecoder(bytes.NewReader(body))
	for {
		tok, err := dec.Token()
		if err != nil {
			return "", false
		}
		top := len(open) - 1
		if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
			open = open[:top]
			continue
		}
		if top >= 0 && open[top] == wantKey {
			open[top] = wantValue
			if top == 0 {
				field = tok.(string)
			}
			continue
		}
		if top >= 0 && open[top] == wantValue {
			open[top] = wantKey
		}
		switch tok {
		case nil:
			return field, true
		case json.Delim('{'):
			open = append(open, wantKey)
		case json.Delim('['):
			open = append(open, inArray)
		}
	}
}

func jsonError(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return apperr.New(apperr.Malformed, "malformed_json", "invalid JSON at byte %d: %v", syntax.Offset, syntax)
	case errors.As(err, &typ):
		if typ.Field != "" {
			return apperr.New(apperr.Invalid, "invalid_field", "field %q must be %s, got %s", typ.Field, typ.Type, typ.Value).
				With(map[string]any{"field": typ.Field})
		}
		return apperr.New(apperr.Malformed, "malformed_json", "the body must be a JSON object, got %s", typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return apperr.New(apperr.Malformed, "malformed_json", "the JSON body ends too early")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return apperr.New(apperr.Invalid, "unknown_field", "unknown field %q", field).With(map[string]any{"field": field})
	default:
		return apperr.New(apperr.Malformed, "malformed_json", "cannot read the JSON body: %v", err)
	}
}

// ClientIP is the address of the client: the connection's peer, or, when the
// peer is a trusted proxy, the nearest untrusted address in X-Forwarded-For.
func ClientIP(ctx *fasthttp.RequestCtx, trusted []*net.IPNet) net.IP {
	ip := ctx.RemoteIP()
	if len(trusted) == 0 || !contains(trusted, ip) {
		return ip
	}
	hops := strings.Split(string(ctx.Request.Header.Peek("X-Forwarded-For")), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		hop := net.ParseIP(strings.TrimSpace(hops[i]))
		if hop == nil {
			break
		}
		ip = hop
		if !contains(trusted, hop) {
			break
		}
	}
	return ip
}

func contains(nets []*net.IPNet, ip net.IP) bool {
	for _, n := range nets {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}

// Bearer is the token of an "Authorization: Bearer ..." header, or nil,
// where it lies in the request: valid until the handler returns.
func Bearer(ctx *fasthttp.RequestCtx) []byte {
	h := ctx.Request.Header.Peek(fasthttp.HeaderAuthorization)
	const prefix = "bearer "
	if len(h) <= len(prefix) || !bytes.EqualFold(h[:len(prefix)], []byte(prefix)) {
		return nil
	}
	return bytes.TrimSpace(h[len(prefix):])
}

// BearerToken is Bearer as a string of its own, or "".
func BearerToken(ctx *fasthttp.RequestCtx) string { return string(Bearer(ctx)) }

// Param is the path parameter name as a string.
func Param(ctx *fasthttp.RequestCtx, name string) string {
	v, _ := ctx.UserValue(name).(string)
	return v
}

// ParseID reads a positive integer path parameter such as {id}.
func ParseID(ctx *fasthttp.RequestCtx, name string) (int64, error) {
	raw := Param(ctx, name)
	id, err := strconv.ParseInt(raw, 10, 64)
	// Only the id's own spelling: "01" and "+1" are not another name of 1.
	if err != nil || id <= 0 || raw[0] == '0' || raw[0] == '+' {
		return 0, apperr.New(apperr.NotFound, "not_found", "%s %q is not a valid id", name, raw)
	}
	return id, nil
}

// NoneMatch reports whether an If-None-Match header names etag (quoted)
// by the weak comparison RFC 9110 (13.1.2) asks of it: "*", or a list of
// tags, each perhaps marked W/, one of which has etag's quoted value. So
// a proxy that weakens tags (nginx does, when it compresses) still gets
// its 304.
func NoneMatch(header []byte, etag string) bool {
	for h := header; ; {
		h = bytes.TrimLeft(h, " \t,")
		switch {
		case len(h) == 0:
			return false
		case h[0] == '*':
			return true
		}
		h = bytes.TrimPrefix(h, []byte("W/"))
		end := bytes.IndexByte(h[min(1, len(h)):], '"') + 1
		if len(h) == 0 || h[0] != '"' || end == 0 {
			return false // not a list of tags
		}
		if string(h[:end+1]) == etag {
			return true
		}
		h = h[end+1:]
	}
}
