package catalog

import (
	"testing"
)

func TestLayoutCapacities(t *testing.T) {
	cases := []struct {
		name   string
		layout Layout
		want   int
	}{
		{"arena", ArenaLayout(), 19920},
		{"theatre", TheatreLayout(), 2496},
		{"grid of 100,000", GridLayout(100000), 100000},
		{"grid of 1", GridLayout(1), 1},
		{"grid of 1,001", GridLayout(1001), 1001},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.layout.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if got := tc.layout.Capacity(); got != tc.want {
				t.Errorf("Capacity: got %d, want %d", got, tc.want)
			}
			seats := tc.layout.Seats()
			if len(seats) != tc.want {
				t.Fatalf("Seats: got %d, want %d", len(seats), tc.want)
			}
			type place struct {
				section, row string
				number       int
			}
			seen := map[place]bool{}
			for i, s := range seats {
				if s.No != i {
					t.Fatalf("seat %d numbered %d, want seats numbered 0..n-1 in order", i, s.No)
				}
				p := place{s.Section, s.Row, s.Number}
				if seen[p] {
					t.Fatalf("seat %+v appears twice", p)
				}
				seen[p] = true
			}
		})
	}
}

func TestArenaHasTiersAndAccessibleSeats(t *testing.T) {
	tiers := map[string]int{}
	accessible := 0
	prices := map[int]bool{}
	for _, s := range ArenaLayout().Seats() {
		tiers[s.Tier]++
		prices[s.PriceCents] = true
		if s.Accessible {
			accessible++
		}
	}
	if tiers["Floor"] != 2000 || tiers["Lower bowl"] != 8800 || tiers["Upper bowl"] != 9120 {
		t.Errorf("tiers: got %v", tiers)
	}
	if accessible != 16*4 {
		t.Errorf("accessible seats: got %d, want 64 (4 in each lower-bowl section)", accessible)
	}
	if len(prices) != 6 {
		t.Errorf("price points: got %d, want 6", len(prices))
	}
}

func TestTheatreRowsSkipIAndO(t *testing.T) {
	for _, s := range TheatreLayout().Sections {
		for _, r := range s.Rows {
			if r.Label == "I" || r.Label == "O" {
				t.Errorf("section %s has row %s, which reads as a digit", s.Name, r.Label)
			}
		}
	}
}

func TestValidateRejectsBadLayouts(t *testing.T) {
	cases := map[string]Layout{
		"empty":           {},
		"unnamed section": {Sections: []Section{{Rows: []Row{{Label: "1", Seats: 1}}}}},
		"repeated row":    {Sections: []Section{{Name: "A", Rows: []Row{{Label: "1", Seats: 1}, {Label: "1", Seats: 1}}}}},
		"no seats":        {Sections: []Section{{Name: "A", Rows: []Row{{Label: "1", Seats: 0}}}}},
		"negative price":  {Sections: []Section{{Name: "A", Rows: []Row{{Label: "1", Seats: 3, PriceCents: -1}}}}},
	}
	for name, l := range cases {
		if err := l.Validate(); err == nil {
			t.Errorf("%s: got no error", name)
		}
	}
}
