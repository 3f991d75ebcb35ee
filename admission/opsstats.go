package admission

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/rueidis"

	"github.com/ticketvelo/ticketvelo/internal/salekeys"
)

// The ops console charts the last 15 minutes of an event in samples of
// salekeys.OpsInterval seconds, kept in Redis: the admission steps write
// the queue's part (here), the bookers their holds, orders and health
// (booker/opsstats.go), and the gateway serves them together.

// opsSampler gathers this controller's step results over one sample.
type opsSampler struct {
	start  int64 // unix second of the sample being gathered
	events map[int64]*opsPoint
}

type opsPoint struct {
	admitted int64
	queue    int64
	seats    int // the event's seat count, for the seats left
}

func opsStart(t time.Time) int64 { return t.Unix() - t.Unix()%salekeys.OpsInterval }

// sampleOps adds a step's result to the sample, first writing the previous
// sample once its interval has passed. A failed write loses that sample
// (the console shows a gap), never the admission step.
func (c *Controller) sampleOps(ctx context.Context, s Sale, res StepResult, now time.Time) error {
	var err error
	if start := opsStart(now); start != c.ops.start {
		if len(c.ops.events) > 0 {
			err = c.room.writeOps(ctx, c.ops.start, c.ops.events)
		}
		c.ops = opsSampler{start: start, events: map[int64]*opsPoint{}}
	}
	p := c.ops.events[s.EventID]
	if p == nil {
		p = &opsPoint{}
		c.ops.events[s.EventID] = p
	}
	p.admitted += res.Admitted
	p.queue, p.seats = res.QueueLength, s.Seats
	return err
}

// writeOps writes one sample of each event: the fans admitted (added to
// other gateways'), the queue length and the seats left now.
func (r *Room) writeOps(ctx context.Context, start int64, events map[int64]*opsPoint) error {
	left, err := r.seatsLeft(ctx, events)
	if err != nil {
		return err
	}
	b := r.client.B()
	var cmds rueidis.Commands
	for id, p := range events {
		key := salekeys.OpsSample(r.prefix, id, start)
		cmds = append(cmds,
			b.Hincrby().Key(key).Field(salekeys.OpsAdmitted).Increment(p.admitted).Build(),
			b.Hset().Key(key).FieldValue().FieldValue(salekeys.OpsQueue, strconv.FormatInt(p.queue, 10)).Build(),
			b.Expire().Key(key).Seconds(salekeys.OpsKeep).Build())
		if n, ok := left[id]; ok {
			cmds = append(cmds, b.Hset().Key(key).FieldValue().FieldValue(salekeys.OpsSeatsLeft, strconv.FormatInt(n, 10)).Build())
		}
	}
	for _, res := range r.client.DoMulti(ctx, cmds...) {
		if err := res.Error(); err != nil {
			return fmt.Errorf("writing the ops sample at %d: %w", start, err)
		}
	}
	return nil
}

// seatsLeft counts the free seats of each event from the booker's bitmap of
// taken seats; an event whose bitmap is incomplete (no sentinel bit at
// offset capacity) is left out rather than guessed.
func (r *Room) seatsLeft(ctx context.Context, events map[int64]*opsPoint) (map[int64]int64, error) {
	b := r.client.B()
	var ids []int64
	var cmds rueidis.Commands
	for id, p := range events {
		if p.seats <= 0 {
			continue
		}
		key := salekeys.Taken(r.prefix, id)
		ids = append(ids, id)
		cmds = append(cmds, b.Getbit().Key(key).Offset(int64(p.seats)).Build(), b.Bitcount().Key(key).Build())
	}
	left := make(map[int64]int64, len(ids))
	if len(cmds) == 0 {
		return left, nil
	}
	res := r.client.DoMulti(ctx, cmds...)
	for i, id := range ids {
		sentinel, err1 := res[2*i].AsInt64()
		taken, err2 := res[2*i+1].AsInt64()
		if err := firstErr(err1, err2); err != nil {
			return nil, fmt.Errorf("counting the seats left of event %d: %w", id, err)
		}
		if sentinel == 1 {
			left[id] = int64(events[id].seats) - (taken - 1)
		}
	}
	return left, nil
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// OpsSample is one sample of an event's figures, as the ops console charts
// them. Counts are over the sample's interval; the queue and seats left
// are as the sample's last admission step saw them.
type OpsSample struct {
	Start time.Time
	// Reported: an admission step or a booker wrote this sample of the
	// event. Without it, nobody was counting (no gateway stepped the event).
	Reported                              bool
	QueueLength, SeatsLeft                *int64
	Admitted, HoldsCreated, HoldsConflict int64
	Orders                                int64
	// The bookers', over all events; BookerRequests 0: none reported.
	BookerRequests, BookerErrors int64
	BookerP99                    time.Duration // the worst booker's
}

// OpsHistoryLength is how many samples OpsHistory returns: 15 minutes.
const OpsHistoryLength = 15 * 60 / salekeys.OpsInterval

// OpsHistory returns the event's last 15 minutes of finished samples,
// oldest first. A sample counts as finished two seconds after its interval,
// when every writer has flushed it (they check once a second).
func (r *Room) OpsHistory(ctx context.Context, eventID int64, now time.Time) ([]OpsSample, error) {
	last := opsStart(now.Add(-2*time.Second)) - salekeys.OpsInterval
	first := last - (OpsHistoryLength-1)*salekeys.OpsInterval
	b := r.client.B()
	cmds := make(rueidis.Commands, 0, 2*OpsHistoryLength)
	for start := first; start <= last; start += salekeys.OpsInterval {
		cmds = append(cmds,
			b.Hgetall().Key(salekeys.OpsSample(r.prefix, eventID, start)).Build(),
			b.Hgetall().Key(salekeys.OpsBookers(r.prefix, start)).Build())
	}
	res := r.client.DoMulti(ctx, cmds...)
	out := make([]OpsSample, 0, OpsHistoryLength)
	for i := 0; i < len(res); i += 2 {
		ev, err1 := res[i].AsStrMap()
		bk, err2 := res[i+1].AsStrMap()
		if err := firstErr(err1, err2); err != nil {
			return nil, fmt.Errorf("reading the ops samples of event %d: %w", eventID, err)
		}
		s := opsSample(ev, bk)
		s.Start = time.Unix(first+int64(i/2)*salekeys.OpsInterval, 0).UTC()
		out = append(out, s)
	}
	return out, nil
}

func opsSample(ev, bk map[string]string) OpsSample {
	num := func(m map[string]string, f string) int64 {
		n, _ := strconv.ParseInt(m[f], 10, 64)
		return n
	}
	ptr := func(f string) *int64 {
		if _, ok := ev[f]; !ok {
			return nil
		}
		n := num(ev, f)
		return &n
	}
	s := OpsSample{
		Reported: len(ev) > 0, QueueLength: ptr(salekeys.OpsQueue), SeatsLeft: ptr(salekeys.OpsSeatsLeft),
		Admitted: num(ev, salekeys.OpsAdmitted), HoldsCreated: num(ev, salekeys.OpsHoldsCreated),
		HoldsConflict: num(ev, salekeys.OpsHoldsConflict), Orders: num(ev, salekeys.OpsOrders),
		BookerRequests: num(bk, salekeys.OpsRequests), BookerErrors: num(bk, salekeys.OpsErrors),
	}
	for f, v := range bk {
		if us, err := strconv.ParseInt(v, 10, 64); err == nil && strings.HasPrefix(f, salekeys.OpsP99Prefix) {
			s.BookerP99 = max(s.BookerP99, time.Duration(us)*time.Microsecond)
		}
	}
	return s
}
