package booker

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/redis/rueidis"
	"github.com/valyala/fasthttp"

	"github.com/ticketvelo/ticketvelo/internal/httpapi"
	"github.com/ticketvelo/ticketvelo/internal/salekeys"
)

// opsStats counts, per event, what the ops console charts of the booker:
// holds made and refused (201 and 409) and orders, plus the booker's p99
// and error ratio over all events. Requests only add to memory; once per
// sample interval (salekeys.OpsInterval) the counts go to Redis, where any
// gateway reads them back, so a split deployment's console sees what every
// booker did.
type opsStats struct {
	client   rueidis.Client
	prefix   string
	instance string // this process's p99 field
	now      func() time.Time

	mu     sync.Mutex
	start  int64 // unix second the counts are for
	events map[int64]*opsCounts
	window *healthWindow // latency and errors of the sample, all events
}

type opsCounts struct{ created, conflict, orders int64 }

func newOpsStats(client rueidis.Client, prefix string, now func() time.Time) *opsStats {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return &opsStats{client: client, prefix: prefix, instance: hex.EncodeToString(b), now: now,
		start: sampleStart(now()), events: map[int64]*opsCounts{}, window: newHealthWindow()}
}

func sampleStart(t time.Time) int64 { return t.Unix() - t.Unix()%salekeys.OpsInterval }

// observe counts one answered hold or confirm. Replays decide nothing and
// count only towards latency.
func (o *opsStats) observe(op healthOp, ctx *fasthttp.RequestCtx, d time.Duration, failed bool) {
	o.window.observe(d, failed)
	status := ctx.Response.StatusCode()
	if len(ctx.Response.Header.Peek("Idempotent-Replayed")) > 0 {
		return
	}
	var eventID int64
	switch {
	case op == opHold && (status == fasthttp.StatusCreated || status == fasthttp.StatusConflict):
		eventID, _ = httpapi.ParseID(ctx, "id")
	case op == opConfirm && status == fasthttp.StatusCreated:
		// The path names the hold, not the event; the order says it.
		eventID = orderEventID(ctx.Response.Body())
	}
	if eventID <= 0 {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	c := o.events[eventID]
	if c == nil {
		c = &opsCounts{}
		o.events[eventID] = c
	}
	switch {
	case op == opConfirm:
		c.orders++
	case status == fasthttp.StatusCreated:
		c.created++
	default:
		c.conflict++
	}
}

// orderEventID reads the event id of a confirm's answer, {"order":
// {"id":..., "event_id": N, ...}}, without decoding the whole order.
func orderEventID(body []byte) int64 {
	const field = `"event_id":`
	i := bytes.Index(body, []byte(field))
	if i < 0 {
		return 0
	}
	rest := bytes.TrimLeft(body[i+len(field):], " ")
	j := 0
	for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
		j++
	}
	id, _ := strconv.ParseInt(string(rest[:j]), 10, 64)
	return id
}

// RunOpsStats writes each finished sample to Redis, checking every second.
func (s *Service) RunOpsStats(ctx context.Context) error {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if err := s.ops.flush(ctx, false); err != nil && ctx.Err() == nil {
			s.log.Warn().Err(err).Msg("writing the ops console's figures")
		}
	}
}

// flush writes the sample's counts once its interval has passed (or at
// once with force) and starts the next. Counts a failed write carried are
// lost: the console shows a dip, never a double count.
func (o *opsStats) flush(ctx context.Context, force bool) error {
	o.mu.Lock()
	start, now := o.start, sampleStart(o.now())
	if start == now && !force {
		o.mu.Unlock()
		return nil
	}
	events := o.events
	o.start, o.events = now, map[int64]*opsCounts{}
	o.mu.Unlock()
	p99, errorRate, n := o.window.take()
	cmds := o.bookerCmds(start, p99, errorRate, n)
	for id, c := range events {
		cmds = append(cmds, o.eventCmds(id, start, c)...)
	}
	if len(cmds) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	for _, r := range o.client.DoMulti(ctx, cmds...) {
		if err := r.Error(); err != nil {
			return fmt.Errorf("writing the ops sample at %d: %w", start, err)
		}
	}
	return nil
}

func (o *opsStats) bookerCmds(start int64, p99 time.Duration, errorRate float64, n int64) rueidis.Commands {
	if n == 0 {
		return nil
	}
	key := salekeys.OpsBookers(o.prefix, start)
	b := o.client.B()
	errs := int64(errorRate*float64(n) + 0.5)
	return rueidis.Commands{
		b.Hincrby().Key(key).Field(salekeys.OpsRequests).Increment(n).Build(),
		b.Hincrby().Key(key).Field(salekeys.OpsErrors).Increment(errs).Build(),
		b.Hset().Key(key).FieldValue().FieldValue(salekeys.OpsP99Prefix+o.instance, strconv.FormatInt(p99.Microseconds(), 10)).Build(),
		b.Expire().Key(key).Seconds(salekeys.OpsKeep).Build(),
	}
}

func (o *opsStats) eventCmds(eventID, start int64, c *opsCounts) rueidis.Commands {
	key := salekeys.OpsSample(o.prefix, eventID, start)
	b := o.client.B()
	var cmds rueidis.Commands
	for _, f := range []struct {
		field string
		n     int64
	}{{salekeys.OpsHoldsCreated, c.created}, {salekeys.OpsHoldsConflict, c.conflict}, {salekeys.OpsOrders, c.orders}} {
		if f.n > 0 {
			cmds = append(cmds, b.Hincrby().Key(key).Field(f.field).Increment(f.n).Build())
		}
	}
	return append(cmds, b.Expire().Key(key).Seconds(salekeys.OpsKeep).Build())
}
