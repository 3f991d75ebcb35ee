package redisstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/redis/rueidis"
)

// TakenBits reads the bits of seats; cold means the bitmap is missing.
func (r *Store) TakenBits(ctx context.Context, eventID int64, sentinel int, seats []int) (taken []int, cold bool, err error) {
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
func (r *Store) bitsCommand(eventID int64, sentinel int, seats []int) rueidis.Completed {
	args := make([]string, 0, 3*(len(seats)+1))
	args = append(args, "GET", "u1", strconv.Itoa(sentinel))
	for _, s := range seats {
		args = append(args, "GET", "u1", strconv.Itoa(s))
	}
	return r.client.B().Arbitrary("BITFIELD_RO").Keys(r.TakenKey(eventID)).Args(args...).ReadOnly()
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

// BitmapRange reads the bitmap bytes covering seats from..to (inclusive);
// cold means the bitmap is missing.
func (r *Store) BitmapRange(ctx context.Context, eventID int64, sentinel, from, to int) (bits []byte, cold bool, err error) {
	cctx, cancel, err := r.ctx(ctx)
	if err != nil {
		return nil, false, err
	}
	defer cancel()
	key := r.TakenKey(eventID)
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

// SetBits sets (taken) or clears the bits of seats, and with w stores
// an idempotency answer in the same round trip.
func (r *Store) SetBits(ctx context.Context, eventID int64, seats []int, taken bool, w *Write) error {
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

// Settle records a hold's outcome in one round trip, in this order: the
// seats' bits (when taken), the idempotency answer, then the release of the
// locks. Ordered so a request that gets a lock next finds the bits set.
func (r *Store) Settle(ctx context.Context, eventID int64, seats []int, w Write, locks *Locks) error {
	if locks == nil || len(locks.keys) == 0 {
		return r.SetBits(ctx, eventID, seats, true, &w)
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
		locks.Release(ctx) // loads the script
	}
	return r.failed(failure)
}

// bitsSetCommand sets (taken) or clears the bits of seats.
func (r *Store) bitsSetCommand(eventID int64, seats []int, taken bool) rueidis.Completed {
	v := "0"
	if taken {
		v = "1"
	}
	args := make([]string, 0, 4*len(seats))
	for _, s := range seats {
		args = append(args, "SET", "u1", strconv.Itoa(s), v)
	}
	return r.client.B().Arbitrary("BITFIELD").Keys(r.TakenKey(eventID)).Args(args...).Build()
}
