package main

import (
	"context"
	"flag"
	"time"

	"github.com/ticketvelo/ticketvelo/gateway"
	"github.com/ticketvelo/ticketvelo/internal/config"
	"github.com/ticketvelo/ticketvelo/tools/loadgen"
	"github.com/ticketvelo/ticketvelo/tools/scratch"
)

// loadgenCommand measures the waiting room against a bare fasthttp handler
// in one run on this machine (loadgen.RunBench), with the real gateway
// mounted in this process.
func loadgenCommand(fs *flag.FlagSet, st *stack) mainFunc {
	o := loadgen.DefaultBench()
	fs.DurationVar(&o.Duration, "duration", o.Duration, "measured time of each phase, over all rounds")
	fs.IntVar(&o.Rounds, "rounds", o.Rounds, "rounds in which the phases take turns")
	fs.DurationVar(&o.Warmup, "warmup", o.Warmup, "unmeasured time before each phase of each round")
	fs.IntVar(&o.Conns, "conns", o.Conns, "connections (each one request at a time)")
	fs.IntVar(&o.Fans, "fans", o.Fans, "fans with an access token for the join and poll phases (enough that every join is a new fan)")
	fs.IntVar(&o.MemoryFans, "memory-fans", o.MemoryFans, "fans queued to weigh the waiting room in Redis (0 skips)")
	fs.BoolVar(&o.PrivateRedis, "private-redis", o.PrivateRedis, "start a Redis of its own (redis-server from PATH) on a free loopback port, so Redis's CPU and memory figures count only this run; false uses REDIS_URL")
	fs.StringVar(&o.Phases, "phases", "", "comma-separated phases to run of bare, edge, join, cold, poll, front (default all; poll and front need join)")
	fs.StringVar(&o.CPUProfile, "cpuprofile", "", "write a CPU profile of the phases (load generator and servers) to this file")
	return func(ctx context.Context, e env, cfg config.Config) error {
		o.Stores = scratchStores(cfg)
		o.Room = st.gateway.Admission
		o.Mount = func(w *scratch.World) (loadgen.Gateway, error) { return mountBenchGateway(e, cfg, st.gateway, w) }
		return loadgen.RunBench(ctx, o, e.stdout)
	}
}

// scratchStores are the installation's stores, beside which a benchmark
// makes its scratch world.
func scratchStores(cfg config.Config) scratch.Stores {
	return scratch.Stores{DatabaseURL: cfg.DatabaseURL, RedisURL: cfg.RedisURL, RedisPrefix: cfg.RedisPrefix}
}

// mountBenchGateway mounts the gateway on the benchmark's scratch world, on
// the stores the world opened.
func mountBenchGateway(e env, cfg config.Config, gw gateway.Config, w *scratch.World) (loadgen.Gateway, error) {
	cfg.DatabaseURL, cfg.RedisURL, cfg.RedisPrefix, cfg.KeyFile = w.DatabaseURL, w.RedisURL, w.RedisPrefix, w.KeyFile
	cfg.LogLevel = "warn"
	// The join limit per address stays on, so its cost is measured, but
	// every request comes from 127.0.0.1.
	gw.JoinPerIP = config.RateLimit{N: 1 << 30, Per: time.Minute}
	d := newDeps(e, cfg)
	d.pool, d.redis = w.Pool, w.Redis
	srv := d.server()
	admit, err := mountGateway(d, srv, gw)
	if err != nil {
		d.close()
		return loadgen.Gateway{}, err
	}
	return loadgen.Gateway{Server: srv, Admit: admit, Close: d.close}, nil
}
