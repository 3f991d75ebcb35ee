package admission

import (
	"sync/atomic"
	"time"
)

// touches remembers when this process last wrote each fan's last poll, so
// a fan who polls every few seconds costs Redis one write per interval
// instead of one per poll: polls are most of drop day's traffic, and Redis
// serves every gateway. A fan's recorded last poll is then up to interval
// old; with interval a sixth of the grace period and poll hints under a
// third of it, a fan who polls as told is never taken for gone.
//
// It is a direct-mapped table of 2^20 slots (8 MB), each the tag of one
// (event, fan) and the second of its last write, read and written
// atomically: one memory access a poll and no lock. Two fans who share a
// slot only cost each other extra writes, never a skipped one, because a
// slot answers "written recently" only for its own tag.
type touches struct {
	interval uint64 // seconds
	slots    []atomic.Uint64
}

const touchSlots = 1 << 20

func newTouches(interval time.Duration) *touches { return newTouchTable(interval, touchSlots) }

// newTouchTable is newTouches with slots slots, a power of two.
func newTouchTable(interval time.Duration, slots int) *touches {
	return &touches{interval: uint64(interval / time.Second), slots: make([]atomic.Uint64, slots)}
}

// due reports whether the fan's last poll should be written now, and if so
// counts it as written.
func (t *touches) due(event, user int64, now time.Time) bool {
	if t.interval == 0 {
		return true
	}
	// A multiplicative hash of the pair: the low bits pick the slot, the
	// high 32 bits are the tag.
	h := (uint64(user)*0x9E3779B97F4A7C15 ^ uint64(event)*0xC2B2AE3D27D4EB4F) * 0x165667B19E3779F9
	slot := &t.slots[h&uint64(len(t.slots)-1)]
	tag := h >> 32
	sec := uint64(uint32(now.Unix()))
	if v := slot.Load(); v>>32 == tag && sec >= v&0xFFFFFFFF && sec-v&0xFFFFFFFF < t.interval {
		return false
	}
	slot.Store(tag<<32 | sec)
	return true
}
