package booker

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/redis/rueidis"
)

// The seat-map snapshot in Redis: the encoded map and its status view
// (plain and gzipped), a meta key naming the newest ("<unix nanos of the
// Postgres read>/<etag>"), the build lease, and the taken-seat bitmap as
// the snapshot rebuilds it.

// snapshotTTL is how long a stored map lives without a rebuild.
const snapshotTTL = 10 * time.Minute

// lease takes the event's build lease for ttl; false when another booker
// holds it.
func (r *redisStore) lease(ctx context.Context, eventID int64, ttl time.Duration) (bool, error) {
	cctx, cancel, err := r.ctx(ctx)
	if err != nil {
		return false, err
	}
	defer cancel()
	err = r.client.Do(cctx, r.client.B().Set().Key(r.eventKey(eventID, "snap:lease")).Value("1").Nx().
		PxMilliseconds(ttl.Milliseconds()).Build()).Error()
	if rueidis.IsRedisNil(err) {
		return false, nil
	}
	return err == nil, r.failed(err)
}

// mapKeys are the keys of a stored map, the meta key last.
func (r *redisStore) mapKeys(eventID int64) [5]string {
	return [5]string{r.eventKey(eventID, "map:json"), r.eventKey(eventID, "map:gz"),
		r.eventKey(eventID, "map:status"), r.eventKey(eventID, "map:status:gz"), r.eventKey(eventID, "map:meta")}
}

// storeMap stores an encoded map; the meta key goes last, so a reader that
// sees it finds the bodies.
func (r *redisStore) storeMap(ctx context.Context, eventID int64, m *mapCopy) error {
	cctx, cancel, err := r.ctx(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	ttl := snapshotTTL.Milliseconds()
	keys := r.mapKeys(eventID)
	values := [5][]byte{m.full.json, m.full.gz, m.status.json, m.status.gz, []byte(m.meta)}
	cmds := make(rueidis.Commands, len(keys))
	for i := range keys {
		cmds[i] = r.client.B().Set().Key(keys[i]).Value(rueidis.BinaryString(values[i])).PxMilliseconds(ttl).Build()
	}
	for _, res := range r.client.DoMulti(cctx, cmds...) {
		if err := res.Error(); err != nil {
			return r.failed(err)
		}
	}
	return nil
}

// mapMeta reads the meta key of the newest map; found is false when there
// is none.
func (r *redisStore) mapMeta(ctx context.Context, eventID int64) (meta string, found bool, err error) {
	cctx, cancel, err := r.ctx(ctx)
	if err != nil {
		return "", false, err
	}
	defer cancel()
	meta, err = r.client.Do(cctx, r.client.B().Get().Key(r.eventKey(eventID, "map:meta")).Build()).ToString()
	if rueidis.IsRedisNil(err) {
		return "", false, nil
	}
	if err != nil {
		return "", false, r.failed(err)
	}
	return meta, true, nil
}

// loadMap reads the stored map; found is false when a part is missing or
// its meta is not one this booker reads.
func (r *redisStore) loadMap(ctx context.Context, eventID int64) (_ *mapCopy, found bool, _ error) {
	cctx, cancel, err := r.ctx(ctx)
	if err != nil {
		return nil, false, err
	}
	defer cancel()
	keys := r.mapKeys(eventID)
	cmds := make(rueidis.Commands, len(keys))
	for i, k := range keys {
		cmds[i] = r.client.B().Get().Key(k).Build()
	}
	var parts [5][]byte
	for i, res := range r.client.DoMulti(cctx, cmds...) {
		b, err := res.AsBytes()
		if rueidis.IsRedisNil(err) {
			return nil, false, nil
		}
		if err != nil {
			return nil, false, r.failed(err)
		}
		parts[i] = b
	}
	meta := string(parts[4])
	asOf, etag, ok := strings.Cut(meta, "/")
	nanos, err := strconv.ParseInt(asOf, 10, 64)
	if !ok || err != nil {
		return nil, false, nil
	}
	return &mapCopy{meta: meta, asOf: nanos, etag: etag, full: body{parts[0], parts[1]}, status: body{parts[2], parts[3]}}, true, nil
}

// bitmap reads the whole taken-seat bitmap; empty when it is missing.
func (r *redisStore) bitmap(ctx context.Context, eventID int64) ([]byte, error) {
	cctx, cancel, err := r.ctx(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()
	cur, err := r.client.Do(cctx, r.client.B().Get().Key(r.takenKey(eventID)).Build()).AsBytes()
	if err != nil && !rueidis.IsRedisNil(err) {
		return nil, r.failed(err)
	}
	return cur, nil
}

// setBitmap writes the whole taken-seat bitmap.
func (r *redisStore) setBitmap(ctx context.Context, eventID int64, bits []byte) error {
	cctx, cancel, err := r.ctx(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	return r.failed(r.client.Do(cctx, r.client.B().Set().Key(r.takenKey(eventID)).Value(rueidis.BinaryString(bits)).Build()).Error())
}

// bitValue is one seat's bit to write.
type bitValue struct {
	seat  int
	taken bool
}

// setBitValues writes seats' bits, each to its own value.
func (r *redisStore) setBitValues(ctx context.Context, eventID int64, bits []bitValue) error {
	cctx, cancel, err := r.ctx(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	args := make([]string, 0, 4*len(bits))
	for _, b := range bits {
		v := "0"
		if b.taken {
			v = "1"
		}
		args = append(args, "SET", "u1", strconv.Itoa(b.seat), v)
	}
	return r.failed(r.client.Do(cctx, r.client.B().Arbitrary("BITFIELD").Keys(r.takenKey(eventID)).Args(args...).Build()).Error())
}

// restoreRecords puts answers back, a thousand a round trip, leaving keys
// that have an answer already.
func (r *redisStore) restoreRecords(ctx context.Context, writes []idemWrite) error {
	for len(writes) > 0 {
		n := min(len(writes), 1000)
		execs := make([]rueidis.LuaExec, n)
		for i, w := range writes[:n] {
			execs[i] = rueidis.LuaExec{Keys: []string{w.key},
				Args: []string{string(w.value), strconv.FormatInt(max(1, w.ttl.Milliseconds()), 10), string(rune(recordDone))}}
		}
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		for _, res := range restoreRecord.ExecMulti(cctx, r.client, execs...) {
			if err := res.Error(); err != nil {
				cancel()
				return r.failed(err)
			}
		}
		cancel()
		writes = writes[n:]
	}
	return nil
}

// restoreRecord puts back an answer unless the key already has one (a
// record of the kind ARGV[3]); a pending claim there is a retry of that
// very request (or a reuse of its key), which must now find the answer.
var restoreRecord = rueidis.NewLuaScript(`
local cur = redis.call('GET', KEYS[1])
if cur and string.sub(cur, 1, 1) == ARGV[3] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`)
