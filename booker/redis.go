package booker

import (
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"

	"github.com/ticketvelo/ticketvelo/internal/salekeys"
)

// errRedisDown means the hold path does not try Redis for a moment after it
// failed, so a dead Redis costs one timeout per second, not one per request.
var errRedisDown = errors.New("redis is marked down")

// redisStore is the booker's use of Redis: the taken-seat bitmaps, seat
// locks, idempotency records of holds and the seat-map snapshots.
//
// Keys: <prefix>bk:{<event>}:... share the event's cluster slot, so a script
// may read the bitmap and an idempotency record together; seat locks,
// <prefix>bk:lock:<event>:<seat>, carry no hash tag and spread across slots.
type redisStore struct {
	client    rueidis.Client
	prefix    string
	timeout   time.Duration
	stats     *counters
	downUntil atomic.Int64 // unix nanos
	// failingSince is when the calls began to fail with none succeeding
	// since (unix nanos), 0 while they succeed.
	failingSince atomic.Int64
}

// outageAfter is how long Redis must fail without one call succeeding
// before it counts as down. A count of failures in a row would not do:
// with a hundred holds in flight, one stall (a GC pause, a busy machine)
// fails them all at once, and calling that an outage refused every hold
// for a second on a healthy Redis.
const outageAfter = time.Second

// newRedisStore returns the booker's Redis. Its timing (timeouts, how long
// Redis stays marked down) follows the wall clock, not the booker's
// injected one, which decides hold expiry only.
func newRedisStore(client rueidis.Client, prefix string, timeout time.Duration, stats *counters) *redisStore {
	return &redisStore{client: client, prefix: prefix, timeout: timeout, stats: stats}
}

func (r *redisStore) eventKey(eventID int64, suffix string) string {
	return salekeys.Booker(r.prefix, eventID) + suffix
}

func (r *redisStore) takenKey(eventID int64) string { return salekeys.Taken(r.prefix, eventID) }

func (r *redisStore) idemKey(eventID, userID int64, key string) string {
	return r.eventKey(eventID, "idem:"+strconv.FormatInt(userID, 10)+":"+key)
}

// attemptsKey counts the fan's hold attempts in the current window.
func (r *redisStore) attemptsKey(eventID, userID int64) string {
	return r.eventKey(eventID, "tries:"+strconv.FormatInt(userID, 10))
}

func (r *redisStore) lockKey(eventID int64, seat int) string {
	return r.prefix + "bk:lock:" + strconv.FormatInt(eventID, 10) + ":" + strconv.Itoa(seat)
}

// ctx bounds one call by the configured timeout; it fails at once while
// Redis is marked down.
func (r *redisStore) ctx(parent context.Context) (context.Context, context.CancelFunc, error) {
	if time.Now().UnixNano() < r.downUntil.Load() {
		return nil, nil, errRedisDown
	}
	ctx, cancel := context.WithTimeout(parent, r.timeout)
	return ctx, cancel, nil
}

// failed records the result of a Redis call: once calls have failed for
// outageAfter with none succeeding, holds are refused (503) at once for a
// second instead of each waiting for the timeout.
func (r *redisStore) failed(err error) error {
	if err == nil {
		r.succeeded()
		return nil
	}
	if errors.Is(err, errRedisDown) {
		return err
	}
	now := time.Now().UnixNano()
	r.failingSince.CompareAndSwap(0, now)
	if now-r.failingSince.Load() > int64(outageAfter) {
		r.stats.redisDown()
		r.downUntil.Store(now + int64(time.Second))
	}
	return fmt.Errorf("redis: %w", err)
}

// succeeded ends a run of failures.
func (r *redisStore) succeeded() {
	if r.failingSince.Load() != 0 {
		r.failingSince.Store(0)
	}
}

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
// otherwise takes the key (a pending record) and reads the taken bits of
// seats. When seats are taken the request is answered (409) there and
// then, so the script also stores that answer, a conflict record.
var claimAndCheck = rueidis.NewLuaScript(luaWithReplies(`
-- KEYS: 1 idempotency record, 2 taken bitmap, 3 live admissions, 4 why
--       admissions ended, 5 the fan's hold attempts in this window
-- ARGV: 1 pending record, 2 its ttl (ms), 3 sentinel, 4 conflict prefix,
--       5 conflict record ttl (ms), 6 user id, 7 the token's admission
--       expiry (unix ms), 8 now (unix ms), 9 attempts per window,
--       10 window (ms), 11... seats
local prev = redis.call('GET', KEYS[1])
if prev then return {REPLAY, prev} end
local exp = tonumber(redis.call('ZSCORE', KEYS[3], ARGV[6]))
if exp ~= tonumber(ARGV[7]) then
  if exp then return {ENDED, 'replaced'} end
  return {ENDED, redis.call('HGET', KEYS[4], ARGV[6]) or 'left'}
end
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

// compareAndDelete releases a lock only for the owner that took it.
const compareAndDeleteScript = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`

var (
	compareAndDelete    = rueidis.NewLuaScript(compareAndDeleteScript)
	compareAndDeleteSHA = func() string {
		sum := sha1.Sum([]byte(compareAndDeleteScript))
		return hex.EncodeToString(sum[:])
	}()
)

// claimResult is what claimAndCheck found.
type claimResult struct {
	existing record // the record already under the key, when there is one
	hasPrev  bool
	ended    string        // why the admission is not live, when it is not
	wait     time.Duration // over the hold attempts: when the next may come
	cold     bool          // the bitmap is missing: Redis lost it or never had it
	taken    []int         // requested seats whose bits are set
}

// claimArgs are what claimAndCheck needs of a hold request.
type claimArgs struct {
	eventID, userID      int64
	key, hash, requestID string
	admissionExp, now    time.Time
	pendingTTL           time.Duration // how long the key says "in flight" at most
	conflictTTL          time.Duration // how long a 409 answered here is kept
	attempts             int           // per attemptWindow
	sentinel             int
	seats                []int
}

// attemptWindow is the window of the hold attempts limit.
const attemptWindow = time.Minute

func (r *redisStore) claim(ctx context.Context, a claimArgs) (claimResult, error) {
	cctx, cancel, err := r.ctx(ctx)
	if err != nil {
		return claimResult{}, err
	}
	defer cancel()
	ms := func(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }
	args := make([]string, 0, 10+len(a.seats))
	args = append(args, string(pendingRecord(a.hash)), ms(a.pendingTTL), strconv.Itoa(a.sentinel),
		string(conflictPrefix(a.hash, a.requestID)), ms(a.conflictTTL), strconv.FormatInt(a.userID, 10),
		strconv.FormatInt(a.admissionExp.UnixMilli(), 10), strconv.FormatInt(a.now.UnixMilli(), 10),
		strconv.Itoa(a.attempts), ms(attemptWindow))
	for _, s := range a.seats {
		args = append(args, strconv.Itoa(s))
	}
	keys := []string{r.idemKey(a.eventID, a.userID, a.key), r.takenKey(a.eventID),
		salekeys.Active(r.prefix, a.eventID), salekeys.Ended(r.prefix, a.eventID), r.attemptsKey(a.eventID, a.userID)}
	res, err := claimAndCheck.Exec(cctx, r.client, keys, args).ToArray()
	if err != nil {
		return claimResult{}, r.failed(err)
	}
	r.succeeded()
	return parseClaim(res)
}

func parseClaim(res []rueidis.RedisMessage) (claimResult, error) {
	if len(res) != 2 {
		return claimResult{}, fmt.Errorf("redis: claim script answered %d values", len(res))
	}
	kind, _ := res[0].AsInt64()
	switch claimReply(kind) {
	case claimReplay:
		prev, err := res[1].ToString()
		return claimResult{existing: record(prev), hasPrev: true}, err
	case claimCold:
		return claimResult{cold: true}, nil
	case claimEnded:
		why, err := res[1].ToString()
		return claimResult{ended: why}, err
	case claimTooMany:
		ms, err := res[1].AsInt64()
		return claimResult{wait: time.Duration(max(ms, 1)) * time.Millisecond}, err
	case claimGoOn:
	default:
		return claimResult{}, fmt.Errorf("redis: claim script answered kind %d", kind)
	}
	taken, err := res[1].AsStrSlice()
	if err != nil {
		return claimResult{}, fmt.Errorf("redis: reading taken seats: %w", err)
	}
	out := claimResult{}
	for _, t := range taken {
		n, err := strconv.Atoi(t)
		if err != nil {
			return claimResult{}, fmt.Errorf("redis: reading taken seats: %w", err)
		}
		out.taken = append(out.taken, n)
	}
	return out, nil
}

// takenBits reads the bits of seats; cold means the bitmap is missing.
func (r *redisStore) takenBits(ctx context.Context, eventID int64, sentinel int, seats []int) (taken []int, cold bool, err error) {
	cctx, cancel, err := r.ctx(ctx)
	if err != nil {
		return nil, false, err
	}
	defer cancel()
	taken, cold, err = parseBits(r.client.Do(cctx, r.bitsCommand(eventID, sentinel, seats)), seats)
	if err != nil {
		return nil, false, r.failed(err)
	}
	r.succeeded()
	return taken, cold, nil
}

// bitsCommand reads the sentinel bit and the bits of seats.
func (r *redisStore) bitsCommand(eventID int64, sentinel int, seats []int) rueidis.Completed {
	args := make([]string, 0, 3*(len(seats)+1))
	args = append(args, "GET", "u1", strconv.Itoa(sentinel))
	for _, s := range seats {
		args = append(args, "GET", "u1", strconv.Itoa(s))
	}
	return r.client.B().Arbitrary("BITFIELD_RO").Keys(r.takenKey(eventID)).Args(args...).ReadOnly()
}

// parseBits reads bitsCommand's answer: the taken seats, or cold when the
// bitmap is missing.
func parseBits(res rueidis.RedisResult, seats []int) (taken []int, cold bool, err error) {
	bits, err := res.AsIntSlice()
	if err != nil {
		return nil, false, err
	}
	if len(bits) != len(seats)+1 {
		return nil, false, fmt.Errorf("redis: BITFIELD_RO answered %d bits for %d seats", len(bits), len(seats)+1)
	}
	if bits[0] == 0 {
		return nil, true, nil
	}
	for i, b := range bits[1:] {
		if b == 1 {
			taken = append(taken, seats[i])
		}
	}
	return taken, false, nil
}

// bitmapRange reads the bitmap bytes covering seats from..to (inclusive);
// cold means the bitmap is missing.
func (r *redisStore) bitmapRange(ctx context.Context, eventID int64, sentinel, from, to int) (bits []byte, cold bool, err error) {
	cctx, cancel, err := r.ctx(ctx)
	if err != nil {
		return nil, false, err
	}
	defer cancel()
	key := r.takenKey(eventID)
	res := r.client.DoMulti(cctx,
		r.client.B().Getbit().Key(key).Offset(int64(sentinel)).Build(),
		r.client.B().Getrange().Key(key).Start(int64(from/8)).End(int64(to/8)).Build())
	s, err := res[0].AsInt64()
	if err != nil {
		return nil, false, r.failed(err)
	}
	if s == 0 {
		return nil, true, nil
	}
	raw, err := res[1].ToString()
	if err != nil && !rueidis.IsRedisNil(err) {
		return nil, false, r.failed(err)
	}
	return []byte(raw), false, nil
}

// setBits sets (taken) or clears the bits of seats, and with record stores
// an idempotency answer in the same round trip.
func (r *redisStore) setBits(ctx context.Context, eventID int64, seats []int, taken bool, w *idemWrite) error {
	cctx, cancel, err := r.ctx(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	cmds := make(rueidis.Commands, 0, 2)
	if len(seats) > 0 {
		cmds = append(cmds, r.bitsSetCommand(eventID, seats, taken))
	}
	if w != nil {
		cmds = append(cmds, r.setCommand(*w))
	}
	for _, res := range r.client.DoMulti(cctx, cmds...) {
		if err := res.Error(); err != nil {
			return r.failed(err)
		}
	}
	return nil
}

// settle records a hold's outcome in one round trip, in this order: the
// seats' bits (when taken), the idempotency answer, then the release of the
// locks. Ordered so a request that gets a lock next finds the bits set.
func (r *redisStore) settle(ctx context.Context, eventID int64, seats []int, w idemWrite, locks *lockSet) error {
	if locks == nil || len(locks.keys) == 0 {
		return r.setBits(ctx, eventID, seats, true, &w)
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.timeout)
	defer cancel()
	cmds := make(rueidis.Commands, 0, 2+len(locks.keys))
	if len(seats) > 0 {
		cmds = append(cmds, r.bitsSetCommand(eventID, seats, true))
	}
	cmds = append(cmds, r.setCommand(w))
	for _, k := range locks.keys {
		cmds = append(cmds, r.client.B().Evalsha().Sha1(compareAndDeleteSHA).Numkeys(1).Key(k).Arg(locks.owner).Build())
	}
	var failure error
	noScript := false
	for _, res := range r.client.DoMulti(cctx, cmds...) {
		if err := res.Error(); err != nil {
			if strings.HasPrefix(err.Error(), "NOSCRIPT") {
				noScript = true
				continue
			}
			failure = err
		}
	}
	if noScript {
		locks.release(ctx) // loads the script
	}
	return r.failed(failure)
}

// bitsSetCommand sets (taken) or clears the bits of seats.
func (r *redisStore) bitsSetCommand(eventID int64, seats []int, taken bool) rueidis.Completed {
	v := "0"
	if taken {
		v = "1"
	}
	args := make([]string, 0, 4*len(seats))
	for _, s := range seats {
		args = append(args, "SET", "u1", strconv.Itoa(s), v)
	}
	return r.client.B().Arbitrary("BITFIELD").Keys(r.takenKey(eventID)).Args(args...).Build()
}

// setCommand stores an idempotency record.
func (r *redisStore) setCommand(w idemWrite) rueidis.Completed {
	return r.client.B().Set().Key(w.key).Value(string(w.value)).PxMilliseconds(w.ttl.Milliseconds()).Build()
}

// idemWrite is an idempotency record to store.
type idemWrite struct {
	key   string
	value record
	ttl   time.Duration
}

// get reads the record under key; "" when there is none.
func (r *redisStore) get(ctx context.Context, key string) (record, error) {
	cctx, cancel, err := r.ctx(ctx)
	if err != nil {
		return "", err
	}
	defer cancel()
	v, err := r.client.Do(cctx, r.client.B().Get().Key(key).Build()).ToString()
	if rueidis.IsRedisNil(err) {
		return "", nil
	}
	return record(v), r.failed(err)
}

// forget deletes the pending claim of a request that failed, so its retry
// runs at once. It runs whatever became of the request's context (its
// store timeout passing is the usual reason to be here), within the Redis
// timeout; if it fails too, the claim's own TTL frees the key.
func (r *redisStore) forget(ctx context.Context, key string) error {
	cctx, cancel, err := r.ctx(context.WithoutCancel(ctx))
	if err != nil {
		return err
	}
	defer cancel()
	return r.failed(r.client.Do(cctx, r.client.B().Del().Key(key).Build()).Error())
}

// setRecord stores an idempotency record, whatever became of the
// request's context, within the Redis timeout.
func (r *redisStore) setRecord(ctx context.Context, key string, value record, ttl time.Duration) error {
	cctx, cancel, err := r.ctx(context.WithoutCancel(ctx))
	if err != nil {
		return err
	}
	defer cancel()
	return r.failed(r.client.Do(cctx, r.client.B().Set().Key(key).Value(string(value)).PxMilliseconds(ttl.Milliseconds()).Build()).Error())
}

// swapRecord replaces the record under key with value (deletes it when
// value is empty) if it is still old: a request that claimed the key
// meanwhile keeps its claim.
func (r *redisStore) swapRecord(ctx context.Context, key string, old, value record, ttl time.Duration) error {
	cctx, cancel, err := r.ctx(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	ms := strconv.FormatInt(max(1, ttl.Milliseconds()), 10)
	return r.failed(swapRecord.Exec(cctx, r.client, []string{key}, []string{string(old), string(value), ms}).Error())
}

var swapRecord = rueidis.NewLuaScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == '' then return redis.call('DEL', KEYS[1]) end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
`)

// lockSet is the seat locks one request holds, under one random owner token.
type lockSet struct {
	r     *redisStore
	keys  []string
	owner string
}

func newOwner() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// tryLock takes the locks of seats (sorted) with SET NX PX, all or nothing:
// when any is held by someone else, the ones it took are released by
// compare-and-delete and busy names the seats it could not lock. With
// sentinel >= 0 it also reads the seats' bits, after the locks in the same
// pipeline, and returns the taken ones: under the locks the bitmap is exact
// for these seats. (On a cluster the read may run beside the locks instead
// of after them; a read that early only lets a request on to Postgres.)
func (r *redisStore) tryLock(ctx context.Context, eventID int64, seats []int, ttl time.Duration, owner string, sentinel int) (locks *lockSet, busy, taken []int, err error) {
	cctx, cancel, err := r.ctx(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	defer cancel()
	ls := &lockSet{r: r, owner: owner, keys: make([]string, len(seats))}
	cmds := make(rueidis.Commands, len(seats), len(seats)+1)
	for i, s := range seats {
		ls.keys[i] = r.lockKey(eventID, s)
		cmds[i] = r.client.B().Set().Key(ls.keys[i]).Value(owner).Nx().PxMilliseconds(ttl.Milliseconds()).Build()
	}
	if sentinel >= 0 {
		cmds = append(cmds, r.bitsCommand(eventID, sentinel, seats))
	}
	results := r.client.DoMulti(cctx, cmds...)
	var got []string
	var failure error
	for i, res := range results[:len(seats)] {
		err := res.Error()
		switch {
		case err == nil:
			got = append(got, ls.keys[i])
		case rueidis.IsRedisNil(err):
			busy = append(busy, seats[i])
		default:
			failure = err
		}
	}
	if failure != nil || len(busy) > 0 {
		partial := &lockSet{r: r, owner: owner, keys: got}
		partial.release(ctx)
		if failure != nil {
			return nil, nil, nil, r.failed(failure)
		}
		return nil, busy, nil, nil
	}
	r.succeeded()
	if sentinel >= 0 {
		// A failed read only means Postgres decides.
		taken, _, _ = parseBits(results[len(seats)], seats)
	}
	return ls, nil, taken, nil
}

// release deletes the locks that are still this owner's; a lock that
// expired and was taken by another request stays with it.
func (l *lockSet) release(ctx context.Context) {
	if l == nil || len(l.keys) == 0 {
		return
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), l.r.timeout)
	defer cancel()
	execs := make([]rueidis.LuaExec, len(l.keys))
	for i, k := range l.keys {
		execs[i] = rueidis.LuaExec{Keys: []string{k}, Args: []string{l.owner}}
	}
	for _, res := range compareAndDelete.ExecMulti(cctx, l.r.client, execs...) {
		if err := res.Error(); err != nil {
			// An unreleased lock expires by its TTL; Postgres decides anyway.
			_ = l.r.failed(err)
			return
		}
	}
}
