package drill

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ticketvelo/ticketvelo/internal/loop"
	"github.com/ticketvelo/ticketvelo/tools/dropsim"
)

// result is what one drop did.
type result struct {
	fault     fault
	skipped   string // why the drop did not run
	report    *dropsim.Report
	simErr    error // the simulator's own verdict (seats, tickets, 5xx)
	faultAt   time.Time
	faultTook time.Duration
	faultErr  error
	note      string

	recovery     time.Duration // from the fault to the last failed answer after it
	mailDelayMax time.Duration // order stored to its mail written
	orders       int
	mailed       int // orders with exactly one mail
	mailedTwice  int
	unmailed     int
	outboxLeft   int
	unanswered   map[string]int // fans who joined and got no answer, by outcome
	problems     []string
}

// unansweredOutcomes are the ways a fan can end without an answer, or with
// a place that was lost: the place gone (a poll answered 404), the
// admission gone (a hold answered 410 long before the admission's 10
// minutes were up), the queue given up on an error, or still waiting when
// the drop timed out.
var unansweredOutcomes = []string{dropsim.OutcomeLostPlace, "hold_status_410", "left_queue", "error", "timed_out"}

// check waits until the outbox is published and every confirmed order of
// the drop's event has its mail (or the settle time ran out), then checks
// the invariants.
func (d *driller) check(ctx context.Context, r *result) error {
	rep := r.report
	if rep == nil {
		r.problems = append(r.problems, fmt.Sprintf("the drop did not run: %v", r.simErr))
		return nil
	}
	if r.simErr != nil {
		r.problems = append(r.problems, rep.Problems...)
		if len(rep.Problems) == 0 {
			r.problems = append(r.problems, r.simErr.Error())
		}
	}
	if r.faultErr != nil {
		r.problems = append(r.problems, "the fault could not be injected: "+r.faultErr.Error())
	}
	r.recovery = recovery(rep.Failures, r.faultAt)
	r.unanswered = map[string]int{}
	for _, o := range unansweredOutcomes {
		if n := rep.Outcomes[o]; n > 0 {
			r.unanswered[o] = n
			what := "joined and got no answer"
			if o == "hold_status_410" {
				what = "were admitted and lost the admission within the drop (a hold answered 410)"
			}
			r.problems = append(r.problems, fmt.Sprintf("%d fans %s (%s)", n, what, o))
		}
	}
	orders, err := d.settle(ctx, rep.EventID)
	if err != nil {
		return err
	}
	d.checkMail(r, orders)
	return nil
}

// quiet is how long fans must meet no failure for the system to count as
// recovered: longer than nginx's fail_timeout (2 s), after which it tries
// a dead copy again and one request meets it.
const quiet = 3 * time.Second

// recovery is how long after the fault fans met failures: from the fault to
// the last 5xx or failed request of the first burst of them after it, the
// burst ending with a quiet spell (0 when nothing failed after the fault).
// Later failures (load shed under a busy machine) are not the fault's; they
// show in the count and the span of failed answers.
func recovery(failures []time.Time, faultAt time.Time) time.Duration {
	if faultAt.IsZero() {
		return 0
	}
	after := slices.DeleteFunc(slices.Clone(failures), func(f time.Time) bool { return !f.After(faultAt) })
	if len(after) == 0 {
		return 0
	}
	slices.SortFunc(after, time.Time.Compare)
	// The burst starts with the first failure, however long the fault took
	// to show (a request waiting on a dead Redis node fails seconds later).
	last := after[0]
	for _, f := range after[1:] {
		if f.Sub(last) >= quiet {
			break
		}
		last = f
	}
	return last.Sub(faultAt)
}

// storedOrder is a confirmed order as Postgres has it.
type storedOrder struct {
	id      string
	created time.Time
}

// settle waits, up to the settle time, until the outbox has nothing left
// to publish and the mail of every confirmed order of the event was seen;
// it returns the orders.
func (d *driller) settle(ctx context.Context, eventID int64) ([]storedOrder, error) {
	deadline := time.Now().Add(d.o.Settle)
	for {
		orders, pending, err := d.stored(ctx, eventID)
		if err != nil {
			return nil, err
		}
		mailed := 0
		for _, o := range orders {
			if _, ok := d.mail.of(o.id); ok {
				mailed++
			}
		}
		if (pending == 0 && mailed == len(orders)) || time.Now().After(deadline) {
			// A second mail would come, if at all, from a redelivery:
			// give it a moment to show.
			loop.Sleep(ctx, time.Second)
			return orders, nil
		}
		if !loop.Sleep(ctx, 250*time.Millisecond) {
			return nil, ctx.Err()
		}
	}
}

// stored reads the event's confirmed orders and the outbox rows not
// published yet (of every event: the relay publishes in order).
func (d *driller) stored(ctx context.Context, eventID int64) ([]storedOrder, int, error) {
	rows, err := d.t.pool.Query(ctx, `SELECT id::text, created_at FROM orders WHERE event_id = $1 AND status = 'confirmed'`, eventID)
	if err != nil {
		return nil, 0, fmt.Errorf("reading the drop's orders: %w", err)
	}
	orders, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (storedOrder, error) {
		var o storedOrder
		return o, row.Scan(&o.id, &o.created)
	})
	if err != nil {
		return nil, 0, fmt.Errorf("reading the drop's orders: %w", err)
	}
	var pending int
	if err := d.t.pool.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE published_at IS NULL`).Scan(&pending); err != nil {
		return nil, 0, fmt.Errorf("reading the outbox: %w", err)
	}
	return orders, pending, nil
}

// checkMail counts each order's mails and the outbox left, and notes what
// breaks "every order mailed exactly once, the outbox fully published".
func (d *driller) checkMail(r *result, orders []storedOrder) {
	r.orders = len(orders)
	for _, o := range orders {
		m, ok := d.mail.of(o.id)
		switch {
		case !ok:
			r.unmailed++
			continue
		case m.copies == 1:
			r.mailed++
		default:
			r.mailedTwice++
		}
		r.mailDelayMax = max(r.mailDelayMax, m.first.Sub(o.created))
	}
	_, pending, err := d.stored(context.Background(), r.report.EventID)
	if err != nil {
		r.problems = append(r.problems, err.Error())
	}
	r.outboxLeft = pending
	if r.unmailed > 0 || r.mailedTwice > 0 {
		r.problems = append(r.problems, fmt.Sprintf("%d orders: %d mailed once, %d more than once, %d not at all", r.orders, r.mailed, r.mailedTwice, r.unmailed))
	}
	if r.outboxLeft > 0 {
		r.problems = append(r.problems, fmt.Sprintf("%d outbox rows not published", r.outboxLeft))
	}
}
