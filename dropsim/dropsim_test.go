package dropsim

import (
	"testing"
	"time"
)

func TestInversionsCountsPairsAdmittedOutOfJoinOrder(t *testing.T) {
	at := func(ms int) time.Time { return time.Unix(0, 0).Add(time.Duration(ms) * time.Millisecond) }
	cases := []struct {
		name string
		fans []admittedFan
		want float64
	}{
		{"in order", []admittedFan{{at(0), at(1000)}, {at(100), at(2000)}, {at(200), at(3000)}}, 0},
		{"reversed", []admittedFan{{at(0), at(3000)}, {at(100), at(2000)}, {at(200), at(1000)}}, 1},
		{"one of three pairs", []admittedFan{{at(0), at(2000)}, {at(100), at(1000)}, {at(200), at(3000)}}, 1.0 / 3},
		{"ties in admission are in order", []admittedFan{{at(0), at(1000)}, {at(100), at(1000)}}, 0},
		{"joins closer than the gap are not compared", []admittedFan{{at(0), at(2000)}, {at(10), at(1000)}}, 0},
		{"nobody", nil, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := inversions(tc.fans, 50*time.Millisecond); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
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
