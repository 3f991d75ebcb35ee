// Package dropsim simulates drop day against a running TicketVelo: thousands
// of fans arrive around the sale's opening, wait in the queue, are admitted
// at the configured rate, pick seats, hold and buy them, all through the
// public HTTP API. At the end it checks in Postgres that no seat was sold
// twice and reports latencies, outcomes and fairness.
//
// It is an operator's tool: to reach ten thousand signed-in fans in seconds it
// creates their accounts directly in Postgres (with no usable password) and
// signs their access tokens with the installation's key file, instead of
// paying for ten thousand argon2id registrations.
package dropsim

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ticketvelo/ticketvelo/catalog"
	"github.com/ticketvelo/ticketvelo/internal/tokens"
	"github.com/ticketvelo/ticketvelo/tools/apiclient"
)

// Options shape one simulated drop.
type Options struct {
	Target      string        // base URL of the gateway (and booker, in `all`)
	Fans        int           // how many fans take part
	Seats       int           // seats of the simulated venue (when EventID is 0)
	EventID     int64         // an existing event to sell; 0 creates one
	Prequeue    time.Duration // the sale opens this long after the simulation starts
	Arrivals    time.Duration // fans arrive spread over this window, from the start
	Rate        float64       // admission rate per second set for the drop
	MaxActive   int           // admitted buyers at once
	MaxTickets  int           // seats a fan tries to buy (1..MaxTickets)
	DeclineRate float64       // share of payments declined
	MaxPoll     time.Duration // cap on the server's poll_after_ms, to keep the run short
	Timeout     time.Duration // the whole simulation
	Seed        uint64        // random source of fan behaviour
}

// Defaults are a modest drop that finishes in about a minute on a laptop.
func Defaults() Options {
	return Options{
		Fans: 5000, Seats: 2000, Prequeue: 5 * time.Second, Arrivals: 15 * time.Second,
		Rate: 200, MaxActive: 400, MaxTickets: 4, DeclineRate: 0.05, MaxPoll: time.Second,
		Timeout: 5 * time.Minute, Seed: 1,
	}
}

// Validate names the first option that cannot work.
func (o Options) Validate() error {
	switch {
	case o.Target == "":
		return errors.New("--target: expected the base URL of a running TicketVelo")
	case o.Fans < 1:
		return errors.New("--fans: expected at least 1")
	case o.EventID == 0 && o.Seats < 1:
		return errors.New("--seats: expected at least 1")
	case o.Rate <= 0 || o.MaxActive < 1:
		return errors.New("--rate and --max-active: expected positive values")
	case o.MaxTickets < 1:
		return errors.New("--max-tickets: expected at least 1")
	case o.DeclineRate < 0 || o.DeclineRate > 1:
		return errors.New("--decline-rate: expected 0 to 1")
	}
	return nil
}

// Simulation is one prepared drop: fans, tokens and the event on sale.
type Simulation struct {
	opts    Options
	pool    *pgxpool.Pool
	ring    *tokens.Ring
	api     *client
	eventID int64
	opensAt time.Time
	fans    []fan
	ops     string // an ops access token
	log     AdmissionLog
}

// AdmissionLog is the server's record of the order it admitted an event's
// fans in (admission.AdmissionOrder).
type AdmissionLog interface {
	AdmissionOrder(ctx context.Context, eventID int64) ([]int64, error)
}

// MeasureFairnessWith has the report's fairness figure compare the fans'
// join order with log's admission order.
func (s *Simulation) MeasureFairnessWith(log AdmissionLog) { s.log = log }

type fan struct {
	userID int64
	token  string
	ip     string // a made-up address in 10.0.0.0/8, one per fan
}

// Prepare creates the fans (and the event, unless one is given) and sets the
// event's admission rate through the ops API.
func Prepare(ctx context.Context, opts Options, pool *pgxpool.Pool, ring *tokens.Ring) (*Simulation, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	s := &Simulation{opts: opts, pool: pool, ring: ring, api: newClient(opts.Target, opts.Fans)}
	run := fmt.Sprintf("drop-%d", time.Now().UnixNano())
	now := time.Now()
	if opts.EventID == 0 {
		s.opensAt = now.Add(opts.Prequeue)
		r, err := catalog.NewStore(pool).SeedGrid(ctx, run, opts.Seats, s.opensAt)
		if err != nil {
			return nil, fmt.Errorf("creating the drop's event: %w", err)
		}
		s.eventID = r.EventID
	} else {
		s.eventID = opts.EventID
		if err := pool.QueryRow(ctx, "SELECT sale_opens_at FROM events WHERE id = $1", opts.EventID).Scan(&s.opensAt); err != nil {
			return nil, fmt.Errorf("reading event %d: %w", opts.EventID, err)
		}
	}
	ids, err := createFans(ctx, pool, run, opts.Fans+1)
	if err != nil {
		return nil, err
	}
	opsID := ids[len(ids)-1]
	if _, err := pool.Exec(ctx, "UPDATE users SET role = 'ops' WHERE id = $1", opsID); err != nil {
		return nil, fmt.Errorf("making the drop's ops account: %w", err)
	}
	ttl := opts.Timeout + time.Hour
	if s.ops, _, err = ring.IssueAccess(opsID, tokens.RoleOps, ttl, now); err != nil {
		return nil, err
	}
	for _, id := range ids[:len(ids)-1] {
		tok, _, err := ring.IssueAccess(id, tokens.RoleFan, ttl, now)
		if err != nil {
			return nil, err
		}
		n := len(s.fans) + 1
		s.fans = append(s.fans, fan{userID: id, token: tok, ip: fmt.Sprintf("10.%d.%d.%d", n>>16&255, n>>8&255, n&255)})
	}
	if err := s.api.SetAdmission(ctx, s.eventID, s.ops, apiclient.Admission{RatePerSecond: opts.Rate, MaxActive: opts.MaxActive}); err != nil {
		return nil, err
	}
	return s, nil
}

// createFans makes n accounts with COPY and returns their ids. Their password
// hash is "!", which no password matches: nobody can sign in as a fan of the
// simulation.
func createFans(ctx context.Context, pool *pgxpool.Pool, run string, n int) ([]int64, error) {
	rows := make([][]any, n)
	for i := range rows {
		rows[i] = []any{fmt.Sprintf("%s-%d@sim.ticketvelo.invalid", run, i), fmt.Sprintf("Fan %d", i), "!"}
	}
	if _, err := pool.CopyFrom(ctx, pgx.Identifier{"users"}, []string{"email", "name", "password_hash"}, pgx.CopyFromRows(rows)); err != nil {
		return nil, fmt.Errorf("creating %d fans: %w", n, err)
	}
	q, err := pool.Query(ctx, "SELECT id FROM users WHERE email LIKE $1 || '-%' ORDER BY id", run)
	if err != nil {
		return nil, fmt.Errorf("reading fan ids: %w", err)
	}
	ids, err := pgx.CollectRows(q, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("reading fan ids: %w", err)
	}
	if len(ids) != n {
		return nil, fmt.Errorf("created %d fans, found %d", n, len(ids))
	}
	return ids, nil
}

// EventID is the event the simulation sells.
func (s *Simulation) EventID() int64 { return s.eventID }

// OpensAt is when the event's sale opens.
func (s *Simulation) OpensAt() time.Time { return s.opensAt }

// Run lets every fan loose and waits until each has bought, given up or the
// timeout passed, then checks the invariants and returns the report.
func (s *Simulation) Run(ctx context.Context) (*Report, error) {
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	rec := newRecorder()
	start := time.Now()
	rng := rand.New(rand.NewPCG(s.opts.Seed, s.opts.Seed^0x9e3779b97f4a7c15))
	var wg sync.WaitGroup
	for i := range s.fans {
		f := &s.fans[i]
		arrive := time.Duration(rng.Int64N(int64(s.opts.Arrivals) + 1))
		want := 1 + rng.IntN(s.opts.MaxTickets)
		declines := rng.Float64() < s.opts.DeclineRate
		wg.Add(1)
		go func() {
			defer wg.Done()
			(&journey{sim: s, fan: f, rec: rec, want: want, declines: declines, rng: rand.New(rand.NewPCG(uint64(f.userID), s.opts.Seed))}).
				run(ctx, start.Add(arrive))
		}()
	}
	wg.Wait()
	report := rec.report(time.Since(start), s.opensAt)
	report.Started = start
	report.EventID = s.eventID
	report.Fans = len(s.fans)
	// A log that cannot be read leaves the figure unmeasured; it is no
	// invariant of the drop.
	if ferr := s.fairness(context.WithoutCancel(ctx), rec, report); ferr != nil {
		report.FairnessError = ferr.Error()
	}
	err := s.check(context.WithoutCancel(ctx), report)
	if report.SeatsSold < report.Capacity {
		report.SoldOutIn = 0
	}
	return report, err
}

// fairness fills the report's fairness figure from the admission log, when
// there is one.
func (s *Simulation) fairness(ctx context.Context, rec *recorder, r *Report) error {
	if s.log == nil {
		return nil
	}
	order, err := s.log.AdmissionOrder(ctx, s.eventID)
	if err != nil {
		return err
	}
	rank := make(map[int64]int, len(order))
	for i, id := range order {
		if _, seen := rank[id]; !seen {
			rank[id] = i
		}
	}
	r.FairnessInversions, r.FairnessFans = rec.fairness(rank)
	r.FairnessMeasured = true
	return nil
}

// check verifies in Postgres, the source of truth, that no seat was sold
// twice and that what the fans were told matches what was stored.
func (s *Simulation) check(ctx context.Context, r *Report) error {
	var capacity, soldSeats, validTickets, distinctSeats, orders int
	err := s.pool.QueryRow(ctx, `
		SELECT e.capacity,
		       (SELECT count(*) FROM seats WHERE event_id = e.id AND status = 'sold'),
		       (SELECT count(*) FROM tickets WHERE event_id = e.id AND canceled_at IS NULL),
		       (SELECT count(DISTINCT seat_no) FROM tickets WHERE event_id = e.id AND canceled_at IS NULL),
		       (SELECT count(*) FROM orders WHERE event_id = e.id AND status = 'confirmed')
		FROM events e WHERE e.id = $1`, s.eventID).Scan(&capacity, &soldSeats, &validTickets, &distinctSeats, &orders)
	if err != nil {
		return fmt.Errorf("checking invariants: %w", err)
	}
	r.Capacity, r.SeatsSold, r.OrdersInDB = capacity, soldSeats, orders
	var problems []string
	if validTickets != distinctSeats {
		problems = append(problems, fmt.Sprintf("%d valid tickets for %d distinct seats: a seat was sold twice", validTickets, distinctSeats))
	}
	if soldSeats != validTickets {
		problems = append(problems, fmt.Sprintf("%d seats marked sold but %d valid tickets", soldSeats, validTickets))
	}
	if soldSeats > capacity {
		problems = append(problems, fmt.Sprintf("%d seats sold of %d", soldSeats, capacity))
	}
	if orders != r.Outcomes["bought"] {
		problems = append(problems, fmt.Sprintf("%d confirmed orders stored, %d fans were told they bought", orders, r.Outcomes["bought"]))
	}
	if r.Status5xx > 0 {
		problems = append(problems, fmt.Sprintf("%d server errors (5xx other than 503)", r.Status5xx))
	}
	r.Problems = problems
	if len(problems) > 0 {
		return fmt.Errorf("the drop broke an invariant: %v", problems)
	}
	return nil
}

// Report is what a drop did.
type Report struct {
	EventID    int64
	Fans       int
	Capacity   int
	SeatsSold  int
	OrdersInDB int
	Started    time.Time
	Took       time.Duration
	SoldOutIn  time.Duration // from the opening to the last seat sold, when it sold out
	Outcomes   map[string]int
	Latency    map[string]Percentiles
	Statuses   map[string]map[int]int
	Status5xx  int // server errors other than 503: bugs, each breaks the run
	// Status503 counts 503 answers (a store away, load shed): the fans
	// retried them, as browsers do, so they cost time, not seats.
	Status503 int
	// FairnessInversions is the share of pairs of fans who joined after the
	// opening, in order, and were admitted in the other order by the server
	// (its admission log), among FairnessFans such fans; 0 fans when no
	// log was read.
	FairnessInversions float64
	FairnessFans       int
	FairnessMeasured   bool
	FairnessError      string // why the admission log could not be read
	// Failures are the moments fans were answered 5xx (503 included) or
	// their request failed on the way: how long a fault was felt.
	Failures []time.Time
	Problems []string
}

// Percentiles of one kind of request.
type Percentiles struct {
	Count         int
	P50, P99, Max time.Duration
}

func percentiles(d []time.Duration) Percentiles {
	if len(d) == 0 {
		return Percentiles{}
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	at := func(q float64) time.Duration { return d[min(len(d)-1, int(q*float64(len(d))))] }
	return Percentiles{Count: len(d), P50: at(0.50), P99: at(0.99), Max: d[len(d)-1]}
}
