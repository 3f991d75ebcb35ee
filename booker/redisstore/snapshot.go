package redisstore

import (
	"context"
	"strconv"
	"time"

	"github.com/redis/rueidis"
)

// The seat-map snapshot in Redis: the encoded map and its status view
// (plain and gzipped), a meta key naming the newest ("<unix nanos of the
// Postgres read>/<etag>"), the build lease, and the taken-seat bitmap as
// the snapshot rebuilds it.

// snapshotTTL is how long a stored map lives without a rebuild.
const snapshotTTL = 10 * time.Minute

// StoredMap is one encoded seat map as Redis keeps it: the whole map and
// its status view, each plain and gzipped, and its meta (what the snapshot
// compares to tell the newest).
type StoredMap struct {
	Meta                 string
	JSON, GZ             []byte
	StatusJSON, StatusGZ []byte
}

// Lease takes the event's build lease for ttl; false when another booker
// holds it.
func (r *Store) Lease(ctx context.Context, eventID int64, ttl time.Duration) (bool, error) {
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
func (r *Store) mapKeys(eventID int64) [5]string {
	return [5]string{r.eventKey(eventID, "map:json"), r.eventKey(eventID, "map:gz"),
		r.eventKey(eventID, "map:status"), r.eventKey(eventID, "map:status:gz"), r.eventKey(eventID, "map:meta")}
}

// StoreMap stores an encoded map; the meta key goes last, so a reader that
// sees it finds the bodies.
func (r *Store) StoreMap(ctx context.Context, eventID int64, m StoredMap) error {
	cctx, cancel, err := r.ctx(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	ttl := snapshotTTL.Milliseconds()
	keys := r.mapKeys(eventID)
	values := [5][]byte{m.JSON, m.GZ, m.StatusJSON, m.StatusGZ, []byte(m.Meta)}
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

// MapMeta reads the meta key of the newest map; found is false when there
// is none.
func (r *Store) MapMeta(ctx context.Context, eventID int64) (meta string, found bool, err error) {
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

// LoadMap reads the stored map; found is false when a part is missing.
func (r *Store) LoadMap(ctx context.Context, eventID int64) (_ StoredMap, found bool, _ error) {
	cctx, cancel, err := r.ctx(ctx)
	if err != nil {
		return StoredMap{}, false, err
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
			return StoredMap{}, false, nil
		}
		if err != nil {
			return StoredMap{}, false, r.failed(err)
		}
		parts[i] = b
	}
	return StoredMap{JSON: parts[0], GZ: parts[1], StatusJSON: parts[2], StatusGZ: parts[3], Meta: string(parts[4])}, true, nil
}

// Bitmap reads the whole taken-seat bitmap; empty when it is missing.
func (r *Store) Bitmap(ctx context.Context, eventID int64) ([]byte, error) {
	cctx, cancel, err := r.ctx(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()
	cur, err := r.client.Do(cctx, r.client.B().Get().Key(r.TakenKey(eventID)).Build()).AsBytes()
	if err != nil && !rueidis.IsRedisNil(err) {
		return nil, r.failed(err)
	}
	return cur, nil
}

// SetBitmap writes the whole taken-seat bitmap.
func (r *Store) SetBitmap(ctx context.Context, eventID int64, bits []byte) error {
	cctx, cancel, err := r.ctx(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	return r.failed(r.client.Do(cctx, r.client.B().Set().Key(r.TakenKey(eventID)).Value(rueidis.BinaryString(bits)).Build()).Error())
}

// BitValue is one seat's bit to write.
type BitValue struct {
	Seat  int
	Taken bool
}

// SetBitValues writes seats' bits, each to its own value.
func (r *Store) SetBitValues(ctx context.Context, eventID int64, bits []BitValue) error {
	cctx, cancel, err := r.ctx(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	args := make([]string, 0, 4*len(bits))
	for _, b := range bits {
		v := "0"
		if b.Taken {
			v = "1"
		}
		args = append(args, "SET", "u1", strconv.Itoa(b.Seat), v)
	}
	return r.failed(r.client.Do(cctx, r.client.B().Arbitrary("BITFIELD").Keys(r.TakenKey(eventID)).Args(args...).Build()).Error())
}
