// Package gateway is the public edge: it serves the web UI and mounts the
// public API routes of accounts, events and the waiting room.
package gateway

import (
	"github.com/fasthttp/router"
	"github.com/valyala/fasthttp"

	"github.com/ticketvelo/ticketvelo/frontend"
)

// Gateway holds the edge's routes.
type Gateway struct {
	ui *uiHandler
}

// New returns a gateway serving the embedded UI.
func New() *Gateway {
	return &Gateway{ui: newUIHandler(frontend.Files())}
}

// Routes mounts the gateway on r. Paths no route matches fall through to the
// UI; what the UI does not serve keeps the router's JSON 404.
func (g *Gateway) Routes(r *router.Router) {
	notFound := r.NotFound
	r.NotFound = func(ctx *fasthttp.RequestCtx) {
		if !g.ui.serve(ctx) {
			notFound(ctx)
		}
	}
}
