package main

import (
	"context"
	"flag"

	"github.com/redis/rueidis"

	"github.com/ticketvelo/ticketvelo/admission"
	"github.com/ticketvelo/ticketvelo/internal/config"
	"github.com/ticketvelo/ticketvelo/internal/tokens"
	"github.com/ticketvelo/ticketvelo/tools/dropsim"
)

// dropCommand simulates a drop against a running TicketVelo and checks the
// invariants afterwards.
func dropCommand(fs *flag.FlagSet) mainFunc {
	o := dropsim.Defaults()
	fs.StringVar(&o.Target, "target", "http://127.0.0.1:8080", "base URL of the running TicketVelo (gateway and booker)")
	fs.IntVar(&o.Fans, "fans", o.Fans, "fans taking part")
	fs.IntVar(&o.Seats, "seats", o.Seats, "seats of the venue created for the drop")
	fs.Int64Var(&o.EventID, "event", 0, "sell this existing event instead of creating one")
	fs.DurationVar(&o.Prequeue, "prequeue", o.Prequeue, "the sale opens this long after the start; fans arriving before are shuffled")
	fs.DurationVar(&o.Arrivals, "arrivals", o.Arrivals, "fans arrive spread over this window from the start")
	fs.Float64Var(&o.Rate, "rate", o.Rate, "admission rate per second")
	fs.IntVar(&o.MaxActive, "max-active", o.MaxActive, "admitted buyers at once")
	fs.IntVar(&o.MaxTickets, "max-tickets", o.MaxTickets, "each fan wants 1 to this many seats together")
	fs.Float64Var(&o.DeclineRate, "decline-rate", o.DeclineRate, "share of fans whose card is declined")
	fs.DurationVar(&o.MaxPoll, "max-poll", o.MaxPoll, "poll at least this often, whatever poll_after_ms says")
	fs.DurationVar(&o.Timeout, "timeout", o.Timeout, "give up after this long")
	fs.Uint64Var(&o.Seed, "seed", o.Seed, "random seed of the fans' behaviour")
	return func(ctx context.Context, e env, cfg config.Config) error {
		if err := o.Validate(); err != nil {
			return err
		}
		d := newDeps(e, cfg)
		defer d.close()
		if err := d.open(ctx, needs{postgres: true, redis: true}); err != nil {
			return err
		}
		ring, err := tokens.LoadOrCreate(cfg.KeyPath())
		if err != nil {
			return err
		}
		sim, err := dropsim.Prepare(ctx, o, d.pool, ring)
		if err != nil {
			return err
		}
		sim.MeasureFairnessWith(admissionLog{d.redis, cfg.RedisPrefix})
		report, err := sim.Run(ctx)
		report.Print(e.stdout)
		return err
	}
}

// admissionLog reads the server's admission order of an event from Redis.
type admissionLog struct {
	client rueidis.Client
	prefix string
}

var _ dropsim.AdmissionLog = admissionLog{}

func (l admissionLog) AdmissionOrder(ctx context.Context, eventID int64) ([]int64, error) {
	return admission.AdmissionOrder(ctx, l.client, l.prefix, eventID)
}
