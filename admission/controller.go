package admission

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/rs/zerolog"

	"github.com/ticketvelo/ticketvelo/internal/promtext"
)

// StepResult is what one admission step did.
type StepResult struct {
	DrawDue       bool // the sale opened and the pre-queue is not drawn yet
	BeforeOpening bool
	Paused        bool
	SoldOut       bool // every seat is held or sold: nobody is admitted
	// Restoring: the queue's state was lost and its fans are being put
	// back from their receipts; nobody is admitted until RecoveryWindow
	// after the loss was noticed.
	Restoring bool
	// StateLost: this step found the queue's keys gone, an open queue
	// whose draw is due again.
	StateLost   bool
	Admitted    int64
	Skipped     int64 // abandoned places passed over
	Expired     int64 // admissions whose window ended
	QueueLength int64
	Active      int64
	Rate        float64 // in force after the step (auto mode may have moved it)
}

// Step runs one admission step of the event: expired admissions free their
// slots, and fans at the front are admitted at the event's rate for the
// time since the previous step (of any gateway), up to max_active, skipping
// those who stopped polling. It is one Redis script, so steps of many
// gateways never overlap.
func (r *Room) Step(ctx context.Context, s Sale, health Health, now time.Time) (StepResult, error) {
	// The step skips fans silent for too long: it must see the polls this
	// gateway has not written yet.
	if err := r.flushPolls(ctx); err != nil {
		return StepResult{}, fmt.Errorf("admission step of event %d: %w", s.EventID, err)
	}
	k := r.eventKeys(s.EventID)
	a := r.cfg.Auto
	// Read before the script runs: a draw finishing meanwhile (in another
	// goroutine) marks the queue open after this step saw it closed, which
	// is no loss. Only a queue known open before the step that the step
	// finds closed lost its keys.
	wasOpen := k.open.Load()
	reply, err := stepScript.Exec(ctx, r.client,
		[]string{k.meta, k.settings, k.pre, k.queue, k.active, k.tokens, k.ended, k.taken, k.log},
		[]string{
			strconv.FormatInt(now.UnixMilli(), 10), strconv.FormatInt(s.OpensAt.UnixMilli(), 10),
			strconv.FormatInt(r.cfg.AdmissionTTL.Milliseconds(), 10), strconv.FormatInt(r.cfg.GracePeriod.Milliseconds(), 10),
			k.seenPrefix, ftoa(r.cfg.DefaultRate), strconv.Itoa(r.cfg.DefaultMaxActive),
			strconv.Itoa(int(health)), ftoa(a.Increase), ftoa(a.DecreaseFactor), ftoa(a.MinRate), ftoa(a.MaxRate),
			strconv.Itoa(s.Seats),
		}).AsIntSlice()
	if err != nil {
		return StepResult{}, fmt.Errorf("admission step of event %d: %w", s.EventID, err)
	}
	if len(reply) != 7 {
		return StepResult{}, fmt.Errorf("admission step of event %d answered %d values, want 7", s.EventID, len(reply))
	}
	lost := reply[0] == 1 && wasOpen
	if lost {
		if err := r.noteLost(ctx, k, now); err != nil {
			return StepResult{}, fmt.Errorf("admission step of event %d: %w", s.EventID, err)
		}
	}
	if reply[0] == 0 || reply[0] == 2 || reply[0] >= 4 {
		r.markOpen(s.EventID)
	}
	r.noteSoldOut(s.EventID, reply[0] == 4)
	return StepResult{
		DrawDue: reply[0] == 1, Paused: reply[0] == 2, BeforeOpening: reply[0] == 3, SoldOut: reply[0] == 4,
		Restoring: reply[0] == 5, StateLost: lost,
		Admitted: reply[1], Skipped: reply[2], Expired: reply[3], QueueLength: reply[4], Active: reply[5],
		Rate: float64(reply[6]) / 1000,
	}, nil
}

func ftoa(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// Sale is an event whose waiting room the controller steps.
type Sale struct {
	EventID int64
	OpensAt time.Time
	// Seats is the event's seat count; the step pauses admission while the
	// booker's bitmap shows every one taken. 0 never counts as sold out.
	Seats int
}

// SaleLister lists the events on sale, and those opening soon enough for
// their draw to start on time (a minute ahead is plenty: the list is read
// every two seconds).
type SaleLister func(ctx context.Context, now time.Time) ([]Sale, error)

// Controller runs the admission steps and draws of every event on sale. Each
// gateway runs one; the steps' script makes them agree.
type Controller struct {
	room     *Room
	sales    SaleLister
	interval time.Duration
	now      func() time.Time
	log      zerolog.Logger

	mu      sync.Mutex
	drawing map[int64]bool
	draws   sync.WaitGroup

	ops opsSampler // the ops console's figures, used by Run only
}

// NewController returns a controller that steps each busy event of room
// every interval of the room's Config and each idle one every second.
func NewController(room *Room, sales SaleLister, now func() time.Time, log zerolog.Logger) *Controller {
	return &Controller{room: room, sales: sales, interval: room.cfg.Interval, now: now, log: log, drawing: map[int64]bool{}}
}

const (
	idleInterval  = time.Second     // events with nobody waiting
	salesInterval = 2 * time.Second // how often the list of events on sale is read
)

var stepDuration = metrics.GetOrCreatePrometheusHistogramExt(promtext.Help("ticketvelo_admission_step_duration_seconds", "Time of one admission step of one event: admit, expire and skip the abandoned."),
	[]float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25})

// Run steps until ctx ends. Store errors are logged and retried; they never
// stop the gateway, whose other gateways may still reach Redis.
func (c *Controller) Run(ctx context.Context) error {
	ticker := time.NewTicker(c.interval)
	defer ticker.Stop()
	defer c.draws.Wait()
	t := &ticks{health: HealthUnknown, next: map[int64]time.Time{}}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
		c.tick(ctx, t, c.now())
	}
}

// ticks is what Run carries from one tick to the next.
type ticks struct {
	sales        []Sale
	salesAt, hAt time.Time
	health       Health
	next         map[int64]time.Time // when each event's next step is due
	errLog       time.Time
}

// tick refreshes the events on sale and the bookers' health when due and
// steps every event whose step is due or that a fan joined since.
func (c *Controller) tick(ctx context.Context, t *ticks, now time.Time) {
	if now.Sub(t.salesAt) >= salesInterval {
		if s, err := c.sales(ctx, now); err != nil {
			c.logErr(t, fmt.Errorf("listing events on sale: %w", err))
		} else {
			t.sales, t.salesAt = s, now
		}
	}
	if now.Sub(t.hAt) >= time.Second {
		if h, err := c.room.BookerHealth(ctx, now); err != nil {
			c.logErr(t, err)
		} else {
			t.health, t.hAt = h, now
		}
	}
	live := make(map[int64]bool, len(t.sales))
	for _, s := range t.sales {
		live[s.EventID] = true
		if now.Before(t.next[s.EventID]) && !c.room.takeJoined(s.EventID) {
			continue
		}
		t.next[s.EventID] = c.stepEvent(ctx, t, s, now)
	}
	for id := range t.next {
		if !live[id] {
			delete(t.next, id)
		}
	}
}

// stepEvent runs one admission step of an event and says when its next
// one is due.
func (c *Controller) stepEvent(ctx context.Context, t *ticks, s Sale, now time.Time) (next time.Time) {
	start := time.Now()
	res, err := c.room.Step(ctx, s, t.health, now)
	stepDuration.UpdateDuration(start)
	if err != nil {
		c.logErr(t, err)
		return now.Add(idleInterval)
	}
	c.record(s.EventID, res)
	if res.StateLost {
		statesLost.Inc()
		c.log.Warn().Int64("event_id", s.EventID).Msg("the waiting room's keys are gone (a Redis node lost with its replica, or a restart without persistence): fans get their places back from their receipts; admission waits for them")
	}
	if err := c.sampleOps(ctx, s, res, now); err != nil {
		c.logErr(t, err)
	}
	switch {
	case res.DrawDue:
		c.startDraw(ctx, s, now)
		return now
	case res.BeforeOpening:
		return minTime(s.OpensAt, now.Add(idleInterval))
	case res.QueueLength == 0:
		return now.Add(idleInterval)
	default:
		return now
	}
}

// logErr logs a store error, one line per 10 s: enough to see that Redis
// or Postgres is down.
func (c *Controller) logErr(t *ticks, err error) {
	if now := time.Now(); now.Sub(t.errLog) > 10*time.Second {
		c.log.Error().Err(err).Msg("admission controller")
		t.errLog = now
	}
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// startDraw runs the event's draw in the background, once per event at a
// time in this process, so a big pre-queue does not hold up other events.
func (c *Controller) startDraw(ctx context.Context, s Sale, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.drawing[s.EventID] {
		return
	}
	c.drawing[s.EventID] = true
	c.draws.Add(1)
	go func() {
		defer c.draws.Done()
		defer func() {
			c.mu.Lock()
			delete(c.drawing, s.EventID)
			c.mu.Unlock()
		}()
		start := time.Now()
		opened, err := c.room.Draw(ctx, s.EventID, s.OpensAt, now)
		if err != nil {
			c.log.Error().Err(err).Int64("event_id", s.EventID).Msg("pre-queue draw failed; another step retries it")
			return
		}
		if opened {
			drawsTotal.Inc()
			c.log.Info().Int64("event_id", s.EventID).Dur("took", time.Since(start)).Msg("pre-queue drawn, queue open")
		}
	}()
}

var (
	statesLost      = metrics.NewCounter(promtext.Help("ticketvelo_waitingroom_states_lost_total", "Times a gateway found an open queue's keys gone from Redis."))
	drawsTotal      = metrics.NewCounter(promtext.Help("ticketvelo_waitingroom_draws_total", "Pre-queues drawn into a random order when an event's sale opened."))
	queueLength     = promtext.Help("ticketvelo_waitingroom_queue_length", "Fans waiting in an event's queue, by event.")
	activeFamily    = promtext.Help("ticketvelo_waitingroom_active", "Fans admitted and still buying, by event.")
	soldOutFamily   = promtext.Help("ticketvelo_waitingroom_sold_out", "1 while an event is sold out, else 0, by event.")
	rateFamily      = promtext.Help("ticketvelo_admission_rate_per_second", "Admission rate in force, fans per second, by event.")
	admittedFamily  = promtext.Help("ticketvelo_admissions_total", "Fans admitted from the queue, by event.")
	abandonedFamily = promtext.Help("ticketvelo_waitingroom_abandoned_total", "Fans skipped at their turn because they had stopped polling, by event.")
	expiredFamily   = promtext.Help("ticketvelo_admissions_expired_total", "Admissions that ran out unused and freed their slot, by event.")
)

// record exports the step's figures per event. The counters are touched
// every step, even by zero, so each event's series exist from its first step.
func (c *Controller) record(eventID int64, res StepResult) {
	label := `{event="` + strconv.FormatInt(eventID, 10) + `"}`
	metrics.GetOrCreateGauge(queueLength+label, nil).Set(float64(res.QueueLength))
	metrics.GetOrCreateGauge(activeFamily+label, nil).Set(float64(res.Active))
	soldOut := 0.0
	if res.SoldOut {
		soldOut = 1
	}
	metrics.GetOrCreateGauge(soldOutFamily+label, nil).Set(soldOut)
	if !res.DrawDue && !res.BeforeOpening {
		metrics.GetOrCreateGauge(rateFamily+label, nil).Set(res.Rate)
	}
	metrics.GetOrCreateCounter(admittedFamily + label).AddInt64(res.Admitted)
	metrics.GetOrCreateCounter(abandonedFamily + label).AddInt64(res.Skipped)
	metrics.GetOrCreateCounter(expiredFamily + label).AddInt64(res.Expired)
}
