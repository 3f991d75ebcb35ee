package loadgen

import (
	"fmt"
	"runtime"
	"strings"
	"time"
)

// report writes the table of the phases' figures, each against bare's.
func (b *bench) report(runs [][]Result) {
	var results []Result
	for i, p := range b.phases {
		if len(runs[i]) > 0 {
			results = append(results, Merge(p.name, runs[i]...))
		}
	}
	bareRun := Merge("bare", runs[0]...)
	warmJoins := Merge("", runs[2]...)

	base := bareRun.RPS()
	bareOwn, bareExtra := bareRun.CPUPerRequest()
	w := b.out
	fmt.Fprintf(w, "\n%d connections, %d rounds of %s per phase (after %s of warm-up each), GOMAXPROCS %d; %d joins with a seen token, polls over those fans\n\n",
		b.o.Conns, b.o.Rounds, b.slice, b.o.Warmup, runtime.GOMAXPROCS(0), warmJoins.Requests)
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
}

func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// statuses lists the answers by status, the usual ones first.
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
