// Package httpapi is the HTTP edge every TicketVelo service shares: a
// fasthttp server with a router, request ids, per-route metrics, JSON errors,
// health and readiness endpoints, and a graceful shutdown in which readiness
// fails first and in-flight requests finish.
package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fasthttp/router"
	"github.com/rs/zerolog"
	"github.com/valyala/fasthttp"

	"github.com/ticketvelo/ticketvelo/internal/apperr"
)

// Options configure a Server.
type Options struct {
	MaxBodyBytes    int
	ShutdownDelay   time.Duration // readiness fails this long before the listener closes
	ShutdownTimeout time.Duration // in-flight requests get this long to finish
	TrustedProxies  []*net.IPNet  // whose X-Forwarded-For is believed
}

// Check reports whether a dependency is usable.
type Check func(ctx context.Context) error

// Server serves a router with TicketVelo's middleware.
type Server struct {
	// Router is where services mount their routes.
	Router *router.Router

	opts    Options
	log     zerolog.Logger
	ready   atomic.Bool
	mu      sync.Mutex
	checks  map[string]Check
	causes  map[string]string // each check's last error text, "" when it passed
	metrics routeMetrics
}

// NewServer returns a server with /healthz, /readyz and /metrics mounted.
func NewServer(opts Options, log zerolog.Logger) *Server {
	r := router.New()
	r.SaveMatchedRoutePath = true
	r.RedirectTrailingSlash = false
	// No redirects to a "fixed" path either (/API/v1 to /api/v1): their
	// Location is built from the client's Host header, which a cache in
	// front could be made to keep.
	r.RedirectFixedPath = false
	s := &Server{Router: r, opts: opts, log: log, checks: map[string]Check{}, causes: map[string]string{}}
	r.NotFound = func(ctx *fasthttp.RequestCtx) {
		WriteError(ctx, apperr.New(apperr.NotFound, "not_found", "no route for %s %s", ctx.Method(), ctx.Path()))
	}
	r.MethodNotAllowed = func(ctx *fasthttp.RequestCtx) {
		WriteError(ctx, apperr.New(apperr.MethodNotAllowed, "method_not_allowed", "%s is not allowed on %s; allowed: %s",
			ctx.Method(), ctx.Path(), ctx.Response.Header.Peek("Allow")))
	}
	r.PanicHandler = func(ctx *fasthttp.RequestCtx, v any) {
		s.log.Error().Str("request_id", RequestID(ctx)).Interface("panic", v).Bytes("path", ctx.Path()).Msg("handler panicked")
		WriteError(ctx, apperr.New(apperr.Internal, "internal", "internal error"))
	}
	r.GET("/healthz", func(ctx *fasthttp.RequestCtx) { WriteJSON(ctx, fasthttp.StatusOK, map[string]string{"status": "ok"}) })
	r.GET("/readyz", s.readyz)
	r.GET("/metrics", serveMetrics)
	s.ready.Store(true)
	return s
}

// AddCheck makes /readyz depend on check, reported under name.
func (s *Server) AddCheck(name string, check Check) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.checks[name] = check
}

// Handler is the router wrapped in the middleware.
func (s *Server) Handler() fasthttp.RequestHandler {
	return s.middleware(s.Router.Handler)
}

// Serve answers on ln until ctx ends, then shuts down gracefully: /readyz
// fails for ShutdownDelay so load balancers stop sending, then the listener
// closes and in-flight requests get ShutdownTimeout to finish.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &fasthttp.Server{
		Handler:                      s.Handler(),
		Name:                         "ticketvelo",
		MaxRequestBodySize:           s.opts.MaxBodyBytes,
		ReadTimeout:                  30 * time.Second,
		WriteTimeout:                 30 * time.Second,
		IdleTimeout:                  2 * time.Minute,
		DisablePreParseMultipartForm: true,
		NoDefaultServerHeader:        true,
		ErrorHandler:                 s.parseError,
		Logger:                       fasthttpLogger{s.log},
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serving HTTP on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	s.ready.Store(false)
	s.log.Info().Dur("delay", s.opts.ShutdownDelay).Msg("shutting down: readiness now fails")
	time.Sleep(s.opts.ShutdownDelay)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opts.ShutdownTimeout)
	defer cancel()
	if err := srv.ShutdownWithContext(sctx); err != nil {
		return fmt.Errorf("shutting down HTTP: %w", err)
	}
	return <-errc
}

// parseError answers requests fasthttp could not read, such as bodies over
// the limit, in the same JSON shape as every other error.
func (s *Server) parseError(ctx *fasthttp.RequestCtx, err error) {
	assignRequestID(ctx)
	ctx.Response.Header.Set("X-Content-Type-Options", "nosniff")
	if errors.Is(err, fasthttp.ErrBodyTooLarge) {
		WriteError(ctx, apperr.New(apperr.TooLarge, "body_too_large", "request body is larger than %d bytes", s.opts.MaxBodyBytes))
		return
	}
	var small *fasthttp.ErrSmallBuffer
	if errors.As(err, &small) {
		writeRaw(ctx, fasthttp.StatusRequestHeaderFieldsTooLarge, "headers_too_large", "request headers are too large")
		return
	}
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		writeRaw(ctx, fasthttp.StatusRequestTimeout, "request_timeout", "the request was not received in time")
		return
	}
	WriteError(ctx, apperr.New(apperr.Malformed, "malformed_request", "cannot parse the request"))
}

// writeRaw answers with an error of a status no apperr.Kind has (the
// request could not be read far enough to be a handler's), in the same
// JSON shape as WriteError's.
func writeRaw(ctx *fasthttp.RequestCtx, status int, code, message string) {
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	ctx.SetBody(ErrorBody(&apperr.Error{Code: code, Message: message}, RequestID(ctx)))
}

// readyz answers 200 when every dependency check passes, 503 naming the
// failing ones otherwise, and 503 once shutdown has begun. It is public
// (the proxy sends it on), so it says which dependency failed but not how:
// the error, with its addresses and driver details, goes to the log.
func (s *Server) readyz(ctx *fasthttp.RequestCtx) {
	if !s.ready.Load() {
		WriteJSON(ctx, fasthttp.StatusServiceUnavailable, map[string]any{"status": "shutting_down"})
		return
	}
	names, errs := s.runChecks()
	report := map[string]string{}
	var failing []string
	for i, name := range names {
		s.noteCheck(name, errs[i])
		report[name] = "ok"
		if errs[i] != nil {
			report[name] = "failing"
			failing = append(failing, name)
		}
	}
	if len(failing) > 0 {
		WriteJSON(ctx, fasthttp.StatusServiceUnavailable, map[string]any{"status": "unavailable", "failing": failing, "checks": report})
		return
	}
	WriteJSON(ctx, fasthttp.StatusOK, map[string]any{"status": "ready", "checks": report})
}

// runChecks runs every check at once, within two seconds, and returns
// their names in order with their errors.
func (s *Server) runChecks() ([]string, []error) {
	s.mu.Lock()
	names := make([]string, 0, len(s.checks))
	checks := make(map[string]Check, len(s.checks))
	for name, check := range s.checks {
		names = append(names, name)
		checks[name] = check
	}
	s.mu.Unlock()
	sort.Strings(names)

	cctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Go(func() { errs[i] = checks[name](cctx) })
	}
	wg.Wait()
	return names, errs
}

// noteCheck logs a check's result when it changes: its error when it
// starts failing or fails another way, and its recovery. Probes come every
// few seconds, so logging each failure would bury the first one.
func (s *Server) noteCheck(name string, err error) {
	cause := ""
	if err != nil {
		cause = err.Error()
	}
	s.mu.Lock()
	prev := s.causes[name]
	s.causes[name] = cause
	s.mu.Unlock()
	switch {
	case cause != "" && cause != prev:
		s.log.Warn().Str("check", name).Str("error", cause).Msg("readiness check failing")
	case cause == "" && prev != "":
		s.log.Info().Str("check", name).Msg("readiness check passes again")
	}
}

// fasthttpLogger sends fasthttp's own messages (mostly clients that sent
// garbage or went away) to the debug log instead of stdout.
type fasthttpLogger struct{ log zerolog.Logger }

func (l fasthttpLogger) Printf(format string, args ...any) {
	l.log.Debug().Msgf(format, args...)
}
