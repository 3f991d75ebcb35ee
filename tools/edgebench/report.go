package edgebench

import (
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"time"
)

// spread is a figure's median over the rounds and its range.
type spread struct{ med, lo, hi float64 }

func spreadOf(xs []float64) spread {
	s := slices.Sorted(slices.Values(xs))
	n := len(s)
	if n == 0 {
		return spread{}
	}
	med := s[n/2]
	if n%2 == 0 {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	return spread{med, s[0], s[n-1]}
}

// format writes the median, and the range when the rounds differ, each
// with verb.
func (s spread) format(verb string) string {
	if fmt.Sprintf(verb, s.lo) == fmt.Sprintf(verb, s.hi) {
		return fmt.Sprintf(verb, s.med)
	}
	return fmt.Sprintf(verb+" ("+verb+"–"+verb+")", s.med, s.lo, s.hi)
}

// rows turns one target's samples into figures per round.
type rows struct {
	samples []sample
	bare    []sample // the baseline's, same rounds; nil without it
}

func (e rows) each(f func(i int, s sample) float64) spread {
	xs := make([]float64, len(e.samples))
	for i, s := range e.samples {
		xs[i] = f(i, s)
	}
	return spreadOf(xs)
}

func perRequest(d time.Duration, s sample) float64 {
	if s.run.Requests == 0 {
		return 0
	}
	return micros(d) / float64(s.run.Requests)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// mainRow is the request rate, latency, errors and CPU of one target.
func (e rows) mainRow(name string) string {
	ofBare := "–"
	if e.bare != nil {
		ofBare = e.ofBare()
	}
	var errs int64
	for _, s := range e.samples {
		errs += s.run.Errors()
	}
	return fmt.Sprintf("| %s | %s | %s | %s | %s | %d | %s | %s |", name,
		e.each(func(_ int, s sample) float64 { return s.run.RPS() }).format("%.0f"), ofBare,
		e.each(func(_ int, s sample) float64 { return ms(s.run.P50) }).format("%.2f"),
		e.each(func(_ int, s sample) float64 { return ms(s.run.P99) }).format("%.2f"), errs,
		e.each(func(_ int, s sample) float64 { return perRequest(s.server, s) }).format("%.1f"),
		e.each(func(_ int, s sample) float64 { return perRequest(s.redis, s) }).format("%.1f"))
}

// ofBare is the target's req/s as a share of the baseline's, round by
// round.
func (e rows) ofBare() string {
	return e.each(func(i int, s sample) float64 { return 100 * s.run.RPS() / e.bare[i].run.RPS() }).format("%.0f%%")
}

// workRow is what one request made Redis and the gateway do, and wrk's own
// cost.
func (e rows) workRow(name, server, fans string) string {
	verifications := "–"
	if e.samples[0].verifications >= 0 {
		verifications = e.each(func(_ int, s sample) float64 { return float64(s.verifications) / float64(max(1, s.run.Requests)) }).format("%.2f")
		if e.samples[0].verifications > 0 {
			verifications += ", " + e.each(func(_ int, s sample) float64 { return 100 * float64(s.seen) / float64(max(1, s.verifications)) }).format("%.0f%%") + " seen"
		}
	}
	return fmt.Sprintf("| %s | %s | %s | %s | %s | %s |", name, server,
		e.each(func(_ int, s sample) float64 { return float64(s.redisCmds) / float64(max(1, s.run.Requests)) }).format("%.2f"),
		verifications, e.each(func(_ int, s sample) float64 { return perRequest(s.run.CPU, s) }).format("%.1f"), fans)
}

// fans says whom a target's requests were from.
func (b *bench) fans(t target, samples []sample) string {
	sum := func(xs []int64) (n int64) {
		for _, x := range xs {
			n += x
		}
		return n
	}
	var parts []string
	for r, s := range samples {
		switch t.key {
		case "join-new", "join-seen":
			parts = append(parts, fmt.Sprint(sum(s.run.Used)))
		case "poll-far", "bare-far":
			parts = append(parts, fmt.Sprintf("%d polls over %d", s.run.Requests, sum(b.seenJoins[r])))
		}
	}
	switch {
	case t.key == "poll-front":
		return fmt.Sprintf("the %d at the front", frontFans)
	case len(parts) == 0:
		return "–"
	case t.key == "poll-far" || t.key == "bare-far":
		return strings.Join(parts, "; ") + " who joined just before"
	}
	return strings.Join(parts, ", ") + " new, each once"
}

func (b *bench) report(samples map[string][]sample) error {
	w := b.out
	fmt.Fprintf(w, "\nedgebench, %s: %d rounds × %s per target, wrk -t %d -c %d, medians over the rounds (min–max)\n\n",
		machine(), b.o.Rounds, b.o.Duration, b.o.Threads, b.o.Conns)
	fmt.Fprintln(w, "| target | req/s | of bare | p50 ms | p99 ms | errors | server CPU µs/req | Redis CPU µs/req |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|")
	for _, t := range b.targets {
		fmt.Fprintln(w, b.rows(samples, t).mainRow(t.name))
	}
	if far, bareFar := samples["poll-far"], samples["bare-far"]; far != nil && bareFar != nil {
		fmt.Fprintf(w, "\nThe far poll answers %s of what bare fasthttp answers when fed the same requests (bare-far, which differs from bare only in what wrk sends).\n",
			rows{samples: far, bare: bareFar}.ofBare())
	}
	fmt.Fprintln(w, "\n| target | answered by | Redis commands/req | token verifications/req, share seen before | wrk CPU µs/req | fans |")
	fmt.Fprintln(w, "|---|---|---:|---:|---:|---|")
	for _, t := range b.targets {
		fmt.Fprintln(w, b.rows(samples, t).workRow(t.key, t.server.Name, b.fans(t, samples[t.key])))
	}
	return b.problems(w, samples)
}

func (b *bench) rows(samples map[string][]sample, t target) rows {
	return rows{samples: samples[t.key], bare: samples["bare"]}
}

// problems lists what makes figures suspect: failed requests, and joins
// that ran out of new fans. Either fails the run, after the tables.
func (b *bench) problems(w io.Writer, samples map[string][]sample) error {
	var found []string
	for _, t := range b.targets {
		for r, s := range samples[t.key] {
			run := s.run
			if run.Errors() > 0 {
				found = append(found, fmt.Sprintf("%s, round %d: %d failed requests (connect %d, read %d, write %d, timeout %d, status >= 400 %d%s)",
					t.key, r+1, run.Errors(), run.Connect, run.Read, run.Write, run.Timeout, run.Status, failedAnswers(s.counts)))
			}
			if t.joins && run.Wrapped > 0 {
				found = append(found, fmt.Sprintf("%s, round %d: used all %d new fans' tokens and reused some; run again with a higher -join-rate (this round: %.0f joins/s)",
					t.key, r+1, b.o.perRound(t.key), run.RPS()))
			}
			if v := verificationsOff(t.key, s); v != "" {
				found = append(found, fmt.Sprintf("%s, round %d: %s", t.key, r+1, v))
			}
		}
	}
	if len(found) == 0 {
		return nil
	}
	fmt.Fprintln(w)
	for _, f := range found {
		fmt.Fprintln(w, "PROBLEM:", f)
	}
	return errors.New("edgebench: the figures above are suspect: " + strings.Join(found, "; "))
}

// failedAnswers lists the answers of status 400 or more that the server
// counted, e.g. `: GET /api/v1/events/{id}/queue 404 ×1`.
func failedAnswers(counts map[string]int64) string {
	var out []string
	for series, n := range counts {
		m := answerSeries.FindStringSubmatch(series)
		if m != nil && m[3] >= "400" {
			out = append(out, fmt.Sprintf("%s %s %s ×%d", m[2], m[1], m[3], n))
		}
	}
	if len(out) == 0 {
		return ""
	}
	slices.Sort(out)
	return "; the server counted " + strings.Join(out, ", ")
}

var answerSeries = regexp.MustCompile(`^ticketvelo_http_requests_total\{route="([^"]*)",method="([^"]*)",status="(\d+)"\}$`)

// verificationsOff checks that every request of a target that carries an
// access token verified it once, on the fast path (a general verification
// is a token the fast path did not take: a slow path the figures would
// hide), and that the others verified none.
func verificationsOff(key string, s sample) string {
	if s.verifications < 0 || s.run.Requests == 0 {
		return ""
	}
	per := float64(s.verifications) / float64(s.run.Requests)
	general := float64(max(0, s.general)) / float64(s.run.Requests)
	withToken := key != "event" && key != "bare" && key != "seats"
	switch {
	case general > 0.05:
		return fmt.Sprintf("%.2f general token verifications per request, want 0: the fast path missed", general)
	case withToken && per < 0.95:
		return fmt.Sprintf("%.2f token verifications per request, want 1", per)
	case !withToken && per > 0.05:
		return fmt.Sprintf("%.2f token verifications per request, want 0", per)
	}
	return ""
}
