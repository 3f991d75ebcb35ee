package admission

import (
	"sync"
	"time"
)

// touches remembers when this process last wrote each fan's last poll, so
// a fan who polls every few seconds costs Redis one write per interval
// instead of one per poll: polls are most of drop day's traffic, and Redis
// serves every gateway. A fan's recorded last poll is then up to interval
// old; with interval a sixth of the grace period and poll hints under a
// third of it, a fan who polls as told is never taken for gone.
type touches struct {
	interval int64 // seconds
	shards   [64]touchShard
}

type touchShard struct {
	mu sync.Mutex
	m  map[touchKey]int64 // unix seconds of the last write
}

type touchKey struct{ event, user int64 }

// maxTouchesPerShard bounds the memory (~40 bytes an entry); a full shard
// starts over, which costs its fans one extra write each.
const maxTouchesPerShard = 1 << 14

func newTouches(interval time.Duration) *touches {
	t := &touches{interval: int64(interval / time.Second)}
	for i := range t.shards {
		t.shards[i].m = map[touchKey]int64{}
	}
	return t
}

// due reports whether the fan's last poll should be written now, and if so
// counts it as written.
func (t *touches) due(event, user int64, now time.Time) bool {
	if t.interval <= 0 {
		return true
	}
	k := touchKey{event, user}
	s := &t.shards[uint64(user)%uint64(len(t.shards))]
	sec := now.Unix()
	s.mu.Lock()
	defer s.mu.Unlock()
	if last, ok := s.m[k]; ok && sec-last < t.interval && sec >= last {
		return false
	}
	if len(s.m) >= maxTouchesPerShard {
		clear(s.m)
	}
	s.m[k] = sec
	return true
}
