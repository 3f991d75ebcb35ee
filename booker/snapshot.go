package booker

import (
	"bytes"
	"compress/gzip"
	"context"
	"hash/fnv"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sync/singleflight"

	"github.com/ticketvelo/ticketvelo/booker/pgstore"
	"github.com/ticketvelo/ticketvelo/booker/redisstore"
	"github.com/ticketvelo/ticketvelo/internal/loop"
	"github.com/ticketvelo/ticketvelo/internal/monoclock"
)

// Snapshots follow the wall clock, not the booker's injected one: how
// stale a map is is a fact about the machine, not about hold expiry.
//
// snapshots keeps, per event, the seat map and the taken-seat bitmap in
// Redis, rebuilt from Postgres at most once per interval by one booker (a
// short lease in Redis decides which). Each booker keeps the encoded map in
// memory and asks Redis at most every localTTL whether a newer one exists,
// so thousands of fans watching the map cost neither Postgres nor much Redis.
type snapshots struct {
	pg     snapshotPostgres
	redis  snapshotRedis
	events *eventCache
	opts   snapshotOptions
	log    zerolog.Logger
	stats  *counters
	live   sync.Map // event id -> *atomic.Int64: when a request last touched it (monoclock nanos)
	local  sync.Map // event id -> *mapCopy
	group  singleflight.Group

	mu       sync.Mutex
	prevDiff map[int64][]byte // bitmap bits that disagreed with Postgres at the last build
}

// snapshotPostgres is what the snapshots need of Postgres.
type snapshotPostgres interface {
	ReadStatuses(ctx context.Context, eventID int64, capacity int) (statuses []byte, asOf time.Time, err error)
	RecentHoldAnswers(ctx context.Context, eventID int64, since time.Time) ([]pgstore.KeptAnswer, error)
}

// snapshotRedis is what the snapshots need of Redis.
type snapshotRedis interface {
	Lease(ctx context.Context, eventID int64, ttl time.Duration) (bool, error)
	TakenBits(ctx context.Context, eventID int64, sentinel int, seats []int) (taken []int, cold bool, err error)
	Bitmap(ctx context.Context, eventID int64) ([]byte, error)
	SetBitmap(ctx context.Context, eventID int64, bits []byte) error
	SetBitValues(ctx context.Context, eventID int64, bits []redisstore.BitValue) error
	StoreMap(ctx context.Context, eventID int64, m redisstore.StoredMap) error
	MapMeta(ctx context.Context, eventID int64) (meta string, found bool, err error)
	LoadMap(ctx context.Context, eventID int64) (_ redisstore.StoredMap, found bool, _ error)
	IdemKey(eventID, userID int64, key string) string
	RestoreRecords(ctx context.Context, writes []redisstore.Write) error
}

var (
	_ snapshotPostgres = (*pgstore.Store)(nil)
	_ snapshotRedis    = (*redisstore.Store)(nil)
)

// mapCopy is one encoded seat map, whole and as its status view.
type mapCopy struct {
	meta    string       // "<unix nanos of the Postgres read>/<etag>": what Redis says is newest
	asOf    int64        // unix nanos of the Postgres read
	etag    string       // of the statuses: unchanged seats keep their ETag across builds
	full    body         // GET /seats
	status  body         // GET /seats/status
	checked atomic.Int64 // when Redis last confirmed it is the newest (monoclock nanos)
}

// body is one answer, plain and gzip-compressed.
type body struct{ json, gz []byte }

func gzipped(b []byte) body {
	var gz bytes.Buffer
	w, _ := gzip.NewWriterLevel(&gz, gzip.BestSpeed)
	_, _ = w.Write(b)
	_ = w.Close()
	return body{json: b, gz: gz.Bytes()}
}

const (
	localTTL = 100 * time.Millisecond
	liveFor  = time.Minute
)

// snapshotOptions are the settings the snapshots follow.
type snapshotOptions struct {
	interval     time.Duration // between rebuilds of a map
	storeTimeout time.Duration // bounds a refresh a request waits for
	answerTTL    time.Duration // how long hold answers are kept (restoreAnswers)
	now          func() time.Time
}

func newSnapshots(pg snapshotPostgres, rs snapshotRedis, events *eventCache, opts snapshotOptions, stats *counters, log zerolog.Logger) *snapshots {
	return &snapshots{pg: pg, redis: rs, events: events, opts: opts, log: log, stats: stats, prevDiff: map[int64][]byte{}}
}

func (sn *snapshots) touch(eventID int64) {
	now := monoclock.Now()
	if v, ok := sn.live.Load(eventID); ok {
		v.(*atomic.Int64).Store(now)
		return
	}
	t := &atomic.Int64{}
	t.Store(now)
	sn.live.Store(eventID, t)
}

// Run rebuilds the snapshots of the events this booker served lately, each
// at most once per interval across all bookers.
func (sn *snapshots) Run(ctx context.Context) error {
	return loop.Every(ctx, sn.opts.interval, sn.rebuildLive)
}

// rebuildLive rebuilds the snapshots of the events served lately and
// forgets the others.
func (sn *snapshots) rebuildLive(ctx context.Context) {
	cutoff := monoclock.Now() - int64(liveFor)
	sn.live.Range(func(k, v any) bool {
		id := k.(int64)
		if v.(*atomic.Int64).Load() < cutoff {
			sn.live.Delete(id)
			sn.local.Delete(id)
			return true
		}
		ev, err := sn.events.get(ctx, id) // bounded by the store timeout
		if err != nil {
			return true
		}
		sn.rebuild(ctx, ev)
		return true
	})
}

// rebuild builds the event's snapshot if this booker wins the lease, within
// loopTimeout, so a stalled store cannot stop the refresher for good.
func (sn *snapshots) rebuild(ctx context.Context, ev *eventInfo) {
	bctx, cancel := context.WithTimeout(ctx, loopTimeout)
	defer cancel()
	if won, err := sn.lease(bctx, ev.ID); err == nil && won {
		if _, err := sn.build(bctx, ev); err != nil && ctx.Err() == nil {
			sn.log.Warn().Err(err).Int64("event_id", ev.ID).Msg("rebuilding seat map")
		}
	}
}

// lease takes the event's build lease for one interval. The lease is a
// little shorter than the interval: one exactly as long outlives the next
// tick by the time the build took to start, and the map would be rebuilt
// every other interval.
func (sn *snapshots) lease(ctx context.Context, eventID int64) (bool, error) {
	return sn.redis.Lease(ctx, eventID, max(time.Millisecond, sn.opts.interval*9/10))
}

// warm builds the event's bitmap when a hold found it missing: one
// request per booker (and one booker, by the lease) reads the taken seats
// from Postgres; the others wait for it rather than ask Redis again and again.
func (sn *snapshots) warm(ctx context.Context, ev *eventInfo) {
	sn.touch(ev.ID)
	_, _, _ = sn.group.Do("warm:"+strconv.FormatInt(ev.ID, 10), func() (any, error) {
		return sn.warmOnce(ctx, ev)
	})
}

// warmOnce builds the event's bitmap if this booker wins the lease, else
// waits a little for the one that did. warm says whether the bitmap is
// there now.
func (sn *snapshots) warmOnce(ctx context.Context, ev *eventInfo) (warm bool, _ error) {
	won, err := sn.lease(ctx, ev.ID)
	if err != nil {
		return false, err
	}
	if won {
		statuses, _, err := sn.pg.ReadStatuses(ctx, ev.ID, ev.capacity())
		if err == nil {
			err = sn.reconcile(ctx, ev, statuses)
		}
		if err != nil {
			sn.log.Warn().Err(err).Int64("event_id", ev.ID).Msg("building taken-seat bitmap")
		}
		return err == nil, err
	}
	for deadline := time.Now().Add(200 * time.Millisecond); time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
		if _, cold, err := sn.redis.TakenBits(ctx, ev.ID, ev.capacity(), nil); err != nil || !cold {
			return err == nil, err
		}
	}
	return false, nil
}

// statusJSON are the seat statuses of the map, by pgstore's status code
// (SeatAvailable, SeatHeld, SeatSold).
var statusJSON = [...][]byte{[]byte(`"available"`), []byte(`"held"`), []byte(`"sold"`)}

// build reads the event's seat statuses from Postgres, stores the encoded
// map in Redis and brings the bitmap in line with Postgres.
func (sn *snapshots) build(ctx context.Context, ev *eventInfo) (*mapCopy, error) {
	start := time.Now()
	statuses, asOf, err := sn.pg.ReadStatuses(ctx, ev.ID, ev.capacity())
	if err != nil {
		return nil, err
	}
	m := encodeMap(ev, statuses, asOf)
	snapshotBuildsTotal.Inc()
	snapshotSeconds.UpdateDuration(start)
	if err := sn.store(ctx, ev, m); err != nil {
		return m, err
	}
	return m, sn.reconcile(ctx, ev, statuses)
}

func (sn *snapshots) store(ctx context.Context, ev *eventInfo, m *mapCopy) error {
	stored := redisstore.StoredMap{Meta: m.meta, JSON: m.full.json, GZ: m.full.gz, StatusJSON: m.status.json, StatusGZ: m.status.gz}
	if err := sn.redis.StoreMap(ctx, ev.ID, stored); err != nil {
		return err
	}
	m.checked.Store(monoclock.Now())
	sn.local.Store(ev.ID, m)
	return nil
}

// reconcile brings the Redis bitmap in line with the statuses read from
// Postgres. A missing bitmap is written whole (and the event's recent hold
// answers are put back, so their replays still find them). Otherwise only
// bits that disagreed at the previous build too are fixed: a bit that
// disagrees once is most likely a hold or release that committed after the
// read, and overwriting it would let requests for a just-taken seat through
// to Postgres.
func (sn *snapshots) reconcile(ctx context.Context, ev *eventInfo, statuses []byte) error {
	n := ev.capacity()
	want := make([]byte, (n+1+7)/8)
	for i, st := range statuses {
		if st != pgstore.SeatAvailable {
			want[i/8] |= 0x80 >> (i % 8)
		}
	}
	want[n/8] |= 0x80 >> (n % 8) // the sentinel: the bitmap is complete
	cur, err := sn.redis.Bitmap(ctx, ev.ID)
	if err != nil {
		return err
	}
	if len(cur) <= n/8 || cur[n/8]&(0x80>>(n%8)) == 0 {
		if err := sn.redis.SetBitmap(ctx, ev.ID, want); err != nil {
			return err
		}
		sn.mu.Lock()
		delete(sn.prevDiff, ev.ID)
		sn.mu.Unlock()
		return sn.restoreAnswers(ctx, ev)
	}
	fixes := sn.fixes(ev.ID, n, want, cur)
	if len(fixes) == 0 {
		return nil
	}
	sn.stats.repairs.Add(int64(len(fixes)))
	bitmapRepairsTotal.Add(len(fixes))
	return sn.redis.SetBitValues(ctx, ev.ID, fixes)
}

// fixes are the bits of the first n that disagree with want now and
// disagreed at the previous build too.
func (sn *snapshots) fixes(eventID int64, n int, want, cur []byte) []redisstore.BitValue {
	diff := make([]byte, len(want))
	for i := range want {
		var c byte
		if i < len(cur) {
			c = cur[i]
		}
		diff[i] = want[i] ^ c
	}
	sn.mu.Lock()
	prev := sn.prevDiff[eventID]
	sn.prevDiff[eventID] = diff
	sn.mu.Unlock()
	var out []redisstore.BitValue
	for i := 0; i < n; i++ {
		m := byte(0x80 >> (i % 8))
		if diff[i/8]&m != 0 && i/8 < len(prev) && prev[i/8]&m != 0 {
			out = append(out, redisstore.BitValue{Seat: i, Taken: want[i/8]&m != 0})
		}
	}
	return out
}

// restoreAnswers puts the event's recent hold answers, which Postgres keeps,
// back into Redis after Redis lost them.
func (sn *snapshots) restoreAnswers(ctx context.Context, ev *eventInfo) error {
	now := sn.opts.now()
	kept, err := sn.pg.RecentHoldAnswers(ctx, ev.ID, now.Add(-sn.opts.answerTTL))
	if err != nil {
		return err
	}
	writes := make([]redisstore.Write, 0, len(kept))
	for _, k := range kept {
		if ttl := sn.opts.answerTTL - now.Sub(k.CreatedAt); ttl > 0 {
			writes = append(writes, redisstore.Write{Key: sn.redis.IdemKey(ev.ID, k.UserID, k.Key), Value: doneRecord(k.Hash, replayOf(k.Answer)), TTL: ttl})
		}
	}
	return sn.redis.RestoreRecords(ctx, writes)
}

// current returns the newest seat map this booker can serve: its own copy
// while fresh, else what Redis has, else one built now.
func (sn *snapshots) current(ctx context.Context, ev *eventInfo) (*mapCopy, error) {
	sn.touch(ev.ID)
	var have *mapCopy
	if v, ok := sn.local.Load(ev.ID); ok {
		have = v.(*mapCopy)
		if monoclock.Since(have.checked.Load()) < localTTL {
			return have, nil
		}
	}
	v, err, _ := sn.group.Do(strconv.FormatInt(ev.ID, 10), func() (any, error) {
		// Shared by every request waiting for it, so not tied to the
		// first one's, but within a request's store budget.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), sn.opts.storeTimeout)
		defer cancel()
		return sn.refresh(rctx, ev, have)
	})
	if err != nil {
		return nil, err
	}
	return v.(*mapCopy), nil
}

func (sn *snapshots) refresh(ctx context.Context, ev *eventInfo, have *mapCopy) (*mapCopy, error) {
	for wait := time.Now().Add(time.Second); ; {
		m, found, err := sn.fetch(ctx, ev, have)
		if err != nil {
			// Redis is away: serve this booker's own copy while it is
			// fresh enough, else build one straight from Postgres.
			if have != nil && time.Now().UnixNano()-have.asOf < sn.opts.interval.Nanoseconds() {
				return have, nil
			}
			m, err := sn.buildLocal(ctx, ev)
			return m, err
		}
		if found {
			return m, nil
		}
		// No snapshot in Redis yet: one booker builds it.
		if won, err := sn.lease(ctx, ev.ID); err == nil && won {
			return sn.build(ctx, ev)
		}
		if time.Now().After(wait) {
			return sn.build(ctx, ev)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// fetch reads the snapshot from Redis: have itself when it is still the
// newest, a new copy, or found false when Redis has none (or one this
// booker cannot read, which is then rebuilt).
func (sn *snapshots) fetch(ctx context.Context, ev *eventInfo, have *mapCopy) (_ *mapCopy, found bool, _ error) {
	meta, found, err := sn.redis.MapMeta(ctx, ev.ID)
	if err != nil || !found {
		return nil, false, err
	}
	if have != nil && have.meta == meta {
		have.checked.Store(monoclock.Now())
		return have, true, nil
	}
	stored, found, err := sn.redis.LoadMap(ctx, ev.ID)
	if err != nil || !found {
		return nil, false, err
	}
	asOf, etag, ok := strings.Cut(stored.Meta, "/")
	nanos, err := strconv.ParseInt(asOf, 10, 64)
	if !ok || err != nil {
		return nil, false, nil // not ours to read: rebuild
	}
	m := &mapCopy{meta: stored.Meta, asOf: nanos, etag: etag, full: body{stored.JSON, stored.GZ}, status: body{stored.StatusJSON, stored.StatusGZ}}
	m.checked.Store(monoclock.Now())
	sn.local.Store(ev.ID, m)
	return m, true, nil
}

// buildLocal builds a map from Postgres for this booker alone (Redis away).
func (sn *snapshots) buildLocal(ctx context.Context, ev *eventInfo) (*mapCopy, error) {
	statuses, asOf, err := sn.pg.ReadStatuses(ctx, ev.ID, ev.capacity())
	if err != nil {
		return nil, err
	}
	m := encodeMap(ev, statuses, asOf)
	m.checked.Store(monoclock.Now())
	sn.local.Store(ev.ID, m)
	return m, nil
}

// encodeMap writes the seat map JSON of docs/API.md by hand (about 80 bytes
// a seat, 1.6 MB for an arena) and its status view, each with its gzip form.
func encodeMap(ev *eventInfo, statuses []byte, asOf time.Time) *mapCopy {
	b := make([]byte, 0, 96*len(ev.seats)+1024)
	b = append(b, `{"event_id":`...)
	b = strconv.AppendInt(b, ev.ID, 10)
	b = append(b, `,"as_of":"`...)
	b = asOf.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","currency":`...)
	b = append(b, jsonString(ev.Currency)...)
	b = append(b, `,"sections":[`...)
	for si := range ev.sections {
		sec := &ev.sections[si]
		if si > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"name":`...)
		b = append(b, sec.nameJSON...)
		b = append(b, `,"tier":`...)
		b = append(b, sec.tierJSON...)
		b = append(b, `,"rows":[`...)
		for ri := range sec.Rows {
			row := &sec.Rows[ri]
			if ri > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"label":`...)
			b = append(b, row.labelJSON...)
			b = append(b, `,"seats":[`...)
			for i, no := range row.Seats {
				seat := &ev.seats[no]
				if i > 0 {
					b = append(b, ',')
				}
				b = append(b, `{"id":`...)
				b = strconv.AppendInt(b, int64(no), 10)
				b = append(b, `,"number":`...)
				b = strconv.AppendInt(b, int64(seat.Number), 10)
				b = append(b, `,"price_cents":`...)
				b = strconv.AppendInt(b, int64(seat.PriceCents), 10)
				b = append(b, `,"status":`...)
				b = append(b, statusJSON[statuses[no]]...)
				b = append(b, `,"accessible":`...)
				b = strconv.AppendBool(b, seat.Accessible)
				b = append(b, '}')
			}
			b = append(b, "]}"...)
		}
		b = append(b, "]}"...)
	}
	b = append(b, "]}\n"...)
	h := fnv.New64a()
	h.Write(statuses)
	etag := strconv.FormatInt(ev.ID, 10) + "-" + strconv.FormatUint(h.Sum64(), 36)
	return &mapCopy{
		meta: strconv.FormatInt(asOf.UnixNano(), 10) + "/" + etag, asOf: asOf.UnixNano(), etag: etag,
		full: gzipped(b), status: gzipped(encodeStatus(ev.ID, statuses, asOf)),
	}
}

// statusLetters are the seat statuses of the status view, by status code.
var statusLetters = [...]byte{'a', 'h', 's'}

// encodeStatus writes the status view of docs/API.md: one letter per seat
// id, about a byte a seat and a few kB gzipped for an arena, for clients
// that poll a map they already have.
func encodeStatus(eventID int64, statuses []byte, asOf time.Time) []byte {
	b := make([]byte, 0, len(statuses)+96)
	b = append(b, `{"event_id":`...)
	b = strconv.AppendInt(b, eventID, 10)
	b = append(b, `,"as_of":"`...)
	b = asOf.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","statuses":"`...)
	for _, st := range statuses {
		b = append(b, statusLetters[st])
	}
	return append(b, "\"}\n"...)
}
