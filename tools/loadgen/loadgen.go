// Package loadgen is the waiting room's benchmark (ticketvelo loadgen,
// RunBench) and its closed-loop HTTP load generator over loopback: a fixed
// number of connections each send one request after another for a while,
// and it reports the throughput and latency percentiles. It also serves the
// baseline every figure is compared with: a bare fasthttp handler that
// answers a fixed JSON body.
package loadgen

import (
	"context"
	"fmt"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/ticketvelo/ticketvelo/tools/apiclient"
)

// BareBody is what the baseline answers: a queue status of a typical size.
var BareBody = []byte(`{"state":"waiting","event_id":1,"position":1234,"ahead":1233,"eta_seconds":62,"poll_after_ms":5000,"sale_opens_at":"2026-11-25T12:00:00Z"}`)

// ServeBare starts the baseline on a loopback port.
func ServeBare() (addr string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("listening for the baseline: %w", err)
	}
	srv := BareServer()
	go srv.Serve(ln)
	return ln.Addr().String(), func() { srv.Shutdown() }, nil
}

// BareServer is the baseline: fasthttp with the settings the gateway's
// server uses, no router and no middleware, answering BareBody to every
// request.
func BareServer() *fasthttp.Server {
	return &fasthttp.Server{
		Handler: func(ctx *fasthttp.RequestCtx) {
			ctx.SetContentType("application/json")
			ctx.Response.Header.Set("Cache-Control", "no-store")
			ctx.SetBody(BareBody)
		},
		Name: "bare", NoDefaultServerHeader: true, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second,
		IdleTimeout: 2 * time.Minute, DisablePreParseMultipartForm: true,
	}
}

// Request fills req for the n-th request of a run (n counts from 0 across
// all connections).
type Request func(n uint64, req *fasthttp.Request)

// Result is one run's figures.
type Result struct {
	Name     string
	Requests int
	Elapsed  time.Duration
	Statuses map[int]int // by HTTP status; 0 counts transport errors
	P50, P99 time.Duration
	// FirstError is the first transport error, if any.
	FirstError error
	// CPU is the CPU time this process (load generator and servers) used
	// in the measured window; ExtraCPU what the probe counted, e.g. Redis.
	CPU, ExtraCPU time.Duration

	lat []time.Duration // sorted
}

// Merge adds up runs of one phase, such as the rounds of an interleaved
// measurement, into one result under name.
func Merge(name string, runs ...Result) Result {
	m := Result{Name: name, Statuses: map[int]int{}}
	for _, r := range runs {
		m.Requests += r.Requests
		m.Elapsed += r.Elapsed
		m.CPU += r.CPU
		m.ExtraCPU += r.ExtraCPU
		m.lat = append(m.lat, r.lat...)
		for s, n := range r.Statuses {
			m.Statuses[s] += n
		}
		if m.FirstError == nil {
			m.FirstError = r.FirstError
		}
	}
	slices.Sort(m.lat)
	m.P50, m.P99 = percentile(m.lat, 0.50), percentile(m.lat, 0.99)
	return m
}

// CPUPerRequest is the CPU time of this process and of the probe per
// completed request.
func (r Result) CPUPerRequest() (own, extra time.Duration) {
	if r.Requests == 0 {
		return 0, 0
	}
	return r.CPU / time.Duration(r.Requests), r.ExtraCPU / time.Duration(r.Requests)
}

// Probe reads a cumulative CPU time outside this process; nil reads zero.
type Probe func() time.Duration

// processCPU is this process's user and system CPU time so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// RPS is the completed requests per second.
func (r Result) RPS() float64 { return float64(r.Requests) / r.Elapsed.Seconds() }

// Run sends requests to addr over conns connections for d, after a warm-up
// of warmup whose requests are not counted.
func Run(ctx context.Context, name, addr string, conns int, warmup, d time.Duration, build Request, probe Probe) Result {
	if probe == nil {
		probe = func() time.Duration { return 0 }
	}
	client := hostClient(addr, conns)
	var (
		seq      atomic.Uint64
		firstErr atomic.Pointer[error]
		counting atomic.Bool
		stop     atomic.Bool
		wg       sync.WaitGroup
		mu       sync.Mutex
		lat      []time.Duration
		statuses = map[int]int{}
	)
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, res := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(res)
			mine := make([]time.Duration, 0, 1<<16)
			byStatus := map[int]int{}
			for !stop.Load() && ctx.Err() == nil {
				req.Reset()
				build(seq.Add(1)-1, req)
				req.SetHost(addr)
				start := time.Now()
				err := client.Do(req, res)
				took := time.Since(start)
				if !counting.Load() {
					continue
				}
				status := res.StatusCode()
				if err != nil {
					status = 0
					firstErr.CompareAndSwap(nil, &err)
				}
				byStatus[status]++
				mine = append(mine, took)
			}
			mu.Lock()
			lat = append(lat, mine...)
			for s, n := range byStatus {
				statuses[s] += n
			}
			mu.Unlock()
		}()
	}
	time.Sleep(warmup)
	cpu0, extra0 := processCPU(), probe()
	counting.Store(true)
	start := time.Now()
	time.Sleep(d)
	counting.Store(false)
	elapsed := time.Since(start)
	cpu, extra := processCPU()-cpu0, probe()-extra0
	stop.Store(true)
	wg.Wait()
	slices.Sort(lat)
	r := Result{Name: name, Requests: len(lat), Elapsed: elapsed, Statuses: statuses, P50: percentile(lat, 0.50), P99: percentile(lat, 0.99), CPU: cpu, ExtraCPU: extra, lat: lat}
	if e := firstErr.Load(); e != nil {
		r.FirstError = *e
	}
	return r
}

// hostClient is the tools' client settings (apiclient) for a loop of
// measured requests: each sent once, so that a failure counts rather than
// hides behind a retry.
func hostClient(addr string, conns int) *fasthttp.HostClient {
	return apiclient.Options{Conns: conns, Timeout: 10 * time.Second, Once: true}.HostClient(addr)
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(float64(len(sorted))*p))]
}

// Each sends requests 0..count-1 to addr over conns connections as fast as
// they go, and returns how many did not answer want.
func Each(ctx context.Context, addr string, conns, count, want int, build Request) int {
	client := hostClient(addr, conns)
	var (
		seq  atomic.Uint64
		bad  atomic.Int64
		wg   sync.WaitGroup
		last = uint64(count)
	)
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, res := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(res)
			for ctx.Err() == nil {
				n := seq.Add(1) - 1
				if n >= last {
					return
				}
				req.Reset()
				build(n, req)
				req.SetHost(addr)
				if err := client.Do(req, res); err != nil || res.StatusCode() != want {
					bad.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	return int(bad.Load())
}
