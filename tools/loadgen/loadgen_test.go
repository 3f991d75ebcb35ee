package loadgen

import (
	"context"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// TestDriverAgainstTheBaseline drives the bare baseline with both loops:
// Each sends exactly its requests, Run counts what it measured.
func TestDriverAgainstTheBaseline(t *testing.T) {
	addr, stop, err := ServeBare()
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	get := func(_ uint64, req *fasthttp.Request) { req.SetRequestURI("/queue") }
	ctx := context.Background()
	if bad := Each(ctx, addr, 4, 100, 200, get); bad != 0 {
		t.Errorf("Each: %d of 100 did not answer 200", bad)
	}
	if bad := Each(ctx, addr, 4, 10, 404, get); bad != 10 {
		t.Errorf("Each wanting 404: got %d bad, want all 10", bad)
	}
	r := Run(ctx, "bare", addr, 2, 10*time.Millisecond, 100*time.Millisecond, get, nil)
	if r.Requests == 0 || r.Statuses[200] != r.Requests || r.FirstError != nil || r.P99 < r.P50 || r.RPS() <= 0 {
		t.Errorf("Run: got %+v", r)
	}
	m := Merge("both", r, r)
	if m.Requests != 2*r.Requests || m.Statuses[200] != 2*r.Requests {
		t.Errorf("Merge: got %d requests and %v, want twice %d", m.Requests, m.Statuses, r.Requests)
	}
	if got := statuses(map[int]int{404: 1, 200: 3, 503: 2}); got != "3×200 1×404 2×503" {
		t.Errorf("statuses: got %q", got)
	}
}
