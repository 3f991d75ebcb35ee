// Package edgebench measures the drop-day edge from outside with wrk
// (ticketvelo edgebench): the real gateway and booker, each a process of
// this program, and a bare fasthttp process as the baseline, target after
// target in interleaved rounds, in a scratch world with a private
// redis-server. It reads each process's CPU time from /proc, Redis's from
// INFO, and checks the processes' own counters (/metrics) for failed
// answers and token verifications off the fast path.
package edgebench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/ticketvelo/ticketvelo/catalog"
	"github.com/ticketvelo/ticketvelo/internal/kafka"
	"github.com/ticketvelo/ticketvelo/tools/apiclient"
	"github.com/ticketvelo/ticketvelo/tools/loadgen"
	"github.com/ticketvelo/ticketvelo/tools/scratch"
)

// Options shape a run of edgebench.
type Options struct {
	// Rounds in which the targets take turns, each measured for Duration
	// (whole seconds) per round.
	Rounds   int
	Duration time.Duration
	// Conns and Threads are wrk's -c and -t.
	Conns, Threads int
	// JoinRate is the joins per second to sign tokens for: each join
	// target gets Duration × JoinRate new fans per round.
	JoinRate int
	// Crowd fans join, unmeasured, behind the ones at the front before
	// anything is measured.
	Crowd int
	// Targets are the comma-separated keys of the targets to run
	// (TargetKeys); "" runs all.
	Targets string
	// CPUProfile is a directory to write a CPU profile of the answering
	// process into, per target and round; "" takes none.
	CPUProfile string
	// Stores are the installation's, beside which the run makes its
	// scratch world.
	Stores scratch.Stores
	// Exe is this program: the children run its gateway, booker and
	// edgebench-bare commands.
	Exe string
}

// Defaults are the run of docs/BENCHMARKS.md.
func Defaults() Options {
	return Options{Rounds: 3, Duration: 8 * time.Second, Conns: 64, Threads: 2, JoinRate: 80_000, Crowd: 10_000}
}

// TargetKeys are the targets in the order each round runs them.
func TargetKeys() []string { return slices.Clone(targetKeys) }

// targetKeys are the targets in the order each round runs them: the far
// polls poll the fans the seen-token join of the same round queued, and
// the never-seen join comes after them, so that the gateway has not
// verified its ~half a million new tokens between showing the seen ones
// and their join (a gateway remembers a million; more than a million new
// fans on one gateway in half a minute is no drop's pace).
var targetKeys = []string{"bare", "join-seen", "poll-far", "bare-far", "join-new", "poll-front", "event", "seats"}

// frontFans wait at the head of the queue: fewer than the admission rate's
// slack of 116 (admission.Overview.waitingAhead), so each of their polls
// asks Redis.
const frontFans = 64

func (o Options) validate() error {
	if o.Rounds < 1 || o.Threads < 1 || o.Conns < o.Threads || o.JoinRate < 1 || o.Crowd < 0 ||
		o.Duration < time.Second || o.Duration%time.Second != 0 {
		return errors.New("edgebench: expected -rounds >= 1, -threads >= 1, -conns >= -threads, -join-rate >= 1, -crowd >= 0 and -duration of whole seconds, at least 1s")
	}
	for _, k := range o.keys() {
		if !slices.Contains(targetKeys, k) {
			return fmt.Errorf("edgebench: -targets: unknown target %q, expected some of %s", k, strings.Join(targetKeys, ", "))
		}
	}
	for _, k := range []string{"poll-far", "bare-far"} {
		if slices.Contains(o.keys(), k) && !slices.Contains(o.keys(), "join-seen") {
			return fmt.Errorf("edgebench: -targets: %s sends the tokens of the fans join-seen queued; add join-seen", k)
		}
	}
	return nil
}

func (o Options) keys() []string {
	if o.Targets == "" {
		return targetKeys
	}
	return strings.Split(o.Targets, ",")
}

func (o Options) runs(key string) bool { return slices.Contains(o.keys(), key) }

// perRound is how many tokens a join target gets for one round: as many
// for a never-seen token as a seen one, since an HS256 token costs the
// gateway the same either way.
func (o Options) perRound(string) int { return o.JoinRate * int(o.Duration/time.Second) }

// bench is one run of edgebench: its scratch world, the processes it
// measures and the fans it made.
type bench struct {
	o       Options
	out     io.Writer
	wrk     wrkFlags
	world   *scratch.World
	event   int64
	bare    *child
	gateway *child
	booker  *child
	undo    []func()
	nextFan int64
	// seenTokens are, per round, the tokens of the seen-token join, until
	// the gateway has been shown them.
	seenTokens [][][]byte
	// seenJoins is, per round and wrk thread, how many of the tokens the
	// seen-token join sent are surely queued fans (settled): the fans the
	// round's far polls poll.
	seenJoins [][]int64
	targets   []target
}

// Run measures every target and writes the tables to w; it fails when a
// figure is suspect (failed requests, joins out of new fans, token
// verifications off the fast path), after the tables.
func Run(ctx context.Context, o Options, w io.Writer) error {
	if err := o.validate(); err != nil {
		return err
	}
	wrkBin, err := exec.LookPath("wrk")
	if err != nil {
		return errNoWrk
	}
	world, err := scratch.Open(ctx, o.Stores, "edgebench", true)
	if err != nil {
		return err
	}
	defer world.Close()
	b := &bench{o: o, out: w, world: world, nextFan: 1000}
	b.wrk = wrkFlags{bin: wrkBin, script: filepath.Join(world.Dir, "edgebench.lua"), threads: o.Threads, conns: o.Conns, duration: o.Duration, maxLat: 5 * time.Second}
	defer b.close()
	if err := b.setUp(ctx); err != nil {
		return err
	}
	samples, err := b.measure(ctx)
	if err != nil {
		return err
	}
	return b.report(samples)
}

// close stops the children and the broker; the scratch world goes after.
func (b *bench) close() {
	for _, f := range slices.Backward(b.undo) {
		f()
	}
}

func (b *bench) setUp(ctx context.Context) error {
	fmt.Fprintf(b.out, "edgebench: %s; %s\n", machine(), wrkVersion(b.wrk.bin))
	if err := os.WriteFile(b.wrk.script, luaScript, 0o600); err != nil {
		return err
	}
	if b.o.CPUProfile != "" {
		if err := os.MkdirAll(b.o.CPUProfile, 0o755); err != nil {
			return err
		}
	}
	steps := []func() error{
		func() error { return b.seedEvent(ctx) },
		func() error { return b.startChildren(ctx) },
		func() error { return b.fillQueue(ctx) },
		func() error { return b.signJoinTokens(ctx) },
		func() error { return b.checkStaticTargets(ctx) },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	b.targets = b.defineTargets()
	return nil
}

// seedEvent seeds the arena's event, on sale since a minute ago.
func (b *bench) seedEvent(ctx context.Context) error {
	store := catalog.NewStore(b.world.Pool)
	venue, _, err := store.EnsureVenue(ctx, catalog.Venue{Slug: "edgebench-arena", Name: "Edgebench Arena", City: "Manchester", Timezone: "Europe/London", Layout: catalog.ArenaLayout()})
	if err != nil {
		return err
	}
	now := time.Now()
	ev, err := store.EnsureEvent(ctx, catalog.EventSpec{VenueID: venue, Slug: "edgebench", Name: "Edgebench drop",
		StartsAt: now.Add(60 * 24 * time.Hour), SaleOpensAt: now.Add(-time.Minute), MaxTicketsPerFan: 6})
	b.event = ev.ID
	return err
}

// startChildren starts the bare baseline, the gateway and the booker (with
// an embedded broker, which the booker needs and this process runs), each
// on the scratch stores.
func (b *bench) startChildren(ctx context.Context) error {
	fmt.Fprintln(b.out, "starting the bare baseline, the gateway and the booker...")
	broker, err := kafka.StartEmbedded("127.0.0.1:0", "")
	if err != nil {
		return err
	}
	b.undo = append(b.undo, broker.Close)
	env := b.childEnv()
	api := apiclient.New("", apiclient.Options{})
	profile := b.o.CPUProfile != ""
	for _, c := range []struct {
		to      **child
		command string
		env     []string
	}{
		{&b.bare, "edgebench-bare", nil},
		{&b.gateway, "gateway", env},
		{&b.booker, "booker", append(slices.Clip(env), "KAFKA_BROKERS="+broker.Addrs()[0])},
	} {
		started, err := startChild(ctx, b.o.Exe, b.world.Dir, c.command, c.env, profile)
		if err != nil {
			return err
		}
		started.api = api.At("http://" + started.Addr)
		*c.to = started
		b.undo = append(b.undo, started.stop)
	}
	return nil
}

// childEnv points the gateway and the booker at the scratch stores. The
// rest of the environment passes through, so a setting can be compared
// by running edgebench twice.
func (b *bench) childEnv() []string {
	w := b.world
	return []string{
		"DATABASE_URL=" + w.DatabaseURL, "REDIS_URL=" + w.RedisURL, "TICKETVELO_REDIS_PREFIX=" + w.RedisPrefix,
		"TICKETVELO_KEY_FILE=" + w.KeyFile, "TICKETVELO_DATA_DIR=" + w.Dir,
		"TICKETVELO_LOG_LEVEL=warn", "TICKETVELO_LOG_FORMAT=json",
		// Every request comes from 127.0.0.1: the join limit per address
		// stays on, so its cost is measured, but cannot bite.
		"TICKETVELO_LIMIT_JOIN_IP=1073741824/1m",
	}
}

// fillQueue pauses admission, so every fan stays waiting, and queues the
// fans at the front and the crowd behind them, unmeasured.
func (b *bench) fillQueue(ctx context.Context) error {
	ops, err := b.world.OpsToken(ctx)
	if err != nil {
		return err
	}
	if err := b.gateway.api.SetAdmission(ctx, b.event, ops, apiclient.Admission{RatePerSecond: 50, MaxActive: 500, Paused: true}); err != nil {
		return err
	}
	if err := b.waitPaused(ctx); err != nil {
		return err
	}
	front, err := b.fanTokens("front", frontFans)
	if err != nil {
		return err
	}
	if err := b.each(ctx, fasthttp.MethodPost, b.queuePath(), front, 201); err != nil {
		return fmt.Errorf("queueing the fans at the front: %w", err)
	}
	fmt.Fprintf(b.out, "queueing a crowd of %d fans behind the %d at the front...\n", b.o.Crowd, frontFans)
	crowd, err := b.signFans(b.o.Crowd)
	if err != nil {
		return err
	}
	if err := b.each(ctx, fasthttp.MethodPost, b.queuePath(), crowd, 201); err != nil {
		return fmt.Errorf("queueing the crowd: %w", err)
	}
	return nil
}

// waitPaused waits until the event page says the waiting room is paused:
// the draw is done (joins go to the queue, not the pre-queue) and the
// admission settings took.
func (b *bench) waitPaused(ctx context.Context) error {
	var state string
	for deadline := time.Now().Add(15 * time.Second); ; {
		if ev, _, err := b.gateway.api.Event(ctx, b.event); err == nil {
			state = ev.WaitingRoom.State
		}
		if state == "paused" {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("the event's waiting room is %q, want paused", state)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// signJoinTokens signs, for each round, the tokens of the fans the two
// join targets queue.
func (b *bench) signJoinTokens(context.Context) error {
	fmt.Fprintf(b.out, "signing %d tokens for the seen-token join and %d for the never-seen one, per round...\n",
		b.o.perRound("join-seen"), b.o.perRound("join-new"))
	b.seenTokens = make([][][]byte, b.o.Rounds)
	for r := range b.o.Rounds {
		if b.o.runs("join-new") {
			if _, err := b.fanTokens(roundFile("join-new", r), b.o.perRound("join-new")); err != nil {
				return err
			}
		}
		if b.o.runs("join-seen") {
			seen, err := b.fanTokens(roundFile("join-seen", r), b.o.perRound("join-seen"))
			if err != nil {
				return err
			}
			b.seenTokens[r] = seen
		}
	}
	return nil
}

// showSeenTokens shows the gateway the tokens of round's seen-token join
// once, unmeasured, as a fan's sign-in and first page would, just before
// the round: the gateway remembers the tokens it verified lately, and
// showing every round's at the start would leave the first round's
// forgotten. The showing request is a poll of an event id that does not
// parse: the gateway verifies the token first, then answers 404 without
// asking Redis or the database.
func (b *bench) showSeenTokens(ctx context.Context, round int) error {
	seen := b.seenTokens[round]
	if len(seen) == 0 {
		return nil
	}
	fmt.Fprintf(b.out, "  round %d  showing the gateway the %d seen tokens (unmeasured)...\n", round+1, len(seen))
	if err := b.each(ctx, fasthttp.MethodGet, "/api/v1/events/seen/queue", seen, 404); err != nil {
		return fmt.Errorf("showing the gateway the seen tokens: %w", err)
	}
	b.seenTokens[round] = nil
	return nil
}

func roundFile(key string, round int) string { return key + "-r" + strconv.Itoa(round+1) }

// signFans signs the tokens of n new fans.
func (b *bench) signFans(n int) ([][]byte, error) {
	toks, err := b.world.SignFans(b.nextFan, n)
	b.nextFan += int64(n)
	return toks, err
}

// fanTokens signs the tokens of n new fans and deals them round-robin into
// one file per wrk thread, <name>.1 .. <name>.<threads> in the scratch
// directory, so that each thread sends its own fans.
func (b *bench) fanTokens(name string, n int) ([][]byte, error) {
	toks, err := b.signFans(n)
	if err != nil {
		return nil, err
	}
	for t := range b.o.Threads {
		var buf bytes.Buffer
		for i := t; i < n; i += b.o.Threads {
			buf.Write(toks[i])
			buf.WriteByte('\n')
		}
		if err := os.WriteFile(filepath.Join(b.world.Dir, name+"."+strconv.Itoa(t+1)), buf.Bytes(), 0o600); err != nil {
			return nil, err
		}
	}
	return toks, nil
}

// setupConns is how many connections the unmeasured requests use, however
// few the measured ones do.
const setupConns = 64

// each sends one request to the gateway per token, unmeasured, and fails
// unless every one answered want.
func (b *bench) each(ctx context.Context, method, path string, toks [][]byte, want int) error {
	uri := []byte(path)
	bad := loadgen.Each(ctx, b.gateway.Addr, setupConns, len(toks), want, func(n uint64, req *fasthttp.Request) {
		req.Header.SetMethod(method)
		req.SetRequestURIBytes(uri)
		req.Header.SetBytesV("Authorization", toks[n])
	})
	if err := ctx.Err(); err != nil {
		return err
	}
	if bad > 0 {
		return fmt.Errorf("%d of %d %s requests did not answer %d", bad, len(toks), method, want)
	}
	return nil
}

func (b *bench) queuePath() string { return apiclient.QueuePath(b.event) }

// checkStaticTargets makes sure the targets without fans answer 200, before
// minutes of measuring them.
func (b *bench) checkStaticTargets(ctx context.Context) error {
	ev := apiclient.EventPath(b.event)
	for _, c := range []struct {
		server *child
		path   string
	}{{b.bare, "/"}, {b.gateway, ev}, {b.booker, ev + "/seats/status"}} {
		res, err := c.server.api.Do(ctx, apiclient.Request{Method: "GET", Path: c.path}, nil)
		if err != nil {
			return err
		}
		if res.Status != 200 {
			return fmt.Errorf("GET %s answered %d, want 200", c.path, res.Status)
		}
	}
	return nil
}

// machine describes where the figures come from.
func machine() string {
	model := "unknown CPU"
	if info, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(info), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	raw, _ := os.ReadFile("/proc/loadavg")
	load := strings.Fields(string(raw))
	return fmt.Sprintf("%s, %d CPUs (%s), load average %s", time.Now().Format("2006-01-02 15:04 MST"), runtime.NumCPU(), model,
		strings.Join(load[:min(3, len(load))], " "))
}

func wrkVersion(bin string) string {
	out, _ := exec.Command(bin, "-v").CombinedOutput() // exits 1 after printing its usage
	line, _, _ := strings.Cut(string(out), "\n")
	return strings.TrimSpace(strings.Split(line, " Copyright")[0])
}
