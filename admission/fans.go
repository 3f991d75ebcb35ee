package admission

import (
	"sync"
	"time"
	"unsafe"

	"github.com/ticketvelo/ticketvelo/internal/hugepages"
)

// fans is what this gateway remembers of the fans whose polls it serves, so
// that most polls of a waiting fan cost Redis nothing: polls are most of
// drop day's traffic, and Redis serves every gateway. Per (event, fan):
//
//   - when it last wrote the fan's last poll: it writes one per interval
//     rather than one per poll. A fan's recorded last poll is then up to
//     interval old; with interval a sixth of the grace period and poll
//     hints under a third of it, a fan who polls as told is never taken
//     for gone.
//   - the fan's mark: where they stood in the queue when it last asked
//     Redis, in counts that stay true while the queue moves (see mark).
//
// It is a two-way set-associative table of 32-byte slots (2^21 in the
// default 64 MB, Config.FanTableMB) under striped locks: a fan may sit in either slot of its set, and a newcomer
// takes the empty one or the one whose fan was seen longer ago. Direct
// mapping lost a fifth of the marks to collisions once a few hundred
// thousand fans polled, each loss a Redis round trip; two ways keep fans
// who poll from knocking each other out. Fans who share a set only cost
// each other Redis round trips, never a wrong answer, because a slot
// answers only for its own fan.
type fans struct {
	interval uint32 // seconds
	slots    []fanSlot
	locks    [256]sync.Mutex
}

type fanSlot struct {
	event, user int64
	touched     uint32 // unix s of the last write of the last poll; 0: none
	markedAt    uint32 // unix s the mark was read; 0: none
	mark        mark
}

// A mark is where a waiting fan stood, in the queue's running totals:
// seq is the fans ahead plus every fan ever removed from the queue's front
// (admitted or skipped), left the fans who had left it from anywhere. As the
// queue moves only at the front (places after the opening go to the back),
// the fan has at most seq - removed fans ahead now, and at least that less
// the leaves since.
type mark struct {
	seq, left uint32
}

// newFans is a table of mb megabytes, a power of two.
func newFans(interval time.Duration, mb int) *fans {
	return newFanTable(interval, mb<<20/int(unsafe.Sizeof(fanSlot{})))
}

// newFanTable is newFans with n slots, a power of two, at least 2.
func newFanTable(interval time.Duration, n int) *fans {
	t := &fans{interval: uint32(interval / time.Second), slots: make([]fanSlot, n)}
	hugepages.Advise(t.slots)
	return t
}

// slot returns the fan's slot, locked, claimed for the fan (a slot another
// fan held starts empty); the caller unlocks the returned lock.
func (t *fans) slot(event, user int64) (*fanSlot, *sync.Mutex) {
	// A multiplicative hash of the pair; its high bits pick the set.
	h := (uint64(user)*0x9E3779B97F4A7C15 ^ uint64(event)*0xC2B2AE3D27D4EB4F) * 0x165667B19E3779F9
	i := h >> 32 & uint64(len(t.slots)-1) &^ 1
	mu := &t.locks[i/2%uint64(len(t.locks))]
	mu.Lock()
	a, b := &t.slots[i], &t.slots[i+1]
	switch {
	case a.event == event && a.user == user:
		return a, mu
	case b.event == event && b.user == user:
		return b, mu
	}
	s := a
	if b.lastSeen() < a.lastSeen() {
		s = b
	}
	*s = fanSlot{event: event, user: user}
	return s, mu
}

// lastSeen is when the slot's fan last counted (0 for an empty slot).
func (s *fanSlot) lastSeen() uint32 { return max(s.touched, s.markedAt) }

// poll counts a poll of the fan at now. It reports whether the fan's last
// poll is due to be written (and counts it as written), and the fan's mark
// if one was read within maxAge and no earlier than since (unix s).
func (t *fans) poll(event, user int64, now time.Time, maxAge time.Duration, since uint32) (touch bool, m mark, known bool) {
	sec := uint32(now.Unix())
	s, mu := t.slot(event, user)
	defer mu.Unlock()
	// A clock that went back writes, and counts from there.
	if t.interval == 0 || s.touched == 0 || sec < s.touched || sec-s.touched >= t.interval {
		s.touched, touch = sec, true
	}
	if s.markedAt != 0 && s.markedAt >= since && sec >= s.markedAt && time.Duration(sec-s.markedAt)*time.Second < maxAge {
		return touch, s.mark, true
	}
	return touch, mark{}, false
}

// remember keeps the fan's mark, read at now.
func (t *fans) remember(event, user int64, m mark, now time.Time) {
	s, mu := t.slot(event, user)
	s.mark, s.markedAt = m, uint32(now.Unix())
	mu.Unlock()
}

// joined keeps the mark of a fan who just joined the open queue, read at
// now. The join wrote their first sign of life (their place's score is the
// arrival time), so their first poll writes none.
func (t *fans) joined(event, user int64, m mark, now time.Time) {
	s, mu := t.slot(event, user)
	s.mark, s.markedAt, s.touched = m, uint32(now.Unix()), uint32(now.Unix())
	mu.Unlock()
}

// forget drops the fan's mark: they left.
func (t *fans) forget(event, user int64) {
	s, mu := t.slot(event, user)
	s.markedAt = 0
	mu.Unlock()
}
