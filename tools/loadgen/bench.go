package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
	"golang.org/x/sync/errgroup"

	"github.com/ticketvelo/ticketvelo/admission"
	"github.com/ticketvelo/ticketvelo/catalog"
	"github.com/ticketvelo/ticketvelo/internal/httpapi"
	"github.com/ticketvelo/ticketvelo/tools/apiclient"
	"github.com/ticketvelo/ticketvelo/tools/scratch"
)

// BenchOptions shape a run of the waiting room's benchmark (ticketvelo
// loadgen): the gateway and the bare baseline on loopback, driven in turn
// by the same closed-loop load, then a queue of fans weighed in Redis.
type BenchOptions struct {
	// Duration is each phase's measured time over all rounds, in which
	// the phases take turns; each phase of each round first runs Warmup
	// unmeasured.
	Duration, Warmup time.Duration
	Rounds, Conns    int
	// Fans have an access token for the join and poll phases; MemoryFans
	// are queued to weigh the waiting room (0 skips it).
	Fans, MemoryFans int
	// Phases are the comma-separated keys of the phases to run, of bare,
	// edge, join, cold, poll, front; "" runs all.
	Phases string
	// CPUProfile is a file to write a CPU profile of the phases into.
	CPUProfile string
	// PrivateRedis starts a redis-server of the run's own.
	PrivateRedis bool
	// Stores are the installation's, beside which the run makes its
	// scratch world.
	Stores scratch.Stores
	// Room are the gateway's waiting-room settings, for the weighing.
	Room admission.Config
	// Mount puts the real gateway in this process on the world's stores:
	// wiring a service is cmd/ticketvelo's job.
	Mount func(w *scratch.World) (Gateway, error)
}

// Gateway is the real gateway mounted in this process.
type Gateway struct {
	Server *httpapi.Server
	// Admit is the admission controller's loop, run beside the server.
	Admit func(context.Context) error
	// Close closes what mounting opened, once both have stopped.
	Close func()
}

// DefaultBench are the benchmark's defaults, the figures of
// docs/BENCHMARKS.md.
func DefaultBench() BenchOptions {
	return BenchOptions{Duration: 20 * time.Second, Rounds: 10, Warmup: 300 * time.Millisecond, Conns: 64,
		Fans: 1_000_000, MemoryFans: 1_000_000, PrivateRedis: true, Room: admission.DefaultConfig()}
}

// Validate says what cannot work.
func (o BenchOptions) Validate() error {
	if o.Rounds < 1 || o.Conns < 1 || o.Fans < 8 || o.Duration < time.Duration(o.Rounds)*100*time.Millisecond || o.MemoryFans < 0 {
		return errors.New("loadgen: expected -rounds >= 1, -conns >= 1, -fans >= 8, -memory-fans >= 0 and at least 100ms of -duration per round")
	}
	return nil
}

// RunBench runs the benchmark in a scratch world, removed after, and
// writes its tables to w.
func RunBench(ctx context.Context, o BenchOptions, w io.Writer) error {
	if err := o.Validate(); err != nil {
		return err
	}
	world, err := scratch.Open(ctx, o.Stores, "loadgen", o.PrivateRedis)
	if err != nil {
		return err
	}
	defer world.Close()
	gw, err := o.Mount(world)
	if err != nil {
		return err
	}
	defer gw.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	var g errgroup.Group
	g.Go(func() error { return gw.Server.Serve(runCtx, ln) })
	g.Go(func() error { return gw.Admit(runCtx) })
	defer g.Wait()
	defer stop()
	bareAddr, stopBare, err := ServeBare()
	if err != nil {
		return err
	}
	defer stopBare()
	b := &bench{o: o, out: w, world: world, gateway: ln.Addr().String(), bare: bareAddr}
	runs, err := b.measure(ctx)
	if err != nil {
		return err
	}
	stop()
	if err := g.Wait(); err != nil {
		return err
	}
	b.report(runs)
	if o.MemoryFans > 0 {
		return weighQueue(ctx, w, world, o.Room, b.event+1_000_000, o.MemoryFans)
	}
	return nil
}

// bench is one run: its world, the two servers and the fans.
type bench struct {
	o              BenchOptions
	out            io.Writer
	world          *scratch.World
	gateway, bare  string // addresses
	event          int64
	queuePath      []byte
	toks           [][]byte
	warm           int // fans 0..warm-1 the gateway saw before they joined
	slice          time.Duration
	phases         []phase
	warmNext, cold atomic.Int64
	joined         atomic.Int64
}

// phase is one kind of request measured.
type phase struct {
	key, name, addr string
	build           Request
}

// frontFans wait at the head of the queue: fewer than the admission rate's
// slack of 116 (see admission.Overview.waitingAhead), so each of their
// polls asks Redis.
const frontFans = 64

// measure prepares the event and the fans, then runs the phases in turn,
// round after round, so whatever else runs on the machine weighs on each of
// them alike. It returns each phase's runs, in the order of b.phases.
func (b *bench) measure(ctx context.Context) ([][]Result, error) {
	if err := b.prepare(ctx); err != nil {
		return nil, err
	}
	if b.o.CPUProfile != "" {
		f, err := os.Create(b.o.CPUProfile)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return nil, err
		}
		defer pprof.StopCPUProfile()
	}
	redisCPU := func() time.Duration {
		cpu, _ := b.world.RedisCPU(ctx)
		return cpu
	}
	b.phases = b.definePhases()
	b.slice = b.o.Duration / time.Duration(b.o.Rounds)
	fmt.Fprintf(b.out, "measuring %d rounds of %s per phase...\n", b.o.Rounds, b.slice)
	runs := make([][]Result, len(b.phases))
	for range b.o.Rounds {
		for i, p := range b.phases {
			if b.o.Phases != "" && !strings.Contains(","+b.o.Phases+",", ","+p.key+",") {
				continue
			}
			runtime.GC()
			runs[i] = append(runs[i], Run(ctx, p.name, p.addr, b.o.Conns, b.o.Warmup, b.slice, p.build, redisCPU))
		}
	}
	return runs, nil
}

// prepare seeds the event on sale, signs the fans' tokens, pauses
// admission (the fans stay in the queue, and every poll is a waiting
// fan's) and shows the gateway most of the tokens, unmeasured.
func (b *bench) prepare(ctx context.Context) error {
	ev, err := catalog.NewStore(b.world.Pool).SeedGrid(ctx, "loadgen", 100, time.Now().Add(-time.Minute))
	if err != nil {
		return err
	}
	b.event = ev.EventID
	b.queuePath = []byte(apiclient.QueuePath(ev.EventID))
	fmt.Fprintf(b.out, "signing %d access tokens...\n", b.o.Fans)
	if b.toks, err = b.world.SignFans(1, b.o.Fans); err != nil {
		return err
	}
	ops, err := b.world.OpsToken(ctx)
	if err != nil {
		return err
	}
	api := apiclient.New("http://"+b.gateway, apiclient.Options{})
	if err := api.SetAdmission(ctx, ev.EventID, ops, apiclient.Admission{RatePerSecond: 50, MaxActive: 500, Paused: true}); err != nil {
		return err
	}
	// Fans 0..warm-1 have been seen by the gateway before they join, as
	// after logging in on it: their first poll here is not measured. The
	// cold fans, from the top down, bring a token it never saw.
	b.warm = b.o.Fans * 3 / 4
	fmt.Fprintf(b.out, "showing the gateway %d of the tokens (unmeasured)...\n", b.warm)
	if bad := Each(ctx, b.gateway, b.o.Conns, b.warm, 404, b.fan(fasthttp.MethodGet, func(n uint64) int { return int(n) })); bad > 0 {
		return fmt.Errorf("%d of the first polls did not answer 404 not_in_queue", bad)
	}
	return nil
}

// fan builds a request of the event's queue by the fan which picks.
func (b *bench) fan(method string, which func(n uint64) int) Request {
	return func(n uint64, req *fasthttp.Request) {
		req.Header.SetMethod(method)
		req.SetRequestURIBytes(b.queuePath)
		req.Header.SetBytesKV(authorization, b.toks[which(n)])
	}
}

var authorization = []byte("Authorization")

// definePhases lists every phase, in the order each round runs them. Each
// join is a new fan, as on drop day: fans 0.. with a seen token, fans from
// the top down with a token the gateway never saw. Each poll is a fan who
// joined, in turn.
func (b *bench) definePhases() []phase {
	n := len(b.toks)
	return []phase{
		{"bare", "bare fasthttp, fixed JSON", b.bare, func(_ uint64, req *fasthttp.Request) { req.SetRequestURI("/queue") }},
		// The shared edge alone: middleware, router and a small JSON answer.
		{"edge", "gateway edge only: GET /healthz", b.gateway, func(_ uint64, req *fasthttp.Request) { req.SetRequestURI("/healthz") }},
		{"join", "join, token seen before: POST /api/v1/events/{id}/queue", b.gateway, b.fan(fasthttp.MethodPost, func(uint64) int {
			next := b.warmNext.Add(1) - 1
			b.joined.Store(min(next+1, int64(b.warm)))
			return int(next % int64(b.warm))
		})},
		{"cold", "join, token never seen: POST /api/v1/events/{id}/queue", b.gateway, b.fan(fasthttp.MethodPost, func(uint64) int {
			return n - 1 - int((b.cold.Add(1)-1)%int64(n-b.warm))
		})},
		// Most waiting fans are far from the front: their gateway answers
		// them from memory (admission.Room.Status).
		{"poll", "poll, far from the front: GET /api/v1/events/{id}/queue", b.gateway, b.fan(fasthttp.MethodGet, func(k uint64) int {
			return int(k % uint64(max(1, b.joined.Load())))
		})},
		// The first fans in the queue, whose polls each ask Redis.
		{"front", "poll, near the front: GET /api/v1/events/{id}/queue", b.gateway, b.fan(fasthttp.MethodGet, func(k uint64) int {
			return int(k % frontFans)
		})},
	}
}
