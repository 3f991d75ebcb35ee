package dropsim

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/ticketvelo/ticketvelo/internal/loop"
	"github.com/ticketvelo/ticketvelo/tools/apiclient"
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
		_, _ = j.callRetrying(ctx, "leave", apiclient.Request{Method: "DELETE", Path: apiclient.QueuePath(j.sim.eventID), Token: j.fan.token}, nil)
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
	path := apiclient.QueuePath(j.sim.eventID)
	var st queueStatus
	// The fan's arrival is when they asked to join, not when the answer
	// came back: the server places them by when the request reached it, and
	// answers of different latency would otherwise count as unfairness.
	var joined time.Time
	for {
		joined = time.Now()
		res, err := j.callRetrying(ctx, "join", apiclient.Request{Method: "POST", Path: path, Token: j.fan.token}, &st)
		if err != nil {
			return "", err
		}
		if res.Status == 429 {
			if !loop.Sleep(ctx, res.RetryAfter) {
				return "", errTimedOut
			}
			continue
		}
		if res.Status != 200 && res.Status != 201 {
			return "", fmt.Errorf("join: status %d", res.Status)
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
		res, err := j.call(ctx, apiclient.Request{Method: "GET", Path: path, Token: j.fan.token, Header: []string{"X-Place-Receipt", receipt}}, &st)
		j.rec.request("poll", res, err)
		if err != nil {
			return "", err
		}
		if res.Status == 404 {
			return "", errPlaceLost
		}
		if res.Status != 200 && res.Status != 429 && res.Status != 503 {
			return "", fmt.Errorf("poll: status %d", res.Status)
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
		res, err := j.callRetrying(ctx, "hold", apiclient.Request{Method: "POST", Path: apiclient.EventPath(j.sim.eventID) + "/holds", Token: admission, Key: apiclient.NewKey(), Body: body}, &hold)
		if err != nil {
			return outcomeOf(err, "error")
		}
		switch {
		case res.Status == 201:
			return j.pay(ctx, hold.Hold.ID)
		case res.Status == 409 || res.Status == 422:
			continue // taken, or this section cannot seat the party together: try another
		case res.Status == 429:
			if !loop.Sleep(ctx, max(res.RetryAfter, 100*time.Millisecond)) {
				return "timed_out"
			}
		default:
			return fmt.Sprintf("hold_status_%d", res.Status)
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
	res, err := j.callRetrying(ctx, "confirm", apiclient.Request{Method: "POST", Path: "/api/v1/holds/" + holdID + "/confirm", Token: j.fan.token,
		Key: apiclient.NewKey(), Body: map[string]string{"payment_token": token}}, nil)
	switch {
	case err != nil:
		return outcomeOf(err, "error")
	case res.Status == 201:
		j.rec.sold()
		return "bought"
	case res.Status == 402:
		_, _ = j.callRetrying(ctx, "release", apiclient.Request{Method: "DELETE", Path: "/api/v1/holds/" + holdID, Token: j.fan.token}, nil)
		return "declined"
	default:
		return fmt.Sprintf("confirm_status_%d", res.Status)
	}
}

// callRetrying is call, recorded as kind, sent again while the answer says
// to come back: 503 (a store is down or the service sheds load) after its
// Retry-After, and 409 request_in_flight (the same key's first attempt
// still holds it) shortly, both with the same Idempotency-Key, as a
// browser would. A fault costs the fan a second, not their seats: a
// retried hold or payment is the same request, never a second one.
func (j *journey) callRetrying(ctx context.Context, kind string, r apiclient.Request, out any) (apiclient.Result, error) {
	for {
		res, err := j.call(ctx, r, out)
		j.rec.request(kind, res, err)
		if err != nil || !comeBack(res) {
			return res, err
		}
		if !loop.Sleep(ctx, max(res.RetryAfter, 100*time.Millisecond)) {
			return res, errTimedOut
		}
	}
}

// comeBack says whether an answer asks the client to send the request again.
func comeBack(res apiclient.Result) bool {
	return res.Status == 503 || res.Status == 409 && res.Code == "request_in_flight"
}

// call is the API call of this fan, from the fan's own address.
func (j *journey) call(ctx context.Context, r apiclient.Request, out any) (apiclient.Result, error) {
	r.From = j.fan.ip
	return j.sim.api.Do(ctx, r, out)
}

func sleepUntil(ctx context.Context, t time.Time) bool { return loop.Sleep(ctx, time.Until(t)) }
