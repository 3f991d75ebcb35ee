package httpapi

import (
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/fasthttp/router"
	"github.com/valyala/fasthttp"

	"github.com/ticketvelo/ticketvelo/internal/promtext"
)

// Header names as fasthttp keeps them, so setting one costs no
// normalising copy.
var (
	requestIDKey  = []byte(requestIDHeader)
	nosniffHeader = []byte("X-Content-Type-Options")
	nosniff       = []byte("nosniff")
)

const (
	requestIDHeader = "X-Request-Id"
	causeKey        = "error_cause" // the hidden text of an internal error, for the log
)

var (
	// requestIDPrefix makes ids unique across processes; the counter makes
	// them unique and cheap within one.
	requestIDPrefix = func() string {
		b := make([]byte, 4)
		_, _ = rand.Read(b)
		return hex.EncodeToString(b)
	}()
	requestCounter atomic.Uint64
)

// middleware gives each request an id, times it and counts it by route and
// status, and logs server errors once, here at the edge.
func (s *Server) middleware(next fasthttp.RequestHandler) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		// fasthttp read the clock as the request arrived; a second read
		// here would cost every request.
		start := ctx.Time()
		if start.IsZero() { // a RequestCtx not from a server's connection
			start = time.Now()
		}
		assignRequestID(ctx)
		// Browsers must take every answer as the type it says it is: a JSON
		// error echoing a client's text is never run as a script or page.
		ctx.Response.Header.SetCanonical(nosniffHeader, nosniff)

		// HEAD is GET without the body (RFC 9110 §9.3.2), for every GET
		// route; fasthttp leaves out the body of a HEAD's answer.
		head := ctx.IsHead()
		if head {
			ctx.Request.Header.SetMethod(fasthttp.MethodGet)
		}
		next(ctx)
		if head {
			ctx.Request.Header.SetMethod(fasthttp.MethodHead)
		}

		route, _ := ctx.UserValue(router.MatchedRoutePathParam).(string)
		if route == "" {
			route = "unmatched"
		}
		status := ctx.Response.StatusCode()
		m := s.metrics.get(route, methodName(ctx.Method()), status)
		m.requests.Inc()
		m.latency.UpdateDuration(start)
		if status >= 500 {
			// A 503 is a store fault or load shed, expected in an outage
			// and answered; a 500 is a bug.
			ev := s.log.Error()
			if status == fasthttp.StatusServiceUnavailable {
				ev = s.log.Warn()
			}
			ev.Str("request_id", RequestID(ctx)).Str("method", string(ctx.Method())).Str("route", route).
				Int("status", status).Dur("took", time.Since(start)).Bytes("body", errorBody(ctx)).Interface("cause", ctx.UserValue(causeKey)).Msg("request failed")
		} else if e := s.log.Debug(); e.Enabled() {
			e.Str("request_id", RequestID(ctx)).Str("method", string(ctx.Method())).Bytes("path", ctx.Path()).
				Int("status", status).Dur("took", time.Since(start)).Msg("request")
		}
	}
}

func errorBody(ctx *fasthttp.RequestCtx) []byte {
	body := ctx.Response.Body()
	if len(body) > 512 {
		body = body[:512]
	}
	return body
}

// assignRequestID gives the request its id: the caller's X-Request-Id when
// it is plain, a fresh one otherwise. The id lives in the response header,
// where RequestID reads it back, so the hot path allocates nothing for it.
func assignRequestID(ctx *fasthttp.RequestCtx) {
	if id := ctx.Request.Header.Peek(requestIDHeader); acceptRequestID(id) {
		ctx.Response.Header.SetCanonical(requestIDKey, id)
		return
	}
	var buf [32]byte
	id := append(buf[:0], requestIDPrefix...)
	id = append(id, '-')
	id = strconv.AppendUint(id, requestCounter.Add(1), 36)
	ctx.Response.Header.SetCanonical(requestIDKey, id)
}

// acceptRequestID keeps a caller's request id only when it is short and
// plain, so ids cannot smuggle text into logs.
func acceptRequestID(b []byte) bool {
	if len(b) == 0 || len(b) > 64 {
		return false
	}
	for _, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// RequestID is the id of the request, as logged and returned in X-Request-Id.
func RequestID(ctx *fasthttp.RequestCtx) string {
	return string(ctx.Response.Header.Peek(requestIDHeader))
}

// methodName returns the method as a constant string, so the metrics lookup
// does not allocate one per request.
func methodName(m []byte) string {
	for _, name := range [...]string{"GET", "POST", "PUT", "DELETE", "HEAD", "PATCH", "OPTIONS"} {
		if string(m) == name {
			return name
		}
	}
	return "OTHER"
}

// latencyBuckets span a cached poll (100 µs) to a stalled dependency (10 s).
var latencyBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

var (
	requestsFamily = promtext.Help("ticketvelo_http_requests_total", "HTTP answers by route pattern, method and status code.")
	latencyFamily  = promtext.Help("ticketvelo_http_request_duration_seconds", "Time from a request's arrival to its answer, by route pattern, method and status code.")
	rateLimited    = promtext.Help("ticketvelo_rate_limited_total", "Requests refused with 429 because a rate limit was spent, by the limit's scope.")
)

// RateLimited is the counter of requests refused by the rate limit scope:
// the gateway's sign-in and registration limits and the waiting room's
// joins share this one family. Asking for a scope at start makes its series
// exist at zero, so rate() sees it before the first refusal.
func RateLimited(scope string) *metrics.Counter {
	return metrics.GetOrCreateCounter(rateLimited + `{scope="` + scope + `"}`)
}

type routeKey struct {
	route, method string
	status        int
}

type routeMetric struct {
	requests *metrics.Counter
	latency  *metrics.PrometheusHistogram
}

// routeMetrics caches the metric objects per route, method and status so the
// hot path does no string formatting after the first request.
type routeMetrics struct{ m sync.Map }

func (r *routeMetrics) get(route, method string, status int) routeMetric {
	key := routeKey{route, method, status}
	if v, ok := r.m.Load(key); ok {
		return v.(routeMetric)
	}
	labels := `{route=` + strconv.Quote(route) + `,method=` + strconv.Quote(method) + `,status="` + strconv.Itoa(status) + `"}`
	m := routeMetric{
		requests: metrics.GetOrCreateCounter(requestsFamily + labels),
		latency:  metrics.GetOrCreatePrometheusHistogramExt(latencyFamily+labels, latencyBuckets),
	}
	r.m.Store(key, m)
	return m
}

func serveMetrics(ctx *fasthttp.RequestCtx) {
	ctx.SetContentType("text/plain; version=0.0.4; charset=utf-8")
	if err := promtext.Write(ctx); err != nil {
		ctx.Error("writing metrics failed", fasthttp.StatusInternalServerError)
	}
}
