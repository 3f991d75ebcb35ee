package edgebench

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// target is one thing edgebench measures: the process that answers and
// what wrk sends it in a given round.
type target struct {
	key, name string
	server    *child
	request   func(round int) wrkRequest
	// joins: each request queues a new fan, so its tokens must not run out.
	joins bool
}

// defineTargets lists the targets the options ask for, in round order
// (targetKeys).
func (b *bench) defineTargets() []target {
	ev := "/api/v1/events/" + strconv.FormatInt(b.event, 10)
	queue := b.queuePath()
	static := func(c *child, method, path, header string) func(int) wrkRequest {
		return func(int) wrkRequest { return wrkRequest{addr: c.Addr, method: method, path: path, header: header} }
	}
	fansTo := func(c *child, method string, name func(round int) string, limits func(round int) []int64) func(int) wrkRequest {
		return func(r int) wrkRequest {
			return wrkRequest{addr: c.Addr, method: method, path: queue, tokens: filepath.Join(b.world.Dir, name(r)), limits: limits(r)}
		}
	}
	fans := func(method string, name func(round int) string, limits func(round int) []int64) func(int) wrkRequest {
		return fansTo(b.gateway, method, name, limits)
	}
	whole := func(int) []int64 { return nil }
	seen := func(r int) string { return roundFile("join-seen", r) }
	seenJoined := func(r int) []int64 { return b.seenJoins[r] }
	all := []target{
		{key: "bare", name: "bare fasthttp, fixed queue-status JSON", server: b.bare, request: static(b.bare, "GET", "/", "")},
		{key: "join-seen", name: "join, new fan, token seen before: POST " + queue, server: b.gateway, joins: true,
			request: fans("POST", func(r int) string { return roundFile("join-seen", r) }, whole)},
		// The fans the seen-token join of this round queued, in the order
		// they joined: deep in the queue, marked by their join moments
		// ago, so the gateway answers them from memory.
		{key: "poll-far", name: "poll, far from the front: GET " + queue, server: b.gateway, request: fans("GET", seen, seenJoined)},
		// The far poll's own requests, to the baseline: what wrk pays to
		// send a different token each time weighs on both alike.
		{key: "bare-far", name: "bare fasthttp fed the far poll's requests", server: b.bare, request: fansTo(b.bare, "GET", seen, seenJoined)},
		{key: "join-new", name: "join, new fan, token never seen: POST " + queue, server: b.gateway, joins: true,
			request: fans("POST", func(r int) string { return roundFile("join-new", r) }, whole)},
		{key: "poll-front", name: "poll, at the front (asks Redis): GET " + queue, server: b.gateway,
			request: fans("GET", func(int) string { return "front" }, whole)},
		{key: "event", name: "event page: GET " + ev, server: b.gateway, request: static(b.gateway, "GET", ev, "")},
		{key: "seats", name: "seat status, first poll, gzip: GET " + ev + "/seats/status (booker)", server: b.booker,
			request: static(b.booker, "GET", ev+"/seats/status", "Accept-Encoding: gzip")},
	}
	// The rounds run them in targetKeys's order, the one above too.
	var out []target
	for _, key := range targetKeys {
		if b.o.runs(key) {
			out = append(out, all[slices.IndexFunc(all, func(t target) bool { return t.key == key })])
		}
	}
	return out
}

// sample is one target's figures in one round.
type sample struct {
	run wrkRun
	// CPU time of the answering process and of Redis in the run.
	server, redis time.Duration
	// redisCmds is how many commands Redis ran; verifications how many
	// access tokens the gateway verified on the fast path (seen of them
	// from its memory of tokens it verified before), and general how many
	// took the general one (-1 all three for processes that verify none).
	redisCmds, verifications, seen, general int64
	// counts are the changes of the process's own counters (serverCounts).
	counts map[string]int64
}

// measure runs every target once per round, in turn, so whatever else the
// machine does weighs on each of them alike.
func (b *bench) measure(ctx context.Context) (map[string][]sample, error) {
	fmt.Fprintf(b.out, "measuring %d rounds of %s per target, wrk -t %d -c %d...\n", b.o.Rounds, b.o.Duration, b.o.Threads, b.o.Conns)
	samples := map[string][]sample{}
	b.seenJoins = make([][]int64, b.o.Rounds)
	for r := range b.o.Rounds {
		if err := b.showSeenTokens(ctx, r); err != nil {
			return nil, err
		}
		for _, t := range b.targets {
			s, err := b.measureOnce(ctx, t, r)
			if err != nil {
				return nil, fmt.Errorf("edgebench: %s, round %d: %w", t.key, r+1, err)
			}
			if t.key == "join-seen" {
				b.seenJoins[r] = settled(s.run, b.o.Conns/b.o.Threads)
			}
			samples[t.key] = append(samples[t.key], s)
			fmt.Fprintf(b.out, "  round %d  %-10s %8.0f req/s  p99 %7s  errors %d\n", r+1, t.key, s.run.RPS(), s.run.P99, s.run.Errors())
		}
	}
	return samples, nil
}

func (b *bench) measureOnce(ctx context.Context, t target, round int) (sample, error) {
	req := t.request(round)
	counts0, err := b.serverCounts(ctx, t.server)
	if err != nil {
		return sample{}, err
	}
	before, err := b.cpu(ctx, t.server)
	if err != nil {
		return sample{}, err
	}
	saved := b.profile(ctx, t, round)
	run, err := runWrk(ctx, b.wrk, req)
	if err != nil {
		return sample{}, err
	}
	after, err := b.cpu(ctx, t.server)
	if err != nil {
		return sample{}, err
	}
	if err := saved(); err != nil {
		return sample{}, err
	}
	counts1, err := b.serverCounts(ctx, t.server)
	if err != nil {
		return sample{}, err
	}
	s := sample{run: run, server: after.server - before.server, redis: after.redis - before.redis,
		redisCmds: after.cmds - before.cmds, counts: countsSince(counts0, counts1), verifications: -1, seen: -1, general: -1}
	if t.server == b.gateway {
		s.seen, s.general = s.counts[seenVerifications], s.counts[generalVerifications]
		s.verifications = s.counts[fastVerifications] + s.seen
	}
	return s, nil
}

// settled is, per wrk thread, how many of the tokens it sent are surely
// queued fans: those of the requests still in flight when wrk stopped may
// not be (a request the server had not read when wrk closed the connection
// is lost), so the last ones each thread sent within the run's longest
// latency and wrk's 100 ms stop tick are left out, and one per connection
// more.
func settled(run wrkRun, connsPerThread int) []int64 {
	out := make([]int64, len(run.Used))
	for i, used := range run.Used {
		tail := int64(float64(used)*float64(run.Max+100*time.Millisecond)/float64(max(run.Duration, time.Second))) + int64(connsPerThread)
		out[i] = max(0, used-tail)
	}
	return out
}

type cpuReading struct {
	server, redis time.Duration
	cmds          int64
}

// cpu reads the CPU time of the answering process and of Redis, and the
// commands Redis has run.
func (b *bench) cpu(ctx context.Context, server *child) (cpuReading, error) {
	own, err := server.cpu()
	if err != nil {
		return cpuReading{}, err
	}
	redis, err := b.world.RedisCPU(ctx)
	if err != nil {
		return cpuReading{}, err
	}
	stats, err := b.world.RedisInfo(ctx, "stats")
	if err != nil {
		return cpuReading{}, err
	}
	return cpuReading{server: own, redis: redis, cmds: int64(stats["total_commands_processed"])}, nil
}

// serverCounts reads the counters edgebench checks in a process's
// /metrics: the access tokens it verified, by path, and
// its answers by route, method and status. The bare baseline serves no
// /metrics: it counts nothing. It is read outside the CPU window: the
// scrape costs the process CPU too.
func (b *bench) serverCounts(ctx context.Context, server *child) (map[string]int64, error) {
	if server == b.bare {
		return map[string]int64{}, nil
	}
	series, err := server.api.Metrics(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", server.Name, err)
	}
	return countsOf(series, "ticketvelo_access_tokens_verified_total{", "ticketvelo_http_requests_total{"), nil
}

const (
	seenVerifications    = `ticketvelo_access_tokens_verified_total{path="seen"}`
	fastVerifications    = `ticketvelo_access_tokens_verified_total{path="fast"}`
	generalVerifications = `ticketvelo_access_tokens_verified_total{path="general"}`
)

// countsOf keeps the counters whose series start with one of prefixes.
func countsOf(series map[string]float64, prefixes ...string) map[string]int64 {
	out := map[string]int64{}
	for s, v := range series {
		if slices.ContainsFunc(prefixes, func(p string) bool { return strings.HasPrefix(s, p) }) {
			out[s] = int64(v)
		}
	}
	return out
}

// countsSince is what changed between two readings of serverCounts.
func countsSince(before, after map[string]int64) map[string]int64 {
	d := map[string]int64{}
	for k, v := range after {
		if v != before[k] {
			d[k] = v - before[k]
		}
	}
	return d
}

// profile takes a CPU profile of t's process over the run when
// -cpuprofile asks for one; the returned func waits for it and saves it.
func (b *bench) profile(ctx context.Context, t target, round int) func() error {
	if b.o.CPUProfile == "" {
		return func() error { return nil }
	}
	path := filepath.Join(b.o.CPUProfile, fmt.Sprintf("%s-r%d.pprof", t.key, round+1))
	url := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", t.server.pprofAddr, int(b.o.Duration/time.Second))
	done := make(chan error, 1)
	go func() { done <- fetchProfile(ctx, url, path, b.o.Duration+30*time.Second) }()
	return func() error { return <-done }
}

func fetchProfile(ctx context.Context, url, path string, within time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("CPU profile: %w", err)
	}
	defer res.Body.Close()
	var body bytes.Buffer
	if _, err := body.ReadFrom(res.Body); err != nil {
		return fmt.Errorf("CPU profile: %w", err)
	}
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("CPU profile: %d %s", res.StatusCode, body.Bytes())
	}
	return os.WriteFile(path, body.Bytes(), 0o644)
}
