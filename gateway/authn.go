package gateway

import (
	"bytes"
	"hash/maphash"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/valyala/fasthttp"

	"github.com/ticketvelo/ticketvelo/internal/apperr"
	"github.com/ticketvelo/ticketvelo/internal/tokens"
)

// errNotOps is a fan's token on an ops route.
var errNotOps = apperr.New(apperr.Forbidden, "forbidden", "this needs an ops account")

// accessCache remembers verified access tokens, keyed by the whole token,
// until they expire. A fan polls the queue every few seconds with the same
// token, and an Ed25519 verification costs more than the rest of the poll.
// Only tokens that verified are kept; a cached token is as good as a fresh
// verification because the key is the exact signed text.
type accessCache struct {
	ring     *tokens.Ring
	seed     maphash.Seed
	perShard int
	shards   [64]accessShard
}

type accessShard struct {
	mu sync.RWMutex
	m  map[string]tokens.Access
}

var (
	accessHits   = metrics.GetOrCreateCounter(`ticketvelo_access_token_cache_total{result="hit"}`)
	accessMisses = metrics.GetOrCreateCounter(`ticketvelo_access_token_cache_total{result="miss"}`)
)

// newAccessCache keeps at most size tokens; 0 turns caching off.
func newAccessCache(ring *tokens.Ring, size int) *accessCache {
	c := &accessCache{ring: ring, seed: maphash.MakeSeed(), perShard: size / 64}
	for i := range c.shards {
		c.shards[i].m = map[string]tokens.Access{}
	}
	return c
}

// verify checks an access token, from the cache when it can.
func (c *accessCache) verify(token []byte, now time.Time) (tokens.Access, error) {
	if c.perShard == 0 || len(token) == 0 {
		return c.ring.VerifyAccess(string(token), now)
	}
	s := &c.shards[maphash.Bytes(c.seed, token)%uint64(len(c.shards))]
	s.mu.RLock()
	a, ok := s.m[string(token)]
	s.mu.RUnlock()
	if ok && now.Before(a.ExpiresAt) {
		accessHits.Inc()
		return a, nil
	}
	accessMisses.Inc()
	a, err := c.ring.VerifyAccess(string(token), now)
	if err != nil {
		s.mu.Lock()
		delete(s.m, string(token)) // an entry that just expired
		s.mu.Unlock()
		return a, err
	}
	c.store(s, string(token), a)
	return a, nil
}

// remember caches a token this gateway just signed, so the fan's first
// request after login or registration costs no verification.
func (c *accessCache) remember(token string, a tokens.Access) {
	if c.perShard == 0 {
		return
	}
	c.store(&c.shards[maphash.String(c.seed, token)%uint64(len(c.shards))], token, a)
}

func (c *accessCache) store(s *accessShard, token string, a tokens.Access) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.m) >= c.perShard {
		// Full: drop an eighth, whichever the map yields first. Fans who
		// lose their entry pay one verification on their next poll.
		n := c.perShard/8 + 1
		for k := range s.m {
			delete(s.m, k)
			if n--; n == 0 {
				break
			}
		}
	}
	s.m[token] = a
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

// ops is fan for routes only ops may use: a fan's token gets 403.
func (g *Gateway) ops(ctx *fasthttp.RequestCtx) (tokens.Access, error) {
	a, err := g.fan(ctx)
	if err != nil {
		return a, err
	}
	if a.Role != tokens.RoleOps {
		return a, errNotOps
	}
	return a, nil
}
