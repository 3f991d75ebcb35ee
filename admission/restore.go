package admission

import (
	"context"
	"strconv"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/redis/rueidis"

	"github.com/ticketvelo/ticketvelo/internal/promtext"
)

// The waiting room lives in Redis alone. Should an event's keys be lost (a
// slot range gone with its replica, a Redis restarted without persistence)
// its fans come back one poll at a time: each join gave the fan a place
// receipt (tokens.Place), and a poll that shows one for a place Redis does
// not know puts it back at the receipt's score, so the queue keeps its
// order whoever returns first. The first admission step after the loss
// sees an open queue whose draw is due again (a queue, once open, never
// is), and holds admission for RecoveryWindow, longer than a far-back
// fan's poll interval, so that nobody near the front is passed by someone
// who happened to poll back sooner.

// Restore answers the poll of a fan the waiting room does not know, who
// shows the place receipt of their join: the place was lost with the
// event's keys, and goes back at the receipt's score. A receipt of another
// fan or event, or a forged one, leaves ErrNotInQueue.
func (r *Room) Restore(ctx context.Context, eventID, userID int64, receipt string, now time.Time) (Status, error) {
	p, err := r.ring.VerifyPlace(receipt)
	if err != nil || p.EventID != eventID || p.UserID != userID {
		return Status{}, ErrNotInQueue
	}
	k := r.eventKeys(eventID)
	keys, args := r.placeArgs(k, eventID, userID, now)
	args = append(args, strconv.FormatInt(p.Score, 10))
	var reply []rueidis.RedisMessage
	err = k.call(ctx, func(ctx context.Context) (err error) {
		reply, err = restoreScript.Exec(ctx, r.client, keys, args).ToArray()
		return err
	})
	if err != nil {
		return Status{}, unavailable("restoring a place", err)
	}
	st, err := r.decode(ctx, k, eventID, userID, reply, now)
	if err == nil && st.State == Waiting {
		placesRestored.Inc()
	}
	return st, err
}

var placesRestored = metrics.NewCounter(promtext.Help("ticketvelo_waitingroom_places_restored_total",
	"Places put back from their fans' receipts after the waiting room lost them."))

// noteLost holds the event's admission for the recovery window after its
// keys were found lost (the first gateway to notice sets the end; steps
// read it), and stops this gateway answering polls from marks read before
// the loss or during the window, whose counts no longer hold.
func (r *Room) noteLost(ctx context.Context, k *eventKeys, now time.Time) error {
	until := now.Add(r.cfg.RecoveryWindow)
	err := r.client.Do(ctx, r.client.B().Hsetnx().Key(k.meta).Field("recover_until").
		Value(strconv.FormatInt(until.UnixMilli(), 10)).Build()).Error()
	if err != nil {
		return unavailable("holding admission after a loss", err)
	}
	k.marksFrom.Store(uint32(until.Unix()) + 1)
	return nil
}
