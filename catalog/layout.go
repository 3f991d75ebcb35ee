// Package catalog owns venues and events: their layouts, the seat inventory
// an event copies from its venue, and the demo data a first start seeds.
package catalog

import (
	"fmt"
	"strconv"

	"github.com/ticketvelo/ticketvelo/internal/textfield"
)

// Layout is how a venue's seats are arranged and priced.
type Layout struct {
	Sections []Section `json:"sections"`
}

// Section is a block of rows sold at the same tier.
type Section struct {
	Name string `json:"name"`
	Tier string `json:"tier"`
	Rows []Row  `json:"rows"`
}

// Row is a numbered line of seats; Accessible lists the seat numbers (from 1)
// kept for wheelchair users and their companions.
type Row struct {
	Label      string `json:"label"`
	Seats      int    `json:"seats"`
	PriceCents int    `json:"price_cents"`
	Accessible []int  `json:"accessible,omitempty"`
}

// Seat is one seat of the inventory, numbered from 0 within an event.
type Seat struct {
	No         int
	Section    string
	Row        string
	Number     int
	PriceCents int
	Tier       string
	Accessible bool
}

// Capacity counts the seats of the layout.
func (l Layout) Capacity() int {
	n := 0
	for _, s := range l.Sections {
		for _, r := range s.Rows {
			n += r.Seats
		}
	}
	return n
}

// Validate checks that the layout describes at least one seat, with names,
// positive counts and no repeated section or row.
func (l Layout) Validate() error {
	if len(l.Sections) == 0 {
		return fmt.Errorf("layout has no sections")
	}
	sections := map[string]bool{}
	for _, s := range l.Sections {
		if err := checkLabels(s); err != nil {
			return err
		}
		if s.Name == "" || sections[s.Name] {
			return fmt.Errorf("section name %q is empty or repeated", s.Name)
		}
		sections[s.Name] = true
		rows := map[string]bool{}
		for _, r := range s.Rows {
			if r.Label == "" || rows[r.Label] {
				return fmt.Errorf("section %s: row label %q is empty or repeated", s.Name, r.Label)
			}
			rows[r.Label] = true
			if r.Seats <= 0 || r.Seats > 500 || r.PriceCents < 0 {
				return fmt.Errorf("section %s row %s: needs 1-500 seats and a price of at least 0", s.Name, r.Label)
			}
		}
	}
	return nil
}

// checkLabels refuses section, tier and row names that Postgres would
// refuse (NUL, text that is not UTF-8) or that would break a ticket's line
// in a mail.
func checkLabels(s Section) error {
	if err := textfield.Check("section", s.Name); err != nil {
		return fmt.Errorf("section %q: %w", s.Name, err)
	}
	if err := textfield.Check("tier", s.Tier); err != nil {
		return fmt.Errorf("section %q: %w", s.Name, err)
	}
	for _, r := range s.Rows {
		if err := textfield.Check("row", r.Label); err != nil {
			return fmt.Errorf("section %q row %q: %w", s.Name, r.Label, err)
		}
	}
	return nil
}

// Seats expands the layout into its seats, in section, row and number order.
func (l Layout) Seats() []Seat {
	seats := make([]Seat, 0, l.Capacity())
	for _, s := range l.Sections {
		for _, r := range s.Rows {
			accessible := map[int]bool{}
			for _, n := range r.Accessible {
				accessible[n] = true
			}
			for n := 1; n <= r.Seats; n++ {
				seats = append(seats, Seat{
					No: len(seats), Section: s.Name, Row: r.Label, Number: n,
					PriceCents: r.PriceCents, Tier: s.Tier, Accessible: accessible[n],
				})
			}
		}
	}
	return seats
}

// rows makes count rows labelled by label(i), priced by price(i).
func rows(count, seats int, label func(i int) string, price func(i int) int) []Row {
	out := make([]Row, count)
	for i := range out {
		out[i] = Row{Label: label(i), Seats: seats, PriceCents: price(i)}
	}
	return out
}

func numbered(i int) string { return strconv.Itoa(i + 1) }

// lettered labels rows A, B, ... Z, AA, BB, ... skipping I and O, which read
// as 1 and 0 on a ticket, as theatres do.
func lettered(i int) string {
	const letters = "ABCDEFGHJKLMNPQRSTUVWXYZ"
	l := string(letters[i%len(letters)])
	for range i / len(letters) {
		l += string(letters[i%len(letters)])
	}
	return l
}

// ArenaLayout is an arena of 19,920 seats: a seated floor, a lower bowl of 16
// sections and an upper bowl of 24, priced in five tiers, with accessible
// platforms at the front of each lower-bowl section.
func ArenaLayout() Layout {
	var l Layout
	for _, name := range []string{"Floor A", "Floor B", "Floor C", "Floor D"} {
		l.Sections = append(l.Sections, Section{Name: name, Tier: "Floor", Rows: rows(20, 25, numbered, func(i int) int {
			if i < 5 {
				return 18900
			}
			return 14900
		})})
	}
	for n := 101; n <= 116; n++ {
		s := Section{Name: strconv.Itoa(n), Tier: "Lower bowl", Rows: rows(25, 22, numbered, func(i int) int {
			if i < 10 {
				return 9900
			}
			return 7900
		})}
		s.Rows[0].Accessible = []int{1, 2, 3, 4}
		l.Sections = append(l.Sections, s)
	}
	for n := 201; n <= 224; n++ {
		l.Sections = append(l.Sections, Section{Name: strconv.Itoa(n), Tier: "Upper bowl", Rows: rows(20, 19, numbered, func(i int) int {
			if i < 8 {
				return 5900
			}
			return 3900
		})})
	}
	return l
}

// TheatreLayout is a three-level theatre of 2,496 seats: stalls, circle and
// balcony, priced by level and distance from the stage, with wheelchair
// spaces in the front rows of the stalls and the circle.
func TheatreLayout() Layout {
	stalls := Section{Name: "Stalls", Tier: "Stalls", Rows: rows(24, 46, lettered, func(i int) int {
		switch {
		case i < 8:
			return 12500
		case i < 18:
			return 9500
		default:
			return 6500
		}
	})}
	stalls.Rows[0].Accessible = []int{1, 2, 45, 46}
	circle := Section{Name: "Circle", Tier: "Circle", Rows: rows(16, 42, lettered, func(i int) int {
		if i < 6 {
			return 11000
		}
		return 7500
	})}
	circle.Rows[0].Accessible = []int{1, 2, 41, 42}
	balcony := Section{Name: "Balcony", Tier: "Balcony", Rows: rows(18, 40, lettered, func(i int) int {
		if i < 9 {
			return 4500
		}
		return 2900
	})}
	return Layout{Sections: []Section{stalls, circle, balcony}}
}

// GridLayout is a plain venue of exactly seats seats, in sections of up to
// 25 rows of 40, for benchmarks and load tests.
func GridLayout(seats int) Layout {
	var l Layout
	for s := 0; seats > 0; s++ {
		sec := Section{Name: fmt.Sprintf("S%d", s+1), Tier: "Standard"}
		for r := 0; r < 25 && seats > 0; r++ {
			n := min(40, seats)
			sec.Rows = append(sec.Rows, Row{Label: numbered(r), Seats: n, PriceCents: 5000})
			seats -= n
		}
		l.Sections = append(l.Sections, sec)
	}
	return l
}
