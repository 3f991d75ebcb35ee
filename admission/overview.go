package admission

import (
	"context"

	"github.com/redis/rueidis"
	"strconv"
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
	var res []rueidis.RedisResult
	err := k.call(ctx, func(ctx context.Context) error {
		res = c.DoMulti(ctx,
			c.B().Hmget().Key(k.meta).Field("state", "seed", "mr", "mr_at", "admitted", "abandoned", "removed", "left", "sold_out").Build(),
			c.B().Hmget().Key(k.settings).Field("rate", "max_active", "paused", "auto").Build(),
			c.B().Zcard().Key(k.queue).Build(),
			c.B().Scard().Key(k.pre).Build(),
			c.B().Zcount().Key(k.active).Min("("+strconv.FormatInt(now.UnixMilli(), 10)).Max("+inf").Build(),
		)
		return firstError(res)
	})
	if err != nil {
		return Overview{}, unavailable("reading the waiting room", err)
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

// staleOverviewLimit is how old an overview may still serve while the
// event's Redis does not answer. A failover takes seconds, and while the
// node that holds the event's queue is away the queue cannot move (the
// admission step runs there), so the old figures still hold; far-back
// fans keep their answers through it (see waitingAhead for a gateway cut
// off alone while the queue moves). Redis Cluster promotes a replica
// within its node timeout (5 s in our compose stack) and a second or two.
const staleOverviewLimit = 15 * time.Second

// An event's overview is kept briefly (eventKeys.recent), so the polls of
// a whole queue cost one overview read per event and TTL, not one per poll.
type recentOverview struct {
	o  Overview
	at time.Time
}

// RecentOverview is the event's Overview at most overviewTTL old, read by
// one call at a time: the others meanwhile take the one before. When Redis
// cannot be read, an overview up to staleOverviewLimit old stands in.
// Callers pass only ids of events that exist, so what is kept stays as
// small as the catalog.
func (r *Room) RecentOverview(ctx context.Context, eventID int64, now time.Time) (Overview, error) {
	return r.recentOverview(ctx, r.eventKeys(eventID), now)
}

func (r *Room) recentOverview(ctx context.Context, k *eventKeys, now time.Time) (Overview, error) {
	e, refresh := k.lookupOverview(now)
	if !refresh {
		return e.o, nil
	}
	o, err := r.Overview(ctx, k.event, now)
	if err == nil {
		k.recent.Store(&recentOverview{o: o, at: now})
	}
	k.refreshing.Store(false)
	if err != nil && e != nil && now.Sub(e.at) < staleOverviewLimit {
		return e.o, nil
	}
	return o, err
}

// lookupOverview returns the event's kept overview (nil: none) and whether
// this call is to read a fresh one: when there is none, or it is past its
// TTL and no other call reads one, or it is too old to serve while
// another does. A poll's lookup is two atomic loads.
func (k *eventKeys) lookupOverview(now time.Time) (e *recentOverview, refresh bool) {
	e = k.recent.Load()
	if e != nil {
		if age := now.Sub(e.at); age >= 0 && age < overviewTTL {
			return e, false
		}
	}
	if k.refreshing.CompareAndSwap(false, true) || e == nil || now.Sub(e.at) >= staleOverviewLimit {
		return e, true
	}
	return e, false
}

// noteSoldOut drops the event's recent overview when a step found its
// sold-out state changed, so this gateway's fans hear of it at their next
// poll rather than up to overviewTTL later.
func (r *Room) noteSoldOut(eventID int64, soldOut bool) {
	k := r.eventKeys(eventID)
	if e := k.recent.Load(); e != nil && e.o.SoldOut != soldOut {
		k.recent.Store(nil)
	}
}

// dropRecentOverview makes the next RecentOverview of the event read afresh.
func (r *Room) dropRecentOverview(eventID int64) { r.eventKeys(eventID).recent.Store(nil) }

// waitingAhead answers from a fan's mark how many fans are ahead of them,
// at most, and whether that proves them still waiting, with no Redis call.
// The overview may be overviewTTL old: since it was read, a step may have
// admitted up to a second's worth of fans (a step's budget is capped
// there) and fans may have left; and each leave since the mark may have
// been ahead of the fan. A fan close enough to the front for any of that
// to matter is not proven waiting and asks Redis. While Redis does not
// answer, the overview may be older (staleOverviewLimit); the queue does
// not move then unless this gateway alone lost Redis, and then a fan near
// the slack's edge may hear they wait when they were just admitted, until
// this gateway reads Redis again: their admission waits for them.
func (o Overview) waitingAhead(m mark) (ahead int64, sure bool) {
	ahead = int64(m.seq) - o.Removed
	rate := max(o.Settings.RatePerSecond, o.MeasuredRate)
	slack := int64(2*rate) + 16 + o.Left - int64(m.left)
	return ahead, ahead > slack
}
