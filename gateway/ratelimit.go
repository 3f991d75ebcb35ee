package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/redis/rueidis"

	"github.com/ticketvelo/ticketvelo/internal/apperr"
	"github.com/ticketvelo/ticketvelo/internal/config"
)

var errRateLimited = apperr.New(apperr.RateLimited, "rate_limited", "too many requests")

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
			metrics.GetOrCreateCounter(`ticketvelo_rate_limited_total{scope="` + lim.scope + `"}`).Inc()
			wait = max(wait, ends[i].Sub(now))
		}
	}
	if wait == 0 {
		return nil
	}
	e := *errRateLimited
	e.RetryAfter = max(1, int((wait+time.Second-1)/time.Second))
	e.Message = fmt.Sprintf("too many requests; try again in %d s", e.RetryAfter)
	return &e
}

// accountKey names an account in a limit key without putting what a client
// typed into Redis as is.
func accountKey(email string) string {
	sum := sha256.Sum256([]byte(email))
	return hex.EncodeToString(sum[:12])
}
