package notifier

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ticketvelo/ticketvelo/internal/loop"
)

// claimState is what taking a claim found.
type claimState int

const (
	// claimTaken: this notifier owns the mail now and must send it.
	claimTaken claimState = iota
	// claimDone: the mail was sent (or given up on) already; skip it.
	claimDone
	// claimBusy: another notifier claimed it within its lease and may be
	// sending it right now; wait and ask again.
	claimBusy
)

// claims is the notifications table: one row per mail owed, taken before
// sending so a redelivered event finds it.
//
// The crash between "claimed" and "sent": the offset of the event is
// committed only after the row says sent (or dead), so the event comes back
// to whichever notifier owns the partition next. It finds the row claimed;
// once the claim is older than the lease (the owner died, or gave the claim
// back on shutdown) it takes the claim over and sends. The lease is longer
// than one delivery, so a live sender is never overtaken. What remains is a
// crash after the SMTP server accepted the message but before the row was
// stamped: that mail goes out twice, and because the Message-ID is derived
// from the order and kind, mail clients show it once.
type claims struct {
	pool  *pgxpool.Pool
	lease time.Duration
}

// claim takes the mail of kind about orderID, or reports who has it. A
// taken claim counts the delivery about to start (one statement, one commit:
// the claim is on the path of every mail) and returns its number.
func (c claims) claim(ctx context.Context, orderID, kind, recipient, messageID string) (claimState, int, error) {
	var inserted bool
	var attempt int
	err := c.pool.QueryRow(ctx, `
		INSERT INTO notifications AS n (order_id, kind, recipient, message_id, attempts)
		VALUES ($1, $2, $3, $4, 1)
		ON CONFLICT (order_id, kind) DO UPDATE SET claimed_at = now(), attempts = n.attempts + 1
		WHERE n.status = 'claimed' AND n.claimed_at < now() - $5 * interval '1 millisecond'
		RETURNING xmax = 0, attempts`, orderID, kind, recipient, messageID, c.lease.Milliseconds()).Scan(&inserted, &attempt)
	if err == nil {
		if !inserted {
			// xmax is set on a row the upsert updated: a claim taken over
			// from a notifier that died or stopped mid-mail.
			takeoversTotal.Inc()
		}
		return claimTaken, attempt, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return 0, 0, fmt.Errorf("claiming the %s mail of order %s: %w", kind, orderID, err)
	}
	var status string
	err = c.pool.QueryRow(ctx, `SELECT status FROM notifications WHERE order_id = $1 AND kind = $2`, orderID, kind).Scan(&status)
	if err != nil {
		return 0, 0, fmt.Errorf("reading the %s claim of order %s: %w", kind, orderID, err)
	}
	if status == "claimed" {
		return claimBusy, 0, nil
	}
	return claimDone, 0, nil
}

// startAttempt counts a retry about to start and renews the lease; it
// returns the attempt's number, counted across notifiers and restarts.
func (c claims) startAttempt(ctx context.Context, orderID, kind string) (int, error) {
	var n int
	err := c.pool.QueryRow(ctx, `
		UPDATE notifications SET attempts = attempts + 1, claimed_at = now()
		WHERE order_id = $1 AND kind = $2 RETURNING attempts`, orderID, kind).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("starting a delivery of the %s mail of order %s: %w", kind, orderID, err)
	}
	return n, nil
}

// failed records why a delivery failed.
func (c claims) failed(ctx context.Context, orderID, kind string, cause error) error {
	_, err := c.pool.Exec(ctx, `UPDATE notifications SET last_error = left($3, 1000) WHERE order_id = $1 AND kind = $2`, orderID, kind, cause.Error())
	if err != nil {
		return fmt.Errorf("recording a failed delivery of order %s: %w", orderID, err)
	}
	return nil
}

// finish closes the claim: sent, or dead (given up on and dead-lettered).
func (c claims) finish(ctx context.Context, orderID, kind, status, reason string) error {
	_, err := c.pool.Exec(ctx, `
		UPDATE notifications SET status = $3, last_error = left($4, 1000),
			sent_at = CASE WHEN $3 = 'sent' THEN now() END
		WHERE order_id = $1 AND kind = $2`, orderID, kind, status, reason)
	if err != nil {
		return fmt.Errorf("marking the %s mail of order %s %s: %w", kind, orderID, status, err)
	}
	return nil
}

// keep renews the claim every third of the lease until the returned stop
// is called, so the lease can be short (a crashed notifier's mail is taken
// over within it) however long a delivery or its retries take. A renewal
// that fails is tried again at the next tick; should Postgres be away for
// a whole lease, another notifier may take the mail over, and it goes out
// twice under one Message-ID, which mail clients show once.
func (c claims) keep(ctx context.Context, orderID, kind string) (stop func()) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = loop.Every(ctx, c.lease/3, func(ctx context.Context) {
			_, _ = c.pool.Exec(ctx, `UPDATE notifications SET claimed_at = now()
				WHERE order_id = $1 AND kind = $2 AND status = 'claimed'`, orderID, kind)
		})
	}()
	return func() {
		cancel()
		<-done
	}
}

// release gives back a claim this notifier will not finish (it is shutting
// down between attempts), so the next owner of the event takes it over at
// once instead of waiting out the lease.
func (c claims) release(ctx context.Context, orderID, kind string) error {
	_, err := c.pool.Exec(ctx, `
		UPDATE notifications SET claimed_at = '-infinity'
		WHERE order_id = $1 AND kind = $2 AND status = 'claimed'`, orderID, kind)
	if err != nil {
		return fmt.Errorf("releasing the %s claim of order %s: %w", kind, orderID, err)
	}
	return nil
}
