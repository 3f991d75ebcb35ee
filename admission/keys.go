package admission

import (
	"embed"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"

	"github.com/ticketvelo/ticketvelo/internal/deadline"
	"github.com/ticketvelo/ticketvelo/internal/salekeys"
)

// The waiting room of event E lives under <prefix>wr:{E}:. The {E} hash tag
// puts all of an event's keys in one Redis Cluster slot, so the scripts that
// touch several of them run there; different events spread across slots.
//
//	meta      hash: draw state and seed, step clock, measured rate, totals (admitted,
//	          abandoned, removed from the queue's front, left from anywhere in it)
//	settings  hash: rate, max_active, paused, auto (what ops set)
//	pre       set of fans who joined before the opening, until the draw
//	queue     sorted set of waiting fans by place: drawn places first, then arrival order
//	active    sorted set of admitted fans by admission expiry (unix ms)
//	tokens    hash: admitted fan -> their admission token
//	ended     hash: fan -> why their last place ended (timeout, done, abandoned)
//	          (active and ended are read by the booker too: internal/salekeys)
//	log       stream of admitted fans (field u), in the order the steps admitted
//	          them, the last million kept: fairness is measured from it
//	seen:N    hash per 128 fans: fan id mod 128 -> last poll (unix s); small
//	          hashes are packed listpacks, ~8 bytes a fan against ~70 in one big hash
//	draw      the draw's lease
//	joins:a:W:N, joins:ip:W  join counters of window W: of the accounts
//	          N*128.., of client addresses; they expire with the window
type eventKeys struct {
	event                                                                     int64
	base                                                                      string
	meta, settings, pre, queue, active, tokens, ended, log, seenPrefix, lease string
	// taken is the booker's taken-seat bitmap, which the step reads to
	// pause admission while no seat is left.
	taken string
	// open: this process has seen the event's draw done. That never goes
	// back, so joins and polls take the scripts' fast path.
	open atomic.Bool
	// recent is the event's overview as last read (nil: none), and
	// refreshing whether a call is reading a fresh one (RecentOverview).
	recent     atomic.Pointer[recentOverview]
	refreshing atomic.Bool
	// joined is set by a join on this gateway and taken by its controller,
	// so an idle event (stepped once a second) is stepped at the next tick
	// after a fan arrives.
	joined atomic.Bool
	// breaker fails the event's calls at once while its Redis is away.
	breaker breaker
	// addrExpiry paces the expiry of the join counters of client
	// addresses: one PEXPIREAT a second from this gateway, not one a join.
	addrExpiry expiryPacer
	// bound ends each of the event's Redis calls (the room's, for all;
	// set by Room.eventKeys).
	bound *deadline.Shared
	// marksFrom (unix s) is the oldest a fan's mark may be to count: marks
	// read before the event's keys were lost, or while its fans were
	// being put back, say nothing of the queue after (see noteLost).
	marksFrom atomic.Uint32
}

func newEventKeys(prefix string, eventID int64) *eventKeys {
	base := salekeys.Room(prefix, eventID)
	return &eventKeys{
		event: eventID, base: base,
		meta: base + "meta", settings: base + "settings", pre: base + "pre", queue: base + "queue",
		active: salekeys.Active(prefix, eventID), tokens: base + "tokens", ended: salekeys.Ended(prefix, eventID), log: base + "log",
		seenPrefix: base + "seen:", lease: base + "draw", taken: salekeys.Taken(prefix, eventID),
	}
}

// seen is the fan's bucket key and field for last-poll times.
func (k *eventKeys) seen(userID int64) (key, field string) {
	return k.seenPrefix + strconv.FormatInt(userID>>7, 10), strconv.FormatInt(userID&127, 10)
}

// totals reads the queue's running totals a mark is made of.
func (k *eventKeys) totals(c rueidis.Client) rueidis.Completed {
	return c.B().Hmget().Key(k.meta).Field("removed", "left").Build()
}

// markOf makes a mark from the reply of totals and the fan's rank.
func markOf(totals rueidis.RedisResult, rank int64) mark {
	vals, _ := totals.ToArray()
	var removed, left int64
	if len(vals) == 2 {
		removed, _ = vals[0].AsInt64()
		left, _ = vals[1].AsInt64()
	}
	return mark{seq: uint32(rank + removed), left: uint32(left)}
}

// healthKey holds the bookers' latest figures, one field per booker process.
func healthKey(prefix string) string { return prefix + "wr:health" }

//go:embed lua/*.lua
var luaFiles embed.FS

func mustLua(names ...string) string {
	var src []byte
	for _, n := range names {
		b, err := luaFiles.ReadFile("lua/" + n)
		if err != nil {
			panic(err)
		}
		src = append(append(src, b...), '\n')
	}
	return string(src)
}

var (
	joinScript       = rueidis.NewLuaScript(mustLua("place.lua", "join.lua"))
	statusScript     = rueidis.NewLuaScript(mustLua("place.lua", "status.lua"))
	restoreScript    = rueidis.NewLuaScript(mustLua("place.lua", "restore.lua"))
	leaveScript      = rueidis.NewLuaScript(mustLua("leave.lua"))
	doneScript       = rueidis.NewLuaScript(mustLua("done.lua"))
	tokenScript      = rueidis.NewLuaScript(mustLua("token.lua"))
	stepScript       = rueidis.NewLuaScript(mustLua("step.lua"))
	drawBeginScript  = rueidis.NewLuaScript(mustLua("draw_begin.lua"))
	drawMoveScript   = rueidis.NewLuaScript(mustLua("draw_move.lua"))
	drawFinishScript = rueidis.NewLuaScript(mustLua("draw_finish.lua"))
)

// expiryPacer paces the PEXPIREAT of a window's counter key: the first
// join of each window on this gateway sends it, and then one a second, so
// a key that a lost Redis node brought back without its expiry gets it
// again within a second.
type expiryPacer struct{ window, at atomic.Int64 } // at: unix ns

// due reports whether this join should send the expiry of window's key.
func (p *expiryPacer) due(window int64, now time.Time) bool {
	n := now.UnixNano()
	if p.window.Load() != window {
		p.window.Store(window)
		p.at.Store(n)
		return true
	}
	last := p.at.Load()
	return n-last >= int64(time.Second) && p.at.CompareAndSwap(last, n)
}
