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

// Hold is a hold as stored.
type Hold struct {
	ID         string
	EventID    int64
	UserID     int64
	Status     string // active, confirmed, released or expired
	ExpiresAt  time.Time
	Seats      []int
	TotalCents int64
	// Admission is the expiry of the admission the hold was made under;
	// nil for holds older than the column.
	Admission *time.Time
}

const readHoldSQL = `SELECT id::text, event_id, user_id, status, expires_at, seat_nos, total_cents, admission_expires_at FROM holds WHERE id = $1`

// ReadHold reads a hold in a statement of its own; found is false when
// there is no such hold.
func (s *Store) ReadHold(ctx context.Context, id string) (h Hold, found bool, err error) {
	s.count(OpRead)
	err = database.Retry(ctx, func() (err error) {
		h, found, err = scanHold(ctx, s.pool, id)
		return err
	})
	return h, found, err
}

// scanHold reads a hold with q.
func scanHold(ctx context.Context, q sqlRunner, id string) (Hold, bool, error) {
	var h Hold
	var seats []int32
	err := q.QueryRow(ctx, readHoldSQL, id).Scan(&h.ID, &h.EventID, &h.UserID, &h.Status, &h.ExpiresAt, &seats, &h.TotalCents, &h.Admission)
	if errors.Is(err, pgx.ErrNoRows) {
		return Hold{}, false, nil
	}
	if err != nil {
		return Hold{}, false, fmt.Errorf("reading hold: %w", err)
	}
	h.Seats = int32sToInts(seats)
	return h, true, nil
}

func lockHold(ctx context.Context, tx *database.Tx, id string) (Hold, bool, error) {
	if _, err := tx.Exec(ctx, `SELECT 1 FROM holds WHERE id = $1 FOR UPDATE`, id); err != nil {
		return Hold{}, false, fmt.Errorf("locking hold: %w", err)
	}
	return scanHold(ctx, tx, id)
}

// Release is what ReleaseHold did.
type Release int

// The results of a release.
const (
	// Released: the hold was active and its seats are available now.
	Released Release = iota + 1
	// ReleaseEnded: the hold had ended already (released or expired).
	ReleaseEnded
	// ReleaseConfirmed: the hold became an order; nothing changed.
	ReleaseConfirmed
	// ReleaseNotYours: the hold is another fan's; nothing changed.
	ReleaseNotYours
	// ReleaseNoHold: there is no such hold.
	ReleaseNoHold
)

// ReleaseHold ends the fan's active hold as released, and returns it as it
// was read.
func (s *Store) ReleaseHold(ctx context.Context, userID int64, id string) (h Hold, res Release, err error) {
	s.count(OpRelease)
	err = database.RunTx(ctx, s.pool, database.TxOptions{Doing: "release"}, func(tx *database.Tx) error {
		var found bool
		var err error
		if h, found, err = lockHold(ctx, tx, id); err != nil {
			return err
		}
		switch {
		case !found:
			res = ReleaseNoHold
		case h.UserID != userID:
			res = ReleaseNotYours
		case h.Status == "released", h.Status == "expired":
			res = ReleaseEnded
		case h.Status == "confirmed":
			res = ReleaseConfirmed
		default:
			res = Released
			return freeHold(ctx, tx, h, "released")
		}
		tx.Rollback(ctx)
		return nil
	})
	return h, res, err
}

// ExpireHold ends a hold that is still active as expired; done says it was.
func (s *Store) ExpireHold(ctx context.Context, id string) (done bool, err error) {
	s.count(OpSweep)
	err = database.RunTx(ctx, s.pool, database.TxOptions{Doing: "expiry"}, func(tx *database.Tx) error {
		done = false
		cur, found, err := lockHold(ctx, tx, id)
		if err != nil || !found || cur.Status != "active" {
			return err
		}
		done = true
		return freeHold(ctx, tx, cur, "expired")
	})
	return done, err
}

// freeHold ends an active hold (locked by the caller) and makes its seats
// available, in the lock order every writer follows: hold, fan count, seats.
func freeHold(ctx context.Context, tx *database.Tx, h Hold, status string) error {
	if _, err := tx.Exec(ctx, `UPDATE holds SET status = $2, updated_at = now() WHERE id = $1`, h.ID, status); err != nil {
		return fmt.Errorf("ending hold: %w", err)
	}
	if _, err := tx.Exec(ctx, `UPDATE fan_tickets SET tickets = tickets - $3 WHERE event_id = $1 AND user_id = $2`,
		h.EventID, h.UserID, len(h.Seats)); err != nil {
		return fmt.Errorf("updating fan ticket count: %w", err)
	}
	if _, err := tx.Exec(ctx, `UPDATE seats SET status = 'available', hold_id = NULL, version = version + 1
		WHERE event_id = $1 AND hold_id = $2 AND status = 'held'`, h.EventID, h.ID); err != nil {
		return fmt.Errorf("releasing seats: %w", err)
	}
	return nil
}

// ExpiredHold is a hold the sweep released.
type ExpiredHold struct {
	ID        string
	EventID   int64
	UserID    int64
	Seats     []int
	Admission *time.Time // the admission it was made under; nil for old holds
}

// SweepBatch releases up to limit holds that expired by now, in one
// transaction. Several bookers may sweep at once: each claims its holds
// with FOR UPDATE SKIP LOCKED, so no hold is released twice and none waits
// for another sweeper.
func (s *Store) SweepBatch(ctx context.Context, now time.Time, limit int) ([]ExpiredHold, error) {
	out := []ExpiredHold{}
	s.count(OpSweep)
	err := database.RunTx(ctx, s.pool, database.TxOptions{Doing: "sweep"}, func(tx *database.Tx) error {
		out = out[:0]
		rows, err := tx.Query(ctx, `
			WITH due AS (
				SELECT id FROM holds WHERE status = 'active' AND expires_at <= $1
				ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED)
			UPDATE holds h SET status = 'expired', updated_at = now() FROM due WHERE h.id = due.id
			RETURNING h.id::text, h.event_id, h.user_id, h.seat_nos, h.admission_expires_at`, now, limit)
		if err != nil {
			return fmt.Errorf("expiring holds: %w", err)
		}
		var h ExpiredHold
		var seats []int32
		_, err = pgx.ForEachRow(rows, []any{&h.ID, &h.EventID, &h.UserID, &seats, &h.Admission}, func() error {
			c := h
			c.Seats = int32sToInts(seats)
			out = append(out, c)
			return nil
		})
		if err != nil {
			return fmt.Errorf("expiring holds: %w", err)
		}
		if len(out) == 0 {
			return nil
		}
		return releaseExpired(ctx, tx, out)
	})
	return out, err
}

// releaseExpired takes the expired holds' seats off their fans' counts and
// makes them available.
func releaseExpired(ctx context.Context, tx *database.Tx, holds []ExpiredHold) error {
	if err := releaseFanTickets(ctx, tx, holds); err != nil {
		return err
	}
	ids := make([]string, len(holds))
	for i, h := range holds {
		ids[i] = h.ID
	}
	if _, err := tx.Exec(ctx, `UPDATE seats SET status = 'available', hold_id = NULL, version = version + 1
		WHERE hold_id = ANY($1::uuid[]) AND status = 'held'`, ids); err != nil {
		return fmt.Errorf("releasing seats of expired holds: %w", err)
	}
	return nil
}

// releaseFanTickets takes the holds' seats off their fans' counts, locking
// the count rows in one order so concurrent sweepers cannot deadlock.
func releaseFanTickets(ctx context.Context, tx *database.Tx, holds []ExpiredHold) error {
	type fan struct{ event, user int64 }
	counts := map[fan]int{}
	for _, h := range holds {
		counts[fan{h.EventID, h.UserID}] += len(h.Seats)
	}
	fans := make([]fan, 0, len(counts))
	for f := range counts {
		fans = append(fans, f)
	}
	slices.SortFunc(fans, func(a, b fan) int {
		if a.event != b.event {
			return int(a.event - b.event)
		}
		return int(a.user - b.user)
	})
	events, users, n := make([]int64, len(fans)), make([]int64, len(fans)), make([]int32, len(fans))
	for i, f := range fans {
		events[i], users[i], n[i] = f.event, f.user, int32(counts[f])
	}
	if _, err := tx.Exec(ctx, `SELECT 1 FROM fan_tickets f JOIN unnest($1::bigint[], $2::bigint[]) AS d(event_id, user_id)
		USING (event_id, user_id) ORDER BY event_id, user_id FOR UPDATE OF f`, events, users); err != nil {
		return fmt.Errorf("locking fan ticket counts: %w", err)
	}
	if _, err := tx.Exec(ctx, `UPDATE fan_tickets f SET tickets = f.tickets - d.n
		FROM unnest($1::bigint[], $2::bigint[], $3::int[]) AS d(event_id, user_id, n)
		WHERE f.event_id = d.event_id AND f.user_id = d.user_id`, events, users, n); err != nil {
		return fmt.Errorf("updating fan ticket counts: %w", err)
	}
	return nil
}
