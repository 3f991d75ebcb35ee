package drill

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ticketvelo/ticketvelo/internal/loop"
	"github.com/ticketvelo/ticketvelo/internal/proc"
	"github.com/ticketvelo/ticketvelo/tools/apiclient"
)

// soak runs one steady drop of SoakFans arriving over Soak, samples every
// process's memory (RSS, from /proc) and each service's goroutines (from
// its /metrics) twenty times, and prints them at the start, middle and end
// with the outbox and the consumers' lag once it is over.
func (d *driller) soak(ctx context.Context) error {
	o := d.dropOptions(d.o.SoakFans, d.o.SoakSeats, d.o.Soak, d.o.Soak+d.o.Timeout)
	sim, err := d.prepare(ctx, o)
	if err != nil {
		return err
	}
	var (
		mu      sync.Mutex
		samples []sample
	)
	sctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		every := max(d.o.Soak/20, time.Second)
		for {
			s := d.sample(sctx)
			mu.Lock()
			samples = append(samples, s)
			mu.Unlock()
			if !loop.Sleep(sctx, every) {
				return
			}
		}
	}()
	r := &result{fault: fault{name: "soak", title: fmt.Sprintf("%s steady drop, %d fans for %d seats", d.o.Soak, d.o.SoakFans, d.o.SoakSeats)}}
	r.report, r.simErr = sim.Run(ctx)
	stop()
	<-done
	if err := d.check(ctx, r); err != nil {
		return err
	}
	end := d.sample(ctx)
	r.print(d.out)
	printSamples(d.out, append(samples, end))
	fmt.Fprintf(d.out, "at the end: outbox rows not published %d, notifiers' consumer lag %d\n", r.outboxLeft, end.lag)
	printSummary(d.out, []*result{r})
	if len(r.problems) > 0 || end.lag > 0 {
		return ErrInvariant
	}
	return nil
}

// sample is every process's figures at one moment.
type sample struct {
	at         time.Time
	rss        map[string]int64 // bytes, by process name
	goroutines map[string]int
	lag        int64 // the notifiers' consumer lag, summed
}

// sampled are the processes a soak watches: their pids now, and the
// addresses of the services' /metrics, by name.
func (d *driller) sampled() (map[string]int, map[string]string) {
	t := d.t
	pids := map[string]int{}
	metrics := map[string]string{} // name -> address of its /metrics
	for _, p := range t.services() {
		pids[p.Name], metrics[p.Name] = p.Pid(), p.Addr
	}
	for _, p := range []*proc.Process{t.broker, t.proxy} {
		pids[p.Name] = p.Pid()
	}
	for i, n := range t.redis.Nodes {
		name := fmt.Sprintf("redis-%d", i+1)
		pids[name] = n.Pid()
	}
	if t.pg.own {
		pids["postgres"] = t.pg.pid()
	}
	return pids, metrics
}

func (d *driller) sample(ctx context.Context) sample {
	pids, metrics := d.sampled()
	s := sample{at: time.Now(), rss: map[string]int64{}, goroutines: map[string]int{}}
	for name, pid := range pids {
		s.rss[name] = rss(pid)
	}
	for name, addr := range metrics {
		m := scrape(ctx, addr)
		s.goroutines[name] = int(m["go_goroutines"])
		s.lag += int64(m["ticketvelo_notifier_consumer_lag"])
	}
	return s
}

// rss is a process's resident memory in bytes, from /proc/<pid>/status; 0
// when it cannot be read.
func rss(pid int) int64 {
	if pid == 0 {
		return 0
	}
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

var scrapeClient = apiclient.New("", apiclient.Options{Timeout: 2 * time.Second})

// scrape reads a service's /metrics, summing each metric's series by name;
// nothing when it cannot be read.
func scrape(ctx context.Context, addr string) map[string]float64 {
	series, _ := scrapeClient.At("http://" + addr).Metrics(ctx)
	return sumByName(series)
}

// sumByName adds up the series of each metric.
func sumByName(series map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for s, v := range series {
		name, _, _ := strings.Cut(s, "{")
		out[name] += v
	}
	return out
}

// printSamples is each process's RSS and goroutines at the start, middle
// and end of the soak, and the highest RSS seen.
func printSamples(w io.Writer, samples []sample) {
	if len(samples) == 0 {
		return
	}
	first, mid, last := samples[0], samples[len(samples)/2], samples[len(samples)-1]
	fmt.Fprintf(w, "\nmemory and goroutines, sampled %d times over %s:\n\n", len(samples), last.at.Sub(first.at).Round(time.Second))
	fmt.Fprintln(w, "| process | RSS start | middle | end | max | goroutines start | middle | end |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|")
	for _, name := range sortedNames(last.rss) {
		var peak int64
		for _, s := range samples {
			peak = max(peak, s.rss[name])
		}
		g := " | | |" // not a Go service
		if _, ok := last.goroutines[name]; ok {
			g = fmt.Sprintf("%d | %d | %d |", first.goroutines[name], mid.goroutines[name], last.goroutines[name])
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s\n", name, mb(first.rss[name]), mb(mid.rss[name]), mb(last.rss[name]), mb(peak), g)
	}
}

// sortedNames lists the services first, then the stores and the proxy.
func sortedNames(m map[string]int64) []string {
	rank := func(n string) string {
		for i, p := range []string{"gateway", "booker", "notifier", "broker", "nginx", "redis", "postgres"} {
			if strings.HasPrefix(n, p) {
				return strconv.Itoa(i) + n
			}
		}
		return "9" + n
	}
	names := slices.Collect(maps.Keys(m))
	slices.SortFunc(names, func(a, b string) int { return strings.Compare(rank(a), rank(b)) })
	return names
}

func mb(b int64) string { return fmt.Sprintf("%.0f MB", float64(b)/(1<<20)) }
