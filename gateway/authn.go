package gateway

import (
	"time"

	"github.com/valyala/fasthttp"

	"github.com/ticketvelo/ticketvelo/internal/apperr"
	"github.com/ticketvelo/ticketvelo/internal/httpapi"
	"github.com/ticketvelo/ticketvelo/internal/tokens"
)

// errNotOps is the token of an account that is not ops (now) on an ops
// route.
var errNotOps = apperr.New(apperr.Forbidden, "forbidden", "this needs an ops account")

// fan is the caller's access token's claims, or the 401 that refuses it.
// Every request checks its token: a fan's first request to this gateway
// verifies it (an HS256 MAC, about a microsecond), the next ones find it
// among the tokens the ring remembers (tokens.Ring.RememberAccess).
func (g *Gateway) fan(ctx *fasthttp.RequestCtx) (tokens.Access, error) {
	return g.fanAt(ctx, g.d.Now())
}

// fanAt is fan for a handler that read the clock already: one read a
// request is enough, and the queue's polls are most of drop day's.
func (g *Gateway) fanAt(ctx *fasthttp.RequestCtx, now time.Time) (tokens.Access, error) {
	return g.d.Ring.VerifyAccessBytes(httpapi.Bearer(ctx), now)
}

// ops is fan for routes only ops may use: an account that is not ops gets
// 403. Whether it is ops is the database's answer (cached for
// RoleCacheTTL), not the token's role claim, which may be hours old: a
// demoted account loses these routes within the TTL, and a promoted one
// gains them without signing in again.
func (g *Gateway) ops(ctx *fasthttp.RequestCtx) (tokens.Access, error) {
	a, err := g.fan(ctx)
	if err != nil {
		return a, err
	}
	sctx, cancel := g.storeCtx(ctx, 0)
	defer cancel()
	isOps, err := g.roles.isOps(sctx, a.UserID, g.d.Now())
	if err != nil {
		return a, err
	}
	if !isOps {
		return a, errNotOps
	}
	a.Role = tokens.RoleOps
	return a, nil
}
