package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/ticketvelo/ticketvelo/internal/config"
	"github.com/ticketvelo/ticketvelo/tools/drill"
)

// drillCommand runs the split topology as local processes and a drop per
// fault, or a soak.
func drillCommand(fs *flag.FlagSet) mainFunc {
	o := drill.Defaults()
	faults := fs.String("faults", strings.Join(o.Faults, ","), "the faults to drill, in order (comma-separated): "+strings.Join(drill.FaultNames(), ", "))
	fs.IntVar(&o.Fans, "fans", o.Fans, "fans per drop")
	fs.IntVar(&o.Seats, "seats", o.Seats, "seats per drop")
	fs.Float64Var(&o.Rate, "rate", o.Rate, "admission rate per second")
	fs.IntVar(&o.MaxActive, "max-active", o.MaxActive, "admitted buyers at once")
	fs.DurationVar(&o.Prequeue, "prequeue", o.Prequeue, "the sale opens this long after a drop starts")
	fs.DurationVar(&o.Arrivals, "arrivals", o.Arrivals, "fans arrive over this window from a drop's start")
	fs.DurationVar(&o.FaultAt, "fault-at", o.FaultAt, "the fault strikes this long after the sale opened")
	fs.DurationVar(&o.Timeout, "timeout", o.Timeout, "longest a drop may take; fans still waiting then count as unanswered")
	fs.DurationVar(&o.Settle, "settle", o.Settle, "longest the outbox and the mails may take after a drop")
	fs.DurationVar(&o.Soak, "soak", 0, "instead of the faults, one steady drop this long (e.g. 10m), sampling every process's memory and goroutines")
	fs.IntVar(&o.SoakFans, "soak-fans", o.SoakFans, "fans of the soak")
	fs.IntVar(&o.SoakSeats, "soak-seats", o.SoakSeats, "seats of the soak")
	fs.DurationVar(&o.RedisNodeTimeout, "redis-node-timeout", o.RedisNodeTimeout, "the Redis Cluster's cluster-node-timeout: how long a dead master goes unnoticed")
	fs.BoolVar(&o.Keep, "keep", false, "keep the directory of the processes' logs and data")
	fs.Uint64Var(&o.Seed, "seed", o.Seed, "random seed of the fans' behaviour")
	return func(ctx context.Context, e env, cfg config.Config) error {
		o.Faults = strings.Split(*faults, ",")
		o.SharedDatabaseURL = cfg.DatabaseURL
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		o.Exe = exe
		err = drill.Run(ctx, o, e.stdout)
		if errors.Is(err, drill.ErrInvariant) {
			return fmt.Errorf("drill: %w (see the report above)", err)
		}
		return err
	}
}
