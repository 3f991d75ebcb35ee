package catalog

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// Cache keeps event pages and the event list for a short while, so a drop's
// crowd reading the same event does not turn into one seat count per
// request. An entry is fresh for TTL; after that the next reader still gets
// it at once while one refresh runs in the background, until it is MaxStale
// old. Unknown ids are remembered too, so made-up ids cost one query a TTL.
type Cache struct {
	store    *Store
	ttl      time.Duration
	maxStale time.Duration
	// loadTimeout bounds a load, and so how long a reader with nothing in
	// the cache waits: a stalled Postgres costs it a 503 within this.
	loadTimeout time.Duration
	now         func() time.Time

	mu      sync.RWMutex
	events  map[int64]cached[EventDetail]
	list    cached[[]EventInfo]
	flights singleflight.Group
}

type cached[T any] struct {
	value T
	err   error // ErrEventNotFound is cached; other errors are not
	at    time.Time
}

// maxCachedEvents bounds the map against lookups of many made-up ids.
const maxCachedEvents = 10_000

// NewCache returns a cache over store whose entries are fresh for ttl and
// whose loads take at most loadTimeout (the store timeout of a request).
func NewCache(store *Store, ttl, loadTimeout time.Duration, now func() time.Time) *Cache {
	return &Cache{store: store, ttl: ttl, maxStale: 30 * ttl, loadTimeout: loadTimeout, now: now, events: map[int64]cached[EventDetail]{}}
}

// Event is Store.Event, at most TTL stale in the common case.
func (c *Cache) Event(ctx context.Context, id int64) (EventDetail, error) {
	c.mu.RLock()
	e, ok := c.events[id]
	c.mu.RUnlock()
	age := c.now().Sub(e.at)
	if ok && age < c.ttl {
		return e.value, e.err
	}
	load := func() (any, error) {
		// The refresh outlives the request that triggered it.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.loadTimeout)
		defer cancel()
		d, err := c.store.Event(ctx, id)
		if err == nil || errors.Is(err, ErrEventNotFound) {
			c.mu.Lock()
			if len(c.events) >= maxCachedEvents {
				clear(c.events)
			}
			c.events[id] = cached[EventDetail]{value: d, err: err, at: c.now()}
			c.mu.Unlock()
		}
		return d, err
	}
	key := strconv.FormatInt(id, 10)
	if ok && age < c.maxStale {
		c.flights.DoChan(key, load) // refresh in the background; answer from the entry now
		return e.value, e.err
	}
	v, err, _ := c.flights.Do(key, load)
	return v.(EventDetail), err
}

// UpcomingEvents is Store.UpcomingEvents, at most TTL stale in the common case.
func (c *Cache) UpcomingEvents(ctx context.Context) ([]EventInfo, error) {
	c.mu.RLock()
	l := c.list
	c.mu.RUnlock()
	age := c.now().Sub(l.at)
	if !l.at.IsZero() && age < c.ttl {
		return l.value, nil
	}
	load := func() (any, error) {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.loadTimeout)
		defer cancel()
		now := c.now()
		events, err := c.store.UpcomingEvents(ctx, now)
		if err == nil {
			c.mu.Lock()
			c.list = cached[[]EventInfo]{value: events, at: now}
			c.mu.Unlock()
		}
		return events, err
	}
	if !l.at.IsZero() && age < c.maxStale {
		c.flights.DoChan("list", load)
		return l.value, nil
	}
	v, err, _ := c.flights.Do("list", load)
	if err != nil {
		return nil, err
	}
	return v.([]EventInfo), nil
}

// Forget drops what the cache knows of event id and of the list, so a new
// event shows up at once.
func (c *Cache) Forget(id int64) {
	c.mu.Lock()
	delete(c.events, id)
	c.list = cached[[]EventInfo]{}
	c.mu.Unlock()
}
