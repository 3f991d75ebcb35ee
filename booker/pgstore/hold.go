package pgstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ticketvelo/ticketvelo/internal/database"
)

// HoldDraft is a hold about to be written, as the booker drafted it.
type HoldDraft struct {
	ID      string
	EventID int64
	UserID  int64
	// Key and Hash are the request's Idempotency-Key and what it asks for.
	Key, Hash string
	Seats     []int
	// Expected are the seats' versions last seen, one per seat.
	Expected   []int64
	TotalCents int64
	MaxPerFan  int // the event's ticket limit per fan
	Expires    time.Time
	// AdmissionExp is the expiry of the admission the hold is made under.
	AdmissionExp time.Time
	// Created is the 201 the transaction records under the key.
	Created Answer
}

// HoldVerdict is what the hold transaction decided.
type HoldVerdict int

// The verdicts.
const (
	undecided HoldVerdict = iota // the transaction goes on
	// HoldCreated: the hold is made; the draft's answer is recorded.
	HoldCreated
	// HoldSeatsTaken: some seats are another's (HoldResult.Taken).
	HoldSeatsTaken
	// HoldOverLimit: the seats would take the fan over the event's limit.
	HoldOverLimit
	// HoldReplayed: the key already had an answer (HoldResult.First).
	HoldReplayed
)

// HoldResult is the outcome of Hold.
type HoldResult struct {
	Verdict HoldVerdict
	Taken   []int    // of HoldSeatsTaken
	First   Recorded // of HoldReplayed: what the key's first request got
	// Seen are the seat versions the transaction read, in order, for the
	// booker to expect next time (whatever the verdict, even on error).
	Seen []SeatVersion
}

// SeatVersion is a seat at the version last seen.
type SeatVersion struct {
	Seat    int
	Version int64
}

// Hold is the one Postgres transaction of a hold. It records the
// idempotent answer, inserts the hold, adds the seats to the fan's count
// within the event's limit, and updates the seats only where they are
// still available at the version last seen, requiring every one to change.
// A seat whose version moved but is still available is re-read and tried
// again at its new version within the same transaction.
//
// A transaction that failed before its COMMIT on a broken connection (a
// restart, terminated backends, connections a pool kept from before) runs
// again on another, expecting the versions the failed run saw: the server
// kept nothing of it. One whose COMMIT failed is not retried: the
// idempotency record it carries decides, when the fan retries with the
// same key. A deadlock between holds whose Redis locks lapsed runs again
// once, and then the seats count as taken.
func (s *Store) Hold(ctx context.Context, d HoldDraft) (HoldResult, error) {
	var out HoldResult
	var seen []SeatVersion
	err := database.RunTx(ctx, s.pool, database.TxOptions{Doing: "hold", MaxConflictRetries: 1}, func(tx *database.Tx) error {
		s.count(OpHold)
		run := &holdRun{tx: tx, d: d}
		run.d.Expected = expectedAfter(d, seen)
		var err error
		out, err = s.holdOnce(ctx, run)
		seen = append(seen, run.seen...)
		return err
	})
	if database.IsConflict(err) {
		out, err = HoldResult{Verdict: HoldSeatsTaken, Taken: d.Seats}, nil
	}
	out.Seen = seen
	return out, err
}

// holdRun is one run of the hold transaction.
type holdRun struct {
	tx   *database.Tx
	d    HoldDraft
	seen []SeatVersion
}

// expectedAfter is the draft's expected versions brought up to date with
// those earlier runs saw.
func expectedAfter(d HoldDraft, seen []SeatVersion) []int64 {
	if len(seen) == 0 {
		return d.Expected
	}
	latest := make(map[int]int64, len(seen))
	for _, v := range seen {
		latest[v.Seat] = v.Version
	}
	out := slices.Clone(d.Expected)
	for i, no := range d.Seats {
		if v, ok := latest[no]; ok {
			out[i] = v
		}
	}
	return out
}

// holdOnce is one run of the hold transaction. A refusal rolls back; a
// created hold returns for RunTx to commit.
func (s *Store) holdOnce(ctx context.Context, r *holdRun) (HoldResult, error) {
	out, missing, err := s.sendHold(ctx, r)
	if err != nil || out.Verdict != undecided {
		return out, err
	}
	out, err = retakeSeats(ctx, r, missing)
	switch {
	case err != nil:
		return HoldResult{}, err
	case out.Verdict == HoldSeatsTaken:
		r.tx.Rollback(ctx)
		return out, nil
	}
	if h := s.hooks.AfterSeatUpdate; h != nil {
		h(r.d.Seats)
	}
	return out, nil
}

// sendHold is the transaction's first round trip: BEGIN, the answer (in
// first: a duplicate of this request waits here for this transaction, then
// replays its answer), the hold, the fan's count within the limit, and the
// seats at their expected versions. It returns the seats the update
// missed, or a verdict when the batch decided the request (a replay, the
// ticket limit), after rolling back.
func (s *Store) sendHold(ctx context.Context, r *holdRun) (_ HoldResult, missing []int, _ error) {
	d, tx := &r.d, r.tx
	batch := &pgx.Batch{}
	batch.Queue(`INSERT INTO idempotency_keys (user_id, key, scope, request_hash, status_code, response)
		VALUES ($1, $2, $3, $4, 201, $5) ON CONFLICT DO NOTHING`, d.UserID, d.Key, holdScope(d.EventID), d.Hash, d.Created.encode())
	batch.Queue(`INSERT INTO holds (id, event_id, user_id, seat_count, total_cents, expires_at, seat_nos, admission_expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, d.ID, d.EventID, d.UserID, len(d.Seats), d.TotalCents, d.Expires, d.Seats, d.AdmissionExp)
	batch.Queue(`INSERT INTO fan_tickets AS f (event_id, user_id, tickets) VALUES ($1, $2, $3)
		ON CONFLICT (event_id, user_id) DO UPDATE SET tickets = f.tickets + excluded.tickets
		WHERE f.tickets + excluded.tickets <= $4
		RETURNING tickets`, d.EventID, d.UserID, len(d.Seats), d.MaxPerFan)
	batch.Queue(updateSeatsSQL, d.EventID, d.ID, d.Seats, d.Expected)
	br, err := tx.SendBatch(ctx, batch)
	if err != nil {
		return HoldResult{}, nil, err
	}
	defer br.Close()
	tag, err := br.Exec()
	if err != nil {
		return HoldResult{}, nil, fmt.Errorf("recording hold answer: %w", err)
	}
	if tag.RowsAffected() == 0 {
		br.Close()
		tx.Rollback(ctx)
		out, err := s.replay(ctx, d)
		return out, nil, err
	}
	if _, err := br.Exec(); err != nil {
		return HoldResult{}, nil, fmt.Errorf("inserting hold: %w", err)
	}
	var count int
	if err := br.QueryRow().Scan(&count); errors.Is(err, pgx.ErrNoRows) {
		br.Close()
		tx.Rollback(ctx)
		return HoldResult{Verdict: HoldOverLimit}, nil, nil
	} else if err != nil {
		return HoldResult{}, nil, fmt.Errorf("counting fan tickets: %w", err)
	}
	changed, err := collectSeatVersions(br.Query())
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return HoldResult{}, nil, fmt.Errorf("updating seats: %w", err)
	}
	return HoldResult{Verdict: undecided}, r.missingSeats(d.Seats, changed), nil
}

// retakeSeats tries the seats the first update missed again, at the
// versions they have now, while they are still available: up to two more
// rounds. The hold is created when every seat is now the hold's; else the
// verdict names the seats that are taken (all the missed ones when they
// keep moving).
func retakeSeats(ctx context.Context, r *holdRun, missing []int) (HoldResult, error) {
	d := &r.d
	for round := 0; len(missing) > 0; round++ {
		taken, fresh, err := r.seatStates(ctx, missing)
		if err != nil {
			return HoldResult{}, err
		}
		if len(taken) > 0 || round == 2 {
			if len(taken) == 0 {
				taken = missing
			}
			return HoldResult{Verdict: HoldSeatsTaken, Taken: taken}, nil
		}
		changed, err := collectSeatVersions(r.tx.Query(ctx, updateSeatsSQL, d.EventID, d.ID, missing, fresh))
		if err != nil {
			return HoldResult{}, fmt.Errorf("updating seats again: %w", err)
		}
		missing = r.missingSeats(missing, changed)
	}
	return HoldResult{Verdict: HoldCreated}, nil
}

// updateSeatsSQL takes seats that are available at the expected version.
const updateSeatsSQL = `UPDATE seats s SET status = 'held', hold_id = $2, version = s.version + 1
	FROM unnest($3::int[], $4::bigint[]) AS want(seat_no, version)
	WHERE s.event_id = $1 AND s.seat_no = want.seat_no AND s.version = want.version AND s.status = 'available'
	RETURNING s.seat_no, s.version`

// collectSeatVersions reads the (seat_no, version) rows of an update.
func collectSeatVersions(rows pgx.Rows, err error) ([]SeatVersion, error) {
	if err != nil {
		return nil, err
	}
	out := []SeatVersion{}
	var no int32
	var version int64
	_, err = pgx.ForEachRow(rows, []any{&no, &version}, func() error {
		out = append(out, SeatVersion{int(no), version})
		return nil
	})
	return out, err
}

// missingSeats remembers the versions of the changed seats and returns the
// seats that did not change.
func (r *holdRun) missingSeats(seats []int, changed []SeatVersion) []int {
	got := make(map[int]bool, len(changed))
	for _, c := range changed {
		got[c.Seat] = true
	}
	r.seen = append(r.seen, changed...)
	out := []int{}
	for _, s := range seats {
		if !got[s] {
			out = append(out, s)
		}
	}
	return out
}

// seatStates reads seats the update missed: the taken ones, and the current
// versions of the others (remembered for next time).
func (r *holdRun) seatStates(ctx context.Context, seats []int) (taken []int, versions []int64, err error) {
	rows, err := r.tx.Query(ctx, `SELECT seat_no, status, version FROM seats WHERE event_id = $1 AND seat_no = ANY($2) ORDER BY seat_no`, r.d.EventID, seats)
	if err != nil {
		return nil, nil, fmt.Errorf("reading seats: %w", err)
	}
	byNo := map[int]int64{}
	var no int32
	var status string
	var version int64
	_, err = pgx.ForEachRow(rows, []any{&no, &status, &version}, func() error {
		r.seen = append(r.seen, SeatVersion{int(no), version})
		if status != "available" {
			taken = append(taken, int(no))
		}
		byNo[int(no)] = version
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("reading seats: %w", err)
	}
	versions = make([]int64, len(seats))
	for i, no := range seats {
		versions[i] = byNo[no]
	}
	return taken, versions, nil
}

// replay is the verdict on a request whose key already has a record in
// Postgres: a created hold, made before Redis lost its copy, or by a
// duplicate that ran while Redis was away.
func (s *Store) replay(ctx context.Context, d *HoldDraft) (HoldResult, error) {
	first, found, err := s.StoredAnswer(ctx, HoldKey(d.EventID, d.UserID, d.Key))
	if err == nil && !found {
		err = errors.New("the idempotency record vanished")
	}
	if err != nil {
		return HoldResult{}, err
	}
	return HoldResult{Verdict: HoldReplayed, First: first}, nil
}
