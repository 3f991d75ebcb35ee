package booker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/valyala/fasthttp"

	"github.com/ticketvelo/ticketvelo/internal/database"
)

// holdTx is the one Postgres transaction of a hold. It records the
// idempotent answer, inserts the hold, adds the seats to the fan's count
// within the event's limit, and updates the seats only where they are
// still available at the version last seen, requiring every one to change.
// A seat whose version moved but is still available is re-read and tried
// again at its new version within the same transaction.
//
// A transaction that failed before its COMMIT on a broken connection (a
// restart, terminated backends, connections a pool kept from before) runs
// again on another: the server kept nothing of it. One whose COMMIT failed
// is not retried: the idempotency record it carries decides, when the fan
// retries with the same key. A deadlock between holds whose Redis locks
// lapsed runs again once, and then the seats count as taken.
func (p *pgStore) holdTx(ctx context.Context, req *holdRequest, seats []int, expires time.Time) (holdOutcome, error) {
	var out holdOutcome
	err := database.RunTx(ctx, p.pool, database.TxOptions{Doing: "hold", MaxConflictRetries: 1}, func(tx *database.Tx) error {
		p.stats.pgTx(opHoldTx)
		var err error
		out, err = p.holdTxOnce(ctx, tx, newHoldDraft(req, seats, expires))
		return err
	})
	if database.IsConflict(err) {
		return holdOutcome{taken: seats, decidedBy: layerPostgres}, nil
	}
	return out, err
}

// holdDraft is a hold about to be written.
type holdDraft struct {
	req      *holdRequest
	id       string
	seats    []int
	expected []int64 // the seats' versions last seen here
	expires  time.Time
	view     holdJSON
	created  answer // the 201, recorded in the transaction
}

func newHoldDraft(req *holdRequest, seats []int, expires time.Time) *holdDraft {
	ev := req.ev
	d := &holdDraft{req: req, id: newUUID(), seats: seats, expires: expires, expected: make([]int64, len(seats))}
	d.view = ev.holdView(d.id, "active", seats, expires)
	d.created = jsonAnswer(fasthttp.StatusCreated, map[string]any{"hold": d.view})
	for i, no := range seats {
		d.expected[i] = ev.versions[no].Load()
	}
	return d
}

// holdTxOnce is one run of the hold transaction. A refusal rolls back; a
// created hold returns for RunTx to commit.
func (p *pgStore) holdTxOnce(ctx context.Context, tx *database.Tx, d *holdDraft) (holdOutcome, error) {
	missing, refused, err := p.sendHold(ctx, tx, d)
	if err != nil || refused != nil {
		if refused != nil {
			return *refused, nil
		}
		return holdOutcome{}, err
	}
	taken, err := p.retakeSeats(ctx, tx, d, missing)
	if err != nil {
		return holdOutcome{}, err
	}
	if len(taken) > 0 {
		tx.Rollback(ctx)
		return holdOutcome{taken: taken, decidedBy: layerPostgres}, nil
	}
	if h := p.hooks.afterSeatUpdate; h != nil {
		h(d.seats)
	}
	return holdOutcome{created: &d.view, body: d.created.body, decidedBy: layerPostgres}, nil
}

// sendHold is the transaction's first round trip: BEGIN, the answer (in
// first: a duplicate of this request waits here for this transaction, then
// replays its answer), the hold, the fan's count within the limit, and the
// seats at their expected versions. It returns the seats the update
// missed; refused, when the batch decided the request (a replay, the
// ticket limit), after rolling back.
func (p *pgStore) sendHold(ctx context.Context, tx *database.Tx, d *holdDraft) (missing []int, refused *holdOutcome, err error) {
	req, ev := d.req, d.req.ev
	batch := &pgx.Batch{}
	batch.Queue(`INSERT INTO idempotency_keys (user_id, key, scope, request_hash, status_code, response)
		VALUES ($1, $2, $3, $4, 201, $5) ON CONFLICT DO NOTHING`, req.userID, req.key, holdScope(ev.ID), req.hash, encodeStored(d.created))
	batch.Queue(`INSERT INTO holds (id, event_id, user_id, seat_count, total_cents, expires_at, seat_nos, admission_expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, d.id, ev.ID, req.userID, len(d.seats), d.view.TotalCents, d.expires, d.seats, req.admissionExp)
	batch.Queue(`INSERT INTO fan_tickets AS f (event_id, user_id, tickets) VALUES ($1, $2, $3)
		ON CONFLICT (event_id, user_id) DO UPDATE SET tickets = f.tickets + excluded.tickets
		WHERE f.tickets + excluded.tickets <= $4
		RETURNING tickets`, ev.ID, req.userID, len(d.seats), ev.MaxPerFan)
	batch.Queue(updateSeatsSQL, ev.ID, d.id, d.seats, d.expected)
	br, err := tx.SendBatch(ctx, batch)
	if err != nil {
		return nil, nil, err
	}
	defer br.Close()
	tag, err := br.Exec()
	if err != nil {
		return nil, nil, fmt.Errorf("recording hold answer: %w", err)
	}
	if tag.RowsAffected() == 0 {
		br.Close()
		tx.Rollback(ctx)
		out, err := p.replayFromPostgres(ctx, req)
		return nil, &out, err
	}
	if _, err := br.Exec(); err != nil {
		return nil, nil, fmt.Errorf("inserting hold: %w", err)
	}
	var count int
	if err := br.QueryRow().Scan(&count); errors.Is(err, pgx.ErrNoRows) {
		br.Close()
		tx.Rollback(ctx)
		return nil, &holdOutcome{limit: true, decidedBy: layerPostgres}, nil
	} else if err != nil {
		return nil, nil, fmt.Errorf("counting fan tickets: %w", err)
	}
	changed, err := collectSeatVersions(br.Query())
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, nil, fmt.Errorf("updating seats: %w", err)
	}
	return missingSeats(d.seats, changed, ev), nil, nil
}

// retakeSeats tries the seats the first update missed again, at the
// versions they have now, while they are still available: up to two more
// rounds. It returns the seats that are taken (all the missed ones when
// they keep moving); none when every seat is now the hold's.
func (p *pgStore) retakeSeats(ctx context.Context, tx *database.Tx, d *holdDraft, missing []int) (taken []int, err error) {
	ev := d.req.ev
	for round := 0; len(missing) > 0; round++ {
		taken, fresh, err := seatStates(ctx, tx, ev, missing)
		if err != nil {
			return nil, err
		}
		if len(taken) > 0 || round == 2 {
			if len(taken) == 0 {
				taken = missing
			}
			return taken, nil
		}
		changed, err := collectSeatVersions(tx.Query(ctx, updateSeatsSQL, ev.ID, d.id, missing, fresh))
		if err != nil {
			return nil, fmt.Errorf("updating seats again: %w", err)
		}
		missing = missingSeats(missing, changed, ev)
	}
	return nil, nil
}

// updateSeatsSQL takes seats that are available at the expected version.
const updateSeatsSQL = `UPDATE seats s SET status = 'held', hold_id = $2, version = s.version + 1
	FROM unnest($3::int[], $4::bigint[]) AS want(seat_no, version)
	WHERE s.event_id = $1 AND s.seat_no = want.seat_no AND s.version = want.version AND s.status = 'available'
	RETURNING s.seat_no, s.version`

func holdScope(eventID int64) string { return fmt.Sprintf("hold:%d", eventID) }

// seatVersion is a seat an update changed, at its new version.
type seatVersion struct {
	no      int
	version int64
}

// collectSeatVersions reads the (seat_no, version) rows of an update.
func collectSeatVersions(rows pgx.Rows, err error) ([]seatVersion, error) {
	if err != nil {
		return nil, err
	}
	var out []seatVersion
	var no int32
	var version int64
	_, err = pgx.ForEachRow(rows, []any{&no, &version}, func() error {
		out = append(out, seatVersion{int(no), version})
		return nil
	})
	return out, err
}

// missingSeats remembers the versions of the changed seats and returns the
// seats that did not change.
func missingSeats(seats []int, changed []seatVersion, ev *eventInfo) []int {
	got := make(map[int]bool, len(changed))
	for _, c := range changed {
		got[c.no] = true
		ev.versions[c.no].Store(c.version)
	}
	var out []int
	for _, s := range seats {
		if !got[s] {
			out = append(out, s)
		}
	}
	return out
}

// seatStates reads seats the update missed: the taken ones, and the current
// versions of the others (remembered for next time).
func seatStates(ctx context.Context, tx sqlRunner, ev *eventInfo, seats []int) (taken []int, versions []int64, err error) {
	rows, err := tx.Query(ctx, `SELECT seat_no, status, version FROM seats WHERE event_id = $1 AND seat_no = ANY($2) ORDER BY seat_no`, ev.ID, seats)
	if err != nil {
		return nil, nil, fmt.Errorf("reading seats: %w", err)
	}
	byNo := map[int]int64{}
	var no int32
	var status string
	var version int64
	_, err = pgx.ForEachRow(rows, []any{&no, &status, &version}, func() error {
		ev.versions[no].Store(version)
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

// replayFromPostgres answers a request whose key already has a record in
// Postgres: a created hold, made before Redis lost its copy, or by a
// duplicate that ran while Redis was away.
func (p *pgStore) replayFromPostgres(ctx context.Context, req *holdRequest) (holdOutcome, error) {
	first, found, err := p.storedAnswer(ctx, req.userID, holdScope(req.ev.ID), req.key)
	if err == nil && !found {
		err = errors.New("the idempotency record vanished")
	}
	if err != nil {
		return holdOutcome{}, err
	}
	rec := doneRecord(first.hash, first.answer)
	if first.hash != req.hash {
		a := errorAnswer(errKeyReused, req.requestID)
		return holdOutcome{replay: &a, record: rec}, nil
	}
	return holdOutcome{replay: &first.answer, record: rec}, nil
}
