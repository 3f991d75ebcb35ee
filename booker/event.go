package booker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/singleflight"

	"github.com/ticketvelo/ticketvelo/internal/apperr"
	"github.com/ticketvelo/ticketvelo/internal/database"
)

var errEventNotFound = apperr.New(apperr.NotFound, "event_not_found", "no such event")

// eventInfo is what the booker keeps in memory about an event: its fixed
// facts and its seat layout, which never change once the event exists, and
// the last seat versions this process saw.
type eventInfo struct {
	ID          int64
	Name        string
	Currency    string
	MaxPerFan   int
	SaleOpensAt time.Time
	StartsAt    time.Time
	Venue       string
	City        string
	Timezone    string

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

// loadEvent reads an event and its seat layout in one round trip.
func (p *pgStore) loadEvent(ctx context.Context, id int64) (*eventInfo, error) {
	ev := &eventInfo{ID: id, bySec: map[string]int{}}
	p.stats.pgTx(opLoad)
	batch := &pgx.Batch{}
	batch.Queue(`SELECT e.name, e.currency, e.max_tickets_per_fan, e.sale_opens_at, e.starts_at, v.name, v.city, v.timezone
		FROM events e JOIN venues v ON v.id = e.venue_id WHERE e.id = $1`, id).QueryRow(func(row pgx.Row) error {
		return row.Scan(&ev.Name, &ev.Currency, &ev.MaxPerFan, &ev.SaleOpensAt, &ev.StartsAt, &ev.Venue, &ev.City, &ev.Timezone)
	})
	var (
		no, number, price  int32
		section, row, tier string
		accessible         bool
	)
	batch.Queue(`SELECT seat_no, section, row_label, number, price_cents, tier, accessible
		FROM seats WHERE event_id = $1 ORDER BY seat_no`, id).Query(func(rows pgx.Rows) error {
		_, err := pgx.ForEachRow(rows, []any{&no, &section, &row, &number, &price, &tier, &accessible}, func() error {
			if int(no) != len(ev.seats) {
				return fmt.Errorf("seat numbers of event %d have a gap at %d", id, len(ev.seats))
			}
			si, ok := ev.bySec[section]
			if !ok {
				si = len(ev.sections)
				ev.bySec[section] = si
				ev.sections = append(ev.sections, sectionInfo{Name: section, Tier: tier, nameJSON: jsonString(section), tierJSON: jsonString(tier)})
			}
			sec := &ev.sections[si]
			ri := len(sec.Rows) - 1
			if ri < 0 || sec.Rows[ri].Label != row {
				// Rows arrive in layout order, so a row label seen before in
				// this section would mean the layout interleaves rows.
				sec.Rows = append(sec.Rows, rowInfo{Label: row, labelJSON: jsonString(row)})
				ri++
			}
			sec.Rows[ri].Seats = append(sec.Rows[ri].Seats, no)
			ev.seats = append(ev.seats, seatInfo{Section: int32(si), Row: int32(ri), Number: number, PriceCents: price, Accessible: accessible})
			return nil
		})
		return err
	})
	err := database.Retry(ctx, func() error {
		ev.seats, ev.sections, ev.bySec = nil, nil, map[string]int{}
		return p.pool.SendBatch(ctx, batch).Close()
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, errEventNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("loading event %d: %w", id, err)
	}
	if len(ev.seats) == 0 {
		return nil, errEventNotFound
	}
	ev.versions = make([]atomic.Int64, len(ev.seats))
	ev.nameJSON = jsonString(ev.Name)
	return ev, nil
}

func jsonString(s string) []byte {
	b, _ := json.Marshal(s)
	return b
}
