// Package gateway is the public edge: it serves the web UI and mounts the
// public API routes of accounts, events, the waiting room and the ops
// console's admission controls.
package gateway

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/fasthttp/router"
	"github.com/redis/rueidis"
	"github.com/valyala/fasthttp"

	"github.com/ticketvelo/ticketvelo/admission"
	"github.com/ticketvelo/ticketvelo/catalog"
	"github.com/ticketvelo/ticketvelo/frontend"
	"github.com/ticketvelo/ticketvelo/identity"
	"github.com/ticketvelo/ticketvelo/internal/config"
	"github.com/ticketvelo/ticketvelo/internal/httpapi"
	"github.com/ticketvelo/ticketvelo/internal/tokens"
)

// Deps are what the gateway serves from, besides its Config.
type Deps struct {
	Users   *identity.Store
	Catalog *catalog.Store
	Events  *catalog.Cache // event pages, a second stale at most
	Room    *admission.Room
	Ring    *tokens.Ring
	// Redis and Prefix hold the abuse limits' counters.
	Redis  rueidis.Client
	Prefix string
	// StoreTimeout bounds the Postgres and Redis work of a request
	// (TICKETVELO_STORE_TIMEOUT); the default when 0.
	StoreTimeout   time.Duration
	TrustedProxies []*net.IPNet // whose X-Forwarded-For names the client
	Now            func() time.Time
}

// Gateway holds the edge's routes.
type Gateway struct {
	cfg    Config
	d      Deps
	ui     *uiHandler
	roles  *roleCache
	pages  eventPages
	limits *limiter
	jwks   []byte
}

// New returns a gateway with the settings cfg, serving the API from d and
// the embedded UI. d.Room is the waiting room of cfg.Admission.
func New(cfg Config, d Deps) (*Gateway, error) {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.StoreTimeout <= 0 {
		d.StoreTimeout = config.Default().StoreTimeout
	}
	jwks, err := d.Ring.JWKS()
	if err != nil {
		return nil, fmt.Errorf("encoding the JWKS: %w", err)
	}
	return &Gateway{
		cfg:    cfg,
		d:      d,
		ui:     newUIHandler(frontend.Files()),
		roles:  newRoleCache(d.Users.Role, cfg.RoleCacheTTL),
		limits: &limiter{client: d.Redis, prefix: d.Prefix, now: d.Now},
		jwks:   jwks,
	}, nil
}

// Routes mounts the gateway on r. Paths no route matches fall through to the
// UI; what the UI does not serve keeps the router's JSON 404.
func (g *Gateway) Routes(r *router.Router) {
	r.GET("/.well-known/jwks.json", g.serveJWKS)
	r.POST("/api/v1/auth/register", httpapi.Handle(g.register))
	r.POST("/api/v1/auth/login", httpapi.Handle(g.login))
	r.GET("/api/v1/me", httpapi.Handle(g.me))

	r.GET("/api/v1/events", httpapi.Handle(g.listEvents))
	r.GET("/api/v1/events/{id}", httpapi.Handle(g.getEvent))
	r.POST("/api/v1/events/{id}/queue", httpapi.Handle(g.joinQueue))
	r.GET("/api/v1/events/{id}/queue", httpapi.Handle(g.queueStatus))
	r.DELETE("/api/v1/events/{id}/queue", httpapi.Handle(g.leaveQueue))

	r.GET("/api/v1/admin/venues", httpapi.Handle(g.listVenues))
	r.POST("/api/v1/admin/events", httpapi.Handle(g.createEvent))
	r.GET("/api/v1/admin/events/{id}/admission", httpapi.Handle(g.getAdmission))
	r.PUT("/api/v1/admin/events/{id}/admission", httpapi.Handle(g.putAdmission))
	r.GET("/api/v1/admin/events/{id}/stats", httpapi.Handle(g.stats))
	r.GET("/api/v1/admin/events/{id}/stats/history", httpapi.Handle(g.opsHistory))

	notFound := r.NotFound
	r.NotFound = func(ctx *fasthttp.RequestCtx) {
		if !g.ui.serve(ctx) {
			notFound(ctx)
		}
	}
}

// storeCtx bounds a request's work on Postgres (and Redis) by the store
// timeout, plus extra: a store that stalls without failing (a black-holed
// failover) costs the fan a 503 within it instead of a hang. Only routes
// that reach Postgres pay for it; the queue polls answer from memory and
// Redis, whose client has timeouts of its own.
func (g *Gateway) storeCtx(ctx *fasthttp.RequestCtx, extra time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, g.d.StoreTimeout+extra)
}

func (g *Gateway) serveJWKS(ctx *fasthttp.RequestCtx) {
	ctx.SetContentType("application/json")
	// Outside verifiers may keep the keys five minutes; our services read
	// the shared key file instead.
	ctx.Response.Header.Set("Cache-Control", "public, max-age=300")
	ctx.SetBody(g.jwks)
}
