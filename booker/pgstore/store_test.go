package pgstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ticketvelo/ticketvelo/catalog"
	"github.com/ticketvelo/ticketvelo/internal/bookingevent"
	"github.com/ticketvelo/ticketvelo/internal/testenv"
	"github.com/ticketvelo/ticketvelo/internal/uuidtext"
)

// world is a store on a database of its own with an event on sale.
type world struct {
	t       *testing.T
	store   *Store
	pool    *pgxpool.Pool
	eventID int64
	counts  [NumOps]atomic.Int64
}

func newWorld(t *testing.T, maxPerFan int) *world {
	t.Helper()
	_, pool := testenv.Postgres(t)
	ctx := context.Background()
	r, err := catalog.NewStore(pool).SeedGrid(ctx, "pgstore", 50, time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatalf("seeding event: %v", err)
	}
	if _, err := pool.Exec(ctx, `UPDATE events SET max_tickets_per_fan = $2 WHERE id = $1`, r.EventID, maxPerFan); err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, pool: pool, eventID: r.EventID}
	w.store = New(pool, Options{Count: func(op Op) { w.counts[op].Add(1) }})
	return w
}

// users inserts n fans and returns their ids.
func (w *world) users(n int) []int64 {
	w.t.Helper()
	rows, _ := w.pool.Query(context.Background(), `INSERT INTO users (email, name, password_hash)
		SELECT 'fan' || g || '-' || md5(random()::text) || '@example.com', 'Fan ' || g, 'x' FROM generate_series(1, $1) g RETURNING id`, n)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		w.t.Fatal(err)
	}
	return ids
}

// versions reads the seats' versions now.
func (w *world) versions(seats []int) []int64 {
	w.t.Helper()
	out := make([]int64, len(seats))
	for i, no := range seats {
		if err := w.pool.QueryRow(context.Background(), `SELECT version FROM seats WHERE event_id = $1 AND seat_no = $2`, w.eventID, no).Scan(&out[i]); err != nil {
			w.t.Fatal(err)
		}
	}
	return out
}

// draft is a hold of seats for user under key, expecting their versions now.
func (w *world) draft(user int64, key string, seats ...int) HoldDraft {
	return HoldDraft{ID: uuidtext.New(), EventID: w.eventID, UserID: user, Key: key, Hash: fmt.Sprint("hash", seats),
		Seats: seats, Expected: w.versions(seats), TotalCents: 100 * int64(len(seats)), MaxPerFan: w.maxPerFan(),
		Expires: time.Now().Add(10 * time.Minute), AdmissionExp: time.Now().Add(time.Minute),
		Created: Answer{Status: 201, Body: []byte(fmt.Sprintf(`{"hold":%q}`+"\n", key))}}
}

func (w *world) maxPerFan() int {
	var n int
	if err := w.pool.QueryRow(context.Background(), `SELECT max_tickets_per_fan FROM events WHERE id = $1`, w.eventID).Scan(&n); err != nil {
		w.t.Fatal(err)
	}
	return n
}

func (w *world) hold(d HoldDraft) HoldResult {
	w.t.Helper()
	res, err := w.store.Hold(context.Background(), d)
	if err != nil {
		w.t.Fatalf("hold %s: %v", d.Key, err)
	}
	return res
}

// holdAll makes the holds, each of which must be created.
func (w *world) holdAll(drafts ...HoldDraft) {
	w.t.Helper()
	for _, d := range drafts {
		if res := w.hold(d); res.Verdict != HoldCreated {
			w.t.Fatalf("hold %s: got verdict %d taken %v, want created", d.Key, res.Verdict, res.Taken)
		}
	}
}

// TestHoldVerdicts: each verdict of the hold transaction, what it records
// under the key, and one transaction each.
func TestHoldVerdicts(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 3)
	fans := w.users(2)
	ctx := context.Background()
	first := w.draft(fans[0], "a", 1, 2)
	again := first
	again.ID = uuidtext.New()
	cases := []struct {
		name     string
		draft    HoldDraft
		verdict  HoldVerdict
		taken    []int
		recorded bool // the key has an answer afterwards
	}{
		{"free seats are held", first, HoldCreated, nil, true},
		{"the same key replays the first answer", again, HoldReplayed, nil, true},
		{"a held seat is taken", w.draft(fans[1], "b", 2, 3), HoldSeatsTaken, []int{2}, false},
		{"past the fan's limit", w.draft(fans[0], "c", 4, 5), HoldOverLimit, nil, false},
	}
	for _, c := range cases {
		before := w.counts[OpHold].Load()
		res := w.hold(c.draft)
		if res.Verdict != c.verdict || !slices.Equal(res.Taken, c.taken) {
			t.Errorf("%s: got verdict %d taken %v, want %d %v", c.name, res.Verdict, res.Taken, c.verdict, c.taken)
		}
		if n := w.counts[OpHold].Load() - before; n != 1 {
			t.Errorf("%s: ran %d hold transactions, want 1", c.name, n)
		}
		rec, found, err := w.store.StoredAnswer(ctx, HoldKey(w.eventID, c.draft.UserID, c.draft.Key))
		if err != nil || found != c.recorded {
			t.Errorf("%s: answer recorded %v (%v), want %v", c.name, found, err, c.recorded)
		}
		if found && (rec.Hash != first.Hash || rec.Answer.Status != 201 || !bytes.Equal(rec.Answer.Body, first.Created.Body)) {
			t.Errorf("%s: recorded %q %d %q, want the first request's", c.name, rec.Hash, rec.Answer.Status, rec.Answer.Body)
		}
		if c.verdict == HoldReplayed && (res.First.Hash != first.Hash || !bytes.Equal(res.First.Answer.Body, first.Created.Body)) {
			t.Errorf("%s: replayed %q %q, want the first request's", c.name, res.First.Hash, res.First.Answer.Body)
		}
	}
}

// TestHoldRetakesSeatsAtTheirNewVersion: a draft expecting versions that
// moved on (another booker's holds and releases) still takes seats that
// are available, in the same transaction, and reports the versions seen.
func TestHoldRetakesSeatsAtTheirNewVersion(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 10)
	fan := w.users(1)[0]
	d := w.draft(fan, "k", 7, 8)
	d.Expected = []int64{d.Expected[0] - 1, d.Expected[1]}
	res := w.hold(d)
	if res.Verdict != HoldCreated || w.counts[OpHold].Load() != 1 {
		t.Fatalf("got verdict %d taken %v in %d transactions, want created in 1", res.Verdict, res.Taken, w.counts[OpHold].Load())
	}
	now := w.versions([]int{7, 8})
	latest := map[int]int64{}
	for _, v := range res.Seen {
		latest[v.Seat] = v.Version
	}
	if latest[7] != now[0] || latest[8] != now[1] {
		t.Errorf("seen %v, want seats 7 and 8 at their versions now %v", res.Seen, now)
	}
}

// TestClaimKey: a confirm's or cancel's key through its life: claimed, in
// flight for a duplicate, refused to another request, answered, replayed,
// and never answered twice differently.
func TestClaimKey(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 10)
	ctx := context.Background()
	k := Key{UserID: w.users(1)[0], Scope: ScopeConfirm, Key: "k"}
	a := Answer{Status: 429, RetryAfter: 600, Body: []byte(`{"error":{}}` + "\n")}
	claim := func(hash string, stale time.Duration, want ClaimState) {
		t.Helper()
		c, err := w.store.ClaimKey(ctx, k, hash, stale)
		if err != nil || c.State != want {
			t.Fatalf("claim %s: got %d %v, want %d", hash, c.State, err, want)
		}
	}
	claim("h", time.Minute, Claimed)
	claim("h", time.Minute, InFlight)
	claim("other", time.Minute, OtherRequest)
	claim("h", 0, Claimed) // a stale claim is taken over
	if err := w.store.FinishKey(ctx, k, a); err != nil {
		t.Fatal(err)
	}
	if err := w.store.FinishKey(ctx, k, a); err != nil {
		t.Errorf("the same answer again: got %v, want a no-op", err)
	}
	if err := w.store.FinishKey(ctx, k, Answer{Status: 201}); !errors.Is(err, ErrClaimLost) {
		t.Errorf("another answer: got %v, want ErrClaimLost", err)
	}
	c, err := w.store.ClaimKey(ctx, k, "h", time.Minute)
	if err != nil || c.State != Answered || c.Answer.Status != a.Status || c.Answer.RetryAfter != a.RetryAfter || !bytes.Equal(c.Answer.Body, a.Body) {
		t.Errorf("replay: got %+v %v, want %+v answered", c, err, a)
	}
	if err := w.store.AbandonKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	claim("h", time.Minute, Answered) // an answered key is never given back
	k.Key = "abandoned"
	claim("h", time.Minute, Claimed)
	if err := w.store.AbandonKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	claim("h", time.Minute, Claimed)
}

// TestAnswerEncoding: a stored answer comes back byte for byte, with its
// Retry-After; a corrupt one is an error, not an empty answer.
func TestAnswerEncoding(t *testing.T) {
	a := Answer{Status: 503, RetryAfter: 1, Body: []byte("a:b\n")}
	got, err := decodeAnswer(a.Status, a.encode())
	if err != nil || got.Status != a.Status || got.RetryAfter != a.RetryAfter || !bytes.Equal(got.Body, a.Body) {
		t.Errorf("got %+v %v, want %+v", got, err, a)
	}
	if _, err := decodeAnswer(200, []byte("x")); err == nil {
		t.Error("a corrupt answer decoded")
	}
}

// placeOrder confirms a hold as the booker does: the key claimed, then the
// order's transaction.
func (w *world) placeOrder(holdID, key string) (OrderResult, error) {
	w.t.Helper()
	ctx := context.Background()
	h, found, err := w.store.ReadHold(ctx, holdID)
	if err != nil || !found {
		w.t.Fatalf("reading hold %s: %v %v", holdID, found, err)
	}
	if _, err := w.store.ClaimKey(ctx, Key{UserID: h.UserID, Scope: ScopeConfirm, Key: key}, "h"+key, time.Minute); err != nil {
		w.t.Fatal(err)
	}
	d := &OrderDraft{ID: uuidtext.New(), Hold: h, Key: key, PaymentRef: "pay", At: time.Now(),
		TicketIDs: make([]string, len(h.Seats)), Prices: make([]int64, len(h.Seats)), Created: Answer{Status: 201, Body: []byte("{}\n")}}
	for i := range h.Seats {
		d.TicketIDs[i], d.Prices[i] = uuidtext.New(), 100
	}
	d.Event = bookingevent.Event{Type: bookingevent.Confirmed, OrderID: d.ID}
	return w.store.Order(ctx, d)
}

// TestTicketIndexRefusesASecondSale: when something upstream lets a second
// hold own a sold seat, the order's transaction is refused by the unique
// index on live tickets and leaves nothing behind: invariant 1's last line.
func TestTicketIndexRefusesASecondSale(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 10)
	ctx := context.Background()
	fans := w.users(2)
	a, b := w.draft(fans[0], "a", 1), w.draft(fans[1], "b", 2)
	w.holdAll(a, b)
	if res, err := w.placeOrder(a.ID, "a"); err != nil || res.Verdict != OrderPlaced {
		t.Fatalf("first order: %+v %v", res, err)
	}
	// Seat 1, sold to a, is made b's hold's: what no booker path does.
	for _, sql := range []string{
		`UPDATE holds SET seat_nos = '{1}' WHERE event_id = $1 AND id = $2`,
		`UPDATE seats SET status = 'available', hold_id = NULL WHERE event_id = $1 AND hold_id = $2`,
		`UPDATE seats SET status = 'held', hold_id = $2 WHERE event_id = $1 AND seat_no = 1`,
	} {
		if _, err := w.pool.Exec(ctx, sql, w.eventID, b.ID); err != nil {
			t.Fatal(err)
		}
	}
	res, err := w.placeOrder(b.ID, "b")
	if err != nil || res.Verdict != OrderSeatSold {
		t.Fatalf("second sale of seat 1: got %+v %v, want OrderSeatSold", res, err)
	}
	var orders, tickets int
	if err := w.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM orders WHERE hold_id = $1), (SELECT count(*) FROM tickets WHERE event_id = $2 AND seat_no = 1)`,
		b.ID, w.eventID).Scan(&orders, &tickets); err != nil {
		t.Fatal(err)
	}
	if orders != 0 || tickets != 1 {
		t.Errorf("after the refusal: %d orders of the second hold and %d tickets of seat 1, want 0 and 1", orders, tickets)
	}
}

// TestReleaseAndCancel: a release answers for whose hold it is and what
// became of it; a cancel frees an order's seats once, for its fan only.
func TestReleaseAndCancel(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 10)
	ctx := context.Background()
	fans := w.users(2)
	kept, sold := w.draft(fans[0], "kept", 10), w.draft(fans[0], "sold", 11)
	w.holdAll(kept, sold)
	if res, err := w.placeOrder(sold.ID, "sold"); err != nil || res.Verdict != OrderPlaced {
		t.Fatalf("order: %+v %v", res, err)
	}
	releases := []struct {
		name string
		user int64
		id   string
		want Release
	}{
		{"another fan's hold", fans[1], kept.ID, ReleaseNotYours},
		{"an active hold", fans[0], kept.ID, Released},
		{"a released hold", fans[0], kept.ID, ReleaseEnded},
		{"a confirmed hold", fans[0], sold.ID, ReleaseConfirmed},
		{"no such hold", fans[0], uuidtext.New(), ReleaseNoHold},
	}
	for _, c := range releases {
		if _, got, err := w.store.ReleaseHold(ctx, c.user, c.id); err != nil || got != c.want {
			t.Errorf("release of %s: got %d %v, want %d", c.name, got, err, c.want)
		}
	}
	var orderID string
	if err := w.pool.QueryRow(ctx, `SELECT id::text FROM orders WHERE hold_id = $1`, sold.ID).Scan(&orderID); err != nil {
		t.Fatal(err)
	}
	cancel := func(user int64, key string) CancelResult {
		t.Helper()
		k := Key{UserID: user, Scope: ScopeCancel, Key: key}
		if _, err := w.store.ClaimKey(ctx, k, "h", time.Minute); err != nil {
			t.Fatal(err)
		}
		res, err := w.store.Cancel(ctx, CancelDraft{EventID: w.eventID, UserID: user, OrderID: orderID, Key: key, At: time.Now(),
			Describe: func(o Order) (Answer, bookingevent.Event) {
				return Answer{Status: 200, Body: []byte(o.Status)}, bookingevent.Event{Type: bookingevent.Canceled, OrderID: o.ID}
			}})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	if res := cancel(fans[1], "x"); res.Found {
		t.Errorf("another fan's cancel: got %+v, want not found", res)
	}
	if res := cancel(fans[0], "y"); !res.Found || !slices.Equal(res.Freed, []int{11}) || string(res.Answer.Body) != "canceled" {
		t.Errorf("cancel: got %+v, want seat 11 freed and the canceled order described", res)
	}
	if res := cancel(fans[0], "z"); !res.Found || len(res.Freed) != 0 {
		t.Errorf("cancel again: got %+v, want found with nothing freed", res)
	}
	var available int
	if err := w.pool.QueryRow(ctx, `SELECT count(*) FROM seats WHERE event_id = $1 AND seat_no IN (10, 11) AND status = 'available' AND hold_id IS NULL`,
		w.eventID).Scan(&available); err != nil || available != 2 {
		t.Errorf("seats 10 and 11 available: got %d %v, want 2", available, err)
	}
}
