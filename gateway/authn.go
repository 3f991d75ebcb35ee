package gateway

import (
	"github.com/valyala/fasthttp"

	"github.com/ticketvelo/ticketvelo/internal/apperr"
	"github.com/ticketvelo/ticketvelo/internal/httpapi"
	"github.com/ticketvelo/ticketvelo/internal/tokens"
)

// errNotOps is the token of an account that is not ops (now) on an ops
// route.
var errNotOps = apperr.New(apperr.Forbidden, "forbidden", "this needs an ops account")

// fan is the caller's access token's claims, or the 401 that refuses it.
// Every request verifies its token: an HS256 access token costs about a
// microsecond, no more than looking it up in a cache of verified tokens
// did, and a fan's first request to this gateway costs the same as any.
func (g *Gateway) fan(ctx *fasthttp.RequestCtx) (tokens.Access, error) {
	return g.d.Ring.VerifyAccessBytes(httpapi.Bearer(ctx), g.d.Now())
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
