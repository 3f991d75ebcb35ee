package gateway

import (
	"bytes"
	"crypto/sha256"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/valyala/fasthttp"

	"github.com/ticketvelo/ticketvelo/internal/apperr"
	"github.com/ticketvelo/ticketvelo/internal/tokens"
)

// errNotOps is the token of an account that is not ops (now) on an ops
// route.
var errNotOps = apperr.New(apperr.Forbidden, "forbidden", "this needs an ops account")

// accessCache remembers verified access tokens until they expire. A fan
// polls the queue every few seconds with the same token, and an Ed25519
// verification costs more than the rest of the poll. Only tokens that
// verified are kept. The key is the SHA-256 of the whole token (first 16
// bytes), so a cached entry stands for exactly that signed text, and
// entries hold no pointers: a million of them take ~50 MB and cost the
// garbage collector nothing to scan.
type accessCache struct {
	ring     *tokens.Ring
	perShard int
	shards   [64]accessShard
}

type accessShard struct {
	mu sync.RWMutex
	m  map[tokenDigest]cachedAccess
}

type tokenDigest [16]byte

type cachedAccess struct {
	user int64
	exp  int64 // unix seconds
	ops  bool
}

func digest(token []byte) tokenDigest {
	sum := sha256.Sum256(token)
	return tokenDigest(sum[:16])
}

func (a cachedAccess) access() tokens.Access {
	role := tokens.RoleFan
	if a.ops {
		role = tokens.RoleOps
	}
	return tokens.Access{UserID: a.user, Role: role, ExpiresAt: time.Unix(a.exp, 0)}
}

var (
	accessHits   = metrics.GetOrCreateCounter(`ticketvelo_access_token_cache_total{result="hit"}`)
	accessMisses = metrics.GetOrCreateCounter(`ticketvelo_access_token_cache_total{result="miss"}`)
)

// newAccessCache keeps at most size tokens; 0 turns caching off.
func newAccessCache(ring *tokens.Ring, size int) *accessCache {
	c := &accessCache{ring: ring, perShard: size / 64}
	for i := range c.shards {
		c.shards[i].m = map[tokenDigest]cachedAccess{}
	}
	return c
}

// verify checks an access token, from the cache when it can.
func (c *accessCache) verify(token []byte, now time.Time) (tokens.Access, error) {
	if c.perShard == 0 || len(token) == 0 {
		return c.ring.VerifyAccess(string(token), now)
	}
	d := digest(token)
	s := &c.shards[d[0]%64]
	s.mu.RLock()
	a, ok := s.m[d]
	s.mu.RUnlock()
	if ok && now.Unix() < a.exp {
		accessHits.Inc()
		return a.access(), nil
	}
	accessMisses.Inc()
	verified, err := c.ring.VerifyAccess(string(token), now)
	if err != nil {
		if ok {
			s.mu.Lock()
			delete(s.m, d) // an entry that just expired
			s.mu.Unlock()
		}
		return verified, err
	}
	c.store(s, d, verified)
	return verified, nil
}

// remember caches a token this gateway just signed, so the fan's first
// request after login or registration costs no verification.
func (c *accessCache) remember(token string, a tokens.Access) {
	if c.perShard == 0 {
		return
	}
	d := digest([]byte(token))
	c.store(&c.shards[d[0]%64], d, a)
}

func (c *accessCache) store(s *accessShard, d tokenDigest, a tokens.Access) {
	entry := cachedAccess{user: a.UserID, exp: a.ExpiresAt.Unix(), ops: a.Role == tokens.RoleOps}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.m) >= c.perShard {
		// Full: drop an eighth, whichever the map yields first. Fans who
		// lose their entry pay one verification on their next request.
		n := c.perShard/8 + 1
		for k := range s.m {
			delete(s.m, k)
			if n--; n == 0 {
				break
			}
		}
	}
	s.m[d] = entry
}

// bearer is the token of an "Authorization: Bearer ..." header, without
// copying it.
func bearer(ctx *fasthttp.RequestCtx) []byte {
	h := ctx.Request.Header.Peek(fasthttp.HeaderAuthorization)
	const prefix = "bearer "
	if len(h) <= len(prefix) || !bytes.EqualFold(h[:len(prefix)], []byte(prefix)) {
		return nil
	}
	return bytes.TrimSpace(h[len(prefix):])
}

// fan is the caller's access token's claims, or the 401 that refuses it.
func (g *Gateway) fan(ctx *fasthttp.RequestCtx) (tokens.Access, error) {
	return g.access.verify(bearer(ctx), g.d.Now())
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
