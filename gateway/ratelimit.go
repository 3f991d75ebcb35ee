package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"sync"

	"github.com/VictoriaMetrics/metrics"
	"github.com/redis/rueidis"

	"github.com/ticketvelo/ticketvelo/internal/apperr"
	"github.com/ticketvelo/ticketvelo/internal/config"
)

// fixedWindow counts a request in the caller's window and answers 0 when it
// is allowed, or the milliseconds until the window ends when it is not.
// KEYS: 1 counter; ARGV: 1 limit, 2 window (ms)
var fixedWindow = rueidis.NewLuaScript(`
local n = redis.call('INCR', KEYS[1])
if n == 1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
if n <= tonumber(ARGV[1]) then
  return 0
end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  ttl = tonumber(ARGV[2])
end
return ttl
`)

var errRateLimited = apperr.New(apperr.RateLimited, "rate_limited", "too many requests")

// limiter enforces the abuse limits in Redis, so they hold across gateways.
// Counters are fixed windows: cheap, and at worst twice the limit across a
// window's edge, which is fine against floods.
type limiter struct {
	client rueidis.Client
	prefix string
}

// limit is one counter to check: a scope ("join-ip"), whose it is, and the
// allowance.
type limit struct {
	scope string
	who   string
	rule  config.RateLimit
}

// check counts the request against every limit at once and refuses it with
// 429 and Retry-After when any is exhausted.
func (l *limiter) check(ctx context.Context, limits ...limit) error {
	var (
		wg      sync.WaitGroup
		results = make([]rueidis.RedisResult, len(limits))
	)
	// Concurrent calls share one pipelined round trip to Redis; the last
	// runs on this goroutine.
	run := func(i int) {
		lim := limits[i]
		results[i] = fixedWindow.Exec(ctx, l.client, []string{l.prefix + "rl:" + lim.scope + ":" + lim.who},
			[]string{strconv.Itoa(lim.rule.N), strconv.FormatInt(lim.rule.Per.Milliseconds(), 10)})
	}
	last := -1
	for i, lim := range limits {
		if lim.rule.N <= 0 {
			continue
		}
		if prev := last; prev >= 0 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				run(prev)
			}()
		}
		last = i
	}
	if last >= 0 {
		run(last)
	}
	wg.Wait()
	var wait int64
	for i, lim := range limits {
		if lim.rule.N <= 0 {
			continue
		}
		ms, err := results[i].AsInt64()
		if err != nil {
			e := *apperr.New(apperr.Unavailable, "unavailable", "cannot check request limits; try again shortly")
			e.RetryAfter = 2
			return fmt.Errorf("checking the %s limit: %w: %w", lim.scope, &e, err)
		}
		if ms > 0 {
			metrics.GetOrCreateCounter(`ticketvelo_rate_limited_total{scope="` + lim.scope + `"}`).Inc()
			wait = max(wait, ms)
		}
	}
	if wait == 0 {
		return nil
	}
	e := *errRateLimited
	e.RetryAfter = int((wait + 999) / 1000)
	e.Message = fmt.Sprintf("too many requests; try again in %d s", e.RetryAfter)
	return &e
}

// accountKey names an account in a limit key without putting what a client
// typed into Redis as is.
func accountKey(email string) string {
	sum := sha256.Sum256([]byte(email))
	return hex.EncodeToString(sum[:12])
}
