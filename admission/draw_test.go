package admission_test

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"testing"
	"time"

	"github.com/ticketvelo/ticketvelo/admission"
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("seed %q is not hex: %v", s, err)
	}
	return b
}

// chiSquare is Pearson's statistic of counts against a uniform expectation.
func chiSquare(counts map[string]int, cells, total int) float64 {
	expected := float64(total) / float64(cells)
	var x float64
	seen := 0
	for _, c := range counts {
		d := float64(c) - expected
		x += d * d / expected
		seen++
	}
	// Cells never hit count too.
	x += float64(cells-seen) * expected
	return x
}

// TestDrawIsAUniformPermutationOnRedis runs 2,400 real draws of four
// pre-queue fans, each with a fresh seed from crypto/rand, and checks that
// the 24 orders come up equally often (Pearson's chi-square, 23 degrees of
// freedom) and that each order is the one the published seed gives.
func TestDrawIsAUniformPermutationOnRedis(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	const draws = 2400
	opens := time.Now().Add(-time.Minute)
	before := opens.Add(-time.Minute)
	fans := []int64{1001, 1002, 1003, 1004}
	counts := map[string]int{}
	for event := int64(1); event <= draws; event++ {
		w.join(t, event, opens, before, fans...)
		w.open(t, event, opens, time.Now())
		o, err := w.room.Overview(ctx, event, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		got := w.queue(t, event)
		if want := admission.DrawOrder(mustHex(t, o.Seed), fans); !equal(got, want) {
			t.Fatalf("draw %d: queue %v, but the published seed gives %v", event, got, want)
		}
		counts[fmt.Sprint(got)]++
	}
	x := chiSquare(counts, 24, draws)
	// 71 is the chi-square quantile of 23 degrees of freedom at p = 1e-6: a
	// fair draw fails this about once in a million runs, a biased one at once.
	if x > 71 || len(counts) != 24 {
		t.Fatalf("chi-square %.1f over %d orders seen of 24 (counts %v): the draw is not uniform", x, len(counts), counts)
	}
	t.Logf("chi-square %.1f with 23 degrees of freedom over %d draws", x, draws)
}

// TestDrawOrderPlacesEachFanUniformly checks, over 20,000 seeds, that a fan
// lands in each of 10 places equally often, for the first and the last
// fan of the join order alike.
func TestDrawOrderPlacesEachFanUniformly(t *testing.T) {
	t.Parallel()
	const seeds, n = 20000, 10
	fans := make([]int64, n)
	for i := range fans {
		fans[i] = int64(100 + i)
	}
	for _, watched := range []int64{fans[0], fans[n-1]} {
		counts := map[string]int{}
		seed := make([]byte, 32)
		for range seeds {
			rand.Read(seed)
			for place, u := range admission.DrawOrder(seed, fans) {
				if u == watched {
					counts[fmt.Sprint(place)]++
				}
			}
		}
		// 9 degrees of freedom, p = 1e-6: 42.
		if x := chiSquare(counts, n, seeds); x > 42 {
			t.Fatalf("fan %d: chi-square %.1f over places %v: not uniform", watched, x, counts)
		}
	}
}

func TestDrawIsReproducibleFromTheSeed(t *testing.T) {
	t.Parallel()
	seed := bytes.Repeat([]byte{0x5e}, 32)
	// Both rooms draw the same seed: the injected random source decides.
	fixed := func(w *world) { w.random = bytes.NewReader(bytes.Repeat(seed, 4)) }
	a, b := newWorld(t, fixed), newWorld(t, fixed)
	opens := time.Now().Add(-time.Minute)
	fans := users(1, 300)
	for _, w := range []*world{a, b} {
		w.joinMany(t, 1, opens, opens.Add(-time.Minute), 1, 300)
		w.open(t, 1, opens, time.Now())
	}
	qa, qb := a.queue(t, 1), b.queue(t, 1)
	if !equal(qa, qb) {
		t.Fatal("two draws with one seed gave different orders")
	}
	if want := admission.DrawOrder(seed, fans); !equal(qa, want) {
		t.Fatalf("the order is not DrawOrder(seed, fans)")
	}
	o, _ := a.room.Overview(ctx, 1, time.Now())
	if o.Seed != hex.EncodeToString(seed) {
		t.Fatalf("published seed %s, want %x", o.Seed, seed)
	}
	// The score is the first 52 bits of HMAC-SHA256(seed, "17").
	if got := admission.DrawScore(seed, 17); got >= 1<<52 {
		t.Fatalf("score %d does not fit 52 bits", got)
	}
}

// TestDrawOfALargePrequeueAgainstFansLeaving draws 20,000 fans while some
// of them leave: nobody who left comes back, nobody is lost.
func TestDrawOfALargePrequeueAgainstFansLeaving(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	opens := time.Now().Add(-time.Minute)
	w.joinMany(t, 1, opens, opens.Add(-time.Minute), 1, 20000)
	done := make(chan error, 1)
	go func() {
		var err error
		for u := int64(1); u <= 20000 && err == nil; u += 10 {
			err = w.room.Leave(ctx, 1, u)
		}
		done <- err
	}()
	w.open(t, 1, opens, time.Now())
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	q := w.queue(t, 1)
	if len(q) != 18000 {
		t.Fatalf("queue holds %d fans, want the 18,000 who stayed", len(q))
	}
	for _, u := range q {
		if u%10 == 1 {
			t.Fatalf("user %d left but is in the queue", u)
		}
	}
}
