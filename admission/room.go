// Package admission is TicketVelo's waiting room: fans join per event, wait
// in a fair queue in Redis, and an admission controller lets them through to
// the booker at the rate ops choose, never more than max_active at once.
//
// Fans who join before the sale opens wait in a pre-queue; at the opening a
// fresh random seed is drawn and published, and they are ordered by
// HMAC-SHA256(seed, user id), ahead of everyone who joins later, who are
// served first come, first served (DrawOrder recomputes the order).
// Admitted fans get an admission token the booker verifies locally.
package admission

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/redis/rueidis"

	"github.com/ticketvelo/ticketvelo/internal/apperr"
	"github.com/ticketvelo/ticketvelo/internal/config"
	"github.com/ticketvelo/ticketvelo/internal/deadline"
	"github.com/ticketvelo/ticketvelo/internal/httpapi"
	"github.com/ticketvelo/ticketvelo/internal/tokens"
)

// ErrNotInQueue is a fan asking about a place they do not hold.
var ErrNotInQueue = apperr.New(apperr.NotFound, "not_in_queue", "you are not in this event's waiting room; join it first")

// errUnavailable is Redis failing: the waiting room cannot answer.
var errUnavailable = apperr.New(apperr.Unavailable, "unavailable", "the waiting room is unavailable; try again shortly")

func unavailable(doing string, err error) error {
	e := *errUnavailable
	e.RetryAfter = 2
	return fmt.Errorf("%s: %w: %w", doing, &e, err)
}

// Deps are what a Room works with besides its Config.
type Deps struct {
	Client rueidis.Client
	Prefix string       // of every Redis key
	Ring   *tokens.Ring // signs admission tokens and place receipts
	// CallTimeout bounds a request's call to Redis (the shared
	// TICKETVELO_STORE_TIMEOUT); 2 s when 0.
	CallTimeout time.Duration
	// Random draws the seeds of the pre-queue draws; crypto/rand when nil.
	Random io.Reader
}

// Room is the waiting room of every event, shared by all gateways through
// Redis.
type Room struct {
	client rueidis.Client
	prefix string
	ring   *tokens.Ring
	cfg    Config
	random io.Reader
	bound  *deadline.Shared // of every Redis call a request makes
	keys   sync.Map         // event id -> *eventKeys, built once
	fans   *fans
	polls  lastPolls
}

// NewRoom returns the waiting room with the settings cfg, stored in
// d.Client under d.Prefix.
func NewRoom(cfg Config, d Deps) *Room {
	if d.Random == nil {
		d.Random = rand.Reader
	}
	if d.CallTimeout <= 0 {
		d.CallTimeout = 2 * time.Second
	}
	return &Room{client: d.Client, prefix: d.Prefix, ring: d.Ring, cfg: cfg, random: d.Random, bound: deadline.NewShared(d.CallTimeout), fans: newFans(cfg.GracePeriod/6, cfg.FanTableMB)}
}

func (r *Room) eventKeys(eventID int64) *eventKeys {
	if k, ok := r.keys.Load(eventID); ok {
		return k.(*eventKeys)
	}
	fresh := newEventKeys(r.prefix, eventID)
	fresh.bound = r.bound
	k, _ := r.keys.LoadOrStore(eventID, fresh)
	return k.(*eventKeys)
}

// State is where a fan stands in an event's waiting room.
type State uint8

// The states of a place.
const (
	Prequeue State = iota // joined before the opening; the draw has not placed them yet
	Waiting               // in the queue
	Admitted              // may buy until the admission expires
	Expired               // the place ended: admission over, done, or abandoned
)

var stateNames = [...]string{"prequeue", "waiting", "admitted", "expired"}

func (s State) String() string { return stateNames[s] }

// Reasons a place ends.
const (
	EndedTimeout   = "timeout"   // the admission window passed
	EndedDone      = "done"      // the booker reported the buyer done
	EndedAbandoned = "abandoned" // the fan stopped polling for longer than the grace period
)

// Status is a fan's place.
type Status struct {
	State State
	// Ahead counts the fans in front of a waiting fan.
	Ahead int64
	// Token and ExpiresAt are the admission token of an admitted fan.
	Token     string
	ExpiresAt time.Time
	// Reason says why an expired place ended.
	Reason string
	// Receipt is the place receipt of a place a join just made (see
	// tokens.Place): the fan shows it to get the place back should the
	// waiting room lose it.
	Receipt string
}

// markOpen records that the event's queue is open (its draw is done).
func (r *Room) markOpen(eventID int64) { r.eventKeys(eventID).open.Store(true) }

func (r *Room) placeArgs(k *eventKeys, eventID, userID int64, now time.Time) (keys, args []string) {
	bucket, field := k.seen(userID)
	keys = []string{k.meta, k.pre, k.queue, k.active, k.tokens, k.ended, bucket}
	args = []string{strconv.FormatInt(userID, 10), strconv.FormatInt(now.UnixMilli(), 10), field, boolFlag(k.open.Load())}
	return keys, args
}

// JoinLimits bound how often one client address may join an event, and how
// often one account may join it again while holding its place; a zero
// limit is none. They are counted in the join's own script, so a limit
// costs no extra round trip.
type JoinLimits struct {
	Address    string
	PerAccount config.RateLimit
	PerAddress config.RateLimit
}

var errJoinLimited = apperr.New(apperr.RateLimited, "rate_limited", "too many joins")

// window is the fixed window of rule that holds now: its number and end.
func window(rule config.RateLimit, now time.Time) (int64, time.Time) {
	if rule.N <= 0 {
		return 0, now
	}
	per := rule.Per.Milliseconds()
	n := now.UnixMilli() / per
	return n, time.UnixMilli((n + 1) * per)
}

// Join gives the fan a place in the event's waiting room, or returns the
// place they hold: one place per fan and event, however many joins race.
// created reports whether this call made the place. A fan whose last place
// ended joins again at the back. Joins over a limit get 429 and nothing
// else happens.
func (r *Room) Join(ctx context.Context, eventID, userID int64, opensAt, now time.Time, limits JoinLimits) (st Status, created bool, err error) {
	score := placeBand + now.UnixMicro()
	st, created, err = r.join(ctx, eventID, userID, score, opensAt, now, limits)
	if err == nil && created {
		// Before the opening the draw places the fan; should that place be
		// lost, their arrival time is what is left to order them by.
		st.Receipt, err = r.ring.IssuePlace(tokens.Place{EventID: eventID, UserID: userID, Score: score})
	}
	return st, created, err
}

func (r *Room) join(ctx context.Context, eventID, userID, score int64, opensAt, now time.Time, limits JoinLimits) (st Status, created bool, err error) {
	k := r.eventKeys(eventID)
	acctWindow, acctEnd := window(limits.PerAccount, now)
	addrWindow, addrEnd := window(limits.PerAddress, now)
	acctKey := k.base + "joins:a:" + strconv.FormatInt(acctWindow, 36) + ":" + strconv.FormatInt(userID>>7, 10)
	addrKey := k.base + "joins:ip:" + strconv.FormatInt(addrWindow, 36)
	if k.open.Load() {
		st, created, done, err := r.joinOpen(ctx, k, userID, now, score, limits, joinWindows{addrKey, addrWindow, addrEnd, acctKey, acctEnd})
		if done {
			if created {
				r.noteJoin(k)
			}
			return st, created, err
		}
		limits.PerAddress = config.RateLimit{} // counted already
	}
	keys, args := r.placeArgs(k, eventID, userID, now)
	keys = append(keys, acctKey, addrKey)
	args = append(args, strconv.FormatInt(opensAt.UnixMilli(), 10), limits.Address,
		strconv.Itoa(limits.PerAccount.N), strconv.FormatInt(acctEnd.UnixMilli(), 10),
		strconv.Itoa(limits.PerAddress.N), strconv.FormatInt(addrEnd.UnixMilli(), 10), strconv.FormatInt(score, 10))
	var reply []rueidis.RedisMessage
	err = k.call(ctx, func(ctx context.Context) (err error) {
		reply, err = joinScript.Exec(ctx, r.client, keys, args).ToArray()
		return err
	})
	if err != nil {
		return Status{}, false, unavailable("joining the waiting room", err)
	}
	if kind, _ := reply[0].AsInt64(); kind == -2 {
		ms, _ := reply[1].AsInt64()
		return Status{}, false, joinLimited(ms)
	}
	st, err = r.decode(ctx, k, eventID, userID, reply, now)
	if err != nil {
		return Status{}, false, err
	}
	flag, _ := reply[3].AsInt64()
	if flag == 1 {
		r.noteJoin(k)
	}
	return st, flag == 1, nil
}

// noteJoin tells this gateway's controller that the event has a new fan.
func (r *Room) noteJoin(k *eventKeys) {
	if !k.joined.Load() {
		k.joined.Store(true)
	}
}

// takeJoined reports whether a fan joined the event here since the last call.
func (r *Room) takeJoined(eventID int64) bool { return r.eventKeys(eventID).joined.Swap(false) }

// placeBand is where places after the opening start: 2^52, above every
// drawn score, with the arrival time in µs added (exact in a double).
const placeBand = 1 << 52

// joinOpen is the join of an open queue (no pre-queue left), drop day's
// flood of new fans: plain commands in one round trip, cheaper for Redis
// than a script, and a second round trip only for a repeat join, which
// counts against the account. ZADD NX keeps one place per fan however many
// joins race. The admitted check cannot stop the ZADD in a pipeline, so a
// join that finds the fan admitted, or over the address limit, takes back
// the place it just made; the admission step never admits a fan twice.
// done is false when the fan turned out to be admitted and the general
// join must answer.
func (r *Room) joinOpen(ctx context.Context, k *eventKeys, userID int64, now time.Time, score int64, limits JoinLimits, w joinWindows) (st Status, created, done bool, err error) {
	c := r.client
	uid := strconv.FormatInt(userID, 10)
	cmds := make(rueidis.Commands, 0, 6)
	limited := limits.PerAddress.N > 0
	if limited {
		cmds = append(cmds, c.B().Hincrby().Key(w.addrKey).Field(limits.Address).Increment(1).Build())
		if k.addrExpiry.due(w.addrWindow, now) {
			cmds = append(cmds, c.B().Pexpireat().Key(w.addrKey).MillisecondsTimestamp(w.addrEnd.UnixMilli()).Build())
		}
	}
	cmds = append(cmds,
		c.B().Zscore().Key(k.active).Member(uid).Build(),
		k.totals(c),
		c.B().Zadd().Key(k.queue).Nx().ScoreMember().ScoreMember(float64(score), uid).Build(),
		c.B().Zrank().Key(k.queue).Member(uid).Build())
	var res []rueidis.RedisResult
	if err := k.call(ctx, func(ctx context.Context) error { res = c.DoMulti(ctx, cmds...); return firstError(res) }); err != nil {
		return Status{}, false, true, unavailable("joining the waiting room", err)
	}
	i, over := len(res)-4, false
	if limited {
		n, _ := res[0].AsInt64()
		over = n > int64(limits.PerAddress.N)
	}
	exp, expErr := res[i].AsFloat64()
	admitted := expErr == nil && exp > float64(now.UnixMilli())
	totals := res[i+1]
	added, _ := res[i+2].AsInt64()
	rank, rankErr := res[i+3].AsInt64()
	if (over || admitted) && added == 1 {
		// Taking the place back counts as a leave: fans who joined in
		// between have it in their marks.
		for _, x := range c.DoMulti(ctx, c.B().Zrem().Key(k.queue).Member(uid).Build(),
			c.B().Hincrby().Key(k.meta).Field("left").Increment(1).Build()) {
			if err := x.Error(); err != nil {
				return Status{}, false, true, unavailable("joining the waiting room", err)
			}
		}
	}
	switch {
	case over:
		return Status{}, false, true, joinLimited(w.addrEnd.Sub(now).Milliseconds())
	case admitted || rankErr != nil:
		// Admitted, or admitted since the ZADD: the general join answers.
		return Status{}, false, false, nil
	case added == 0 && limits.PerAccount.N > 0:
		_, field := k.seen(userID)
		res := c.DoMulti(ctx,
			c.B().Hincrby().Key(w.acctKey).Field(field).Increment(1).Build(),
			c.B().Pexpireat().Key(w.acctKey).MillisecondsTimestamp(w.acctEnd.UnixMilli()).Build())
		n, err := res[0].AsInt64()
		if err != nil {
			return Status{}, false, true, unavailable("counting joins", err)
		}
		if n > int64(limits.PerAccount.N) {
			return Status{}, false, true, joinLimited(w.acctEnd.Sub(now).Milliseconds())
		}
	}
	if added == 1 {
		r.fans.joined(k.event, userID, markOf(totals, rank), now)
	} else {
		r.fans.remember(k.event, userID, markOf(totals, rank), now)
	}
	return Status{State: Waiting, Ahead: rank}, added == 1, true, nil
}

// joinWindows are the join limits' current windows: their counters' keys
// and ends, and the address window's number.
type joinWindows struct {
	addrKey    string
	addrWindow int64
	addrEnd    time.Time
	acctKey    string
	acctEnd    time.Time
}

// joinsLimited counts joins refused by the per-address join limit.
var joinsLimited = httpapi.RateLimited("join")

func joinLimited(ms int64) error {
	e := *errJoinLimited
	e.RetryAfter = apperr.RetryAfterSeconds(time.Duration(ms) * time.Millisecond)
	e.Message = fmt.Sprintf("too many joins; try again in %d s", e.RetryAfter)
	joinsLimited.Inc()
	return &e
}

// Status returns the fan's place, or ErrNotInQueue. Asking counts as the
// fan being there, for the abandonment check.
func (r *Room) Status(ctx context.Context, eventID, userID int64, now time.Time) (Status, error) {
	k := r.eventKeys(eventID)
	if k.open.Load() {
		// The common poll, a waiting fan of an open queue. Its last poll
		// is written with others' a moment later, and only when this
		// gateway has not written it for a while; recording the poll of a
		// fan who turns out not to be waiting costs a few bytes and
		// misleads nothing: only queued fans are checked for abandonment.
		touch, m, known := r.fans.poll(eventID, userID, now, r.cfg.GracePeriod, k.marksFrom.Load())
		if touch {
			r.notePoll(k, userID, now)
		}
		// A fan far enough from the front is answered from their mark.
		if known {
			o, err := r.recentOverview(ctx, k, now)
			if err != nil {
				return Status{}, err
			}
			if ahead, sure := o.waitingAhead(m); sure {
				return Status{State: Waiting, Ahead: ahead}, nil
			}
		}
		// Others take a fresh mark: ZRANK, after the queue's totals so
		// that a step between the two can only make the mark look closer
		// to the front, which sends the fan to Redis sooner.
		uid := strconv.FormatInt(userID, 10)
		var rank int64
		var totals rueidis.RedisResult
		err := k.call(ctx, func(ctx context.Context) (err error) {
			res := r.client.DoMulti(ctx, k.totals(r.client), r.client.B().Zrank().Key(k.queue).Member(uid).Build())
			totals = res[0]
			rank, err = res[1].AsInt64()
			return err
		})
		if err == nil {
			r.fans.remember(eventID, userID, markOf(totals, rank), now)
			return Status{State: Waiting, Ahead: rank}, nil
		}
		if !rueidis.IsRedisNil(err) {
			return Status{}, unavailable("reading the waiting room", err)
		}
	}
	keys, args := r.placeArgs(k, eventID, userID, now)
	var reply []rueidis.RedisMessage
	err := k.call(ctx, func(ctx context.Context) (err error) {
		reply, err = statusScript.Exec(ctx, r.client, keys, args).ToArray()
		return err
	})
	if err != nil {
		return Status{}, unavailable("reading the waiting room", err)
	}
	return r.decode(ctx, k, eventID, userID, reply, now)
}

// decode reads a place reply {kind, number, text}.
func (r *Room) decode(ctx context.Context, k *eventKeys, eventID, userID int64, reply []rueidis.RedisMessage, now time.Time) (Status, error) {
	if len(reply) < 3 {
		return Status{}, fmt.Errorf("waiting room script answered %d values, want 3", len(reply))
	}
	kind, _ := reply[0].AsInt64()
	n, _ := reply[1].AsInt64()
	text, _ := reply[2].ToString() // nil for "no token yet"
	switch kind {
	case 0:
		return Status{State: Prequeue}, nil
	case 1:
		return Status{State: Waiting, Ahead: n}, nil
	case 2:
		st := Status{State: Admitted, Token: text, ExpiresAt: time.UnixMilli(n)}
		if st.Token == "" {
			return r.issueToken(ctx, k, eventID, userID, st, now)
		}
		return st, nil
	case 3:
		return Status{State: Expired, Reason: text}, nil
	default:
		return Status{}, ErrNotInQueue
	}
}

// issueToken signs the admission token of a fresh admission and keeps it,
// so every poll, on any gateway, returns the same token. Its expiry is the
// admission's, which the step made whole seconds.
func (r *Room) issueToken(ctx context.Context, k *eventKeys, eventID, userID int64, st Status, now time.Time) (Status, error) {
	ttl := r.cfg.AdmissionTTL
	tok, _, err := r.ring.IssueAdmission(userID, eventID, ttl, st.ExpiresAt.Add(-ttl))
	if err != nil {
		return Status{}, fmt.Errorf("signing admission token: %w", err)
	}
	uid := strconv.FormatInt(userID, 10)
	var kept string
	err = k.call(ctx, func(ctx context.Context) (err error) {
		kept, err = tokenScript.Exec(ctx, r.client, []string{k.active, k.tokens}, []string{uid, strconv.FormatInt(st.ExpiresAt.UnixMilli(), 10), tok}).ToString()
		return err
	})
	if rueidis.IsRedisNil(err) {
		// The admission ended between the two calls (done, or expired).
		return Status{State: Expired, Reason: EndedDone}, nil
	}
	if err != nil {
		return Status{}, unavailable("keeping the admission token", err)
	}
	st.Token = kept
	return st, nil
}

// Leave gives up the fan's place, whatever it is; an admitted fan's slot
// frees at once.
func (r *Room) Leave(ctx context.Context, eventID, userID int64) error {
	k := r.eventKeys(eventID)
	bucket, field := k.seen(userID)
	err := k.call(ctx, func(ctx context.Context) error {
		return leaveScript.Exec(ctx, r.client, []string{k.pre, k.queue, k.active, k.tokens, k.ended, bucket, k.meta},
			[]string{strconv.FormatInt(userID, 10), field}).Error()
	})
	if err != nil {
		return unavailable("leaving the waiting room", err)
	}
	// Fans answered from their marks count this leave at once on this
	// gateway, the others within the overview's TTL (see waitingAhead).
	r.fans.forget(eventID, userID)
	r.dropRecentOverview(eventID)
	return nil
}

// Settings are the admission settings of an event.
type Settings struct {
	RatePerSecond float64
	MaxActive     int
	Paused        bool
	Auto          bool
}

// Limits on settings.
const (
	MaxRatePerSecond = 100_000
	// MinRatePerSecond is one fan every 100 s: slower is a pause that the
	// event page and ops stats would still call open.
	MinRatePerSecond = 0.01
	MaxMaxActive     = 1_000_000
)

// Validate checks the settings ops send.
func (s Settings) Validate() error {
	invalid := func(field, msg string) error {
		return apperr.New(apperr.Invalid, "invalid_field", "%s", msg).With(map[string]any{"field": field})
	}
	if !(s.RatePerSecond >= MinRatePerSecond && s.RatePerSecond <= MaxRatePerSecond) {
		return invalid("rate_per_second", "rate_per_second must be 0.01 to 100000; use paused to stop admission")
	}
	if s.MaxActive < 1 || s.MaxActive > MaxMaxActive {
		return invalid("max_active", "max_active must be 1 to 1000000")
	}
	return nil
}

// Settings returns the event's settings in force, defaults included.
func (r *Room) Settings(ctx context.Context, eventID int64) (Settings, error) {
	vals, err := r.client.Do(ctx, r.client.B().Hmget().Key(r.eventKeys(eventID).settings).Field("rate", "max_active", "paused", "auto").Build()).ToArray()
	if err != nil {
		return Settings{}, unavailable("reading admission settings", err)
	}
	return r.parseSettings(vals), nil
}

func (r *Room) parseSettings(vals []rueidis.RedisMessage) Settings {
	s := Settings{RatePerSecond: r.cfg.DefaultRate, MaxActive: r.cfg.DefaultMaxActive}
	if v, err := vals[0].ToString(); err == nil {
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			s.RatePerSecond = f
		}
	}
	if v, err := vals[1].ToString(); err == nil {
		if n, err := strconv.Atoi(v); err == nil {
			s.MaxActive = n
		}
	}
	p, _ := vals[2].ToString()
	a, _ := vals[3].ToString()
	s.Paused, s.Auto = p == "1", a == "1"
	return s
}

// SetSettings stores the event's settings; every gateway's next step obeys
// them, within the admission interval.
func (r *Room) SetSettings(ctx context.Context, eventID int64, s Settings) error {
	if err := s.Validate(); err != nil {
		return err
	}
	err := r.client.Do(ctx, r.client.B().Hset().Key(r.eventKeys(eventID).settings).FieldValue().
		FieldValue("rate", strconv.FormatFloat(s.RatePerSecond, 'f', -1, 64)).
		FieldValue("max_active", strconv.Itoa(s.MaxActive)).
		FieldValue("paused", boolFlag(s.Paused)).
		FieldValue("auto", boolFlag(s.Auto)).Build()).Error()
	if err != nil {
		return unavailable("storing admission settings", err)
	}
	return nil
}

func boolFlag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// DrawState is how far an event's pre-queue draw got.
type DrawState string

// The draw's states.
const (
	DrawPending DrawState = "prequeue" // before the opening, or the opening passed and no draw began
	DrawRunning DrawState = "drawing"
	DrawDone    DrawState = "open"
)

func floatOf(m rueidis.RedisMessage) float64 {
	s, err := m.ToString()
	if err != nil {
		return 0
	}
	f, _ := strconv.ParseFloat(s, 64)
	return f
}
