package booker

import (
	"context"
	"slices"
)

// chooseSeats picks the best available seats of the request's section from
// the Redis bitmap (from Postgres when the bitmap is missing or Redis is
// away), leaving out exclude. found is false when there are not enough.
func (h *holdRules) chooseSeats(ctx context.Context, req *holdRequest, exclude []int) (seats []int, found bool, err error) {
	ev := req.ev
	first, last := sectionRange(&ev.sections[req.section])
	bits, cold, err := h.redis.BitmapRange(ctx, ev.ID, ev.capacity(), first, last)
	if err != nil || cold {
		if err != nil {
			h.stats.redisFallback()
		}
		return h.chooseSeatsFromPostgres(ctx, req, exclude)
	}
	base := first / 8 * 8
	taken := func(no int32) bool {
		i := int(no) - base
		return i/8 < len(bits) && bits[i/8]&(0x80>>(i%8)) != 0 || slices.Contains(exclude, int(no))
	}
	seats = pickSeats(&ev.sections[req.section], taken, req.quantity, req.together)
	return seats, seats != nil, nil
}

// chooseSeatsFromPostgres is chooseSeats reading the section's taken seats
// from Postgres.
func (h *holdRules) chooseSeatsFromPostgres(ctx context.Context, req *holdRequest, exclude []int) (seats []int, found bool, err error) {
	ev := req.ev
	first, last := sectionRange(&ev.sections[req.section])
	takenSet, err := h.pg.TakenSeats(ctx, ev.ID, first, last)
	if err != nil {
		return nil, false, err
	}
	for _, e := range exclude {
		takenSet[int32(e)] = true
	}
	seats = pickSeats(&ev.sections[req.section], func(no int32) bool { return takenSet[no] }, req.quantity, req.together)
	return seats, seats != nil, nil
}

// sectionRange is the first and last seat_no of a section; a section's
// seats are numbered consecutively.
func sectionRange(sec *sectionInfo) (first, last int) {
	first, last = -1, -1
	for _, r := range sec.Rows {
		for _, no := range r.Seats {
			if first < 0 || int(no) < first {
				first = int(no)
			}
			last = max(last, int(no))
		}
	}
	return first, last
}

// pickSeats chooses quantity free seats of a section: rows from the front,
// and within a row the seats nearest its centre. Together means one unbroken
// run in one row. It returns nil when the section has no such seats.
func pickSeats(sec *sectionInfo, taken func(int32) bool, quantity int, together bool) []int {
	if together {
		for _, r := range sec.Rows {
			best, bestDist := -1, 0
			run := 0
			for i, no := range r.Seats {
				if taken(no) {
					run = 0
					continue
				}
				run++
				if run < quantity {
					continue
				}
				start := i - quantity + 1
				// Twice the distance between the run's centre and the row's.
				dist := abs(2*start + quantity - len(r.Seats))
				if best < 0 || dist < bestDist {
					best, bestDist = start, dist
				}
			}
			if best >= 0 {
				out := make([]int, quantity)
				for i := range out {
					out[i] = int(r.Seats[best+i])
				}
				return out
			}
		}
		return nil
	}
	var out []int
	for _, r := range sec.Rows {
		free := make([]int, 0, len(r.Seats))
		for i, no := range r.Seats {
			if !taken(no) {
				free = append(free, i)
			}
		}
		centre := len(r.Seats) - 1
		slices.SortStableFunc(free, func(a, b int) int { return abs(2*a-centre) - abs(2*b-centre) })
		for _, i := range free {
			out = append(out, int(r.Seats[i]))
			if len(out) == quantity {
				slices.Sort(out)
				return out
			}
		}
	}
	return nil
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
