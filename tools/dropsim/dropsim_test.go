package dropsim

import (
	"testing"
	"time"
)

func TestInversionsCountsPairsAdmittedOutOfJoinOrder(t *testing.T) {
	at := func(ms int) time.Time { return time.Unix(0, 0).Add(time.Duration(ms) * time.Millisecond) }
	fans := func(joins ...int) []admittedFan {
		var out []admittedFan
		for i, ms := range joins {
			out = append(out, admittedFan{userID: int64(i + 1), joined: at(ms)})
		}
		return out
	}
	// rank lists user ids in the order the server admitted them.
	rank := func(ids ...int64) map[int64]int {
		m := map[int64]int{}
		for i, id := range ids {
			m[id] = i
		}
		return m
	}
	cases := []struct {
		name         string
		fans         []admittedFan
		rank         map[int64]int
		want         float64
		wantCompared int
	}{
		{"in order", fans(0, 100, 200), rank(1, 2, 3), 0, 3},
		{"reversed", fans(0, 100, 200), rank(3, 2, 1), 1, 3},
		{"one of three pairs", fans(0, 100, 200), rank(2, 1, 3), 1.0 / 3, 3},
		{"joins closer than the gap are not compared", fans(0, 10), rank(2, 1), 0, 2},
		{"fans the log lacks are left out", fans(0, 100, 200), rank(3, 1), 1, 2},
		{"nobody", nil, rank(), 0, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, compared := inversions(tc.fans, tc.rank, 50*time.Millisecond)
			if got != tc.want || compared != tc.wantCompared {
				t.Errorf("got %v of %d fans, want %v of %d", got, compared, tc.want, tc.wantCompared)
			}
		})
	}
}

func TestPercentiles(t *testing.T) {
	var d []time.Duration
	for i := 100; i >= 1; i-- {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	p := percentiles(d)
	if p.Count != 100 || p.P50 != 51*time.Millisecond || p.P99 != 100*time.Millisecond || p.Max != 100*time.Millisecond {
		t.Errorf("got %+v", p)
	}
	if (percentiles(nil) != Percentiles{}) {
		t.Error("percentiles of nothing are not zero")
	}
}

func TestOptionsValidateNamesTheFlag(t *testing.T) {
	o := Defaults()
	if err := o.Validate(); err == nil {
		t.Error("defaults without a target validated")
	}
	o.Target = "http://x"
	if err := o.Validate(); err != nil {
		t.Errorf("defaults with a target: %v", err)
	}
	o.DeclineRate = 2
	if err := o.Validate(); err == nil || err.Error()[:14] != "--decline-rate" {
		t.Errorf("got %v, want an error naming --decline-rate", err)
	}
}
