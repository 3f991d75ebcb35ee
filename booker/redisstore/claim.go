package redisstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/rueidis"
	"github.com/ticketvelo/ticketvelo/internal/salekeys"
)

// claimReply is the kind of answer claimAndCheck gives, its reply's first
// element.
type claimReply int64

// The claim script's replies, each {kind, value}.
const (
	claimGoOn    claimReply = iota // {0, taken seats}: the key is this request's
	claimReplay                    // {1, record}: the key has a record
	claimCold                      // {2, 0}: the bitmap is missing
	claimEnded                     // {3, why}: the admission is over
	claimTooMany                   // {4, ms}: over the attempts, retry in ms
)

// claimAndCheck admits a hold request, in one round trip: it replays the
// record already under the request's key; refuses the request when the
// fan's admission is not live (left, done, timed out, or replaced by a
// newer one) or when the fan is over their hold attempts for the window;
// brings back an admission the waiting room lost with its keys (no live
// score and no recorded end: the token itself proves it);
// otherwise takes the key (a pending record) and reads the taken bits of
// seats. When seats are taken the request is answered (409) there and
// then, so the script also stores that answer, a conflict record.
var claimAndCheck = rueidis.NewLuaScript(luaWithReplies(`
-- KEYS: 1 idempotency record, 2 taken bitmap, 3 live admissions, 4 why
--       admissions ended, 5 the fan's hold attempts in this window
-- ARGV: 1 pending Record, 2 its ttl (ms), 3 sentinel, 4 conflict prefix,
--       5 conflict Record ttl (ms), 6 user id, 7 the token's admission
--       expiry (unix ms), 8 now (unix ms), 9 attempts per window,
--       10 window (ms), 11... seats
local prev = redis.call('GET', KEYS[1])
if prev then return {REPLAY, prev} end
local exp = tonumber(redis.call('ZSCORE', KEYS[3], ARGV[6]))
if not exp then
  local why = redis.call('HGET', KEYS[4], ARGV[6])
  if why then return {ENDED, why} end
  -- Neither live nor ended (every end is recorded: left, done, timeout):
  -- the waiting room's keys were lost. The token proves the admission,
  -- which lives again until its own expiry.
  if tonumber(ARGV[7]) <= tonumber(ARGV[8]) then return {ENDED, 'timeout'} end
  redis.call('ZADD', KEYS[3], ARGV[7], ARGV[6])
  exp = tonumber(ARGV[7])
end
if exp ~= tonumber(ARGV[7]) then return {ENDED, 'replaced'} end
if exp <= tonumber(ARGV[8]) then return {ENDED, 'timeout'} end
local tries = redis.call('INCR', KEYS[5])
if tries == 1 then redis.call('PEXPIRE', KEYS[5], ARGV[10]) end
if tries > tonumber(ARGV[9]) then return {TOO_MANY, redis.call('PTTL', KEYS[5])} end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
if redis.call('GETBIT', KEYS[2], ARGV[3]) == 0 then return {COLD, 0} end
local taken = {}
for i = 11, #ARGV do
  if redis.call('GETBIT', KEYS[2], ARGV[i]) == 1 then taken[#taken + 1] = ARGV[i] end
end
if #taken > 0 then
  redis.call('SET', KEYS[1], ARGV[4] .. table.concat(taken, ','), 'PX', ARGV[5])
end
return {GO_ON, taken}
`))

// luaWithReplies writes the claim replies' numbers into a script, so Go
// and Lua share one definition of them.
func luaWithReplies(script string) string {
	n := func(r claimReply) string { return strconv.FormatInt(int64(r), 10) }
	return strings.NewReplacer("GO_ON", n(claimGoOn), "REPLAY", n(claimReplay), "COLD", n(claimCold),
		"ENDED", n(claimEnded), "TOO_MANY", n(claimTooMany)).Replace(script)
}

// ClaimResult is what claimAndCheck found.
type ClaimResult struct {
	Existing Record // the record already under the key, when there is one
	HasPrev  bool
	Ended    string        // why the admission is not live, when it is not
	Wait     time.Duration // over the hold attempts: when the next may come
	Cold     bool          // the bitmap is missing: Redis lost it or never had it
	Taken    []int         // requested seats whose bits are set
}

// ClaimArgs are what claimAndCheck needs of a hold request.
type ClaimArgs struct {
	EventID, UserID      int64
	Key, Hash, RequestID string
	AdmissionExp, Now    time.Time
	PendingTTL           time.Duration // how long the key says "in flight" at most
	ConflictTTL          time.Duration // how long a 409 answered here is kept
	Attempts             int           // per attemptWindow
	Sentinel             int           // the bitmap's completeness bit (the event's capacity)
	Seats                []int
}

// attemptWindow is the window of the hold attempts limit.
const attemptWindow = time.Minute

// Claim runs claimAndCheck for a hold request.
func (r *Store) Claim(ctx context.Context, a ClaimArgs) (ClaimResult, error) {
	cctx, cancel, err := r.ctx(ctx)
	if err != nil {
		return ClaimResult{}, err
	}
	defer cancel()
	ms := func(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }
	args := make([]string, 0, 10+len(a.Seats))
	args = append(args, string(PendingRecord(a.Hash)), ms(a.PendingTTL), strconv.Itoa(a.Sentinel),
		string(ConflictPrefix(a.Hash, a.RequestID)), ms(a.ConflictTTL), strconv.FormatInt(a.UserID, 10),
		strconv.FormatInt(a.AdmissionExp.UnixMilli(), 10), strconv.FormatInt(a.Now.UnixMilli(), 10),
		strconv.Itoa(a.Attempts), ms(attemptWindow))
	for _, s := range a.Seats {
		args = append(args, strconv.Itoa(s))
	}
	keys := []string{r.IdemKey(a.EventID, a.UserID, a.Key), r.TakenKey(a.EventID),
		salekeys.Active(r.prefix, a.EventID), salekeys.Ended(r.prefix, a.EventID), r.attemptsKey(a.EventID, a.UserID)}
	res, err := claimAndCheck.Exec(cctx, r.client, keys, args).ToArray()
	if err != nil {
		return ClaimResult{}, r.failed(err)
	}
	r.succeeded()
	return parseClaim(res)
}

func parseClaim(res []rueidis.RedisMessage) (ClaimResult, error) {
	if len(res) != 2 {
		return ClaimResult{}, fmt.Errorf("redis: claim script answered %d values", len(res))
	}
	kind, _ := res[0].AsInt64()
	switch claimReply(kind) {
	case claimReplay:
		prev, err := res[1].ToString()
		return ClaimResult{Existing: Record(prev), HasPrev: true}, err
	case claimCold:
		return ClaimResult{Cold: true}, nil
	case claimEnded:
		why, err := res[1].ToString()
		return ClaimResult{Ended: why}, err
	case claimTooMany:
		ms, err := res[1].AsInt64()
		return ClaimResult{Wait: time.Duration(max(ms, 1)) * time.Millisecond}, err
	case claimGoOn:
	default:
		return ClaimResult{}, fmt.Errorf("redis: claim script answered kind %d", kind)
	}
	taken, err := res[1].AsStrSlice()
	if err != nil {
		return ClaimResult{}, fmt.Errorf("redis: reading taken seats: %w", err)
	}
	out := ClaimResult{}
	for _, t := range taken {
		n, err := strconv.Atoi(t)
		if err != nil {
			return ClaimResult{}, fmt.Errorf("redis: reading taken seats: %w", err)
		}
		out.Taken = append(out.Taken, n)
	}
	return out, nil
}
