package dropsim

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/ticketvelo/ticketvelo/internal/loop"
)

// OutcomeLostPlace is the outcome of a fan whose place the server lost:
// a poll answered 404 not_in_queue though the fan never left.
const OutcomeLostPlace = "lost_place"

// journey is one fan's drop day: arrive, queue, get in, pick, hold, pay.
type journey struct {
	sim      *Simulation
	fan      *fan
	rec      *recorder
	want     int
	declines bool
	rng      *rand.Rand
}

type queueStatus struct {
	State          string `json:"state"`
	Position       int    `json:"position"`
	PollAfterMS    int    `json:"poll_after_ms"`
	AdmissionToken string `json:"admission_token"`
	PlaceReceipt   string `json:"place_receipt"`
}

type holdResponse struct {
	Hold struct {
		ID    string `json:"id"`
		Seats []struct {
			ID int `json:"id"`
		} `json:"seats"`
	} `json:"hold"`
}

// run plays the journey and records how it ended.
func (j *journey) run(ctx context.Context, arrive time.Time) {
	if !sleepUntil(ctx, arrive) {
		j.rec.outcome("timed_out")
		return
	}
	admission, err := j.queue(ctx)
	if err != nil {
		j.rec.outcome(outcomeOf(err, "left_queue"))
		return
	}
	outcome := j.buy(ctx, admission)
	if outcome != "bought" && ctx.Err() == nil {
		// A fan who gives up leaves, as the page's leave button does, so
		// their admission slot goes to the next fan now rather than when
		// it times out: with every slot held by fans who gave up, the
		// queue would stop while seats are left.
		_, _ = j.callRetrying(ctx, "leave", "DELETE", fmt.Sprintf("/api/v1/events/%d/queue", j.sim.eventID), j.fan.token, "", nil, nil)
	}
	j.rec.outcome(outcome)
}

var (
	errTimedOut = errors.New("timed out")
	errSoldOut  = errors.New("sold out while waiting")
	// errPlaceLost is a poll answered 404 not_in_queue: the fan joined and
	// never left, so the server lost their place.
	errPlaceLost = errors.New("place lost")
)

func outcomeOf(err error, otherwise string) string {
	switch {
	case errors.Is(err, errTimedOut), errors.Is(err, context.DeadlineExceeded):
		return "timed_out"
	case errors.Is(err, errSoldOut):
		return "sold_out"
	case errors.Is(err, errPlaceLost):
		return OutcomeLostPlace
	}
	return otherwise
}

// queue joins the waiting room and polls as told until admitted.
func (j *journey) queue(ctx context.Context) (string, error) {
	path := fmt.Sprintf("/api/v1/events/%d/queue", j.sim.eventID)
	var st queueStatus
	// The fan's arrival is when they asked to join, not when the answer
	// came back: the server places them by when the request reached it, and
	// answers of different latency would otherwise count as unfairness.
	var joined time.Time
	for {
		joined = time.Now()
		res, err := j.callRetrying(ctx, "join", "POST", path, j.fan.token, "", nil, &st)
		if err != nil {
			return "", err
		}
		if res.status == 429 {
			if !loop.Sleep(ctx, res.retryAfter) {
				return "", errTimedOut
			}
			continue
		}
		if res.status != 200 && res.status != 201 {
			return "", fmt.Errorf("join: status %d", res.status)
		}
		break
	}
	receipt := st.PlaceReceipt
	for st.State != "admitted" {
		if st.State == "expired" {
			return "", errors.New("expired in the queue")
		}
		// Like a fan watching the event page beside the queue: once nothing
		// is left, stop waiting.
		if open, err := j.sim.api.sections(ctx, j.sim.eventID); err == nil && len(open) == 0 {
			return "", errSoldOut
		}
		wait := time.Duration(st.PollAfterMS) * time.Millisecond
		wait = min(max(wait, 50*time.Millisecond), j.sim.opts.MaxPoll)
		if !loop.Sleep(ctx, wait) {
			return "", errTimedOut
		}
		// The receipt of the join goes with every poll, as the web UI
		// sends it: a place the waiting room lost comes back with it.
		res, err := j.sim.api.callFrom(ctx, j.fan.ip, "GET", path, j.fan.token, "", nil, &st, "X-Place-Receipt", receipt)
		j.rec.request("poll", res, err)
		if err != nil {
			return "", err
		}
		if res.status == 404 {
			return "", errPlaceLost
		}
		if res.status != 200 && res.status != 429 && res.status != 503 {
			return "", fmt.Errorf("poll: status %d", res.status)
		}
	}
	j.rec.admitted(j.fan.userID, joined, j.sim.opensAt)
	return st.AdmissionToken, nil
}

// buy holds seats (best available in a random section, or seats picked off
// the map), then pays; a declined card releases the hold.
func (j *journey) buy(ctx context.Context, admission string) string {
	for attempt := 0; attempt < 6; attempt++ {
		sections, err := j.openSections(ctx)
		if err != nil {
			return outcomeOf(err, "error")
		}
		if len(sections) == 0 {
			return "sold_out"
		}
		body := map[string]any{"section": sections[j.rng.IntN(len(sections))], "quantity": j.want, "together": true}
		var hold holdResponse
		res, err := j.callRetrying(ctx, "hold", "POST", fmt.Sprintf("/api/v1/events/%d/holds", j.sim.eventID), admission, newKey(), body, &hold)
		if err != nil {
			return outcomeOf(err, "error")
		}
		switch {
		case res.status == 201:
			return j.pay(ctx, hold.Hold.ID)
		case res.status == 409 || res.status == 422:
			continue // taken, or this section cannot seat the party together: try another
		case res.status == 429:
			if !loop.Sleep(ctx, max(res.retryAfter, 100*time.Millisecond)) {
				return "timed_out"
			}
		default:
			return fmt.Sprintf("hold_status_%d", res.status)
		}
	}
	return "no_seats"
}

// openSections is the event's sections with seats left, read again after
// Retry-After while the event page is unavailable: a fan does not take an
// outage for a sell-out.
func (j *journey) openSections(ctx context.Context) ([]string, error) {
	for {
		sections, err := j.sim.api.sections(ctx, j.sim.eventID)
		var busy *unavailableError
		if !errors.As(err, &busy) {
			return sections, err
		}
		if !loop.Sleep(ctx, max(busy.retryAfter, 100*time.Millisecond)) {
			return nil, errTimedOut
		}
	}
}

func (j *journey) pay(ctx context.Context, holdID string) string {
	token := "tok_visa"
	if j.declines {
		token = "tok_declined"
	}
	res, err := j.callRetrying(ctx, "confirm", "POST", "/api/v1/holds/"+holdID+"/confirm", j.fan.token, newKey(), map[string]string{"payment_token": token}, nil)
	switch {
	case err != nil:
		return outcomeOf(err, "error")
	case res.status == 201:
		j.rec.sold()
		return "bought"
	case res.status == 402:
		_, _ = j.callRetrying(ctx, "release", "DELETE", "/api/v1/holds/"+holdID, j.fan.token, "", nil, nil)
		return "declined"
	default:
		return fmt.Sprintf("confirm_status_%d", res.status)
	}
}

// callRetrying is call, recorded as kind, sent again while the answer says
// to come back: 503 (a store is down or the service sheds load) after its
// Retry-After, and 409 request_in_flight (the same key's first attempt
// still holds it) shortly, both with the same Idempotency-Key, as a
// browser would. A fault costs the fan a second, not their seats: a
// retried hold or payment is the same request, never a second one.
func (j *journey) callRetrying(ctx context.Context, kind, method, path, token, key string, in, out any) (result, error) {
	for {
		res, err := j.call(ctx, method, path, token, key, in, out)
		j.rec.request(kind, res, err)
		if err != nil || !comeBack(res) {
			return res, err
		}
		if !loop.Sleep(ctx, max(res.retryAfter, 100*time.Millisecond)) {
			return res, errTimedOut
		}
	}
}

// comeBack says whether an answer asks the client to send the request again.
func comeBack(res result) bool {
	return res.status == 503 || res.status == 409 && res.code == "request_in_flight"
}

// call is the API call of this fan, from the fan's own address.
func (j *journey) call(ctx context.Context, method, path, token, key string, in, out any) (result, error) {
	return j.sim.api.callFrom(ctx, j.fan.ip, method, path, token, key, in, out)
}

func sleepUntil(ctx context.Context, t time.Time) bool { return loop.Sleep(ctx, time.Until(t)) }
