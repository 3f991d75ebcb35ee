package gateway

import (
	"context"
	"sync"
	"time"

	"github.com/ticketvelo/ticketvelo/admission"
)

// overviewTTL is how stale an event's waiting-room figures may be on event
// pages and in queue ETAs; ops' stats always read fresh.
const overviewTTL = 500 * time.Millisecond

// overviewCache keeps each event's waiting-room overview briefly, so the
// polls of a whole queue cost one overview read per event and TTL, not one
// per poll.
type overviewCache struct {
	room *admission.Room
	ttl  time.Duration
	mu   sync.RWMutex
	m    map[int64]cachedOverview
}

type cachedOverview struct {
	o  admission.Overview
	at time.Time
}

func newOverviewCache(room *admission.Room, ttl time.Duration) *overviewCache {
	return &overviewCache{room: room, ttl: ttl, m: map[int64]cachedOverview{}}
}

// get returns the event's overview at most ttl old. Callers pass only ids
// of events that exist, so the map stays as small as the catalog.
func (c *overviewCache) get(ctx context.Context, eventID int64, now time.Time) (admission.Overview, error) {
	c.mu.RLock()
	e, ok := c.m[eventID]
	c.mu.RUnlock()
	if ok && now.Sub(e.at) < c.ttl && !now.Before(e.at) {
		return e.o, nil
	}
	o, err := c.room.Overview(ctx, eventID, now)
	if err != nil {
		return o, err
	}
	c.mu.Lock()
	c.m[eventID] = cachedOverview{o, now}
	c.mu.Unlock()
	return o, nil
}
