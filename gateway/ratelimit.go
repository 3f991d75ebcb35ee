package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/rueidis"

	"github.com/ticketvelo/ticketvelo/internal/apperr"
	"github.com/ticketvelo/ticketvelo/internal/config"
	"github.com/ticketvelo/ticketvelo/internal/httpapi"
)

var errRateLimited = apperr.New(apperr.RateLimited, "rate_limited", "too many requests")

// The scopes of the gateway's limits, the scope label of
// ticketvelo_rate_limited_total.
const (
	scopeRegisterIP         = "register-ip"
	scopeRegisterAccount    = "register-account"
	scopeLoginIP            = "login-ip"
	scopeLoginFailAccountIP = "login-fail-account-ip"
	scopeLoginFailAccount   = "login-fail-account"
)

func init() {
	// Every scope's series exists from the start, so rate() sees zeros.
	for _, s := range []string{scopeRegisterIP, scopeRegisterAccount, scopeLoginIP, scopeLoginFailAccountIP, scopeLoginFailAccount} {
		httpapi.RateLimited(s)
	}
}

// limiter enforces the limits on registration and login in Redis, so they
// hold across gateways (the waiting room counts joins in the join itself).
// Counters are fixed windows aligned on the clock: cheap, and at worst
// twice the limit across a window's edge, which is fine against floods.
type limiter struct {
	client rueidis.Client
	prefix string
	now    func() time.Time
}

// limit is one counter to check: a scope ("login-ip"), whose it is (an
// address or a hashed email), and the allowance.
type limit struct {
	scope string
	who   string
	rule  config.RateLimit
	// clearOnSuccess makes a successful attempt empty the counter rather
	// than give its unit back (reserve only): a fan's failed logins.
	clearOnSuccess bool
}

// key is the counter's hash and field for the window that holds now.
func (l *limiter) key(lim limit, now time.Time) (key, field string, end time.Time) {
	per := lim.rule.Per.Milliseconds()
	window := now.UnixMilli() / per
	end = time.UnixMilli((window + 1) * per)
	return l.prefix + "rl:" + lim.scope + ":" + strconv.FormatInt(window, 36) + ":" + lim.who, "n", end
}

// check counts the request against every limit at once and refuses it with
// 429 and Retry-After when any is exhausted. It is one pipelined round trip
// of plain commands: a counter increment and the window's expiry for each
// limit, cheaper for Redis than a script.
func (l *limiter) check(ctx context.Context, limits ...limit) error {
	now := l.now()
	cmds := make(rueidis.Commands, 0, 2*len(limits))
	ends := make([]time.Time, 0, len(limits))
	active := make([]limit, 0, len(limits))
	for _, lim := range limits {
		if lim.rule.N <= 0 {
			continue
		}
		key, field, end := l.key(lim, now)
		cmds = append(cmds,
			l.client.B().Hincrby().Key(key).Field(field).Increment(1).Build(),
			l.client.B().Pexpireat().Key(key).MillisecondsTimestamp(end.UnixMilli()).Build())
		ends = append(ends, end)
		active = append(active, lim)
	}
	if len(cmds) == 0 {
		return nil
	}
	results := l.client.DoMulti(ctx, cmds...)
	var wait time.Duration
	for i, lim := range active {
		n, err := results[2*i].AsInt64()
		if err == nil {
			err = results[2*i+1].Error()
		}
		if err != nil {
			e := *apperr.New(apperr.Unavailable, "unavailable", "cannot check request limits; try again shortly")
			e.RetryAfter = 2
			return fmt.Errorf("checking the %s limit: %w: %w", lim.scope, &e, err)
		}
		if n > int64(lim.rule.N) {
			httpapi.RateLimited(lim.scope).Inc()
			wait = max(wait, ends[i].Sub(now))
		}
	}
	if wait == 0 {
		return nil
	}
	return rateLimited(wait)
}

// rateLimited is the 429 that asks the client to wait.
func rateLimited(wait time.Duration) error {
	e := *errRateLimited
	e.RetryAfter = apperr.RetryAfterSeconds(wait)
	e.Message = fmt.Sprintf("too many requests; try again in %d s", e.RetryAfter)
	return &e
}

// reserveScript takes one unit of every counter in KEYS, or none when any
// is spent, so that a refused attempt counts nowhere. ARGV holds, per key,
// its allowance and the unix millisecond its window ends. It returns the
// 1-based indexes of the spent counters (none when it took the units).
var reserveScript = rueidis.NewLuaScript(`
local spent = {}
for i, key in ipairs(KEYS) do
  if tonumber(redis.call('HGET', key, 'n') or '0') >= tonumber(ARGV[2*i-1]) then
    spent[#spent+1] = i
  end
end
if #spent == 0 then
  for i, key in ipairs(KEYS) do
    redis.call('HINCRBY', key, 'n', 1)
    redis.call('PEXPIREAT', key, ARGV[2*i])
  end
end
return spent
`)

// reservation is what reserve took: a unit of each counter, in the window
// of the moment it was taken.
type reservation struct {
	keys  []string
	ends  []time.Time
	clear []bool
}

// reserve takes a unit of every limit before the work they guard, and
// refuses with 429 and Retry-After when any is spent. Unlike check, the
// attempt is counted only where it is allowed, and the caller later keeps
// the unit (a failure), gives it back or clears the counter (settle).
// Taking before the work means concurrent attempts cannot pass a limit
// together. The keys of one call go to one script, so in a Redis Cluster
// their whos must share a hash tag ("{account}").
func (l *limiter) reserve(ctx context.Context, limits ...limit) (reservation, error) {
	now := l.now()
	var r reservation
	var args []string
	var active []limit
	for _, lim := range limits {
		if lim.rule.N <= 0 {
			continue
		}
		key, _, end := l.key(lim, now)
		r.keys, r.ends, r.clear = append(r.keys, key), append(r.ends, end), append(r.clear, lim.clearOnSuccess)
		args = append(args, strconv.Itoa(lim.rule.N), strconv.FormatInt(end.UnixMilli(), 10))
		active = append(active, lim)
	}
	if len(r.keys) == 0 {
		return r, nil
	}
	spent, err := reserveScript.Exec(ctx, l.client, r.keys, args).AsIntSlice()
	if err != nil {
		e := *apperr.New(apperr.Unavailable, "unavailable", "cannot check request limits; try again shortly")
		e.RetryAfter = 2
		return reservation{}, fmt.Errorf("reserving the %s limit: %w: %w", active[0].scope, &e, err)
	}
	var wait time.Duration
	for _, i := range spent {
		httpapi.RateLimited(active[i-1].scope).Inc()
		wait = max(wait, r.ends[i-1].Sub(now))
	}
	if len(spent) > 0 {
		return reservation{}, rateLimited(wait)
	}
	return r, nil
}

// settle gives back the units of r when the attempt did not count against
// its limits; after a success, counters marked clearOnSuccess are emptied
// instead. A unit kept (not settled) counts until its window ends.
func (l *limiter) settle(ctx context.Context, r reservation, success bool) error {
	cmds := make(rueidis.Commands, 0, 2*len(r.keys))
	for i, key := range r.keys {
		if success && r.clear[i] {
			cmds = append(cmds, l.client.B().Del().Key(key).Build())
			continue
		}
		// The expiry again: the counter may have been cleared meanwhile, and
		// a key must never outlive its window.
		cmds = append(cmds,
			l.client.B().Hincrby().Key(key).Field("n").Increment(-1).Build(),
			l.client.B().Pexpireat().Key(key).MillisecondsTimestamp(r.ends[i].UnixMilli()).Build())
	}
	for _, res := range l.client.DoMulti(ctx, cmds...) {
		if err := res.Error(); err != nil {
			return fmt.Errorf("settling request limits: %w", err)
		}
	}
	return nil
}

// accountKey names an account in a limit key without putting what a client
// typed into Redis as is.
func accountKey(email string) string {
	sum := sha256.Sum256([]byte(email))
	return hex.EncodeToString(sum[:12])
}
