package booker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/ticketvelo/ticketvelo/booker/pgstore"
	"github.com/ticketvelo/ticketvelo/internal/apperr"
)

var errEventNotFound = apperr.New(apperr.NotFound, "event_not_found", "no such event")

// eventInfo is what the booker keeps in memory about an event: its fixed
// facts and its seat layout, which never change once the event exists, and
// the last seat versions this process saw.
type eventInfo struct {
	ID int64
	pgstore.EventFacts

	seats    []seatInfo // by seat_no
	sections []sectionInfo
	bySec    map[string]int

	// versions are the seat versions last seen here; a hold expects them and
	// re-reads the seats it finds changed, so a stale entry costs one extra
	// statement, never a wrong sale.
	versions []atomic.Int64
	// nameJSON is the event's name encoded as a JSON string.
	nameJSON []byte
}

type seatInfo struct {
	Section    int32 // index into sections
	Row        int32 // index into the section's rows
	Number     int32
	PriceCents int32
	Accessible bool
}

type sectionInfo struct {
	Name     string
	Tier     string
	Rows     []rowInfo
	nameJSON []byte
	tierJSON []byte
}

type rowInfo struct {
	Label     string
	Seats     []int32 // seat_nos in number order
	labelJSON []byte
}

// capacity is the number of seats; seat_no runs from 0 to capacity-1.
func (e *eventInfo) capacity() int { return len(e.seats) }

// eventCache loads each event once per process; unknown ids are remembered
// briefly so a flood of them does not reach Postgres.
type eventCache struct {
	load func(ctx context.Context, id int64) (*eventInfo, error)
	// timeout bounds a load, which serves every request waiting for it.
	timeout time.Duration
	mu      sync.RWMutex
	known   map[int64]*eventInfo
	missing map[int64]time.Time
	group   singleflight.Group
}

func newEventCache(load func(ctx context.Context, id int64) (*eventInfo, error), timeout time.Duration) *eventCache {
	return &eventCache{load: load, timeout: timeout, known: map[int64]*eventInfo{}, missing: map[int64]time.Time{}}
}

// get returns the event or errEventNotFound.
func (c *eventCache) get(ctx context.Context, id int64) (*eventInfo, error) {
	c.mu.RLock()
	ev, ok := c.known[id]
	miss, missing := c.missing[id]
	c.mu.RUnlock()
	if ok {
		return ev, nil
	}
	if missing && time.Since(miss) < 5*time.Second {
		return nil, errEventNotFound
	}
	v, err, _ := c.group.Do(fmt.Sprint(id), func() (any, error) {
		// The load serves every request waiting for it, whichever hangs
		// up first, within one request's store budget.
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.timeout)
		defer cancel()
		ev, err := c.load(lctx, id)
		c.mu.Lock()
		defer c.mu.Unlock()
		switch {
		case err == nil:
			c.known[id] = ev
			delete(c.missing, id)
		case errors.Is(err, errEventNotFound):
			if len(c.missing) > 10000 {
				clear(c.missing)
			}
			c.missing[id] = time.Now()
		}
		return ev, err
	})
	if err != nil {
		return nil, err
	}
	return v.(*eventInfo), nil
}

// eventLoader is what the event cache needs of Postgres.
type eventLoader interface {
	LoadEvent(ctx context.Context, id int64) (_ pgstore.Event, found bool, _ error)
}

var _ eventLoader = (*pgstore.Store)(nil)

// loadEvent reads an event and its seat layout into memory.
func loadEvent(ctx context.Context, pg eventLoader, id int64) (*eventInfo, error) {
	e, found, err := pg.LoadEvent(ctx, id)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, errEventNotFound
	}
	return newEventInfo(id, e), nil
}

// newEventInfo lays out the event's seats, which come in layout order, in
// sections and rows.
func newEventInfo(id int64, e pgstore.Event) *eventInfo {
	ev := &eventInfo{ID: id, EventFacts: e.EventFacts, bySec: map[string]int{},
		seats: make([]seatInfo, len(e.Seats)), versions: make([]atomic.Int64, len(e.Seats)), nameJSON: jsonString(e.Name)}
	for no, s := range e.Seats {
		si, ok := ev.bySec[s.Section]
		if !ok {
			si = len(ev.sections)
			ev.bySec[s.Section] = si
			ev.sections = append(ev.sections, sectionInfo{Name: s.Section, Tier: s.Tier, nameJSON: jsonString(s.Section), tierJSON: jsonString(s.Tier)})
		}
		sec := &ev.sections[si]
		ri := len(sec.Rows) - 1
		if ri < 0 || sec.Rows[ri].Label != s.Row {
			// Rows arrive in layout order, so a row label seen before in
			// this section would mean the layout interleaves rows.
			sec.Rows = append(sec.Rows, rowInfo{Label: s.Row, labelJSON: jsonString(s.Row)})
			ri++
		}
		sec.Rows[ri].Seats = append(sec.Rows[ri].Seats, int32(no))
		ev.seats[no] = seatInfo{Section: int32(si), Row: int32(ri), Number: s.Number, PriceCents: s.PriceCents, Accessible: s.Accessible}
	}
	return ev
}

// remember keeps the seat versions a transaction saw, for the next hold
// to expect.
func (e *eventInfo) remember(seen []pgstore.SeatVersion) {
	for _, v := range seen {
		e.versions[v.Seat].Store(v.Version)
	}
}

func jsonString(s string) []byte {
	b, _ := json.Marshal(s)
	return b
}
