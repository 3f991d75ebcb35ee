package admission

import (
	"context"
	"strconv"
	"sync"
	"time"
)

// Overview is an event's waiting room at a glance: for event pages, ETAs
// and ops' stats.
type Overview struct {
	Settings       Settings
	Draw           DrawState
	Seed           string // hex; published once the draw began
	QueueLength    int64
	PrequeueLength int64
	Active         int64 // admitted buyers whose admission has not expired
	AdmittedTotal  int64
	Abandoned      int64
	// Removed counts the places ever taken from the queue's front
	// (admitted or skipped), Left those given up from anywhere in it.
	Removed, Left int64
	MeasuredRate  float64 // admissions per second, decaying over ~5 s
	// SoldOut says the last step found every seat held or sold and so
	// admitted nobody; it clears at the first step that finds one free.
	SoldOut bool
}

// Overview reads the event's waiting room in one round trip.
func (r *Room) Overview(ctx context.Context, eventID int64, now time.Time) (Overview, error) {
	k := r.eventKeys(eventID)
	c := r.client
	res := c.DoMulti(ctx,
		c.B().Hmget().Key(k.meta).Field("state", "seed", "mr", "mr_at", "admitted", "abandoned", "removed", "left", "sold_out").Build(),
		c.B().Hmget().Key(k.settings).Field("rate", "max_active", "paused", "auto").Build(),
		c.B().Zcard().Key(k.queue).Build(),
		c.B().Scard().Key(k.pre).Build(),
		c.B().Zcount().Key(k.active).Min("("+strconv.FormatInt(now.UnixMilli(), 10)).Max("+inf").Build(),
	)
	for _, x := range res {
		if err := x.Error(); err != nil {
			return Overview{}, unavailable("reading the waiting room", err)
		}
	}
	meta, _ := res[0].ToArray()
	settings, _ := res[1].ToArray()
	o := Overview{Settings: r.parseSettings(settings), Draw: DrawPending}
	if s, err := meta[0].ToString(); err == nil {
		o.Draw = DrawState(s)
	}
	if o.Draw == DrawDone {
		r.markOpen(eventID)
	}
	o.Seed, _ = meta[1].ToString()
	mr := floatOf(meta[2])
	if at := floatOf(meta[3]); at > 0 {
		o.MeasuredRate = decayed(mr, now.Sub(time.UnixMilli(int64(at))))
	}
	o.AdmittedTotal = int64(floatOf(meta[4]))
	o.Abandoned = int64(floatOf(meta[5]))
	o.Removed = int64(floatOf(meta[6]))
	o.Left = int64(floatOf(meta[7]))
	o.SoldOut = floatOf(meta[8]) == 1
	o.QueueLength, _ = res[2].AsInt64()
	o.PrequeueLength, _ = res[3].AsInt64()
	o.Active, _ = res[4].AsInt64()
	return o, nil
}

// overviewTTL is how stale an event's waiting-room figures may be on event
// pages, in queue ETAs and in the positions of fans far from the front;
// ops' stats always read fresh.
const overviewTTL = 500 * time.Millisecond

// recentOverviews keeps each event's overview briefly, so the polls of a
// whole queue cost one overview read per event and TTL, not one per poll.
type recentOverviews struct {
	mu sync.RWMutex
	m  map[int64]recentOverview
}

type recentOverview struct {
	o  Overview
	at time.Time
}

// RecentOverview is the event's Overview at most overviewTTL old. Callers
// pass only ids of events that exist, so the cache stays as small as the
// catalog.
func (r *Room) RecentOverview(ctx context.Context, eventID int64, now time.Time) (Overview, error) {
	c := &r.overviews
	c.mu.RLock()
	e, ok := c.m[eventID]
	c.mu.RUnlock()
	if ok && now.Sub(e.at) < overviewTTL && !now.Before(e.at) {
		return e.o, nil
	}
	o, err := r.Overview(ctx, eventID, now)
	if err != nil {
		return o, err
	}
	c.mu.Lock()
	if c.m == nil {
		c.m = map[int64]recentOverview{}
	}
	c.m[eventID] = recentOverview{o, now}
	c.mu.Unlock()
	return o, nil
}

// noteSoldOut drops the event's recent overview when a step found its
// sold-out state changed, so this gateway's fans hear of it at their next
// poll rather than up to overviewTTL later.
func (r *Room) noteSoldOut(eventID int64, soldOut bool) {
	r.overviews.mu.RLock()
	e, ok := r.overviews.m[eventID]
	r.overviews.mu.RUnlock()
	if ok && e.o.SoldOut != soldOut {
		r.dropRecentOverview(eventID)
	}
}

// dropRecentOverview makes the next RecentOverview of the event read afresh.
func (r *Room) dropRecentOverview(eventID int64) {
	r.overviews.mu.Lock()
	delete(r.overviews.m, eventID)
	r.overviews.mu.Unlock()
}

// waitingAhead answers from a fan's mark how many fans are ahead of them,
// at most, and whether that proves them still waiting, with no Redis call.
// The overview may be overviewTTL old: since it was read, a step may have
// admitted up to a second's worth of fans (a step's budget is capped
// there) and fans may have left; and each leave since the mark may have
// been ahead of the fan. A fan close enough to the front for any of that
// to matter is not proven waiting and asks Redis.
func (o Overview) waitingAhead(m mark) (ahead int64, sure bool) {
	ahead = int64(m.seq) - o.Removed
	rate := max(o.Settings.RatePerSecond, o.MeasuredRate)
	slack := int64(2*rate) + 16 + o.Left - int64(m.left)
	return ahead, ahead > slack
}
