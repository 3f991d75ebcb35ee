package booker

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/ticketvelo/ticketvelo/booker/pgstore"
	"github.com/ticketvelo/ticketvelo/catalog"
	"github.com/ticketvelo/ticketvelo/internal/apperr"
	"github.com/ticketvelo/ticketvelo/internal/httpapi"
)

// eventFromLayout builds the in-memory event the booker would load.
func eventFromLayout(l catalog.Layout, maxPerFan int) *eventInfo {
	e := pgstore.Event{EventFacts: pgstore.EventFacts{Name: "Test", Currency: "GBP", MaxPerFan: maxPerFan}}
	for _, s := range l.Seats() {
		e.Seats = append(e.Seats, pgstore.Seat{Section: s.Section, Row: s.Row, Tier: s.Tier, Number: int32(s.Number),
			PriceCents: int32(s.PriceCents), Accessible: s.Accessible})
	}
	return newEventInfo(1, e)
}

// FuzzHoldBody: whatever the body, parsing answers a 4xx error or a request
// whose seats exist, are sorted and distinct, and stay within the limit.
func FuzzHoldBody(f *testing.F) {
	for _, seed := range []string{`{"seat_ids":[1,2,2]}`, `{"section":"S1","quantity":2,"together":false}`, `{"seat_ids":[]}`,
		`{"seat_ids":[-5, 9999999999]}`, `{"section":"S1"}`, `[]`, `null`, `{"seat_ids":null,"section":null}`} {
		f.Add([]byte(seed))
	}
	ev := eventFromLayout(catalog.GridLayout(1000), 6)
	f.Fuzz(func(t *testing.T, body []byte) {
		var b holdBody
		err := httpapi.DecodeJSONBytes(body, &b)
		var req *holdRequest
		if err == nil {
			req, err = parseHold(ev, b)
		}
		if err != nil {
			var e *apperr.Error
			if !errors.As(err, &e) || httpapi.StatusOf(err) < 400 || httpapi.StatusOf(err) >= 500 {
				t.Fatalf("%s: got %v (status %d), want a 4xx *apperr.Error", body, err, httpapi.StatusOf(err))
			}
			return
		}
		if req.want() < 1 || req.want() > ev.MaxPerFan {
			t.Fatalf("%s: wants %d seats, limit %d", body, req.want(), ev.MaxPerFan)
		}
		if !req.best && (!slices.IsSorted(req.seats) || len(slices.Compact(slices.Clone(req.seats))) != len(req.seats) ||
			req.seats[0] < 0 || req.seats[len(req.seats)-1] >= ev.capacity()) {
			t.Fatalf("%s: seats %v are not sorted, distinct and in range", body, req.seats)
		}
	})
}

func TestPickSeats(t *testing.T) {
	ev := eventFromLayout(catalog.Layout{Sections: []catalog.Section{{Name: "A", Rows: []catalog.Row{
		{Label: "1", Seats: 10, PriceCents: 100}, {Label: "2", Seats: 10, PriceCents: 100}}}}}, 6)
	sec := &ev.sections[0]
	takenSet := func(seats ...int) func(int32) bool {
		return func(no int32) bool { return slices.Contains(seats, int(no)) }
	}
	cases := []struct {
		name     string
		taken    []int
		quantity int
		together bool
		want     []int
	}{
		{"centre of the front row", nil, 2, true, []int{4, 5}},
		{"odd count leans to the centre", nil, 3, true, []int{3, 4, 5}},
		{"around a taken centre", []int{4, 5}, 2, true, []int{2, 3}},
		{"next row when the front has no run", []int{2, 5, 8}, 3, true, []int{13, 14, 15}},
		{"whole row", nil, 10, true, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}},
		{"none left together", []int{1, 3, 5, 7, 9, 11, 13, 15, 17, 19}, 2, true, nil},
		{"apart when not together", []int{1, 3, 5, 7, 9, 11, 13, 15, 17, 19}, 3, false, []int{2, 4, 6}},
		{"apart spills into the next row", []int{0, 1, 2, 3, 4, 5, 6, 7, 9}, 3, false, []int{8, 14, 15}},
		{"not enough at all", []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18}, 2, false, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := pickSeats(sec, takenSet(c.taken...), c.quantity, c.together)
			if fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
}

func TestHealthWindow(t *testing.T) {
	w := newHealthWindow()
	for i := range 1000 {
		w.observe(time.Duration(i+1)*time.Millisecond/10, i%100 == 0)
	}
	p99, errRate, n := w.take()
	if n != 1000 || errRate != 0.01 {
		t.Errorf("n %d error rate %v, want 1000 and 0.01", n, errRate)
	}
	// The 990th of 0.1..100 ms is 99 ms; buckets are 10% wide.
	if p99 < 99*time.Millisecond || p99 > 110*time.Millisecond {
		t.Errorf("p99: got %s, want 99-110 ms", p99)
	}
	if p99, _, n := w.take(); n != 0 || p99 != 0 {
		t.Errorf("a fresh window: got p99 %s over %d, want nothing", p99, n)
	}
}
