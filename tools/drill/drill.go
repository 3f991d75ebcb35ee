// Package drill runs TicketVelo as a deployment past one machine would run
// it, as local processes: a Redis Cluster of three masters with replicas,
// PostgreSQL of its own, the broker, two gateways, two bookers and two
// notifiers behind nginx. It runs one drop of simulated fans (dropsim) per
// fault, injects the fault mid-drop, and reports what the fans saw and
// whether the invariants held: no seat sold twice, sold = valid tickets,
// every order mailed exactly once, the outbox fully published, no place
// lost. A soak mode runs one long steady drop and samples every process's
// memory and goroutines.
package drill

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/ticketvelo/ticketvelo/admission"
	"github.com/ticketvelo/ticketvelo/internal/loop"
	"github.com/ticketvelo/ticketvelo/tools/dropsim"
)

// Options shape a drill.
type Options struct {
	Exe       string   // the ticketvelo binary the services run as
	Faults    []string // by name (FaultNames), in order
	Fans      int      // per drop
	Seats     int      // per drop
	Rate      float64  // admissions per second
	MaxActive int
	Prequeue  time.Duration // the sale opens this long after a drop starts
	Arrivals  time.Duration // fans arrive over this window from the start
	// FaultAt is when the fault strikes, after the sale opened.
	FaultAt time.Duration
	// Timeout bounds one drop; the fans still waiting then count as unanswered.
	Timeout time.Duration
	// Settle is how long after a drop the outbox and mails may take: longer
	// than the notifiers' claim lease (TICKETVELO_MAIL_CLAIM_LEASE, 10 s),
	// after which the mail a killed notifier was sending goes out.
	Settle time.Duration
	// Soak, when set, runs one steady drop this long instead of the faults.
	Soak      time.Duration
	SoakFans  int
	SoakSeats int
	// SharedDatabaseURL is the server a scratch database is made on when
	// the drill cannot run a PostgreSQL of its own.
	SharedDatabaseURL string
	// RedisNodeTimeout is the cluster's cluster-node-timeout: how long a
	// dead master goes unnoticed before its replica is promoted.
	RedisNodeTimeout time.Duration
	Keep             bool // keep the directory of logs and data
	Seed             uint64
}

// Defaults are the full drill of docs/BENCHMARKS.md: 4,000 fans for 6,000
// seats per drop.
func Defaults() Options {
	return Options{
		Faults: FaultNames(), Fans: 4000, Seats: 6000, Rate: 200, MaxActive: 400,
		Prequeue: 5 * time.Second, Arrivals: 15 * time.Second, FaultAt: 5 * time.Second,
		Timeout: 4 * time.Minute, Settle: 150 * time.Second,
		SoakFans: 24000, SoakSeats: 80000,
		SharedDatabaseURL: "postgres://postgres@127.0.0.1:5432/ticketvelo?sslmode=disable",
		RedisNodeTimeout:  2 * time.Second, Seed: 1,
	}
}

// Validate names the first option that cannot work.
func (o Options) Validate() error {
	switch {
	case o.Exe == "":
		return errors.New("drill: no binary to run the services as")
	case o.Fans < 1 || o.Seats < 1 || o.SoakFans < 1 || o.SoakSeats < 1:
		return errors.New("-fans, -seats, -soak-fans, -soak-seats: expected at least 1")
	case o.Rate <= 0 || o.MaxActive < 1:
		return errors.New("-rate and -max-active: expected positive values")
	case o.Soak < 0 || o.Timeout <= 0 || o.Settle <= 0:
		return errors.New("-soak, -timeout, -settle: expected positive durations")
	}
	_, err := findFaults(o.Faults)
	return err
}

// ErrInvariant is returned when a drop broke an invariant.
var ErrInvariant = errors.New("an invariant failed")

// Run starts the topology, runs the drops (or the soak) and prints what
// happened to out; it returns ErrInvariant when an invariant failed.
func Run(ctx context.Context, o Options, out io.Writer) error {
	if err := o.Validate(); err != nil {
		return err
	}
	started := time.Now()
	t, err := startTopology(ctx, o)
	if err != nil {
		return fmt.Errorf("starting the topology: %w", err)
	}
	defer t.close()
	t.describe(out, time.Since(started))
	watch := newMailWatch([]string{filepath.Join(t.dir, "notifier-1", "mail"), filepath.Join(t.dir, "notifier-2", "mail")})
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	go watch.run(wctx)
	d := &driller{o: o, t: t, mail: watch, out: out}
	if o.Soak > 0 {
		return d.soak(ctx)
	}
	fs, _ := findFaults(o.Faults)
	var results []*result
	for _, f := range fs {
		r, err := d.drop(ctx, f)
		if err != nil {
			return fmt.Errorf("fault %s: %w", f.name, err)
		}
		r.print(out)
		results = append(results, r)
	}
	printSummary(out, results)
	for _, r := range results {
		if len(r.problems) > 0 {
			return ErrInvariant
		}
	}
	return nil
}

// driller runs the drops on one topology.
type driller struct {
	o    Options
	t    *topology
	mail *mailWatch
	out  io.Writer
}

// dropOptions are the simulator's options for one drop.
func (d *driller) dropOptions(fans, seats int, arrivals, timeout time.Duration) dropsim.Options {
	o := dropsim.Defaults()
	o.Target = d.t.target
	o.Fans, o.Seats, o.Arrivals, o.Timeout = fans, seats, arrivals, timeout
	o.Prequeue, o.Rate, o.MaxActive, o.Seed = d.o.Prequeue, d.o.Rate, d.o.MaxActive, d.o.Seed
	return o
}

// prepare makes a drop's event and fans, with fairness read from the
// admission log.
func (d *driller) prepare(ctx context.Context, o dropsim.Options) (*dropsim.Simulation, error) {
	sim, err := dropsim.Prepare(ctx, o, d.t.pool, d.t.ring)
	if err != nil {
		return nil, err
	}
	sim.MeasureFairnessWith(admissionLog{d.t})
	return sim, nil
}

// admissionLog reads the server's admission order from the cluster.
type admissionLog struct{ t *topology }

// AdmissionOrder is read again for up to 15 s: after a failover the
// client's map of the cluster may still name the dead node for a moment.
func (l admissionLog) AdmissionOrder(ctx context.Context, eventID int64) ([]int64, error) {
	deadline := time.Now().Add(15 * time.Second)
	for {
		order, err := admission.AdmissionOrder(ctx, l.t.rdb, prefix, eventID)
		if err == nil || time.Now().After(deadline) || !loop.Sleep(ctx, 500*time.Millisecond) {
			return order, err
		}
	}
}

// drop runs one drop with f injected mid-drop, brings back what f left
// down, waits for the outbox and the mails, and checks the invariants.
func (d *driller) drop(ctx context.Context, f fault) (*result, error) {
	r := &result{fault: f}
	if f.ownPostgres && !d.t.pg.own {
		r.skipped = "needs the drill's own PostgreSQL, which could not start: " + d.t.pg.why
		return r, nil
	}
	if err := d.t.heal(ctx); err != nil {
		return nil, err
	}
	sim, err := d.prepare(ctx, d.dropOptions(d.o.Fans, d.o.Seats, d.o.Arrivals, d.o.Timeout))
	if err != nil {
		return nil, err
	}
	faulted := make(chan struct{})
	go func() {
		defer close(faulted)
		if !loop.Sleep(ctx, time.Until(sim.OpensAt().Add(d.o.FaultAt))) {
			return
		}
		r.faultAt = time.Now()
		r.note, r.faultErr = f.inject(ctx, d.t, sim.EventID())
		r.faultTook = time.Since(r.faultAt)
	}()
	r.report, r.simErr = sim.Run(ctx)
	<-faulted
	if err := d.t.heal(ctx); err != nil {
		return nil, fmt.Errorf("bringing the topology back: %w", err)
	}
	return r, d.check(ctx, r)
}
