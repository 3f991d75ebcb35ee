package dropsim

import (
	"fmt"
	"io"
	"sort"
	"sync"
	"time"

	"github.com/ticketvelo/ticketvelo/tools/apiclient"
)

// recorder collects what the fans saw; every method is safe for concurrent use.
type recorder struct {
	mu        sync.Mutex
	took      map[string][]time.Duration
	statuses  map[string]map[int]int
	outcomes  map[string]int
	fivexx    int
	retried   int // 503s, which the fans sent again
	lastSold  time.Time
	admission []admittedFan
	failedAt  []time.Time // answers 5xx (503 included) and transport failures
}

type admittedFan struct {
	userID int64
	joined time.Time
}

func newRecorder() *recorder {
	return &recorder{took: map[string][]time.Duration{}, statuses: map[string]map[int]int{}, outcomes: map[string]int{}}
}

func (r *recorder) request(kind string, res apiclient.Result, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.statuses[kind] == nil {
		r.statuses[kind] = map[int]int{}
	}
	if err != nil {
		r.statuses[kind][0]++ // transport failure
		r.failedAt = append(r.failedAt, time.Now())
		return
	}
	r.statuses[kind][res.Status]++
	r.took[kind] = append(r.took[kind], res.Took)
	if res.Status >= 500 {
		r.failedAt = append(r.failedAt, time.Now())
	}
	switch {
	case res.Status == 503:
		r.retried++
	case res.Status >= 500:
		r.fivexx++
	}
}

func (r *recorder) outcome(o string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.outcomes[o]++
}

func (r *recorder) sold() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lastSold = time.Now()
}

// admitted notes a fan who joined after the opening, for the fairness
// figure, which compares the order they joined in with the order the
// server admitted them in (its admission log), not with when their polls
// happened to see it.
func (r *recorder) admitted(userID int64, joined, opensAt time.Time) {
	if joined.Before(opensAt) {
		return // the pre-queue is shuffled on purpose
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.admission = append(r.admission, admittedFan{userID: userID, joined: joined})
}

// report sums up the run; SoldOutIn is the time from the opening to the
// last sale, which the caller keeps only when the event did sell out.
func (r *recorder) report(took time.Duration, opensAt time.Time) *Report {
	r.mu.Lock()
	defer r.mu.Unlock()
	rep := &Report{Took: took, Outcomes: r.outcomes, Statuses: r.statuses, Status5xx: r.fivexx, Status503: r.retried,
		Latency: map[string]Percentiles{}, Failures: r.failedAt}
	if !r.lastSold.IsZero() {
		rep.SoldOutIn = r.lastSold.Sub(opensAt)
	}
	for kind, d := range r.took {
		rep.Latency[kind] = percentiles(d)
	}
	return rep
}

// fairness is the inversions figure of the fans admitted after the opening,
// against rank, each fan's place in the server's admission order.
func (r *recorder) fairness(rank map[int64]int) (float64, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return inversions(r.admission, rank, 50*time.Millisecond)
}

// inversions is the share of pairs of fans who joined at least gap apart
// and were admitted in the other order; rank is each fan's place in the
// server's admission order, and fans missing from it are left out.
func inversions(fans []admittedFan, rank map[int64]int, gap time.Duration) (share float64, compared int) {
	var ranked []admittedFan
	for _, f := range fans {
		if _, ok := rank[f.userID]; ok {
			ranked = append(ranked, f)
		}
	}
	sort.Slice(ranked, func(i, j int) bool { return ranked[i].joined.Before(ranked[j].joined) })
	pairs, inverted := 0, 0
	for i := range ranked {
		for j := i + 1; j < len(ranked); j++ {
			if ranked[j].joined.Sub(ranked[i].joined) < gap {
				continue
			}
			pairs++
			if rank[ranked[j].userID] < rank[ranked[i].userID] {
				inverted++
			}
		}
	}
	if pairs == 0 {
		return 0, len(ranked)
	}
	return float64(inverted) / float64(pairs), len(ranked)
}

// Print writes the report for people.
func (r *Report) Print(w io.Writer) {
	fmt.Fprintf(w, "drop on event %d: %d fans for %d seats, took %s\n", r.EventID, r.Fans, r.Capacity, r.Took.Round(time.Millisecond))
	fmt.Fprintf(w, "seats sold: %d (%d orders)", r.SeatsSold, r.OrdersInDB)
	if r.SoldOutIn > 0 {
		fmt.Fprintf(w, ", sold out %s after the opening", r.SoldOutIn.Round(time.Millisecond))
	}
	fmt.Fprintln(w)
	var names []string
	for o := range r.Outcomes {
		names = append(names, o)
	}
	sort.Strings(names)
	fmt.Fprint(w, "fans:")
	for _, o := range names {
		fmt.Fprintf(w, " %s=%d", o, r.Outcomes[o])
	}
	fmt.Fprintln(w)
	var kinds []string
	for k := range r.Latency {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		p := r.Latency[k]
		fmt.Fprintf(w, "  %-8s n=%-7d p50=%-9s p99=%-9s max=%-9s statuses=%v\n", k, p.Count,
			p.P50.Round(10*time.Microsecond), p.P99.Round(10*time.Microsecond), p.Max.Round(10*time.Microsecond), r.Statuses[k])
	}
	switch {
	case r.FairnessError != "":
		fmt.Fprintf(w, "fairness: not measured (%s)\n", r.FairnessError)
	case !r.FairnessMeasured:
		fmt.Fprintln(w, "fairness: not measured (no admission log read)")
	case r.FairnessFans == 0:
		fmt.Fprintln(w, "fairness: measured on the server's admission order, but no fan who joined after the opening was admitted")
	default:
		fmt.Fprintf(w, "fairness: %.3f%% of post-opening pairs admitted out of join order (%d fans, measured on the server's admission order)\n", 100*r.FairnessInversions, r.FairnessFans)
	}
	fmt.Fprintf(w, "unavailable (503, sent again after Retry-After): %d\n", r.Status503)
	fmt.Fprintf(w, "server errors (5xx other than 503): %d\n", r.Status5xx)
	if len(r.Problems) == 0 {
		fmt.Fprintln(w, "invariants: OK (no seat sold twice, sold = valid tickets <= capacity, orders = fans who bought)")
	} else {
		fmt.Fprintf(w, "invariants: BROKEN: %v\n", r.Problems)
	}
}
