package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"
	"github.com/valyala/fasthttp"
	"golang.org/x/sync/errgroup"

	"github.com/ticketvelo/ticketvelo/admission"
	"github.com/ticketvelo/ticketvelo/catalog"
	"github.com/ticketvelo/ticketvelo/internal/config"
	"github.com/ticketvelo/ticketvelo/internal/tokens"
	"github.com/ticketvelo/ticketvelo/tools/loadgen"
)

// loadgenCommand measures the waiting room against a bare fasthttp handler
// in one run on this machine: it starts both on loopback, drives each with
// the same closed-loop load, and then fills a queue with fans to weigh them
// in Redis. It works in a scratch database and Redis prefix, removed after.
func loadgenCommand(fs *flag.FlagSet) mainFunc {
	duration := fs.Duration("duration", 20*time.Second, "measured time of each phase, over all rounds")
	rounds := fs.Int("rounds", 10, "rounds in which the phases take turns")
	warmup := fs.Duration("warmup", 300*time.Millisecond, "unmeasured time before each phase of each round")
	conns := fs.Int("conns", 64, "connections (each one request at a time)")
	fans := fs.Int("fans", 1_000_000, "fans with an access token for the join and poll phases (enough that every join is a new fan)")
	memoryFans := fs.Int("memory-fans", 1_000_000, "fans queued to weigh the waiting room in Redis (0 skips)")
	private := fs.Bool("private-redis", true, "start a Redis of its own (redis-server from PATH) on a free loopback port, so Redis's CPU and memory figures count only this run; false uses REDIS_URL")
	only := fs.String("phases", "", "comma-separated phases to run of bare, edge, join, cold, poll, front (default all; poll and front need join)")
	profile := fs.String("cpuprofile", "", "write a CPU profile of the phases (load generator and servers) to this file")
	return func(ctx context.Context, e env, cfg config.Config) error {
		return runLoadgen(ctx, e, cfg, loadgenOptions{*duration, *warmup, *rounds, *conns, *fans, *memoryFans, *only, *profile, *private})
	}
}

type loadgenOptions struct {
	duration, warmup                time.Duration
	rounds, conns, fans, memoryFans int
	only, cpuprofile                string
	privateRedis                    bool
}

func runLoadgen(ctx context.Context, e env, cfg config.Config, o loadgenOptions) error {
	if o.rounds < 1 || o.conns < 1 || o.fans < 8 || o.duration < time.Duration(o.rounds)*100*time.Millisecond || o.memoryFans < 0 {
		return errors.New("loadgen: expected -rounds >= 1, -conns >= 1, -fans >= 8, -memory-fans >= 0 and at least 100ms of -duration per round")
	}
	s, err := openScratch(ctx, cfg, "loadgen", o.privateRedis)
	if err != nil {
		return err
	}
	defer s.close()
	cfg = s.cfg
	cfg.LogLevel = "warn"
	// The join limit per address stays on, so its cost is measured, but
	// every request comes from 127.0.0.1.
	cfg.Gateway.JoinPerIP = config.RateLimit{N: 1 << 30, Per: time.Minute}

	d := newDeps(e, cfg)
	defer d.close()
	if err := d.open(ctx, needs{postgres: true, redis: true}); err != nil {
		return err
	}
	defer deleteKeys(d.redis, cfg.RedisPrefix)

	srv := d.server()
	admit, err := mountGateway(d, srv)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	var g errgroup.Group
	g.Go(func() error { return srv.Serve(runCtx, ln) })
	g.Go(func() error { return admit(runCtx) })
	defer g.Wait()
	defer stop()
	gatewayAddr := ln.Addr().String()
	bareAddr, stopBare, err := loadgen.ServeBare()
	if err != nil {
		return err
	}
	defer stopBare()

	ring, err := tokens.LoadOrCreate(cfg.KeyPath())
	if err != nil {
		return err
	}
	ev, err := catalog.NewStore(d.pool).SeedGrid(ctx, "loadgen", 100, time.Now().Add(-time.Minute))
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "signing %d access tokens...\n", o.fans)
	toks, err := signTokens(ring, 1, o.fans)
	if err != nil {
		return err
	}
	// Admission paused: the fans stay in the queue and every poll is a
	// waiting fan's.
	opsTok, err := benchOps(ctx, d.pool, ring)
	if err != nil {
		return err
	}
	if err := putPaused(gatewayAddr, ev.EventID, opsTok); err != nil {
		return err
	}

	queuePath := []byte("/api/v1/events/" + strconv.FormatInt(ev.EventID, 10) + "/queue")
	header := []byte("Authorization")
	// Fans 0..warm-1 have been seen by the gateway before they join, as
	// after logging in on it: their first poll below is not measured. The
	// cold fans, from the top down, bring a token it never saw.
	warm := o.fans * 3 / 4
	fmt.Fprintf(e.stdout, "showing the gateway %d of the tokens (unmeasured)...\n", warm)
	if bad := loadgen.Each(ctx, gatewayAddr, o.conns, warm, 404, func(n uint64, req *fasthttp.Request) {
		req.SetRequestURIBytes(queuePath)
		req.Header.SetBytesKV(header, toks[n])
	}); bad > 0 {
		return fmt.Errorf("%d of the first polls did not answer 404 not_in_queue", bad)
	}
	redisCPU := func() time.Duration {
		cpu, _ := redisCPUTime(ctx, d.redis)
		return cpu
	}
	if o.cpuprofile != "" {
		f, err := os.Create(o.cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	// Each join is a new fan, as on drop day: fans 0.. with a seen token,
	// fans from the top down with a token the gateway never saw. Each poll
	// is a fan who joined, in turn.
	var warmNext, coldNext, joined atomic.Int64
	const frontFans = 64 // under the admission rate's slack of 116 (see admission.Overview.waitingAhead)
	join := func(fan func() int) loadgen.Request {
		return func(_ uint64, req *fasthttp.Request) {
			req.Header.SetMethod(fasthttp.MethodPost)
			req.SetRequestURIBytes(queuePath)
			req.Header.SetBytesKV(header, toks[fan()])
		}
	}
	phases := []struct {
		key, name, addr string
		build           loadgen.Request
	}{
		{"bare", "bare fasthttp, fixed JSON", bareAddr, func(_ uint64, req *fasthttp.Request) { req.SetRequestURI("/queue") }},
		// The shared edge alone: middleware, router and a small JSON answer.
		{"edge", "gateway edge only: GET /healthz", gatewayAddr, func(_ uint64, req *fasthttp.Request) { req.SetRequestURI("/healthz") }},
		{"join", "join, token seen before: POST /api/v1/events/{id}/queue", gatewayAddr, join(func() int {
			n := warmNext.Add(1) - 1
			joined.Store(min(n+1, int64(warm)))
			return int(n % int64(warm))
		})},
		{"cold", "join, token never seen: POST /api/v1/events/{id}/queue", gatewayAddr, join(func() int {
			return len(toks) - 1 - int((coldNext.Add(1)-1)%int64(len(toks)-warm))
		})},
		// Most waiting fans are far from the front: their gateway answers
		// them from memory (admission.Room.Status).
		{"poll", "poll, far from the front: GET /api/v1/events/{id}/queue", gatewayAddr, func(n uint64, req *fasthttp.Request) {
			req.SetRequestURIBytes(queuePath)
			req.Header.SetBytesKV(header, toks[n%uint64(max(1, joined.Load()))])
		}},
		// The first fans in the queue, whose polls each ask Redis.
		{"front", "poll, near the front: GET /api/v1/events/{id}/queue", gatewayAddr, func(n uint64, req *fasthttp.Request) {
			req.SetRequestURIBytes(queuePath)
			req.Header.SetBytesKV(header, toks[n%frontFans])
		}},
	}
	// The phases take turns, round after round, so whatever else runs on
	// the machine weighs on each of them alike.
	slice := o.duration / time.Duration(o.rounds)
	fmt.Fprintf(e.stdout, "measuring %d rounds of %s per phase...\n", o.rounds, slice)
	runs := make([][]loadgen.Result, len(phases))
	for range o.rounds {
		for i, p := range phases {
			if o.only != "" && !strings.Contains(","+o.only+",", ","+p.key+",") {
				continue
			}
			runtime.GC()
			runs[i] = append(runs[i], loadgen.Run(ctx, p.name, p.addr, o.conns, o.warmup, slice, p.build, redisCPU))
		}
	}
	stop()
	if err := g.Wait(); err != nil {
		return err
	}
	var results []loadgen.Result
	for i, p := range phases {
		if len(runs[i]) > 0 {
			results = append(results, loadgen.Merge(p.name, runs[i]...))
		}
	}
	bareRun := loadgen.Merge("bare", runs[0]...)
	warmJoins := loadgen.Merge("", runs[2]...)

	base := bareRun.RPS()
	bareOwn, bareExtra := bareRun.CPUPerRequest()
	w := e.stdout
	fmt.Fprintf(w, "\n%d connections, %d rounds of %s per phase (after %s of warm-up each), GOMAXPROCS %d; %d joins with a seen token, polls over those fans\n\n",
		o.conns, o.rounds, slice, o.warmup, runtime.GOMAXPROCS(0), warmJoins.Requests)
	fmt.Fprintln(w, "| phase | requests/s | of bare | p50 | p99 | CPU µs/request: load generator + server, Redis | CPU of bare | answers |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---|")
	for _, r := range results {
		own, extra := r.CPUPerRequest()
		fmt.Fprintf(w, "| %s | %.0f | %.0f%% | %s | %s | %.1f + %.1f | %.0f%% | %s |\n", r.Name, r.RPS(), 100*r.RPS()/base,
			r.P50.Round(10*time.Microsecond), r.P99.Round(10*time.Microsecond), micros(own), micros(extra),
			100*float64(bareOwn+bareExtra)/float64(own+extra), statuses(r.Statuses))
	}
	fmt.Fprintln(w, "\n(CPU of bare: bare's CPU per request, Redis included, over this phase's: the share of bare's throughput the phase would reach were it CPU-bound on a machine of its own.)")
	for _, r := range results {
		if r.FirstError != nil {
			fmt.Fprintf(w, "\n%s: first transport error: %v\n", r.Name, r.FirstError)
		}
	}

	if o.memoryFans > 0 {
		if err := weighQueue(ctx, w, d.redis, cfg, ring, ev.EventID+1_000_000, o.memoryFans); err != nil {
			return err
		}
	}
	return nil
}

func statuses(m map[int]int) string {
	var parts []string
	for _, s := range []int{200, 201, 204, 404, 429, 0} {
		if m[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d×%d", m[s], s))
			delete(m, s)
		}
	}
	for s, n := range m {
		parts = append(parts, fmt.Sprintf("%d×%d", n, s))
	}
	return strings.Join(parts, " ")
}

// weighQueue queues n fans for an event and reports what they take in
// Redis: the sum of MEMORY USAGE of the event's keys, and the growth of
// used_memory (which other clients of a shared Redis also move).
func weighQueue(ctx context.Context, w io.Writer, client rueidis.Client, cfg config.Config, ring *tokens.Ring, eventID int64, n int) error {
	g := cfg.Gateway
	room := admission.NewRoom(client, cfg.RedisPrefix, ring, admission.Options{AdmissionTTL: g.AdmissionTTL, GracePeriod: g.GracePeriod, DefaultRate: g.DefaultRate, DefaultMaxActive: g.DefaultMaxActive})
	before, err := usedMemory(ctx, client)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "\nqueueing %d fans for event %d...\n", n, eventID)
	start := time.Now()
	opens := time.Now().Add(-time.Minute)
	var eg errgroup.Group
	eg.SetLimit(256)
	for u := 1; u <= n; u++ {
		eg.Go(func() error {
			_, _, err := room.Join(ctx, eventID, int64(u), opens, time.Now(), admission.JoinLimits{})
			return err
		})
	}
	if err := eg.Wait(); err != nil {
		return err
	}
	took := time.Since(start)
	after, err := usedMemory(ctx, client)
	if err != nil {
		return err
	}
	o, err := room.Overview(ctx, eventID, time.Now())
	if err != nil {
		return err
	}
	if o.QueueLength != int64(n) {
		return fmt.Errorf("queued %d fans, the queue holds %d", n, o.QueueLength)
	}
	base := cfg.RedisPrefix + "wr:{" + strconv.FormatInt(eventID, 10) + "}:"
	total, err := sumMemory(ctx, client, base+"*")
	if err != nil {
		return err
	}
	queue, err := sumMemory(ctx, client, base+"queue")
	if err != nil {
		return err
	}
	seen, err := sumMemory(ctx, client, base+"seen:*")
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "queued %d fans in %s (%.0f joins/s through the join script)\n", n, took.Round(time.Millisecond), float64(n)/took.Seconds())
	fmt.Fprintf(w, "MEMORY USAGE of the event's keys: %d bytes, %.1f bytes per queued fan (queue %.1f, last-poll buckets %.1f)\n",
		total, float64(total)/float64(n), float64(queue)/float64(n), float64(seen)/float64(n))
	fmt.Fprintf(w, "INFO used_memory grew by %d bytes: %.1f bytes per queued fan\n", after-before, float64(after-before)/float64(n))
	return nil
}

// sumMemory adds up MEMORY USAGE of the keys matching pattern.
func sumMemory(ctx context.Context, client rueidis.Client, pattern string) (int64, error) {
	var total int64
	var cursor uint64
	for {
		page, err := client.Do(ctx, client.B().Scan().Cursor(cursor).Match(pattern).Count(1000).Build()).AsScanEntry()
		if err != nil {
			return 0, err
		}
		for _, k := range page.Elements {
			size, err := client.Do(ctx, client.B().MemoryUsage().Key(k).Samples(0).Build()).AsInt64()
			if err != nil {
				return 0, err
			}
			total += size
		}
		if cursor = page.Cursor; cursor == 0 {
			return total, nil
		}
	}
}

func usedMemory(ctx context.Context, client rueidis.Client) (int64, error) {
	mem, err := redisInfo(ctx, client, "memory")
	if err != nil {
		return 0, err
	}
	used, ok := mem["used_memory"]
	if !ok {
		return 0, errors.New("INFO memory has no used_memory")
	}
	return int64(used), nil
}
